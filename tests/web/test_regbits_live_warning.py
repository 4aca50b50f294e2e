"""The device lookup tells a form, as soon as a device is picked, that it has open cases: only
those the reader may read, never the form's own case, in the reader's language."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from ..persistence.conftest import World
from ..persistence.test_case_references import open_request, seed
from .conftest import Auth

LOOKUP = "/registers/installed_device/lookup"


def looked_up(client: FlaskClient, **query: str) -> Any:
    answer = client.get(LOOKUP, query_string=query)
    assert answer.status_code == 200
    return answer.get_json()


def test_regbits_picking_a_device_with_an_open_case_answers_with_the_warning_and_links(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    earlier = open_request(world)
    auth.login("service_desk")
    found = looked_up(client, q="SN-0001")
    assert found["entries"] == [{"key": "SN-0001", "title": ""}]
    assert found["open"]["key"] == "SN-0001"
    assert found["open"]["warning"] == ("Device SN-0001 already has open cases: check them "
                                        "before opening another.")
    [case] = found["open"]["cases"]
    assert case["number"] == earlier.number
    assert case["url"] == f"/cases/{earlier.number}"
    assert case["about"].startswith("After-sales service request · ")


def test_regbits_the_warning_is_in_chinese_for_a_chinese_reader(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    open_request(world)
    auth.login("service_desk", locale="zh-CN")
    warning = looked_up(client, q="SN-0001")["open"]["warning"]
    assert warning.startswith("设备 SN-0001 ") and "未结" in warning


def test_regbits_a_partial_serial_or_a_device_without_open_cases_gives_no_warning(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    auth.login("service_desk")
    assert looked_up(client, q="SN-0001")["open"] is None  # no case yet
    open_request(world)
    assert looked_up(client, q="sn-00")["open"] is None  # not a key: nothing picked yet
    assert looked_up(client, q="SN-9999")["open"] is None


def test_regbits_the_form_of_a_case_is_not_warned_about_that_case_itself(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    earlier = open_request(world)
    auth.login("service_desk")
    assert looked_up(client, q="SN-0001", case=earlier.number)["open"] is None
    second = open_request(world)
    [case] = looked_up(client, q="SN-0001", case=earlier.number)["open"]["cases"]
    assert case["number"] == second.number


def test_regbits_a_reader_of_the_device_who_may_not_read_its_case_learns_nothing_of_it(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    open_request(world)  # by the service desk: sales is not involved in it
    auth.login("sales")
    found = looked_up(client, q="SN-0001")
    assert found["entries"] == [{"key": "SN-0001", "title": ""}]
    assert found["open"] is None


def test_regbits_the_form_of_an_existing_case_tells_the_script_its_number(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    case = open_request(world)
    auth.login("service_desk")
    assert "data-case-number" not in client.get(
        "/new/service_request/report_fault").get_data(as_text=True)
    step = client.get(f"/cases/{case.number}/do/acknowledge")
    assert step.status_code == 200
    assert f'data-case-number="{case.number}"' in step.get_data(as_text=True)
