"""Deadline rules on screen and in the API: time left in working days of the clock's calendar,
a moved clock in the case history, the closing step refused while a blocking deadline runs, and
the step on a closed case that stops a deadline running after the close; in English and Chinese.

The definitions are the small set in ``tests/fixtures/clocks``.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import tokens

from ..fixtures.clock_set import FIXTURE, load_clock_set, shanghai
from ..persistence.conftest import Clock, World, make_world
from .conftest import Auth, make_app, text_of
from .conftest import db as dbfixtures


@pytest.fixture(scope="module")
def clock_set() -> DefinitionSet:
    return load_clock_set()


@pytest.fixture
def desk(sqlite_template: Path, tmp_path: Path, clock_set: DefinitionSet) -> Iterator[World]:
    """The fixture set on a fresh SQLite database, its clock at Monday 2 March 2026 14:00."""
    database = dbfixtures._sqlite(sqlite_template, tmp_path)
    yield make_world(database, clock_set, Clock(shanghai(2, 14)), FIXTURE)
    database.engine.dispose()


@pytest.fixture
def clock_app(desk: World, tmp_path: Path) -> Iterator[Flask]:
    application = make_app(desk, tmp_path, DEFINITIONS=str(FIXTURE), COMPILED=desk.definition)
    yield application
    application.extensions["qmsflow"].close()


@pytest.fixture
def browser(clock_app: Flask) -> FlaskClient:
    return clock_app.test_client()


def register(world: World, **values: object) -> str:
    inputs = {"title": "Infusion pump alarm", "received_at": "2026-03-02T09:30:00+08:00",
              "aware_on": "2026-03-01", "outcome": "death", **values}
    return world.service.create_case("incident", "create", world.user("clerk"), inputs).number


def case_page(browser: FlaskClient, desk: World, number: str, role: str, locale: str) -> str:
    Auth(browser, desk).login(role, locale=locale)
    return html.unescape(text_of(browser.get(f"/cases/{number}")))


@pytest.mark.parametrize(("locale", "wanted"), [
    ("en", "2 working days 3 hours left"), ("zh-CN", "剩余 2 个工作日 3 小时")])
def test_the_case_page_tells_working_time_left_in_working_days(
        browser: FlaskClient, desk: World, locale: str, wanted: str) -> None:
    number = register(desk)
    assert wanted in case_page(browser, desk, number, "clerk", locale)


@pytest.mark.parametrize(("locale", "wanted"), [
    ("en", "overdue by 1 working day 2 hours"), ("zh-CN", "已超期 1 个工作日 2 小时")])
def test_the_case_page_tells_how_late_a_working_clock_is_in_working_days(
        browser: FlaskClient, desk: World, locale: str, wanted: str) -> None:
    number = register(desk)
    desk.clock.now = shanghai(7, 11)  # review due Thursday 17:00; Friday 7 h, Saturday 2 h
    assert wanted in case_page(browser, desk, number, "clerk", locale)


def test_a_calendar_day_clock_keeps_days_of_24_hours(browser: FlaskClient,
                                                      desk: World) -> None:
    number = register(desk)
    assert "5 days 10 hours left" in case_page(browser, desk, number, "clerk", "en")


@pytest.mark.parametrize(("locale", "wanted"), [
    ("en", "field corrected: Call received, start 2026-03-02 09:30 → 2026-03-02 09:00"),
    ("zh-CN", "字段已更正：来电时间，起算时间 2026-03-02 09:30 → 2026-03-02 09:00")])
def test_the_history_says_a_deadline_moved_because_its_field_was_corrected(
        browser: FlaskClient, desk: World, locale: str, wanted: str) -> None:
    number = register(desk)
    desk.service.apply_step(number, "correct", desk.user("clerk"),
                            {"received_at": "2026-03-02T09:00:00+08:00"})
    assert wanted in case_page(browser, desk, number, "clerk", locale)


@pytest.mark.parametrize(("locale", "wanted"), [
    ("en", "variant re-chosen: injury → death"), ("zh-CN", "期限类型已重新选定：injury → death")])
def test_the_history_says_a_deadline_moved_because_the_case_was_reclassified(
        browser: FlaskClient, desk: World, locale: str, wanted: str) -> None:
    number = register(desk, outcome="injury")
    desk.service.apply_step(number, "correct", desk.user("clerk"), {"outcome": "death"})
    assert wanted in case_page(browser, desk, number, "clerk", locale)


@pytest.mark.parametrize(("locale", "wanted"), [
    ("en", "The deadline 'Review deadline' is still running: the case cannot be closed until "
           "it is stopped."),
    ("zh-CN", "期限“评审期限”仍在计时：停止之前不能关闭本案。")])
def test_the_closing_step_is_refused_on_the_page_while_a_blocking_deadline_runs(
        browser: FlaskClient, desk: World, locale: str, wanted: str) -> None:
    number = register(desk)
    assert wanted in case_page(browser, desk, number, "manager", locale)
    posted = browser.post(f"/cases/{number}/do/close", data={"row_version": "1"})
    assert wanted in html.unescape(text_of(posted))
    assert desk.service.read_case(number, history=False).case.state == "open"


def test_a_closed_case_offers_the_step_that_stops_the_deadline_running_after_close(
        browser: FlaskClient, desk: World) -> None:
    number = register(desk)
    desk.service.apply_step(number, "finish_review", desk.user("manager"), {})
    desk.service.apply_step(number, "close", desk.user("manager"), {})
    page = case_page(browser, desk, number, "clerk", "en")
    assert "Record the NMPA report" in page and "Correct" not in page
    version = desk.service.read_case(number, history=False).case.row_version
    browser.post(f"/cases/{number}/do/record_nmpa_report",
                 data={"row_version": str(version), "nmpa_ref": "NMPA-2026-7"})
    case = desk.service.read_case(number, history=False).case
    assert case.state == "closed" and case.clocks["nmpa_report"].status == "stopped"


def test_the_api_gives_time_left_in_parts_and_in_words(browser: FlaskClient,
                                                        desk: World) -> None:
    number = register(desk)
    with desk.database.sessions.begin() as session:
        _row, plain = tokens.issue(session, desk.user("clerk"), "tests", desk.clock())
    answer = browser.get(f"/api/v1/cases/{number}", headers={
        "Authorization": f"Bearer {plain}", "Accept-Language": "zh-CN"}).get_json()
    review = next(c for c in answer["clocks"] if c["id"] == "review")
    assert review["time_left"] == {"working": True, "overdue": False, "days": 2, "hours": 3,
                                   "minutes": 0, "text": "剩余 2 个工作日 3 小时"}


def _token(desk: World, role: str) -> dict[str, str]:
    with desk.database.sessions.begin() as session:
        _row, plain = tokens.issue(session, desk.user(role), f"tests ({role})", desk.clock())
    return {"Authorization": f"Bearer {plain}", "Accept-Language": "en"}


def test_the_api_refuses_closing_while_a_blocking_deadline_runs_with_code_clock(
        browser: FlaskClient, desk: World) -> None:
    number = register(desk)
    headers = _token(desk, "manager")
    case = browser.get(f"/api/v1/cases/{number}", headers=headers).get_json()
    close = next(a for a in case["actions"] if a["step"] == "close")
    assert not close["allowed"] and "Review deadline" in close["reasons"][0]["detail"]
    answer = browser.post(f"/api/v1/processes/incident/cases/{number}/steps/close",
                          json={"values": {}, "expected_version": case["row_version"]},
                          headers=headers)
    assert answer.status_code == 422
    assert [e["code"] for e in answer.get_json()["errors"]] == ["clock"]


def test_the_api_offers_a_closed_case_only_its_final_state_step(browser: FlaskClient,
                                                               desk: World) -> None:
    number = register(desk)
    desk.service.apply_step(number, "finish_review", desk.user("manager"), {})
    desk.service.apply_step(number, "close", desk.user("manager"), {})
    case = browser.get(f"/api/v1/cases/{number}", headers=_token(desk, "clerk")).get_json()
    assert case["final"] and [a["step"] for a in case["actions"]] == ["record_nmpa_report"]
    report = next(c for c in case["clocks"] if c["id"] == "nmpa_report")
    assert report["status"] == "running" and report["time_left"]["working"] is False


@pytest.mark.parametrize(("locale", "wanted"), [
    ("en", "4 hours 30 minutes left"), ("zh-CN", "剩余 4 小时 30 分钟")])
def test_the_inbox_tells_the_working_time_left_of_the_clock_due_first(
        browser: FlaskClient, desk: World, locale: str, wanted: str) -> None:
    register(desk)  # the response clock: from the 09:30 call, due Tuesday 10:30
    Auth(browser, desk).login("clerk", locale=locale)
    page = text_of(browser.get("/"))
    assert "IN-2026-0001" in page and wanted in page
