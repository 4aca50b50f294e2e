"""The customer's survey page: a signed, expiring link, no login, both languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from qmsflow.engine.cases import Case
from qmsflow.web.surveys import tokens

from ..persistence.conftest import Clock, World
from ..persistence.test_surveys import HAPPY, UNHAPPY, closed_job
from .conftest import Auth, make_app, text_of

SECRET = "test-secret"  # the web fixtures' SECRET_KEY
CUSTOMER = "customer (survey link: satisfaction)"
# What a survey page must never show: the customer's and the hospital's details.
PRIVATE = ("刘医生", "liu.doctor@hospital.example.cn", "5555 0100", "市第一人民医院",
           "示例路")


def link(number: str, clock: Clock, survey: str = "satisfaction") -> str:
    """The path of a survey link made now by the test clock."""
    return urlsplit(tokens.survey_link(SECRET, "http://localhost", clock=clock)(
        number, survey)).path


def answers(values: dict[str, str | None]) -> dict[str, str]:
    return {name: value or "" for name, value in values.items()}


@pytest.fixture
def job(world: World) -> Case:
    return closed_job(world)


def test_a_valid_link_shows_the_survey_in_chinese_with_nothing_personal(
        client: FlaskClient, world: World, job: Case) -> None:
    response = client.get(link(job.number, world.clock) + "?lang=zh-CN")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN"' in html
    text = text_of(response)
    for expected in ("客户意见调查卡", "服务态度", "技术水平", "到达时间", "答应事情的办理",
                     "很满意", "不满意", job.number, "XR-200 输液泵", "2026-03-02"):
        assert expected in text
    assert not [word for word in PRIVATE if word in html]
    # The form starts empty: the customer never sees what staff recorded on the phone.
    assert "selected" not in re.sub(r'<option selected value="">', "", html)


def test_the_same_link_shows_the_survey_in_english_on_request(
        client: FlaskClient, world: World, job: Case) -> None:
    path = link(job.number, world.clock)
    response = client.get(path + "?lang=en")
    assert response.status_code == 200
    assert '<html lang="en"' in response.get_data(as_text=True)
    text = text_of(response)
    for expected in ("Customer satisfaction card", "Attitude", "Keeping promises",
                     "Very satisfied", "Send my answers"):
        assert expected in text
    switch = re.findall(r'href="([^"]+)" lang="zh-CN"', response.get_data(as_text=True))
    assert switch == [f"{path}?lang=zh-CN"]


def test_without_a_choice_the_page_follows_the_browser_language(
        client: FlaskClient, world: World, job: Case) -> None:
    response = client.get(link(job.number, world.clock), headers={"Accept-Language": "en"})
    assert "Customer satisfaction card" in text_of(response)


def test_an_answer_lands_on_the_case_with_an_audit_entry_from_the_link(
        client: FlaskClient, world: World, job: Case) -> None:
    path = link(job.number, world.clock)
    world.clock.advance(days=1)
    response = client.post(path + "?lang=en", data=answers(HAPPY))
    assert response.status_code == 303
    assert response.headers["Location"] == f"{path}/thanks?lang=en"
    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200
    assert "Thank you" in text_of(thanks)
    history = world.service.read_case(job.number)
    assert history.case.state == "closed"
    assert history.case.values["satisfied"] is True  # 'fair' by phone, satisfied by link
    assert history.case.values["satisfaction_comments"] == HAPPY["satisfaction_comments"]
    answered = [e for e in history.events if e.action == "survey_answered"]
    assert [(e.actor_id, e.actor_name, e.client) for e in answered] == [
        (None, CUSTOMER, "web 127.0.0.1")]
    satisfied = next(e for e in history.events if e.field == "satisfied" and e.new is True)
    assert satisfied.actor_name == CUSTOMER
    auth = Auth(client, world)
    auth.login("technical_manager")
    assert "Survey answered by the customer" in text_of(client.get(f"/cases/{job.number}"))


def test_a_dissatisfied_rating_opens_a_linked_complaint(
        client: FlaskClient, world: World, job: Case) -> None:
    response = client.post(link(job.number, world.clock), data=answers(UNHAPPY))
    assert response.status_code == 303
    case = world.service.read_case(job.number).case
    assert "escalated_to_deputy_gm" in case.flags
    assert case.values["satisfied"] is False
    complaint = world.service.read_case(case.links[-1].number).case
    assert (complaint.process, complaint.state) == ("complaint", "registered")
    assert complaint.values["description"] == UNHAPPY["satisfaction_comments"]


def test_bad_answers_come_back_with_a_message_per_field_and_nothing_is_saved(
        client: FlaskClient, world: World, job: Case) -> None:
    response = client.post(link(job.number, world.clock) + "?lang=en",
                           data=answers({**HAPPY, "rating_skill": None,
                                         "rating_arrival": "great"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="rating_skill-error"[^>]*>This field is required', html)
    assert re.search(r'id="rating_arrival-error"[^>]*>Not a valid choice', html)
    # What the customer typed is kept.
    assert HAPPY["satisfaction_comments"] in html
    assert world.service.read_case(job.number).case == job


def test_a_form_with_fields_it_does_not_have_is_refused(
        client: FlaskClient, world: World, job: Case) -> None:
    response = client.post(link(job.number, world.clock),
                           data={**answers(HAPPY), "gm_review_notes": "客户自己写的"})
    assert response.status_code == 400
    assert world.service.read_case(job.number).case == job


def test_a_tampered_link_is_not_found_and_says_what_to_do(
        client: FlaskClient, world: World, job: Case) -> None:
    path = link(job.number, world.clock)
    tampered = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    for target in (tampered, "/feedback/not-a-token", path.replace(".", "", 1)):
        response = client.get(target + "?lang=en")
        assert response.status_code == 404
        text = text_of(response)
        assert "This link does not work" in text
        assert "service desk" in text
        assert job.number not in text


def test_a_link_to_another_case_or_survey_is_not_found(
        client: FlaskClient, world: World, job: Case) -> None:
    assert client.get(link("BX-202603-9999", world.clock)).status_code == 404
    assert client.get(link(job.number, world.clock, "loyalty")).status_code == 404


def test_a_link_for_a_job_that_sent_no_survey_is_not_found(
        client: FlaskClient, world: World) -> None:
    case = closed_job(world, contact_email=None)
    assert client.get(link(case.number, world.clock)).status_code == 404


def test_after_14_days_the_link_has_expired(
        client: FlaskClient, world: World, job: Case) -> None:
    path = link(job.number, world.clock)
    world.clock.advance(days=14, seconds=1)
    response = client.get(path + "?lang=en")
    assert response.status_code == 410
    assert "This survey has closed" in text_of(response)
    assert client.post(path, data=answers(HAPPY)).status_code == 410
    assert world.service.read_case(job.number).case == job


def test_a_token_older_than_its_survey_allows_has_expired(
        client: FlaskClient, world: World, job: Case) -> None:
    # Stamped 15 days ago by itsdangerous: expired, whatever the case says.
    old = link(job.number, Clock(world.clock.now - timedelta(days=15)))
    assert client.get(old).status_code == 410


def test_a_second_answer_is_refused_politely(
        client: FlaskClient, world: World, job: Case) -> None:
    path = link(job.number, world.clock)
    assert client.post(path, data=answers(HAPPY)).status_code == 303
    for response in (client.get(path + "?lang=en"),
                     client.post(path + "?lang=en", data=answers(UNHAPPY))):
        assert response.status_code == 410
        assert "You have already answered" in text_of(response)
    case = world.service.read_case(job.number).case
    assert case.values["satisfaction_comments"] == HAPPY["satisfaction_comments"]
    # The thanks page stays available for the answered link.
    assert client.get(path + "/thanks").status_code == 200


def test_the_thanks_page_of_an_unanswered_link_leads_back_to_the_form(
        client: FlaskClient, world: World, job: Case) -> None:
    path = link(job.number, world.clock)
    response = client.get(path + "/thanks?lang=en")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{path}?lang=en"


def test_the_pages_are_kept_out_of_caches_and_search_engines(
        client: FlaskClient, world: World, job: Case) -> None:
    response = client.get(link(job.number, world.clock))
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_application_makes_invitation_links_with_its_key_and_public_address(
        world: World, tmp_path: Path) -> None:
    app = make_app(world, tmp_path, PUBLIC_URL="https://service.example.com/")
    try:
        make = app.extensions["qmsflow"].service.survey_link
        job = closed_job(world)
        made = make(job.number, "satisfaction")
        assert made.startswith("https://service.example.com/feedback/")
        assert app.test_client().get(urlsplit(made).path).status_code == 200
    finally:
        app.extensions["qmsflow"].close()


@pytest.fixture
def csrf_app(world: World, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(world, tmp_path, WTF_CSRF_ENABLED=True)
    yield app
    app.extensions["qmsflow"].close()


def test_an_answer_needs_the_form_s_csrf_token(csrf_app: Flask, world: World,
                                                job: Case) -> None:
    client = csrf_app.test_client()
    path = link(job.number, world.clock)
    refused = client.post(path + "?lang=en", data=answers(HAPPY))
    assert refused.status_code == 400
    assert "Please send the form again" in text_of(refused)
    assert world.service.read_case(job.number).case == job
    page = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    taken = client.post(path, data={**answers(HAPPY), "csrf_token": token.group(1)})
    assert taken.status_code == 303
