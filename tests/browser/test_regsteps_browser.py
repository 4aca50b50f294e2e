"""Steps that change registers, in a real browser, in Chinese: a loaner handed out from the
pool on a service request and taken back (the loaner register shows it lent, then available),
and the stock of a spare part falling when the repair uses it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ..persistence.conftest import PASSWORD, World
from ..persistence.test_case_references import open_request
from ..persistence.test_regsteps_updates import on_site, pool
from .conftest import Person

pytestmark = pytest.mark.slow

CASE_URL = re.compile(r"/cases/BX-\d{6}-\d{4}$")


def shown(page: Any, selector: str = "main") -> str:
    return re.sub(r"\s+", " ", page.locator(selector).first.inner_text()).strip()


def open_step(page: Any, number: str, step: str) -> None:
    page.goto(f"/cases/{number}")
    page.get_by_role("button", name=step).click()
    page.wait_for_url(re.compile(r"/do/"))


def send(page: Any) -> None:
    page.locator("form[data-qmsflow-form] button[type=submit]").click()
    page.wait_for_url(CASE_URL)


def loaner_row(page: Any) -> str:
    page.goto("/registers/loaner")
    return shown(page, "tr:has-text('LN-01')")


def test_regsteps_a_loaner_goes_out_from_the_pool_and_comes_back(
        person: Person, world: World) -> None:
    pool(world)
    number = open_request(world, severity="unusable").number
    page = person.sign_in("technical_manager")
    assert "在库" in loaner_row(page)

    open_step(page, number, "提供备用机")
    unit = page.get_by_label("备用机（备用机库）")
    unit.press_sequentially("ln-0")
    page.locator("datalist option[value='LN-01']").wait_for(state="attached")
    unit.fill("LN-01")
    page.get_by_label("备用机预计归还日期").fill("2026-03-20")
    send(page)
    assert "LN-01" in shown(page)
    row = loaner_row(page)
    assert "借出" in row and "C-0001" in row

    open_step(page, number, "收回备用机")
    send(page)
    row = loaner_row(page)
    assert "在库" in row and "C-0001" not in row
    page.goto("/registers/loaner/history/LN-01")
    page.get_by_role("link", name=number).first.wait_for()


def test_regsteps_the_stock_of_the_part_falls_when_the_repair_uses_it(
        person: Person, world: World) -> None:
    pool(world)
    number = on_site(world)
    page = person.sign_in("engineer")
    page.goto("/registers/spare_part/entry/P-PSU")
    assert re.search(r"服务车库存量\s*3", shown(page))

    open_step(page, number, "现场修复，客户签字验收")
    page.get_by_role("group", name="已核对序列号").get_by_label("是", exact=True).check()
    page.get_by_label("维修/保养内容").fill("更换电源模块，按作业指导书调试。")
    page.get_by_label("使用备件（备件库）").fill("P-PSU")
    page.get_by_label("备件数量").fill("2")
    page.get_by_label("备件出库位置").select_option(label="服务车库存")
    page.get_by_label("功能检测与调试数据").fill("输出电压正常，报警功能正常。")
    page.get_by_label("服务类别").select_option(label="C 免费服务（保修期内）")
    page.get_by_role("group", name="客户验收合格").get_by_label("是", exact=True).check()
    page.get_by_label("客户签字人").fill("刘医生")
    page.get_by_label("客户签字（维修服务凭证）").set_input_files(
        files=[{"name": "voucher.pdf", "mimeType": "application/pdf",
                "buffer": b"%PDF-1.4 voucher"}])
    page.get_by_role("group", name="电子签名").get_by_label("密码").fill(PASSWORD)
    send(page)

    page.goto("/registers/spare_part/entry/P-PSU")
    assert re.search(r"服务车库存量\s*1", shown(page))
    page.goto("/registers/spare_part/history/P-PSU")
    page.get_by_role("link", name=number).first.wait_for()
