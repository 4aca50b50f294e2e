"""The JSON API as an integration uses it: tokens, intake, reading, lists, steps, and every
error with its message; the same refusals as the web; the token commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from schemathesis.specs.openapi.definitions import OPENAPI_31
from sqlalchemy import select
from werkzeug.test import TestResponse

from qmsflow.cli import main
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import tokens, users
from qmsflow.engine.persistence.models import ApiToken, AuditEvent, User

from ..persistence.conftest import PASSWORD, Clock, Database, World, make_world
from .conftest import Auth, make_app

API = "/api/v1"
REGISTER = f"{API}/processes/complaint/starts/register"
INTAKE: dict[str, Any] = {
    "channel": "web", "received_at": "2026-03-02T09:30:00+08:00", "complainant_name": "王芳",
    "complainant_org": "市第一人民医院", "market": "domestic",
    "complainant_phone": "+86 21 5555 0100", "product_model": "MX-200",
    "batch_number": "B2026-02-031", "description": "监护仪屏幕在使用中间歇性闪烁",
    "patient_involved": False,
}
# The complaint's steps up to approval, as each role sends them (JSON values).
TO_APPROVAL: list[tuple[str, str, dict[str, Any], bool]] = [
    ("quality", "confirm_complaint", {"is_complaint": True, "screening_rationale": "设备故障"},
     False),
    ("quality", "classify", {"category": "malfunction", "batch_number": "B2026-02-031"}, False),
    ("quality", "decide_reportability", {"report_cn": "not_reportable",
                                         "report_us": "not_reportable",
                                         "report_eu": "not_reportable",
                                         "reportability_rationale": "未造成伤害。"}, True),
    ("gm_office", "accept", {"joint_inspection": False}, False),
    ("quality", "report_investigation", {"investigated": True, "findings": "背光板虚焊",
                                         "root_cause": "回流焊温度曲线偏低",
                                         "recall_needed": False}, True),
    ("gm", "gm_instruct", {"gm_instructions": "同意调查结论。"}, True),
    ("quality", "judge_responsibility", {"established": True, "responsible_department":
                                         "production", "cause": "production",
                                         "improvement_tracked": False}, False),
]


class Api:
    """The test client speaking to the API with one token per role."""

    def __init__(self, client: FlaskClient, world: World) -> None:
        self.client = client
        self.world = world
        self.tokens: dict[str, str] = {}

    def token(self, role: str) -> str:
        if role not in self.tokens:
            with self.world.database.sessions.begin() as session:
                _row, plain = tokens.issue(session, self.world.user(role), f"tests ({role})",
                                           self.world.clock())
            self.tokens[role] = plain
        return self.tokens[role]

    def headers(self, role: str | None, locale: str = "en") -> dict[str, str]:
        sent = {"Accept-Language": locale}
        if role is not None:
            sent["Authorization"] = f"Bearer {self.token(role)}"
        return sent

    def get(self, path: str, role: str | None = "sales", **query: Any) -> TestResponse:
        return self.client.get(path, query_string=query, headers=self.headers(role))

    def post(self, path: str, body: Any, role: str | None = "sales",
             locale: str = "en") -> TestResponse:
        return self.client.post(path, json=body, headers=self.headers(role, locale))

    def register(self, role: str = "sales", **changes: Any) -> TestResponse:
        return self.post(REGISTER, {"values": {**INTAKE, **changes}, "password": PASSWORD},
                         role)

    def step(self, number: str, step: str, values: dict[str, Any] | None = None,
             role: str = "quality", *, version: int | None = None, signed: bool = False,
             **extra: Any) -> TestResponse:
        if version is None:
            version = self.get(f"{API}/cases/{number}", role).json["row_version"]  # type: ignore[index]
        body: dict[str, Any] = {"values": values or {}, "expected_version": version, **extra}
        if signed:
            body["password"] = PASSWORD
        return self.post(f"{API}/processes/complaint/cases/{number}/steps/{step}", body, role)

    def to_countermeasure(self) -> str:
        number: str = self.register().json["number"]  # type: ignore[index]
        for role, step, values, signed in TO_APPROVAL:
            assert self.step(number, step, values, role, signed=signed).status_code == 200, step
        return number

    def to_approval(self, amount: str) -> str:
        number = self.to_countermeasure()
        taken = self.step(number, "propose_plan", {
            "countermeasure": "更换并补偿", "handling": ["replace", "compensate"],
            "compensation_amount": amount}, "technical")
        assert taken.status_code == 200, taken.json
        return number


@pytest.fixture
def api(client: FlaskClient, world: World) -> Api:
    return Api(client, world)


@pytest.fixture
def any_database(database: Database, default_set: DefinitionSet, clock: Clock,
                 tmp_path: Path) -> Iterator[Api]:
    """The API over each database backend (SQLite and PostgreSQL)."""
    world = make_world(database, default_set, clock)
    app = make_app(world, tmp_path)
    yield Api(app.test_client(), world)
    app.extensions["qmsflow"].close()


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    """The problem document of an error answer, after checking its status and media type."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json  # type: ignore[assignment]
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def fields(body: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["code"] for e in body.get("errors", []) if e.get("field")}


# -- the document -------------------------------------------------------------------------------

def test_the_openapi_document_is_valid_openapi_3_1_and_needs_no_token(api: Api) -> None:
    response = api.get(f"{API}/openapi.json", role=None)
    assert response.status_code == 200
    document = response.json
    assert document["openapi"] == "3.1.0"
    assert list(jsonschema.Draft202012Validator(OPENAPI_31).iter_errors(document)) == []
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    assert "Set-Cookie" not in response.headers


def test_the_document_has_one_path_per_start_and_per_step_of_each_process(
        api: Api, world: World) -> None:
    paths = api.get(f"{API}/openapi.json", role=None).json["paths"]
    for process in world.definition.processes.values():
        for step in process.starts:
            assert f"/processes/{process.id}/starts/{step}" in paths
        for step in process.steps:
            assert f"/processes/{process.id}/cases/{{number}}/steps/{step}" in paths
    assert {"/cases", "/cases/{number}", "/openapi.json"} <= set(paths)


def test_a_request_schema_types_each_input_from_its_field_type_and_leaves_out_files(
        api: Api) -> None:
    schemas = api.get(f"{API}/openapi.json", role=None).json["components"]["schemas"]
    register = schemas["complaint.register.Request"]
    values = register["properties"]["values"]
    assert register["required"] == ["values", "password"]
    assert values["additionalProperties"] is False
    assert {"channel", "received_at", "description"} <= set(values["required"])
    shown = values["properties"]
    assert shown["channel"]["type"] == "string"  # required: never null
    assert shown["channel"]["enum"][:2] == ["phone", "email"]
    assert None not in shown["channel"]["enum"]
    assert shown["patient_harm"]["type"] == ["string", "null"]  # required by a condition
    assert None in shown["patient_harm"]["enum"]
    assert "`patient_involved`" in shown["patient_harm"]["description"]
    assert shown["received_at"]["format"] == "date-time"
    assert shown["complainant_email"]["format"] == "email"
    assert shown["description"]["minLength"] == 10 and shown["description"]["maxLength"] == 5000
    assert shown["quantity"]["type"] == ["integer", "null"] and shown["quantity"]["minimum"] == 1
    assert shown["patient_involved"]["type"] == "boolean"
    assert shown["ship_date"]["format"] == "date"
    assert "投诉渠道" in shown["channel"]["description"]
    assert "Channel" in shown["channel"]["description"]
    assert "evidence" not in shown  # a file field
    plan = schemas["complaint.propose_plan.Request"]["properties"]["values"]["properties"]
    assert plan["handling"]["type"] == "array"
    assert plan["handling"]["uniqueItems"] is True
    assert plan["compensation_amount"]["type"] == ["number", "string", "null"]
    assert plan["compensation_amount"]["maximum"] == 10000000
    classify = schemas["complaint.classify.Request"]["properties"]["values"]["properties"]
    assert "malfunction" in classify["category"]["enum"]
    approve = schemas["complaint.approve_plan.Request"]
    assert approve["required"] == ["expected_version", "password"]


def test_a_step_that_needs_a_file_says_so_in_its_description(api: Api, world: World) -> None:
    paths = api.get(f"{API}/openapi.json", role=None).json["paths"]
    for process in world.definition.processes.values():
        for step in process.steps.values():
            file_inputs = [i.field for i in step.inputs
                           if process.fields[i.field].type == "file"]
            if file_inputs:
                path = f"/processes/{process.id}/cases/{{number}}/steps/{step.id}"
                described = paths[path]["post"]["description"]
                assert "not taken by the API" in described
                assert all(f"`{name}`" in described for name in file_inputs)


# -- authentication -----------------------------------------------------------------------------

def test_a_request_without_a_token_is_told_how_to_send_one(api: Api) -> None:
    response = api.get(f"{API}/cases", role=None)
    body = problem(response, 401)
    assert "Authorization: Bearer" in body["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_refused(api: Api) -> None:
    response = api.client.get(f"{API}/cases", headers={
        "Authorization": f"Bearer {tokens.PREFIX}not-a-real-token", "Accept-Language": "en"})
    assert "not known" in problem(response, 401)["detail"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_revoked_token_stops_working(api: Api, world: World) -> None:
    token = api.token("sales")
    assert api.get(f"{API}/cases").status_code == 200
    with world.database.sessions.begin() as session:
        row = session.execute(select(ApiToken).where(
            ApiToken.token_hash == tokens.digest(token))).scalar_one()
        tokens.revoke(session, row.id, world.clock())
    assert "revoked" in problem(api.get(f"{API}/cases"), 401)["detail"]


def test_the_token_of_a_disabled_user_stops_working(api: Api, world: World) -> None:
    assert api.get(f"{API}/cases").status_code == 200
    with world.database.sessions.begin() as session:
        users.disable(session, world.user("sales"), world.clock(), "left the company")
    assert "disabled" in problem(api.get(f"{API}/cases"), 401)["detail"]


def test_the_token_of_a_locked_user_stops_working_until_the_lock_ends(
        api: Api, world: World) -> None:
    with world.database.sessions.begin() as session:
        session.get_one(User, world.user("sales")).locked_until = (
            world.clock() + timedelta(minutes=15))
    assert "locked for a while" in problem(api.get(f"{API}/cases"), 401)["detail"]
    world.clock.advance(minutes=16)
    assert api.get(f"{API}/cases").status_code == 200


def test_only_the_tokens_hash_is_stored_and_its_use_is_noted_at_most_once_a_minute(
        api: Api, world: World) -> None:
    token = api.token("sales")
    with world.database.sessions() as session:
        row = session.execute(select(ApiToken)).scalar_one()
        assert row.token_hash == tokens.digest(token) and token not in row.token_hash
        assert row.last_used_at is None
    api.get(f"{API}/cases")
    first = _last_used(world)
    world.clock.advance(seconds=30)
    api.get(f"{API}/cases")
    assert _last_used(world) == first
    world.clock.advance(seconds=31)
    api.get(f"{API}/cases")
    assert _last_used(world) == first + timedelta(seconds=61)


def _last_used(world: World) -> Any:
    with world.database.sessions() as session:
        return session.execute(select(ApiToken.last_used_at)).scalar_one()


def test_a_web_session_neither_authenticates_the_api_nor_gets_a_cookie_from_it(
        api: Api, auth: Auth) -> None:
    auth.login("sales")
    response = api.client.get(f"{API}/cases")
    problem(response, 401)
    assert "Set-Cookie" not in response.headers
    assert "Set-Cookie" not in api.get(f"{API}/cases").headers


def test_a_token_cannot_be_issued_for_a_disabled_or_unknown_user(world: World) -> None:
    with world.database.sessions.begin() as session:
        users.disable(session, world.user("sales"), world.clock(), "left")
    with world.database.sessions() as session, pytest.raises(users.UserError) as disabled:
        tokens.issue(session, world.user("sales"), "x", world.clock())
    with world.database.sessions() as session, pytest.raises(users.UserError) as unknown:
        tokens.issue(session, "nobody.here", "x", world.clock())
    assert "disabled" in str(disabled.value)
    assert "no user 'nobody.here'" in str(unknown.value)


# -- creating a case ----------------------------------------------------------------------------

def test_an_intake_opens_a_case_with_its_values_typed_and_its_address(
        api: Api, world: World) -> None:
    response = api.register(quantity=3, ship_date="2026-02-01")
    assert response.status_code == 201, response.json
    case = response.json
    assert response.headers["Location"] == f"{API}/cases/{case['number']}"
    assert case["process"] == "complaint" and case["state"] == "registered"
    assert case["row_version"] == 1 and case["final"] is False
    assert case["values"]["patient_involved"] is False and case["values"]["quantity"] == 3
    assert case["values"]["ship_date"] == "2026-02-01"
    assert case["values"]["complainant_name"] == "王芳"
    assert case["state_label"]["en"] == "Registered"
    assert case["assignee_role"] == "quality"
    # Sales screens nothing; it may only tell the customer where things stand, or petition.
    assert {a["step"] for a in case["actions"] if a["allowed"]} == {
        "update_progress", "submit_petition"}
    with world.database.sessions() as session:
        clients = session.execute(select(AuditEvent.client).where(
            AuditEvent.case_number == case["number"])).scalars().all()
    assert clients and all(c.startswith("api token ") for c in clients)


def test_an_intake_without_required_values_names_each_missing_field(api: Api) -> None:
    response = api.post(REGISTER, {"values": {"channel": "web"}, "password": PASSWORD})
    body = problem(response, 422)
    missing = fields(body)
    assert missing["received_at"] == "missing" and missing["description"] == "missing"
    pointers = {e.get("pointer") for e in body["errors"]}
    assert "/values/received_at" in pointers
    assert "Received at is required." in body["detail"]


def test_an_intake_by_a_role_that_may_not_register_is_forbidden(api: Api) -> None:
    body = problem(api.register(role="technical"), 403)
    assert [e["code"] for e in body["errors"]] == ["role"]
    assert "Needs the role" in body["detail"]


def test_wrong_signature_passwords_pause_signing_and_the_answer_says_so(api: Api) -> None:
    for _ in range(5):
        problem(api.post(REGISTER, {"values": INTAKE, "password": "not it at all"}), 422)
    paused = problem(api.post(REGISTER, {"values": INTAKE, "password": PASSWORD}), 403)
    assert "Signing is paused for a while after several wrong passwords" in paused["detail"]
    assert "locked" not in paused["detail"]  # the account is not: only this user's signing


def test_an_intake_needs_the_signature_password_and_a_wrong_one_is_refused(api: Api) -> None:
    unsigned = problem(api.post(REGISTER, {"values": INTAKE}), 422)
    assert any(e["code"] == "signature" and e["pointer"] == "/password"
               for e in unsigned["errors"])
    wrong = problem(api.post(REGISTER, {"values": INTAKE, "password": "not it at all"}), 422)
    assert wrong["errors"][0]["code"] == "password" and "password is wrong" in wrong["detail"]


def test_values_of_the_wrong_json_type_are_malformed_with_one_error_per_field(api: Api) -> None:
    body = problem(api.register(quantity="three", patient_involved="no", channel=3), 400)
    assert fields(body) == {"quantity": "type", "patient_involved": "type", "channel": "type"}
    assert "quantity: expected a whole number." in body["detail"]


def test_values_breaking_a_fields_rules_are_refused_by_the_engine(api: Api) -> None:
    body = problem(api.register(channel="fax", quantity=0, complainant_email="nope"), 422)
    assert fields(body) == {"channel": "invalid", "quantity": "invalid",
                            "complainant_email": "invalid"}


def test_a_file_field_and_an_unknown_field_are_refused_by_name(api: Api) -> None:
    body = problem(api.register(evidence="photo.jpg"), 422)
    assert fields(body) == {"evidence": "files"} and "web application" in body["detail"]
    unknown = problem(api.register(colour="red"), 422)
    assert fields(unknown) == {"colour": "unexpected"}


def test_malformed_bodies_are_told_apart(api: Api) -> None:
    headers = api.headers("sales")
    not_json = api.client.post(REGISTER, data="{nope", headers=headers,
                               content_type="application/json")
    assert "not valid JSON" in problem(not_json, 400)["detail"]
    array = api.post(REGISTER, [1, 2])
    assert "JSON object" in problem(array, 400)["detail"]
    extra = problem(api.post(REGISTER, {"values": INTAKE, "pasword": PASSWORD}), 400)
    assert extra["errors"][0]["pointer"] == "/pasword" and "password" in extra["detail"]
    form = api.client.post(REGISTER, data={"values": "x"}, headers=headers)
    assert "Content-Type: application/json" in problem(form, 415)["detail"]
    nan = api.client.post(REGISTER, data='{"values": {"quantity": NaN}}', headers=headers,
                          content_type="application/json")
    problem(nan, 400)
    nul = problem(api.register(complainant_name="a\u0000b"), 400)
    assert "NUL" in nul["detail"]


def test_a_value_the_engine_cannot_hold_is_refused_not_a_server_error(api: Api) -> None:
    early = problem(api.register(received_at="0001-01-01T00:00:00+08:00"), 422)
    assert fields(early) == {"received_at": "invalid"}
    number = api.to_countermeasure()
    huge = api.step(number, "propose_plan", {"countermeasure": "补偿", "handling": ["compensate"],
                                             "compensation_amount": "1e30"}, "technical")
    assert fields(problem(huge, 422)) == {"compensation_amount": "invalid"}


def test_an_unknown_process_or_start_step_is_not_found(api: Api) -> None:
    assert "no process" in problem(api.post(f"{API}/processes/nope/starts/register",
                                            {"values": {}}), 404)["detail"]
    wrong = problem(api.post(f"{API}/processes/complaint/starts/accept", {"values": {}}), 404)
    assert "register" in wrong["detail"]


# -- reading and listing ------------------------------------------------------------------------

def test_a_case_reads_with_its_clocks_links_and_the_steps_this_user_may_take(
        api: Api) -> None:
    number = api.register().json["number"]
    for role, step, values, signed in TO_APPROVAL[:4]:
        assert api.step(number, step, values, role, signed=signed).status_code == 200
    case = api.get(f"{API}/cases/{number}", "quality").json
    assert case["state"] == "investigation"
    clocks = {clock["id"]: clock for clock in case["clocks"]}
    assert clocks["closure"]["status"] == "running" and clocks["closure"]["due_at"]
    assert clocks["closure"]["late"] is False and clocks["closure"]["label"]["en"]
    allowed = {a["step"] for a in case["actions"] if a["allowed"]}
    assert {"wait_for_customer", "report_investigation"} <= allowed
    assert case["actions"][0]["allowed"] is True  # allowed first
    other = api.get(f"{API}/cases/{number}", "gm_office").json
    assert not any(a["allowed"] for a in other["actions"])
    assert other["actions"][0]["reasons"][0]["code"] == "role"


def test_a_link_reads_with_its_relation_id_and_its_labels_both_ways(api: Api) -> None:
    number = api.to_approval("3000")
    for role, step, values, signed in [
            ("sales_manager", "approve_plan", {}, True),
            ("sales", "record_reply", {"reply_method": "phone", "reply_summary": "客户不满意",
                                       "customer_accepts": False}, False),
            ("sales", "customer_not_accepting", {}, True)]:
        assert api.step(number, step, values, role, signed=signed).status_code == 200, step
    (link,) = api.get(f"{API}/cases/{number}", "quality").json["links"]
    assert link["relation"] == "follow_up_of:reverse"
    assert link["relation_label"] == {"zh-CN": "重新立案为", "en": "Followed up by"}
    (back,) = api.get(link["href"], "quality").json["links"]
    assert (back["relation"], back["number"]) == ("follow_up_of", number)
    assert back["relation_label"]["en"] == "Follow-up of"


def test_an_unknown_case_is_not_found(api: Api) -> None:
    assert "KS-1999-01-0001" in problem(api.get(f"{API}/cases/KS-1999-01-0001"), 404)["detail"]


def test_the_list_filters_pages_and_searches(api: Api) -> None:
    numbers = [api.register(complainant_org=f"医院 {i}").json["number"] for i in range(3)]
    api.step(numbers[0], "confirm_complaint", TO_APPROVAL[0][2])
    mine = api.get(f"{API}/cases", "quality").json
    assert {c["number"] for c in mine["cases"]} == set(numbers)
    assert mine["total"] == 3 and mine["next"] is None
    registered = api.get(f"{API}/cases", "quality", state="registered", process="complaint")
    assert {c["number"] for c in registered.json["cases"]} == set(numbers[1:])
    first = api.get(f"{API}/cases", "quality", per_page=2).json
    assert len(first["cases"]) == 2 and first["pages"] == 2 and "page=2" in first["next"]
    second = api.client.get(first["next"], headers=api.headers("quality")).json
    assert len(second["cases"]) == 1
    found = api.get(f"{API}/cases", "sales", scope="all", q="医院 2").json
    assert [c["number"] for c in found["cases"]] == [numbers[2]]
    nothing_overdue = api.get(f"{API}/cases", "quality", overdue="true").json
    assert nothing_overdue["cases"] == []


def test_bad_list_parameters_are_named(api: Api) -> None:
    body = problem(api.get(f"{API}/cases", page=0, procss="x", status="closed",
                           process="nope"), 400)
    named = {e["parameter"] for e in body["errors"]}
    assert named == {"page", "procss", "status", "process"}
    assert "did you mean 'process'" in body["detail"]


# -- steps --------------------------------------------------------------------------------------

def test_a_step_moves_the_case_and_answers_with_it(api: Api) -> None:
    number = api.register().json["number"]
    response = api.step(number, "confirm_complaint", TO_APPROVAL[0][2], version=1)
    assert response.status_code == 200, response.json
    assert response.json["state"] == "classification" and response.json["row_version"] == 2
    assert response.json["values"]["is_complaint"] is True


def test_a_stale_expected_version_is_a_conflict_and_saves_nothing(api: Api) -> None:
    number = api.register().json["number"]
    assert api.step(number, "confirm_complaint", TO_APPROVAL[0][2], version=1).status_code == 200
    stale = api.step(number, "classify", TO_APPROVAL[1][2], version=1)
    body = problem(stale, 409)
    assert body["current_version"] == 2 and "changed since you read it" in body["detail"]
    assert api.get(f"{API}/cases/{number}").json["state"] == "classification"


def test_a_step_without_expected_version_is_malformed(api: Api) -> None:
    number = api.register().json["number"]
    response = api.post(f"{API}/processes/complaint/cases/{number}/steps/confirm_complaint",
                        {"values": TO_APPROVAL[0][2]}, "quality")
    body = problem(response, 400)
    assert body["errors"][0]["pointer"] == "/expected_version"


def test_a_null_reason_or_password_is_malformed_as_the_document_says_and_saves_nothing(
        api: Api) -> None:
    number = api.register().json["number"]
    for key in ("reason", "password"):
        body = problem(api.step(number, "confirm_complaint", TO_APPROVAL[0][2],
                                **{key: None}), 400)
        assert body["errors"][0]["pointer"] == f"/{key}" and "must be text" in body["detail"]
    assert api.get(f"{API}/cases/{number}").json["row_version"] == 1


def test_a_step_by_a_role_not_allowed_is_forbidden_like_on_the_web(api: Api) -> None:
    number = api.register().json["number"]
    body = problem(api.step(number, "confirm_complaint", TO_APPROVAL[0][2], "sales"), 403)
    assert body["errors"][0]["code"] == "role"


def test_an_approval_above_the_approvers_limit_is_forbidden_with_the_needed_tier(
        api: Api) -> None:
    number = api.to_approval("80000")
    body = problem(api.step(number, "approve_plan", {}, "sales_manager", signed=True), 403)
    refusal = next(e for e in body["errors"] if e["code"] == "authority")
    assert refusal["facts"] == {"needed": "gm", "amount": "80,000", "limit": "5,000",
                                "field": "compensation_amount"}
    assert "above your limit 5,000" in body["detail"]
    approved = api.step(number, "approve_plan", {}, "gm", signed=True)
    assert approved.status_code == 200 and approved.json["state"] == "reply"


def test_a_refusal_is_explained_in_the_language_asked_for(api: Api) -> None:
    number = api.register().json["number"]
    version = api.get(f"{API}/cases/{number}").json["row_version"]
    response = api.post(f"{API}/processes/complaint/cases/{number}/steps/confirm_complaint",
                        {"values": {}, "expected_version": version}, "sales", locale="zh-CN")
    body = problem(response, 403)
    assert "需要以下角色之一" in body["detail"] and "质量工程师" in body["detail"]


def test_a_step_in_the_wrong_state_or_on_a_finished_case_is_refused(api: Api) -> None:
    number = api.register().json["number"]
    early = problem(api.step(number, "accept", {}, "gm_office"), 422)
    assert early["errors"][0]["code"] == "state"


def test_unknown_steps_and_cases_of_another_process_are_not_found(api: Api) -> None:
    number = api.register().json["number"]
    body = {"values": {}, "expected_version": 1}
    other = api.post(f"{API}/processes/service_request/cases/{number}/steps/close", body)
    assert "/processes/complaint/cases/" in problem(other, 404)["detail"]
    unknown = api.post(f"{API}/processes/complaint/cases/{number}/steps/aprove_plan", body)
    assert "did you mean 'approve_plan'" in problem(unknown, 404)["detail"]
    missing = api.post(f"{API}/processes/complaint/cases/KS-1999-01-0001/steps/close", body)
    problem(missing, 404)


def test_unknown_addresses_and_methods_answer_as_problems(api: Api) -> None:
    assert "openapi.json" in problem(api.get(f"{API}/nothing/here"), 404)["detail"]
    response = api.client.delete(f"{API}/cases", headers=api.headers("sales"))
    problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_a_body_over_the_limit_is_too_large(api: Api) -> None:
    huge = api.register(description="x" * (2 * 1024 * 1024))
    problem(huge, 413)


def test_an_unexpected_failure_is_a_problem_without_a_traceback(
        api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.extensions["qmsflow"].service, "read_case", broken)
    body = problem(api.get(f"{API}/cases/KS-2026-03-0001"), 500)
    assert "boom" not in body["detail"]


def test_a_voided_case_takes_no_step(api: Api, world: World) -> None:
    number = api.register().json["number"]
    world.service.void_case(number, world.user("quality_manager"), "duplicate of another case")
    case = api.get(f"{API}/cases/{number}", "quality").json
    assert case["voided_at"] and case["void_reason"] == "duplicate of another case"
    assert case["actions"] == []
    refused = problem(api.step(number, "confirm_complaint", TO_APPROVAL[0][2]), 422)
    assert refused["errors"][0]["code"] == "voided"


def test_without_accept_language_the_tokens_user_reads_their_own_language(api: Api) -> None:
    number = api.register().json["number"]
    response = api.client.post(
        f"{API}/processes/complaint/cases/{number}/steps/confirm_complaint",
        json={"values": {}, "expected_version": 1},
        headers={"Authorization": f"Bearer {api.token('sales')}"})
    assert "质量工程师" in problem(response, 403)["detail"]  # the users' locale is zh-CN


def test_the_api_works_alike_on_each_database(any_database: Api) -> None:
    api = any_database
    created = api.register(complainant_org="第一医院")
    assert created.status_code == 201, created.json
    number = created.json["number"]
    assert "NUL" in problem(api.register(complainant_org="a\u0000b"), 400)["detail"]
    found = api.get(f"{API}/cases", "sales", scope="all", q="第一").json
    assert [c["number"] for c in found["cases"]] == [number]
    assert api.step(number, "confirm_complaint", TO_APPROVAL[0][2], version=1
                    ).status_code == 200
    problem(api.step(number, "classify", TO_APPROVAL[1][2], version=1), 409)
    assert api.get(f"{API}/cases/{number}").json["row_version"] == 2


# -- the token commands -------------------------------------------------------------------------

@pytest.fixture
def cli(world: World) -> Callable[..., Any]:
    def run(*args: object) -> Any:
        result = CliRunner().invoke(main, ["users", "token", *map(str, args)], env={
            "DATABASE_URL": world.database.url})
        assert "Traceback" not in result.output
        return result

    return run


def test_token_add_prints_the_token_alone_on_standard_output_and_it_works(
        cli: Callable[..., Any], api: Api, world: World) -> None:
    result = cli("add", world.user("sales"), "--label", "website intake")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith(tokens.PREFIX) and "\n" not in token
    assert "shown this once" in result.stderr
    response = api.client.get(f"{API}/cases", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_token_list_and_revoke(cli: Callable[..., Any], api: Api, world: World) -> None:
    token = cli("add", world.user("sales"), "--label", "wechat").stdout.strip()
    listed = cli("list")
    assert listed.exit_code == 0
    assert "wechat" in listed.output and "active" in listed.output
    assert "never used" in listed.output
    token_id = listed.output.split()[0]
    revoked = cli("revoke", token_id)
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in cli("list").output
    again = cli("revoke", token_id)
    assert again.exit_code == 1 and "already revoked" in again.output
    response = api.client.get(f"{API}/cases", headers={"Authorization": f"Bearer {token}"})
    problem(response, 401)


def test_token_add_refuses_an_unknown_user_and_an_empty_label(
        cli: Callable[..., Any], world: World) -> None:
    unknown = cli("add", "sales.usr", "--label", "x")
    assert unknown.exit_code == 1 and "did you mean 'sales.user'" in unknown.output
    empty = cli("add", world.user("sales"), "--label", " ")
    assert empty.exit_code == 1 and "needs a label" in empty.output
    assert "no tokens" in cli("list").output
    assert cli("revoke", 99).exit_code == 1


def test_issuing_and_revoking_a_token_are_in_the_audit_trail(
        cli: Callable[..., Any], world: World) -> None:
    cli("add", world.user("sales"), "--label", "app")
    cli("revoke", 1)
    with world.database.sessions() as session:
        actions = session.execute(select(AuditEvent.action).where(
            AuditEvent.entity == "api_token")).scalars().all()
    assert actions == ["api_token_issued", "api_token_revoked"]



def test_a_step_whose_condition_reads_its_inputs_is_allowed_and_refused_in_words_on_submit(
        api: Api) -> None:
    number = api.register().json["number"]
    actions = {a["step"]: a for a in api.get(f"{API}/cases/{number}", "quality").json["actions"]}
    assert actions["confirm_complaint"]["allowed"] and actions["confirm_complaint"][
        "reasons"] == []
    version = api.get(f"{API}/cases/{number}", "quality").json["row_version"]
    response = api.post(f"{API}/processes/complaint/cases/{number}/steps/confirm_complaint",
                        {"values": {"is_complaint": False, "screening_rationale": "只是咨询"},
                         "expected_version": version},
                        "quality", locale="zh-CN")
    body = problem(response, 422)
    assert body["detail"] == "未保存任何内容：仅当“是否属于投诉”不为“否”时才能办理。"
    unmet = [e for e in body["errors"] if e["code"] == "condition"]
    assert [e["pointer"] for e in unmet] == ["/values/is_complaint"]
    # The facts name the step for programs; the expression is nowhere in the answer.
    assert [e["facts"] for e in unmet] == [{"step": "confirm_complaint"}]
    assert "is_complaint != false" not in response.get_data(as_text=True)


def test_the_api_document_gives_a_step_condition_in_words_and_its_expression_for_developers(
        api: Api) -> None:
    document = api.get(f"{API}/openapi.json", role=None).json
    described = document["paths"]["/processes/complaint/cases/{number}/steps/confirm_complaint"][
        "post"]["description"]
    assert "Condition: 仅当“是否属于投诉”不为“否”时才能办理。 / Possible only when 'Is it a " \
           "complaint' is not No." in described
    assert "For developers, the expression: `is_complaint != false`" in described
    facts = document["components"]["schemas"]["Reason"]["properties"]["facts"]["description"]
    assert "Never the condition's expression" in facts
