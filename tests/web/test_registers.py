"""The register pages: list and search, an entry, its history, and the forms, role-checked."""

from __future__ import annotations

import io

from flask.testing import FlaskClient

from qmsflow.engine.persistence import registers

from ..persistence.conftest import World
from ..persistence.test_register_sheets import _book
from ..persistence.test_registers import CUSTOMER, DEVICE, PRODUCT
from .conftest import Auth, text_of

NEW_DEVICE = "/registers/installed_device/new"


def _seed(world: World, device: bool = False) -> None:
    """The product and the customer a device refers to (and the device itself)."""
    with world.database.sessions.begin() as session:
        for register, values in (("product", PRODUCT), ("customer", CUSTOMER),
                                 *((("installed_device", DEVICE),) if device else ())):
            registers.create(session, world.definition, register, values, world.clock())


def test_the_service_desk_registers_a_device_and_finds_it_by_its_serial(
        client: FlaskClient, auth: Auth, world: World) -> None:
    _seed(world)
    auth.login("service_desk")
    sent = client.post(NEW_DEVICE, data=DEVICE)
    found = client.get("/registers/installed_device", query_string={"q": "sn-0001"})
    page = client.get(sent.headers["Location"])
    assert sent.status_code == 302
    assert "SN-0001" in text_of(found) and "1 entry" in text_of(found)
    assert "市第一人民医院" not in text_of(page)  # a reference shows the key it holds
    assert "HT-2026-001" in text_of(page) and "2027-01-14" in text_of(page)


def test_a_bad_form_is_shown_again_with_a_message_per_field_and_nothing_stored(
        client: FlaskClient, auth: Auth, world: World) -> None:
    _seed(world)
    auth.login("service_desk")
    sent = client.post(NEW_DEVICE, data={**DEVICE, "serial": "SN 1", "product": "MX-999",
                                         "acceptance_date": "2026-02-30"})
    with world.database.sessions() as session:
        stored = registers.search(session, world.definition, "installed_device").total
    assert sent.status_code == 422
    assert "MX-999" in sent.get_data(as_text=True)  # what was typed stays in the form
    assert 'id="serial-error"' in sent.get_data(as_text=True)
    assert stored == 0


def test_a_reference_to_no_entry_is_named_under_its_field(
        client: FlaskClient, auth: Auth, world: World) -> None:
    _seed(world)
    auth.login("service_desk")
    sent = client.post(NEW_DEVICE, data={**DEVICE, "product": "MX-999"})
    assert sent.status_code == 422
    assert "MX-999&#39; is not an entry of Products" in text_of(sent)


def test_an_edit_is_saved_audited_and_shown_in_the_history_with_names(
        client: FlaskClient, auth: Auth, world: World) -> None:
    _seed(world, device=True)
    auth.login("engineer")
    edit = "/registers/installed_device/edit/SN-0001"
    form = client.get(edit)
    saved = client.post(edit, data={**DEVICE, "warranty_end": "2028-01-14",
                                    "row_version": "1", "reason": "extended warranty"})
    history = text_of(client.get("/registers/installed_device/history/SN-0001"))
    assert form.status_code == 200 and 'name="serial"' not in form.get_data(as_text=True)
    assert saved.status_code == 302
    assert "Engineer User" in history and "Warranty ends" in history
    assert "2028-01-14" in history and "extended warranty" in history


def test_an_edit_made_on_an_old_version_is_refused_and_loses_nothing(
        client: FlaskClient, auth: Auth, world: World) -> None:
    _seed(world, device=True)
    auth.login("engineer")
    edit = "/registers/installed_device/edit/SN-0001"
    client.post(edit, data={**DEVICE, "contract_no": "HT-A", "row_version": "1"})
    late = client.post(edit, data={**DEVICE, "contract_no": "HT-B", "row_version": "1"})
    with world.database.sessions() as session:
        device = registers.get(session, world.definition, "installed_device", "SN-0001")
    assert late.status_code == 409
    assert "Someone else changed this entry" in text_of(late)
    assert device.values["contract_no"] == "HT-A"


def test_a_reader_may_not_edit_and_others_do_not_see_the_register(
        client: FlaskClient, auth: Auth, world: World) -> None:
    _seed(world, device=True)
    auth.login("sales")
    assert client.get("/registers/installed_device/entry/SN-0001").status_code == 200
    assert client.post(NEW_DEVICE, data=DEVICE).status_code == 403
    auth.logout()
    auth.login("gm")
    assert client.get("/registers/installed_device").status_code == 404
    assert client.get("/registers/installed_device/entry/SN-0001").status_code == 404
    assert "/registers" not in client.get("/").get_data(as_text=True)


def test_the_register_pages_speak_chinese(client: FlaskClient, auth: Auth,
                                          world: World) -> None:
    _seed(world, device=True)
    auth.login("service_desk", locale="zh-CN")
    page = text_of(client.get("/registers/installed_device", query_string={"q": "SN"}))
    assert "设备档案" in page and "序列号" in page and "保修截止日期" in page


def test_a_register_downloads_as_a_workbook_and_a_bad_one_is_refused_row_by_row(
        client: FlaskClient, auth: Auth, world: World) -> None:
    _seed(world, device=True)
    auth.login("service_desk")
    exported = client.get("/registers/installed_device/export")
    bad = _book(["serial", "product", "customer"], ["SN-9", "MX-999", "C-0001"])
    refused = client.post("/registers/installed_device/import",
                          data={"workbook": (io.BytesIO(bad), "bad.xlsx")},
                          content_type="multipart/form-data")
    again = client.post("/registers/installed_device/import",
                        data={"workbook": (io.BytesIO(exported.data), "devices.xlsx")},
                        content_type="multipart/form-data")
    assert exported.status_code == 200 and exported.data[:2] == b"PK"
    assert refused.status_code == 422
    assert "row 2, column" in text_of(refused) and "MX-999" in text_of(refused)
    assert again.status_code == 302
