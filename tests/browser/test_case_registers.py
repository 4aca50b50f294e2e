"""A service request in a real browser, in Chinese: the service desk picks the device by its
serial as it types, and the case shows the warranty status copied from the installed base and
the device's earlier cases."""

from __future__ import annotations

import re

from ..persistence.conftest import World
from ..persistence.test_case_references import open_request, seed
from .conftest import Person

CASE_URL = re.compile(r"/cases/BX-\d{6}-\d{4}$")


def test_the_desk_opens_a_request_by_picking_the_device_and_sees_its_warranty_and_history(
        person: Person, world: World) -> None:
    seed(world)
    earlier = open_request(world)  # the same device was reported before, still open
    page = person.sign_in("service_desk")
    page.goto("/new/service_request/report_fault")
    page.get_by_label("报修渠道").select_option(label="电话（服务热线）")
    page.get_by_label("报修时间").fill("2026-03-02T09:55")
    page.get_by_label("客户名称（医院）").fill("市第一人民医院")
    page.get_by_label("联系人").fill("刘医生")
    page.get_by_label("联系电话").fill("+86 21 5555 0100")
    page.get_by_label("设备所在地址").fill("上海市黄浦区示例路 1 号")
    page.get_by_label("服务区域").select_option(label="市区")

    device = page.get_by_label("设备档案（序列号）")
    device.press_sequentially("sn-00")
    # The register answers as the user types: the serial is offered in the input's list.
    page.locator("datalist option[value='SN-0001']").wait_for(state="attached")
    device.fill("SN-0001")

    page.get_by_label("故障描述").fill("开机后屏幕提示参数配置错误，但仍可正常输液。")
    page.get_by_role("group", name="是否急救或生命支持类设备").get_by_label(
        "否", exact=True).check()
    page.get_by_label("故障严重程度").select_option(label="可正常使用")
    page.get_by_role("group", name="是否涉及患者").get_by_label("否", exact=True).check()
    page.get_by_role("button", name="登记报修").click()
    page.wait_for_url(CASE_URL)

    main = re.sub(r"\s+", " ", page.locator("main").inner_text())
    assert f"还有其他未结案件：{earlier.number}" in main
    assert re.search(r"是否在保修期内\s*是", main)
    assert "MX-200" in main
    # The device's section: the request refers to its customer too, which has its own.
    history = page.locator("section.entry-history").filter(has_text="设备 SN-0001 的历史记录")
    assert "设备 SN-0001 的历史记录" in history.inner_text()
    assert "本案件" in history.inner_text()
    history.get_by_role("link", name=earlier.number).wait_for()
    history.get_by_role("link", name="打开档案条目").click()
    page.wait_for_url(re.compile(r"/registers/installed_device/entry/SN-0001$"))
