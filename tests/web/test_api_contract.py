"""The OpenAPI document takes exactly what the server takes: every value the server refuses
for its characters, blankness, length or range, the document refuses too, and the other way
round; the document's links lead from an intake to its case and on to its steps."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from qmsflow.engine import values as value_ops
from qmsflow.web.api import openapi

from ..persistence.conftest import PASSWORD, World
from .test_api import API, INTAKE, REGISTER, Api, problem


@pytest.fixture
def api(client: FlaskClient, world: World) -> Api:
    return Api(client, world)


def document(api: Api) -> dict[str, Any]:
    sent: dict[str, Any] = api.get(f"{API}/openapi.json", role=None).json  # type: ignore[assignment]
    return sent


def allows(api: Api, schema: str, body: dict[str, Any]) -> bool:
    """Whether the document's schema ``schema`` allows ``body``."""
    schemas = document(api)["components"]["schemas"]
    validator = jsonschema.Draft202012Validator(
        schemas[schema], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(body)


# Values of the intake the server refuses, each for a rule the document now states.
REFUSED = [
    ("complainant_org", "a\x00b"),  # NUL: no database stores it
    ("complainant_org", "a\x13b"),  # a control character
    ("complainant_org", "a\nb"),  # one-line text
    ("complainant_org", "a\u202eb"),  # an invisible direction control
    ("complainant_org", ""),  # required, so not blank
    ("complainant_org", " \u3000 "),  # blank after the spaces are removed
    ("description", "ten chars!\u2066"),  # long text has no direction controls either
    ("description", "\n\t\r\n  \n\t\r\n  "),  # blank long text
    ("received_at", "1899-12-31T20:00:00+08:00"),  # before the earliest date
    ("received_at", "2101-01-01T08:00:00+08:00"),  # after the latest
    ("ship_date", "0001-01-01"),
    ("complainant_email", "a@example.com,b@example.com"),  # one address only
    ("complainant_phone", "6)(9 "),  # four characters once the space is stripped
]
# Values at the edge the server takes, which the document must allow.
TAKEN = [
    ("complainant_org", "  市第一人民医院  "),
    ("complainant_phone", " \u3000+86 21 5555 0100 "),  # spaces around are stripped
    ("complainant_email", " wang.fang@example.cn\u3000"),
    ("description", "第一行说明\n第二行\t说明"),
    ("received_at", "1900-01-01T00:00:00+08:00"),
    ("received_at", "2100-12-31T23:59:00-05:00"),
    ("ship_date", "2100-12-31"),
    ("complainant_email", "a.weber@example.org"),
    ("complainant_address", ""),  # not required: blank is no value
]


@pytest.mark.parametrize(("name", "value"), REFUSED)
def test_a_value_the_server_refuses_is_one_the_document_refuses(
        api: Api, name: str, value: str) -> None:
    body = {"values": {**INTAKE, name: value}, "password": "x"}
    assert not allows(api, "complaint.register.Request", body)
    refused = api.register(**{name: value})
    assert refused.status_code in (400, 422), refused.json
    assert f"/values/{name}" in refused.get_data(as_text=True)


@pytest.mark.parametrize(("name", "value"), TAKEN)
def test_a_value_the_document_allows_is_one_the_server_takes(
        api: Api, name: str, value: str) -> None:
    body = {"values": {**INTAKE, name: value}, "password": "x"}
    assert allows(api, "complaint.register.Request", body)
    assert api.register(**{name: value}).status_code == 201


def _days(low: date, high: date) -> range:
    return range(-400, (high - low).days + 400, 7)


@pytest.mark.parametrize(("low", "high"), [
    (value_ops.DATE_MIN, value_ops.DATE_MAX), (date(2020, 2, 15), date(2021, 11, 3)),
    (date(1999, 12, 31), date(2000, 1, 1))])
def test_the_date_pattern_holds_exactly_for_the_days_within_the_bounds(
        low: date, high: date) -> None:
    pattern = re.compile(openapi.date_pattern(low, high))
    days = [low + timedelta(days=n) for n in _days(low, high)]
    days += [low, high, low - timedelta(days=1), high + timedelta(days=1)]
    for day in days:
        for written in (day.isoformat(), f"{day.isoformat()}T23:59:00+08:00"):
            assert bool(pattern.search(written)) == (low <= day <= high), written


def test_the_text_patterns_refuse_exactly_the_characters_the_engine_refuses() -> None:
    patterns = {(multiline, required): re.compile(value_ops.text_pattern(multiline, required))
                for multiline in (False, True) for required in (False, True)}
    astral = range(0x10000, 0x110000, 0x1001)
    for code in [*range(0xD800), *range(0xE000, 0x10000), *astral]:
        char = chr(code)
        for (multiline, required), pattern in patterns.items():
            text = f"a{char}b"
            assert bool(pattern.match(text)) == (
                value_ops.text_problem(text, multiline) is None), (hex(code), multiline)
            if required:
                # A character alone: the engine takes it when it is neither blank nor refused.
                taken = not value_ops.is_empty(char) and value_ops.text_problem(
                    char.strip(), multiline) is None
                assert bool(pattern.match(char)) == taken, (hex(code), multiline)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789 ()-+\u3000\ta", max_size=30))
def test_the_phone_and_email_patterns_take_exactly_what_the_engine_takes_after_stripping(
        written: str) -> None:
    assert bool(re.match(openapi.PHONE, written)) == bool(
        value_ops.PHONE.match(written.strip())), written
    address = written.replace("a", "a@example.cn", 1)
    assert bool(re.match(openapi.EMAIL, address)) == bool(
        value_ops.EMAIL.fullmatch(address.strip())), address


def test_the_space_class_is_what_str_strip_removes() -> None:
    spaces = re.compile(f"[{value_ops.SPACE_CLASS}]")
    assert [c for c in map(chr, range(0x110000)) if c.isspace()] == [
        c for c in map(chr, range(0x110000)) if spaces.match(c)]


def test_a_list_parameter_with_a_control_character_is_refused_as_documented(api: Api) -> None:
    parameters = document(api)["paths"]["/cases"]["get"]["parameters"]
    q = next(p["schema"] for p in parameters if p["name"] == "q")
    for text, taken in (("a\x07b", False), ("a\u202eb", False), ("漏液\u200b", True),
                        ("unassigned \u0378", True)):
        assert jsonschema.Draft202012Validator(q).is_valid(text) == taken, text
        answer = api.get(f"{API}/cases", q=text)
        assert answer.status_code == (200 if taken else 400), text


def test_a_blank_reason_is_refused_where_one_is_required_by_the_document_and_the_server(
        api: Api) -> None:
    number = api.register().json["number"]  # type: ignore[index]
    schema = document(api)["components"]["schemas"]["complaint.correct_received_at.Request"]
    reason = jsonschema.Draft202012Validator(schema["properties"]["reason"])
    for blank in ("", "   ", "\x1e\x1f\u3000\n"):  # str.strip removes \x1e, unlike \\s
        assert not reason.is_valid(blank), repr(blank)
        refused = problem(api.step(number, "correct_received_at", {}, reason=blank), 422)
        assert refused["errors"][0]["code"] == "reason"
    assert reason.is_valid(" 客户补充说明 \n")


def test_an_empty_reason_where_none_is_required_is_allowed_by_the_document_and_taken(
        api: Api) -> None:
    number = api.register().json["number"]  # type: ignore[index]
    schema = document(api)["components"]["schemas"]["complaint.confirm_complaint.Request"]
    assert jsonschema.Draft202012Validator(schema["properties"]["reason"]).is_valid("")
    taken = api.step(number, "confirm_complaint",
                     {"is_complaint": True, "screening_rationale": "设备故障"}, reason="")
    assert taken.status_code == 200, taken.json


def test_a_step_may_leave_out_a_required_input_the_case_already_holds(api: Api) -> None:
    number = api.register().json["number"]  # type: ignore[index]
    schemas = document(api)["components"]["schemas"]
    values = schemas["complaint.correct_received_at.Request"]["properties"]["values"]
    assert "received_at" not in values.get("required", [])
    assert "may be left out" in values["properties"]["received_at"]["description"]
    taken = api.step(number, "correct_received_at", {}, reason="客户补充说明")
    assert taken.status_code == 200, taken.json


def test_a_wrong_signature_password_is_a_documented_refusal(api: Api) -> None:
    paths = document(api)["paths"]
    register = paths["/processes/complaint/starts/register"]["post"]
    assert "422" in register["responses"]
    password = document(api)["components"]["schemas"]["complaint.register.Request"][
        "properties"]["password"]
    assert "422" in password["description"] and password["minLength"] == 1
    wrong = problem(api.post(REGISTER, {"values": INTAKE, "password": "not it"}), 422)
    assert wrong["errors"][0]["pointer"] == "/password"


def test_links_lead_from_an_intake_to_its_case_and_its_steps_with_number_and_version(
        api: Api, world: World) -> None:
    paths = document(api)["paths"]
    complaint = world.definition.processes["complaint"]
    opened = paths["/processes/complaint/starts/register"]["post"]["responses"]["201"]["links"]
    assert opened["readCase"] == {"operationId": "readCase", "description": opened[
        "readCase"]["description"], "parameters": {"number": "$response.body#/number"}}
    assert set(opened) == {"readCase", *complaint.steps}
    for name in complaint.steps:
        assert opened[name]["operationId"] == f"step.complaint.{name}"
        assert opened[name]["parameters"] == {"number": "$response.body#/number"}
        assert opened[name]["requestBody"] == {"expected_version": "$response.body#/row_version"}
    read = paths["/cases/{number}"]["get"]["responses"]["200"]["links"]
    assert {link["operationId"] for link in read.values()} == {
        f"step.{p.id}.{s}" for p in world.definition.processes.values() for s in p.steps}
    listed = paths["/cases"]["get"]["responses"]["200"]["links"]
    assert listed["readFirstCase"]["parameters"] == {"number": "$response.body#/cases/0/number"}
    operations = {op["operationId"] for path in paths.values() for op in path.values()}
    for links in (opened, read, listed):
        assert {link["operationId"] for link in links.values()} <= operations


@pytest.mark.parametrize(("locale", "words"), [
    ("zh-CN", ["投诉单位：", "控制字符", "请输入 1900-01-01 至 2100-12-31 之间的日期。",
               "投诉人：最多可输入 100 个字符（当前为 101 个）。"]),
    ("en", ["Organisation: Remove the control or direction characters",
            "Enter a date between 1900-01-01 and 2100-12-31.",
            "Complainant: Enter at most 100 characters (this has 101)."]),
])
def test_a_value_refused_by_the_engine_is_explained_in_the_language_asked_for(
        api: Api, locale: str, words: list[str]) -> None:
    values = {**INTAKE, "complainant_org": "a\x13b", "ship_date": "1899-12-31",
              "complainant_name": "x" * 101}
    body = problem(api.post(REGISTER, {"values": values, "password": PASSWORD}, locale=locale),
                   422)
    entries = {e["field"]: e for e in body["errors"]}
    assert entries["ship_date"]["facts"] == {"rule": "date_range", "min": "1900-01-01",
                                             "max": "2100-12-31"}
    shown = body["detail"] + " ".join(e["detail"] for e in body["errors"])
    for word in words:
        assert word in shown, (word, shown)
    if locale == "zh-CN":
        assert "write it on one line" not in shown and "out of range" not in shown


@pytest.mark.parametrize(("name", "value", "status"), [
    ("scope", "", 400), ("status", " all", 400), ("process", "", 400), ("page", "", 400),
    ("overdue", "1", 400), ("overdue", "false", 200), ("q", "", 200), ("state", "  ", 200),
])
def test_a_list_parameter_is_taken_exactly_as_the_document_allows_it(
        api: Api, name: str, value: str, status: int) -> None:
    parameters = document(api)["paths"]["/cases"]["get"]["parameters"]
    schema = next(p["schema"] for p in parameters if p["name"] == name)
    written = schema == {"type": "boolean"} and value in ("true", "false")
    assert written or jsonschema.Draft202012Validator(schema).is_valid(value) == (status == 200)
    assert api.get(f"{API}/cases", **{name: value}).status_code == status
