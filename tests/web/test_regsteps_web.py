"""Steps that change register entries, through the web: the loaner picked from the pool, the
part taken from stock, refusals in the reader's language under the field, and the entry's
history linking the case each change came from."""

from __future__ import annotations

import io
from typing import Any

from flask.testing import FlaskClient

from ..persistence.conftest import PASSWORD, World
from ..persistence.test_case_references import open_request
from ..persistence.test_regsteps_updates import entry, hand_out, on_site, pool
from .conftest import Auth, text_of


def _step(client: FlaskClient, world: World, number: str, step: str,
          data: dict[str, Any]) -> Any:
    version = world.service.read_case(number, history=False).case.row_version
    return client.post(f"/cases/{number}/do/{step}",
                       data={"row_version": str(version), **data})


def test_regsteps_the_loaner_step_offers_the_pool_with_search_as_you_type(
        client: FlaskClient, auth: Auth, world: World) -> None:
    pool(world)
    number = open_request(world, severity="unusable").number
    auth.login("technical_manager")
    page = client.get(f"/cases/{number}/do/provide_loaner").get_data(as_text=True)
    assert 'data-register="loaner"' in page


def test_regsteps_a_loaner_handed_out_through_the_form_is_lent_to_the_customer(
        client: FlaskClient, auth: Auth, world: World) -> None:
    pool(world)
    number = open_request(world, severity="unusable").number
    auth.login("technical_manager")
    sent = _step(client, world, number, "provide_loaner", {
        "loaner_unit": "LN-01", "loaner_return_by": "2026-03-20"})
    assert sent.status_code == 303
    assert entry(world, "loaner", "LN-01").values["status"] == "lent"


def test_regsteps_a_lent_loaner_is_refused_in_chinese_under_its_field(
        client: FlaskClient, auth: Auth, world: World) -> None:
    pool(world)
    hand_out(world, open_request(world, severity="unusable").number)
    number = open_request(world, severity="unusable").number
    auth.login("technical_manager", locale="zh-CN")
    sent = _step(client, world, number, "provide_loaner", {
        "loaner_unit": "LN-01", "loaner_return_by": "2026-03-25"})
    assert sent.status_code == 422
    assert "该备用机不在库（已借出或维修中），请选择在库的备用机。" in text_of(sent)
    assert 'value="LN-01"' in sent.get_data(as_text=True)  # nothing typed is lost
    assert str(entry(world, "loaner", "LN-01").values["expected_return"]) == "2026-03-20"


def test_regsteps_more_parts_than_in_stock_are_refused_in_chinese_under_the_quantity(
        client: FlaskClient, auth: Auth, world: World) -> None:
    pool(world)
    number = on_site(world)
    auth.login("engineer", locale="zh-CN")
    sent = _step(client, world, number, "complete_on_site", {
        "serial_verified": "yes", "work_performed": "更换电源模块", "test_data": "输出正常",
        "spare_part": "P-PSU", "part_quantity": "4", "part_location": "field",
        "service_type": "free", "customer_accepted": "yes", "customer_signatory": "刘医生",
        "customer_signature": (io.BytesIO(b"%PDF-1.4 voucher"), "voucher.pdf"),
        "password": PASSWORD})
    assert sent.status_code == 422
    assert "备件 P-PSU：服务车库存量将降至 -1，低于最低值 0。未保存任何内容。" in text_of(sent)
    assert entry(world, "spare_part", "P-PSU").values["stock_field"] == 3


def test_regsteps_the_entry_history_links_the_case_that_changed_it(
        client: FlaskClient, auth: Auth, world: World) -> None:
    pool(world)
    number = open_request(world, severity="unusable").number
    hand_out(world, number)
    auth.login("service_desk")
    page = client.get("/registers/loaner/history/LN-01")
    assert "Changed by case" in text_of(page)
    assert f'href="/cases/{number}"' in page.get_data(as_text=True)
