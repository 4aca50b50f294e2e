"""The outbox page in a real browser, in Chinese: a failed acknowledgement shows with the mail
server's reason, and sending it again moves it to the e-mails waiting to be sent."""

from __future__ import annotations

from ..persistence.conftest import World, open_complaint
from ..web.test_mail import Mailbox, smtp  # noqa: F401 - the real SMTP server fixture
from ..web.test_operations import deliver
from .conftest import Person

ADDRESS = "wang.fang@hospital.example.cn"


def test_a_failed_email_is_shown_with_its_reason_and_sent_again_from_the_outbox(
        person: Person, world: World, smtp: tuple[Mailbox, dict[str, str]]  # noqa: F811
) -> None:
    mailbox, env = smtp
    mailbox.on_data = lambda _n: False  # the mail server refuses: 451
    number = open_complaint(world, complainant_email=ADDRESS).number
    assert deliver(world, env, max_attempts=1).failed == 1

    page = person.sign_in("quality_manager")
    page.get_by_role("link", name="发件箱").click()
    page.get_by_role("link", name="发送失败 (1)").click()
    row = page.locator("table.outbox tbody tr", has_text=number)
    shown = row.inner_text()
    assert "发送失败" in shown and "451" in shown and ADDRESS in shown

    row.get_by_role("button", name="重新发送").click()
    page.get_by_text("邮件已重新排队，等待发送。").wait_for()  # the page after the post
    assert page.locator("table.outbox tbody tr", has_text=number).count() == 0  # not failed
    page.get_by_role("link", name="等待发送 (1)").click()
    waiting = page.locator("table.outbox tbody tr", has_text=number).inner_text()
    assert "等待发送" in waiting and "重新发送" not in waiting
