"""A service request picks its device from the register: search as you type, the device's
history on the case page, a warning when the device already has an open case."""

from __future__ import annotations

from flask.testing import FlaskClient

from ..persistence.conftest import World
from ..persistence.test_case_references import open_request, seed
from .conftest import Auth, text_of

INTAKE = {"channel": "phone", "received_at": "2026-03-02T09:55", "customer_org": "市第一人民医院",
          "contact_name": "刘医生", "contact_phone": "+86 21 5555 0100",
          "site_address": "上海市黄浦区示例路 1 号", "location_zone": "city",
          "installed_device": "SN-0001",
          "description": "开机后屏幕提示参数配置错误，但仍可正常输液。",
          "emergency_equipment": "no", "severity": "usable", "patient_involved": "no"}
START = "/new/service_request/report_fault"


def test_the_lookup_lists_matching_entries_with_their_titles(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    auth.login("service_desk")
    found = client.get("/registers/installed_device/lookup", query_string={"q": "sn-00"})
    products = client.get("/registers/product/lookup", query_string={"q": "MX"})
    assert found.status_code == 200
    assert found.get_json()["entries"] == [{"key": "SN-0001", "title": ""}]
    assert products.get_json()["entries"] == [{"key": "MX-200", "title": "多参数监护仪"}]


def test_the_lookup_of_a_register_the_reader_may_not_read_is_not_found(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    auth.login("finance")
    assert client.get("/registers/installed_device/lookup", query_string={"q": "SN"}
                      ).status_code == 404


def test_the_intake_form_offers_search_as_you_type_on_the_device_field(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("service_desk")
    page = client.get(START).get_data(as_text=True)
    assert 'data-register="installed_device"' in page
    assert "/registers/REGISTER/lookup" in page and "js/lookup.js" in page


def test_a_request_opened_by_serial_copies_the_device_and_shows_its_history(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    earlier = open_request(world)
    auth.login("service_desk")
    sent = client.post(START, data=INTAKE)
    assert sent.status_code == 303
    page = client.get(sent.headers["Location"])
    shown = text_of(page)
    assert "MX-200" in shown and "History of Device SN-0001" in shown
    assert earlier.number in shown and "(this case)" in shown
    assert "/registers/installed_device/entry/SN-0001" in page.get_data(as_text=True)


def test_opening_a_second_request_for_a_device_with_an_open_case_warns_with_a_link(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    earlier = open_request(world)
    auth.login("service_desk")
    form = client.get(START, query_string={"installed_device": "SN-0001"})
    assert "Device SN-0001 already has open cases" in text_of(form)
    assert f'href="/cases/{earlier.number}"' in form.get_data(as_text=True)
    sent = client.post(START, data=INTAKE, follow_redirects=True)
    assert f"Device SN-0001 has other open cases: {earlier.number}." in text_of(sent)


def test_a_serial_not_in_the_register_is_refused_under_its_field_in_chinese(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    auth.login("service_desk", locale="zh-CN")
    sent = client.post(START, data={**INTAKE, "installed_device": "SN-9999"})
    assert sent.status_code == 422
    assert "设备档案中没有 SN-9999。请先在其中登记" in text_of(sent)


def test_control_characters_in_a_key_or_a_search_find_nothing_and_break_nothing(
        client: FlaskClient, auth: Auth, world: World) -> None:
    seed(world)
    auth.login("service_desk")
    found = client.get("/registers/installed_device/lookup", query_string={"q": "SN\x00"})
    form = client.get(START, query_string={"installed_device": "SN-0001\x00"})
    sent = client.post(START, data={**INTAKE, "installed_device": "SN-0001\x00"})
    # The application refuses such input before any view, with a clear 400.
    assert (found.status_code, form.status_code, sent.status_code) == (400, 400, 400)
