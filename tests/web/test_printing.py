"""The printable case form and its PDF, as staff print them in either language."""

from __future__ import annotations

import dataclasses
import re
import zlib
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from ..persistence.conftest import World, open_complaint
from .conftest import Auth, make_app, text_of

CLASSIFY = {"category": "malfunction"}


def inflated_streams(data: bytes) -> list[bytes]:
    """Every stream of a PDF, inflated; found by its /Length, since binary font data may
    contain the word 'endstream'."""
    streams = []
    for match in re.finditer(rb"/Length (\d+)[^>]*>>\s*stream\r?\n", data):
        raw = data[match.end():match.end() + int(match.group(1))]
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:
            streams.append(raw)
    return streams


def pdf_text(data: bytes) -> str:
    """The text a PDF reader would extract from WeasyPrint's output (no PDF library needed).

    WeasyPrint writes glyph ids as hex strings and maps them to Unicode in each font's
    ToUnicode CMap; every font here is a subset of the same face, so one map serves all.
    """
    streams = inflated_streams(data)
    glyphs: dict[str, str] = {}
    for stream in streams:
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
            for code, uni in re.findall(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
                glyphs[code.decode().lower()] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    text = []
    for stream in streams:
        for block in re.findall(rb"BT(.*?)ET", stream, re.S):
            for run in re.findall(rb"<([0-9a-fA-F]+)>", block):
                hexes = run.decode().lower()
                text.append("".join(glyphs.get(hexes[i:i + 4], "?")
                                    for i in range(0, len(hexes), 4)))
            text.append(" ")
    return "".join(text)


def signed_off(world: World, **changes: object) -> str:
    """A complaint registered (signed 'authored') and classified; its number."""
    number = open_complaint(world).number
    world.service.apply_step(number, "confirm_complaint", world.user("quality"),
                               {"is_complaint": True, "screening_rationale": "设备故障"})
    world.service.apply_step(number, "classify", world.user("quality"),
                               {**CLASSIFY, **changes})
    return number


def test_the_printed_form_shows_title_header_sections_values_and_copies(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = signed_off(world)
    auth.login("sales", locale="zh-CN")
    response = client.get(f"/cases/{number}/print")
    page = text_of(response)
    assert response.status_code == 200
    assert "客户抱怨处理表" in page and number in page
    assert "客户投诉" in page  # the process
    assert "产品型号 MX-200" in page and "投诉单位 市第一人民医院" in page
    assert "序列号" in page  # an empty field still gets its line, as on paper
    assert "第一联 质量管理部存" in page and "第三联 会计科存" in page
    assert "本表不得影印送客户" in page


def test_a_section_that_does_not_apply_to_the_case_is_not_printed(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("sales")
    without = open_complaint(world).number  # no patient involved
    html = client.get(f"/cases/{without}/print").get_data(as_text=True)
    assert '<caption id="print-1-complainant">' in html
    assert '<caption id="print-1-patient">' not in html
    with_patient = open_complaint(world, patient_involved=True, patient_harm="none").number
    html = client.get(f"/cases/{with_patient}/print").get_data(as_text=True)
    assert '<caption id="print-1-patient">' in html


def test_the_printed_form_draws_each_section_as_a_table_of_labels_and_values(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = open_complaint(world).number
    auth.login("sales")
    html = client.get(f"/cases/{number}/print").get_data(as_text=True)
    assert '<caption id="print-1-complainant">' in html
    assert re.search(r"<th scope=\"row\">Product model</th>\s*<td[^>]*>MX-200</td>", html)
    assert 'class="blank"' in html


def test_the_printed_form_lists_signatures_with_name_local_time_and_meaning(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = signed_off(world)
    auth.login("quality")
    page = text_of(client.get(f"/cases/{number}/print"))
    assert "Authored" in page and "Sales User" in page
    assert "2026-03-02 10:00 (Asia/Shanghai)" in page
    assert "No longer valid" not in page


def test_a_signature_invalidated_by_a_later_change_is_printed_as_no_longer_valid(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = signed_off(world, batch_number="B2026-02-099")
    auth.login("quality")
    html = client.get(f"/cases/{number}/print").get_data(as_text=True)
    assert "signature-invalid" in html
    assert "No longer valid since" in text_of(client.get(f"/cases/{number}/print"))


def test_the_printed_form_has_a_print_button_that_printing_hides(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = open_complaint(world).number
    auth.login("sales")
    html = client.get(f"/cases/{number}/print").get_data(as_text=True)
    assert re.search(r"<button[^>]*data-print[^>]*>Print</button>", html)
    assert "no-print" in html and "css/print.css" in html
    with client.get("/static/css/print.css") as response:
        css = response.get_data(as_text=True)
    assert "@page" in css and "A4" in css and "WenQuanYi Zen Hei" in css


@pytest.mark.parametrize(("locale", "words"), [("en", "Customer complaint form"),
                                               ("zh-CN", "客户抱怨处理表")])
def test_the_pdf_is_a_download_named_after_the_case_with_its_text(
        client: FlaskClient, auth: Auth, world: World, locale: str, words: str) -> None:
    number = signed_off(world)
    auth.login("sales", locale=locale)
    response = client.get(f"/cases/{number}/pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f"attachment; filename={number}.pdf"
    assert response.data.startswith(b"%PDF-")
    assert re.search(rb"/Type\s*/Page\b", zlib_inflated(response.data))
    text = pdf_text(response.data)
    assert number in text
    assert words in text  # Chinese glyphs come out as Chinese: the CJK font was found
    assert "市第一人民医院" in text


def test_the_pdf_holds_one_labelled_page_set_per_copy_with_the_number_on_every_page(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = signed_off(world)
    auth.login("sales", locale="zh-CN")
    data = client.get(f"/cases/{number}/pdf").data
    pages = len(re.findall(rb"/Type\s*/Page\b", zlib_inflated(data)))
    text = pdf_text(data)
    copies = ("第一联 质量管理部存", "第二联 销售部门存", "第三联 会计科存")
    assert pages >= 3 and pages % 3 == 0  # three copies of the same length
    assert text.count("客户抱怨处理表") == 3  # the form's title once per copy
    for copy in copies:
        # Named at the top of each of its pages, and in the footer's list of copies.
        assert text.count(copy) >= pages // 3 + 3
    assert text.count(number) >= pages + 3  # every page's header, and each copy's head table


def test_the_printed_page_shows_one_copy_and_says_how_many_paper_gets(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = signed_off(world)
    auth.login("sales")
    page = client.get(f"/cases/{number}/print").get_data(as_text=True)
    assert page.count('class="copy"') == 3
    assert "Printing and the PDF give 3 copies" in text_of_html(page)
    assert len(set(re.findall(r'id="(print-[^"]+)"', page))) == len(
        re.findall(r'id="(print-[^"]+)"', page))  # no id twice


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def zlib_inflated(data: bytes) -> bytes:
    """The PDF with its compressed object streams inflated (page objects live in them)."""
    return b"\n".join([data, *inflated_streams(data)])


def test_printing_an_unknown_case_is_not_found(client: FlaskClient, auth: Auth) -> None:
    auth.login("sales")
    assert client.get("/cases/NO-SUCH-1/print").status_code == 404
    assert client.get("/cases/NO-SUCH-1/pdf").status_code == 404


def test_printing_needs_a_signed_in_user(client: FlaskClient, world: World) -> None:
    number = open_complaint(world).number
    response = client.get(f"/cases/{number}/print")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_process_without_a_print_layout_says_it_cannot_be_printed(
        world: World, tmp_path: Path) -> None:
    number = open_complaint(world).number
    definition = world.definition
    process = dataclasses.replace(definition.process("complaint"), print_layout=None)
    unprintable = dataclasses.replace(
        definition, processes={**definition.processes, "complaint": process})
    app = make_app(world, tmp_path, COMPILED=unprintable)
    try:
        client = app.test_client()
        Auth(client, world).login("sales")
        for kind in ("print", "pdf"):
            response = client.get(f"/cases/{number}/{kind}")
            assert response.status_code == 404
            assert "defines no printable form" in text_of(response)
    finally:
        app.extensions["qmsflow"].close()


def test_a_voided_case_prints_marked_void_with_the_reason(
        client: FlaskClient, auth: Auth, world: World) -> None:
    number = open_complaint(world).number
    world.service.void_case(number, world.user("quality_manager"), "entered twice")
    auth.login("sales")
    page = text_of(client.get(f"/cases/{number}/print"))
    assert "VOID" in page and "entered twice" in page
