"""Steps offered in every open state that leave the case where it is, on the case screens and in
the API: a note added to the bundled complaint in any state it can still be in."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from qmsflow.engine.loader import load

from ..conftest import EditSet
from ..persistence.conftest import Clock, World, make_world
from . import conftest as web
from .conftest import Auth, make_app, text_of
from .test_api import API, Api
from .test_cases import INTAKE, PASSWORD

NOTE_STEP = """transitions:
  - id: add_note
    label: {zh-CN: 添加内部备注, en: Add an internal note}
    from: any
    stay: true
    roles: [quality, sales]
    inputs: [{id: internal_note, required: true}]
"""
NOTE_FIELD = """
fields:
  - id: internal_note
    type: long_text
    label: {zh-CN: 内部备注, en: Internal note}
"""


@pytest.fixture
def noted_set(edited_set: EditSet) -> Path:
    return edited_set(("processes/complaint.yaml", "\ntransitions:\n", "\n" + NOTE_STEP),
                      ("processes/complaint.yaml", "\nfields:\n", NOTE_FIELD),
                      # Every quality defect is reportable here (a category flag).
                      ("processes/complaint.yaml", "  - id: quality\n    code: Q\n",
                       "  - id: quality\n    code: Q\n    flags: [reportable]\n"))


@pytest.fixture
def world(sqlite_template: Path, tmp_path: Path, noted_set: Path,
          clock: Clock) -> Iterator[World]:
    database = web.db._sqlite(sqlite_template, tmp_path)
    yield make_world(database, load(noted_set), clock, noted_set)
    database.engine.dispose()


@pytest.fixture
def app(world: World, tmp_path: Path, noted_set: Path) -> Iterator[Flask]:
    application = make_app(world, tmp_path, DEFINITIONS=str(noted_set))
    yield application
    application.extensions["qmsflow"].close()


def register(client: FlaskClient, auth: Auth) -> str:
    auth.login("sales")
    response = client.post("/new/complaint/register", data={**INTAKE, "password": PASSWORD})
    assert response.status_code == 303, text_of(response)
    return response.headers["Location"].rsplit("/", 1)[-1]


def test_a_step_that_stays_is_offered_on_the_case_page_and_leaves_the_case_in_its_state(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = register(client, auth)
    assert "Add an internal note" in text_of(client.get(f"/cases/{number}"))
    before = world.service.read_case(number).case
    response = client.post(f"/cases/{number}/do/add_note", data={
        "row_version": str(before.row_version), "internal_note": "客户要求周五前回电"},
        follow_redirects=True)
    page = html.unescape(text_of(response))
    assert "Add an internal note: done. Case" in page and "stays 'Registered'" in page
    after = world.service.read_case(number).case
    assert (after.state, after.assignee_role) == (before.state, before.assignee_role)
    assert after.values["internal_note"] == "客户要求周五前回电"


def test_a_step_from_any_state_is_offered_again_after_the_case_moves_on(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = register(client, auth)
    world.service.apply_step(number, "confirm_complaint", world.user("quality"),
                             {"is_complaint": True, "screening_rationale": "设备故障"})
    auth.logout()
    auth.login("quality", locale="zh-CN")
    page = text_of(client.get(f"/cases/{number}"))
    assert "添加内部备注" in page
    response = client.post(f"/cases/{number}/do/add_note", data={
        "row_version": str(world.service.read_case(number).case.row_version),
        "internal_note": "已联系客户"}, follow_redirects=True)
    assert "仍处于“分类与优先级”" in html.unescape(text_of(response))


def test_a_case_shows_the_flag_its_category_carries(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = register(client, auth)
    world.service.apply_step(number, "confirm_complaint", world.user("quality"),
                             {"is_complaint": True, "screening_rationale": "设备故障"})
    assert "Reportable to the regulator" not in text_of(client.get(f"/cases/{number}"))
    world.service.apply_step(number, "classify", world.user("quality"),
                             {"category": "malfunction"})
    assert "Flags Reportable to the regulator" in text_of(client.get(f"/cases/{number}"))


def test_the_admin_step_table_says_where_a_step_that_stays_is_offered(
        client: FlaskClient, auth: Auth) -> None:
    auth.login("quality_manager")
    page = text_of(client.get("/admin/processes/complaint"))
    assert "Add an internal note add_note (any open state) (stays where it is)" in page


def test_the_api_offers_a_step_that_stays_and_describes_where_it_leaves_the_case(
        client: FlaskClient, world: World) -> None:
    api = Api(client, world)
    number = api.register().json["number"]  # type: ignore[index]
    case = api.get(f"{API}/cases/{number}", "quality").json
    (note,) = [action for action in case["actions"] if action["step"] == "add_note"]
    assert note["allowed"] is True
    taken = api.step(number, "add_note", {"internal_note": "回电"}, "quality")
    assert taken.status_code == 200 and taken.json["state"] == case["state"]
    paths = api.get(f"{API}/openapi.json", role=None).json["paths"]
    operation = paths["/processes/complaint/cases/{number}/steps/add_note"]["post"]
    assert "From any open state leaving the case where it is." in operation["description"]
