"""The retention page: records past retention, a legal hold, and a disposal signed with the
password, refused in the reader's language when it may not be done."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.testing import FlaskClient

from qmsflow.engine.persistence import retention

from ..persistence.conftest import PASSWORD, World
from ..persistence.report_cases import closed_service_request
from .conftest import Auth, text_of

CLOSED = datetime(2019, 6, 3, 2, 0, tzinfo=UTC)


def _old_request(world: World) -> str:
    now = world.clock.now
    number = closed_service_request(world, CLOSED)
    world.clock.now = now
    return number


def test_retention_page_lists_a_request_past_retention_for_the_quality_manager_only(
        world: World, client: FlaskClient, auth: Auth) -> None:
    number = _old_request(world)
    auth.login("engineer")
    assert client.get("/retention").status_code == 403
    assert client.post("/retention/act", data={"action": "hold"}).status_code == 403
    auth.logout()
    auth.login("quality_manager")
    page = client.get("/retention")
    assert page.status_code == 200
    shown = text_of(page)
    assert number in shown and "2024-06-03" in shown and "May be disposed of" in shown
    assert 'href="/retention"' in page.get_data(as_text=True)  # in the navigation


def test_a_disposal_without_the_password_is_refused_in_chinese_and_a_signed_one_goes_through(
        world: World, client: FlaskClient, auth: Auth) -> None:
    number = _old_request(world)
    auth.login("quality_manager", locale="zh-CN")
    form = {"action": "dispose", "what": "case", "ref": number, "reason": "保存期满"}
    unsigned = client.post("/retention/act", data=form)
    assert unsigned.status_code == 422
    assert "处置记录需要您的电子签名" in text_of(unsigned)
    wrong = client.post("/retention/act", data={**form, "password": "not it"})
    assert wrong.status_code == 422 and "密码" in text_of(wrong)
    held = client.post("/retention/act", data={**form, "action": "hold",
                                               "reason": "诉讼保全"})
    assert held.status_code == 302
    refused = client.post("/retention/act", data={**form, "password": PASSWORD})
    assert refused.status_code == 422
    assert "诉讼保全" in text_of(refused) and "请先解除保全" in text_of(refused)
    client.post("/retention/act", data={**form, "action": "release", "reason": "诉讼结束"})
    done = client.post("/retention/act", data={**form, "password": PASSWORD},
                       follow_redirects=True)
    assert done.status_code == 200
    assert "已处置" in text_of(done)
    with world.database.sessions() as session:
        assert retention.state(session, world.definition, "case", number,
                               CLOSED.date()).disposed
    # The disposed case still opens, voided and empty, with its trail.
    page = client.get(f"/cases/{number}")
    assert page.status_code == 200
    assert "保存期满" in text_of(page)


def test_a_form_naming_no_action_or_no_record_is_refused_in_words(
        world: World, client: FlaskClient, auth: Auth) -> None:
    auth.login("quality_manager")
    bad = client.post("/retention/act", data={"action": "shred", "what": "case", "ref": "x"})
    assert bad.status_code == 400 and "Choose an action" in text_of(bad)
    missing = client.post("/retention/act", data={"action": "hold", "what": "case",
                                                  "ref": "BX-000000-0000", "reason": "x"})
    assert missing.status_code == 422
    assert "There is no such record: BX-000000-0000." in text_of(missing)
