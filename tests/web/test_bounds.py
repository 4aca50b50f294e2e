"""Bad input gets a clear 400 or 422, in the user's language, and changes nothing: each request
an attacker was seen sending, on the web screens and on the JSON API."""

from __future__ import annotations

import html
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from ..persistence.conftest import PASSWORD, World, open_complaint
from .conftest import Auth, text_of
from .test_api import API, INTAKE, REGISTER, Api, problem
from .test_api import api as api
from .test_cases import INTAKE as FORM_INTAKE

HUGE_EXPONENT = "1e999999"
HUGE_DIGITS = "9" * 200_000


def shown(response: Any) -> str:
    """The text a person reads on the page, entities decoded."""
    return html.unescape(text_of(response))


def raw_post(api: Api, path: str, body: str, role: str = "sales") -> Any:
    """POST a body as written (numbers no JSON encoder would write)."""
    return api.client.post(path, data=body, headers={
        **api.headers(role), "Content-Type": "application/json"})


def test_the_inbox_refuses_a_page_beyond_any_list(auth: Auth, client: FlaskClient) -> None:
    auth.login("quality")
    for page in ("99999999999999999999", "²", "-1", "0"):
        response = client.get("/", query_string={"page": page})
        assert response.status_code == 400, page
        assert "'page' must be a whole number from 1 to 100000" in shown(response)


def test_the_inbox_says_in_chinese_what_is_wrong(auth: Auth, client: FlaskClient) -> None:
    auth.login("quality", locale="zh-CN")
    response = client.get("/", query_string={"page": "99999999999999999999"})
    assert response.status_code == 400
    assert "“page”必须是 1 到 100000 之间的整数" in shown(response)


def test_a_query_parameter_with_control_characters_is_refused(auth: Auth,
                                                              client: FlaskClient) -> None:
    auth.login("quality")
    response = client.get("/", query_string={"q": "a\x00b"})
    assert response.status_code == 400
    assert "'q' holds control characters" in shown(response)
    assert client.get("/", query_string={"q": "x" * 5000}).status_code == 400


def test_a_report_month_without_utc_midnights_is_refused(auth: Auth, client: FlaskClient) -> None:
    auth.login("quality_manager")
    for month in ("0001-01", "9999-12"):
        response = client.get("/reports/", query_string={"month": month})
        assert response.status_code == 400, month
        assert "is not a month" in shown(response)
    assert client.get("/reports/download", query_string={"month": "0001-01"}).status_code == 400


def test_marking_a_notification_with_a_30_digit_id_is_refused(auth: Auth, client: FlaskClient
                                                              ) -> None:
    auth.login("quality")
    response = client.post("/notifications/read", data={"id": "9" * 30})
    assert response.status_code == 400
    assert "'id' must be a whole number" in shown(response)


@pytest.mark.parametrize("version", ["²", "9" * 5000, "99999999999999999999", "-1"])
def test_a_step_form_with_an_unreadable_row_version_saves_nothing(
        auth: Auth, client: FlaskClient, world: World, version: str) -> None:
    number = open_complaint(world).number
    auth.login("quality")
    response = client.post(f"/cases/{number}/do/confirm_complaint", data={
        "row_version": version, "is_complaint": "yes", "screening_rationale": "设备故障"})
    assert response.status_code == 400
    assert "did not say which version of the case you saw" in shown(response)
    assert world.service.read_case(number).case.state == "registered"


@pytest.mark.parametrize(("changes", "message"), [
    ({"quantity": HUGE_DIGITS}, "Enter a number of at most 40 characters."),
    ({"quantity": "99999999999999999999"}, "Number must be between"),
    ({"event_date": "0001-01-01"}, "Enter a date between 1900-01-01 and 2100-12-31."),
    ({"ship_date": "9999-12-31"}, "Enter a date between 1900-01-01 and 2100-12-31."),
    ({"complainant_email": "attacker@evil.com,victim"}, "Enter one e-mail address"),
    ({"product_model": "x" * 2001}, "longer than 2000 characters"),
    ({"complainant_org": "Evil\u202etxt.exe"}, "Remove the control or direction characters"),
    ({"customer_request": "x" * 20_001}, "longer than 20000 characters"),
])
def test_intake_values_beyond_their_bounds_come_back_with_a_message(
        auth: Auth, client: FlaskClient, world: World, changes: dict[str, str],
        message: str) -> None:
    auth.login("sales")
    started = time.perf_counter()
    response = client.post("/new/complaint/register",
                           data={**FORM_INTAKE, **changes, "password": PASSWORD})
    assert time.perf_counter() - started < 5
    assert response.status_code == 422
    assert message in shown(response)
    assert world.service.list_cases(world.user("quality")).total == 0


def test_intake_bounds_are_explained_in_chinese(auth: Auth, client: FlaskClient,
                                                world: World) -> None:
    auth.login("sales", locale="zh-CN")
    response = client.post("/new/complaint/register", data={
        **FORM_INTAKE, "event_date": "0001-01-01", "complainant_email": "a@evil.com,b",
        "password": PASSWORD})
    assert response.status_code == 422
    page = shown(response)
    assert "请输入 1900-01-01 至 2100-12-31 之间的日期。" in page
    assert "请只填写一个电子邮件地址" in page


@pytest.mark.parametrize("body", [
    f'{{"values": {{"quantity": {HUGE_EXPONENT}}}, "password": "{PASSWORD}"}}',
    f'{{"values": {{"quantity": {HUGE_DIGITS}}}, "password": "{PASSWORD}"}}',
    f'{{"values": {{"compensation_amount": {HUGE_EXPONENT}}}, "password": "{PASSWORD}"}}',
])
def test_a_huge_number_in_an_intake_is_refused_at_once(api: Api, world: World,
                                                       body: str) -> None:
    started = time.perf_counter()
    response = raw_post(api, REGISTER, body)
    assert time.perf_counter() - started < 1
    found = problem(response, 400)
    assert "too long" in found["detail"] or "out of range" in found["detail"]
    assert world.service.list_cases(world.user("quality")).total == 0


def test_a_huge_expected_version_is_refused_at_once_and_saves_nothing(api: Api,
                                                                      world: World) -> None:
    number = open_complaint(world).number
    path = f"{API}/processes/complaint/cases/{number}/steps/confirm_complaint"
    values = '{"is_complaint": true, "screening_rationale": "设备故障"}'
    for version in (HUGE_EXPONENT, HUGE_DIGITS, "1e19", "99999999999999999999", "-1"):
        started = time.perf_counter()
        response = raw_post(api, path, f'{{"values": {values}, "expected_version": {version}}}',
                            "quality")
        assert time.perf_counter() - started < 1
        found = problem(response, 400)
        assert "expected_version" in found["detail"] or "number" in found["detail"], found
    assert world.service.read_case(number).case.state == "registered"


def test_a_refused_role_sending_a_huge_number_gets_an_answer_at_once(api: Api) -> None:
    started = time.perf_counter()
    response = raw_post(api, REGISTER, f'{{"values": {{"quantity": {HUGE_EXPONENT}}}}}',
                        "finance")
    assert time.perf_counter() - started < 1
    assert response.status_code in (400, 403)


@pytest.mark.parametrize(("name", "value", "words"), [
    ("quantity", 2**63, "Quantity: Enter a whole number from"),
    ("event_date", "0001-01-01", "between 1900-01-01 and 2100-12-31"),
    ("ship_date", "9999-12-31", "between 1900-01-01 and 2100-12-31"),
    ("complainant_name", "x" * 2001, "at most 100 characters"),
    ("product_model", "x" * 2001, "at most 2000 characters"),
    ("customer_request", "x" * 20_001, "at most 20000 characters"),
    ("batch_number", "B1\u202e", "direction characters"),
    ("complainant_email", "attacker@evil.com,victim", "one e-mail address"),
])
def test_an_api_value_beyond_its_bounds_is_refused_naming_the_field(
        api: Api, world: World, name: str, value: Any, words: str) -> None:
    found = problem(api.register(**{name: value}), 422)
    assert words in found["detail"], found
    assert any(error.get("field") == name for error in found.get("errors", [])), found
    assert world.service.list_cases(world.user("quality")).total == 0


def test_a_conflict_message_never_echoes_a_huge_version(api: Api, world: World) -> None:
    number = open_complaint(world).number
    path = f"{API}/processes/complaint/cases/{number}/steps/confirm_complaint"
    response = raw_post(api, path, '{"values": {"is_complaint": true, "screening_rationale": '
                        '"x"}, "expected_version": ' + "9" * 200_000 + "}", "quality")
    found = problem(response, 400)
    assert len(response.get_data()) < 2_000 and "999999999999" not in found["detail"]


def test_an_ordinary_intake_still_opens_a_case(api: Api) -> None:
    assert api.register(quantity=20, event_date="2026-02-27").status_code == 201
    assert INTAKE["market"] == "domestic"


def test_the_api_document_publishes_the_default_bounds(api: Api) -> None:
    schemas = api.get(f"{API}/openapi.json", role=None).json["components"]["schemas"]
    shown = schemas["complaint.register.Request"]["properties"]["values"]["properties"]
    assert shown["product_model"]["maxLength"] == 2000  # the default for one-line text
    assert shown["customer_request"]["maxLength"] == 20000  # and for long text
    assert shown["complainant_email"]["maxLength"] == 254
    assert shown["quantity"]["maximum"] == 2**63 - 1
    assert "From 1900-01-01 until 2100-12-31." in shown["event_date"]["description"]
