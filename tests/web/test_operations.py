"""Operations screens: the outbox page (failed e-mails with their reason, sent again through a
real SMTP server), the e-mails of a case with its survey resend, report figures that drill
down to their cases, and each user's dashboard; every one within the read rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from qmsflow.engine.loader import load
from qmsflow.engine.persistence import outbox
from qmsflow.engine.persistence.models import AuditEvent, OutboxMessage, User
from qmsflow.web.mail import SmtpSender, SmtpSettings

from ..conftest import EditSet
from ..persistence import conftest as db
from ..persistence.conftest import Clock, World, make_world, open_complaint, to_investigation
from ..persistence.report_cases import closed_complaint, not_established_complaint
from ..persistence.test_surveys import HAPPY, closed_job
from .conftest import Auth, make_app, text_of
from .test_mail import Mailbox, smtp  # noqa: F401 - the real SMTP server fixture

ADMIN = "quality_manager"
ADDRESS = "wang.fang@hospital.example.cn"
HIDDEN = "hidden (personal data)"


def deliver(world: World, env: dict[str, str], max_attempts: int = 8) -> outbox.Delivery:
    """What ``qmsflow outbox deliver`` does, in this process, against the test's server."""
    settings = SmtpSettings.from_env(env)
    with SmtpSender(settings) as sender:
        return outbox.deliver(world.database.sessions, sender, world.clock,
                              domain=settings.domain, max_attempts=max_attempts)


def emails(world: World, number: str) -> list[OutboxMessage]:
    with world.database.sessions() as session:
        return list(session.execute(select(OutboxMessage).where(
            OutboxMessage.case_number == number, OutboxMessage.channel == "email")
            .order_by(OutboxMessage.id)).scalars())


def audited(world: World, action: str) -> list[AuditEvent]:
    with world.database.sessions() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action))
                    .scalars())


# -- the outbox page -----------------------------------------------------------------------------

def test_a_failed_email_shows_its_reason_and_sending_it_again_delivers_it(
        client: FlaskClient, auth: Auth, world: World,
        smtp: tuple[Mailbox, dict[str, str]]) -> None:  # noqa: F811
    mailbox, env = smtp
    mailbox.on_data = lambda _n: False  # the server refuses: 451
    number = open_complaint(world, complainant_email=ADDRESS).number
    assert deliver(world, env, max_attempts=1).failed == 1
    auth.login(ADMIN)
    page = text_of(client.get("/operations/outbox?status=failed"))
    assert number in page and ADDRESS in page and "451" in page and "Failed" in page
    [message] = emails(world, number)
    response = client.post(f"/operations/outbox/{message.id}/retry", data={"status": "failed"})
    assert response.status_code == 302 and "status=failed" in response.headers["Location"]
    assert "The e-mail is waiting to be sent again." in text_of(client.get(
        response.headers["Location"]))
    [queued] = emails(world, number)
    assert (queued.status, queued.attempts) == ("pending", 1)  # due now, its try counted
    assert "Waiting" in text_of(client.get("/operations/outbox?status=pending"))
    [entry] = audited(world, "email_retried")
    assert entry.actor_id == world.user(ADMIN) and "451" in (entry.reason or "")
    assert ADDRESS not in str(entry.data) + (entry.reason or "")  # no personal data

    mailbox.on_data = None  # the server is back
    assert deliver(world, env).sent == 1
    assert [str(mail["To"]) for mail in mailbox.accepted] == [ADDRESS]
    [sent] = emails(world, number)
    assert (sent.status, sent.attempts) == ("sent", 2)
    assert number in text_of(client.get("/operations/outbox?status=sent"))


def test_an_email_without_an_address_says_why_and_is_not_sent_again(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = open_complaint(world).number  # the complainant left no e-mail address
    [message] = emails(world, number)
    auth.login(ADMIN)
    html = client.get("/operations/outbox").get_data(as_text=True)
    assert "the field &#39;complainant_email&#39; is empty" in html
    assert f"/operations/outbox/{message.id}/retry" not in html
    refused = client.post(f"/operations/outbox/{message.id}/retry", follow_redirects=True)
    assert "This e-mail was not sent again" in text_of(refused)
    assert emails(world, number)[0].status == "failed"


def test_only_administrators_open_the_outbox(client: FlaskClient, auth: Auth,
                                             world: World) -> None:
    number = open_complaint(world).number
    [message] = emails(world, number)
    auth.login("sales")
    assert client.get("/operations/outbox").status_code == 403
    assert client.post(f"/operations/outbox/{message.id}/retry").status_code == 403
    assert "/operations/outbox" not in client.get("/dashboard").get_data(as_text=True)


def test_a_status_or_page_that_cannot_be_read_is_refused_in_words(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    response = client.get("/operations/outbox?status=lost")
    assert response.status_code == 400 and "failed, waiting or sent" in text_of(response)
    assert client.get("/operations/outbox?page=0").status_code == 400
    assert client.post("/operations/outbox/999999/retry").status_code == 404
    assert client.post(f"/operations/outbox/{10 ** 20}/retry").status_code == 404


def test_the_outbox_lists_the_in_app_notices_with_whom_they_went_to_and_whether_read(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = open_complaint(world).number
    with world.database.sessions() as session:
        notices = list(session.execute(select(OutboxMessage).where(
            OutboxMessage.case_number == number, OutboxMessage.channel == "in_app")).scalars())
        names = {user.id: user.name for user in session.execute(select(User)).scalars()}
    assert notices, "the complaint's intake tells someone on their inbox"
    auth.login(ADMIN)
    assert "In-app notices" in text_of(client.get("/operations/outbox"))
    page = client.get("/operations/outbox?channel=in_app")
    rows = {row: text_of_html(row) for row in re.findall(r'(?s)<tr id="email-\d+".*?</tr>',
                                                          page.get_data(as_text=True))}
    for notice in notices:
        row = next(text for html, text in rows.items() if f'id="email-{notice.id}"' in html)
        assert number in row and names[notice.recipient] in row and "Unread" in row
    assert not any("@" in text for text in rows.values())  # notices, not e-mails
    unread = text_of(client.get("/operations/outbox?channel=in_app&status=unread"))
    assert f"Unread ({len(notices)})" in unread and "Read (0)" in unread
    refused = client.get("/operations/outbox?channel=pigeon")
    assert refused.status_code == 400 and "e-mails or the in-app notices" in text_of(refused)
    wrong = client.get("/operations/outbox?channel=in_app&status=failed")
    assert wrong.status_code == 400 and "unread or read" in text_of(wrong)


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


# -- read rules: an administrator who reads some cases only -----------------------------------

@dataclass
class Site:
    """The app over a set whose administrators include finance, who reads closed complaints
    only and never their personal data."""

    client: FlaskClient
    auth: Auth
    world: World


@pytest.fixture
def finance_admin(sqlite_template: Path, tmp_path: Path, clock: Clock,
                  edited_set: EditSet) -> Iterator[Site]:
    folder = edited_set(("organisation.yaml", "admin_roles: [quality_manager]",
                         "admin_roles: [quality_manager, finance]"))
    database = db._sqlite(sqlite_template, tmp_path)
    world = make_world(database, load(folder), clock, root=folder)
    app = make_app(world, tmp_path, DEFINITIONS=str(folder))
    client = app.test_client()
    yield Site(client, Auth(client, world), world)
    app.extensions["qmsflow"].close()
    database.engine.dispose()


def test_the_outbox_shows_a_reader_only_the_emails_of_cases_they_may_read(
        finance_admin: Site) -> None:
    world, client = finance_admin.world, finance_admin.client
    closed = closed_complaint(world, datetime(2026, 3, 3, 2, tzinfo=UTC),
                              complainant_email=ADDRESS)
    running = open_complaint(world, complainant_email="li.na@clinic.example.cn").number
    finance_admin.auth.login("finance")
    page = text_of(client.get("/operations/outbox"))
    assert closed in page and running not in page
    assert ADDRESS not in page and HIDDEN in page  # finance sees no personal data
    [hidden] = [m for m in emails(world, running)]
    assert client.post(f"/operations/outbox/{hidden.id}/retry").status_code == 404
    finance_admin.auth.login(ADMIN)
    page = text_of(client.get("/operations/outbox"))
    assert closed in page and running in page and ADDRESS in page


def test_a_figure_lists_only_the_cases_its_reader_may_read(finance_admin: Site) -> None:
    world, client = finance_admin.world, finance_admin.client
    closed = closed_complaint(world, datetime(2026, 10, 9, 2, tzinfo=UTC))
    dismissed = not_established_complaint(world, datetime(2026, 10, 12, 2, tzinfo=UTC))
    world.clock.now = datetime(2026, 11, 3, 1, tzinfo=UTC)
    finance_admin.auth.login(ADMIN)
    total = ("/reports/monthly_complaints/cases?month=2026-10&measure=count")
    assert total in client.get("/reports/?month=2026-10").get_data(as_text=True).replace(
        "&amp;", "&")
    page = text_of(client.get(total))
    assert closed in page and dismissed in page and "2 cases" in page
    finance_admin.auth.login("finance")  # reads closed complaints only
    page = text_of(client.get(total))
    assert closed in page and dismissed not in page
    assert "2 cases · 1 of them you may read" in page


# -- drill-down --------------------------------------------------------------------------------

def test_every_figure_links_to_the_cases_it_counts_in_the_readers_language(
        client: FlaskClient, auth: Auth, world: World) -> None:
    production = closed_complaint(world, datetime(2026, 10, 9, 2, tzinfo=UTC))
    design = closed_complaint(world, datetime(2026, 10, 12, 2, tzinfo=UTC), cause="design",
                              department="technical", improvement="done")
    world.clock.now = datetime(2026, 11, 3, 1, tzinfo=UTC)
    auth.login(ADMIN, locale="zh-CN")
    html = client.get("/reports/?month=2026-10").get_data(as_text=True).replace("&amp;", "&")
    links = re.findall(r'href="(/reports/monthly_complaints/cases\?[^"]+)"', html)
    by_cause = [link for link in links if "dimension=cause" in link and "measure=count" in link
                and "previous" not in link]
    assert len(by_cause) == 2  # production and design; the lines of no case link nowhere
    pages = {link: text_of(client.get(link)) for link in by_cause}
    production_page = next(p for p in pages.values() if "生产制造" in p)
    assert production in production_page and design not in production_page
    assert "客户投诉案件统计表" in production_page and "异常原因: 生产制造" in production_page
    improvements = [link for link in links if "measure=improvement_open" in link
                    and "dimension" not in link]
    assert improvements, "the open improvements' total links to its cases"
    open_ones = text_of(client.get(improvements[0]))
    assert production in open_ones and design not in open_ones  # the measure's condition


def test_a_figure_that_does_not_exist_is_not_found_in_words(client: FlaskClient, auth: Auth,
                                                             world: World) -> None:
    auth.login(ADMIN)
    assert client.get("/reports/nothing/cases").status_code == 404
    missing = client.get("/reports/monthly_complaints/cases?dimension=colour&line=1")
    assert missing.status_code == 404 and "no such line or measure" in text_of(missing)
    assert client.get("/reports/monthly_complaints/cases?dimension=cause&line=%7B").status_code \
        == 404
    assert client.get("/reports/monthly_complaints/cases?month=soon").status_code == 400


# -- the case's e-mails ------------------------------------------------------------------------

def test_the_case_page_lists_its_emails_and_resends_an_open_survey(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = closed_job(world).number
    before = emails(world, number)
    assert before[-1].status == "pending"  # the invitation, not sent yet
    auth.login("service_desk")
    page = text_of(client.get(f"/cases/{number}"))
    assert "E-mails" in page and "Waiting" in page and "Open for an answer" in page
    assert "liu.doctor@hospital.example.cn" in page
    response = client.post(f"/cases/{number}/surveys/satisfaction/resend")
    assert response.status_code == 302
    assert "The invitation is waiting to be sent again." in text_of(client.get(
        response.headers["Location"]))
    after = emails(world, number)
    assert len(after) == len(before) + 1 and after[-1].status == "pending"
    assert after[-1].subject == before[-1].subject
    assert [e.data["survey"] for e in audited(world, "survey_resent")] == ["satisfaction"]
    client.post(f"/cases/{number}/surveys/satisfaction/resend")  # again, at the same moment
    after = emails(world, number)
    assert len(after) == len(before) + 2  # each resend is a message of its own

    world.service.answer_survey(number, "satisfaction", HAPPY)
    page = text_of(client.get(f"/cases/{number}"))
    assert "Answered" in page and "Resend the survey link" not in page
    refused = client.post(f"/cases/{number}/surveys/satisfaction/resend",
                          follow_redirects=True)
    assert "The invitation was not sent again: Answered" in text_of(refused)
    assert len(emails(world, number)) == len(after)


def test_a_reader_without_personal_data_rights_sees_no_address_and_cannot_resend(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = closed_job(world).number
    auth.login("finance")  # reads closed requests without personal data
    page = text_of(client.get(f"/cases/{number}"))
    assert "E-mails" in page and HIDDEN in page
    assert "liu.doctor@hospital.example.cn" not in page
    assert "Resend the survey link" not in page
    assert client.post(f"/cases/{number}/surveys/satisfaction/resend").status_code == 404


def test_a_user_who_may_not_read_the_case_sees_none_of_its_emails(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = open_complaint(world, complainant_email=ADDRESS).number
    auth.login("engineer")
    assert client.get(f"/cases/{number}").status_code == 404
    assert client.post(f"/cases/{number}/surveys/complaint_satisfaction/resend"
                       ).status_code == 404


# -- the dashboard -------------------------------------------------------------------------------

def test_the_dashboard_shows_my_overdue_my_week_and_my_signatures(
        client: FlaskClient, auth: Auth, world: World) -> None:
    waiting = open_complaint(world).number  # quality decides reportability, signed
    auth.login("quality")
    page = text_of(client.get("/dashboard"))
    assert "Waiting for my signature" in page and waiting in page
    assert "My overdue cases" in page and "Due this week" in page
    assert "Key figures for" in page and "Complaint KPIs" in page
    week = page.split("Due this week")[1].split("Waiting for my signature")[0]
    assert waiting in week  # its first answer is due within hours
    late = to_investigation(world)
    world.clock.advance(days=60)
    auth.login("quality")  # the session ended meanwhile
    response = client.get("/dashboard")
    page = response.get_data(as_text=True)
    assert response.status_code == 200, text_of(response)
    overdue = page.split('id="dashboard-overdue"')[1].split("</section>")[0]
    assert late in overdue
    assert 'href="/dashboard"' in page  # linked in the header


def test_the_dashboard_shows_key_figures_only_of_processes_my_roles_work(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("finance")
    page = text_of(client.get("/dashboard"))
    for report in world.definition.reports.values():
        if report.dimensions:
            assert report.label["en"] not in page


def test_a_key_figure_on_the_dashboard_links_to_the_cases_it_counts(
        client: FlaskClient, auth: Auth, world: World) -> None:
    closed = closed_complaint(world, datetime(2026, 10, 9, 2, tzinfo=UTC))
    world.clock.now = datetime(2026, 11, 3, 1, tzinfo=UTC)
    auth.login("quality")
    html = client.get("/dashboard").get_data(as_text=True).replace("&amp;", "&")
    section = html.split('id="dashboard-figures"')[1]
    links = re.findall(r'href="(/reports/[a-z_]+/cases\?[^"]+)"', section)
    assert links and all("month=2026-10" in link for link in links)
    pages = [client.get(link).get_data(as_text=True) for link in links]
    assert any(closed in page for page in pages)
    assert all('href="/dashboard#dashboard-figures"' in page and 'href="/reports/' not in page
               for page in pages)  # the way back is the dashboard: reports are not theirs
