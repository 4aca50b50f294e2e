"""The reports page and its Excel and CSV downloads, as a quality manager uses them.

The cases behind every figure were taken to closure through the case service; the figures are
read back from the page, the workbook (opened again with openpyxl) and the CSV file.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from qmsflow.engine.loader import load
from qmsflow.engine.persistence.reports import Breakdown, Figure, Line, ReportResult, month
from qmsflow.web.reports.tables import view

from ..conftest import EditSet
from ..persistence.conftest import World
from ..persistence.report_cases import closed_complaint, closed_service_request
from .conftest import Auth, text_of

READER = "quality_manager"
OCTOBER = month(2026, 10)


def beijing(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def october(world: World) -> World:
    """Two complaints and two service requests finished in October 2026; now 3 November."""
    closed_complaint(world, beijing("2026-10-09T10:00:00+08:00"))
    closed_complaint(world, beijing("2026-10-12T10:00:00+08:00"), cause="design",
                     department="technical", improvement="done")
    closed_service_request(world, beijing("2026-10-14T11:00:00+08:00"),
                           engineer=world.user("engineer"))
    closed_service_request(world, beijing("2026-10-16T11:00:00+08:00"), late=True,
                           satisfied=False, complaint=True)
    world.clock.now = beijing("2026-11-03T09:00:00+08:00")
    return world


def test_the_page_shows_every_report_for_the_previous_month_by_default(
        client: FlaskClient, auth: Auth, october: World) -> None:
    auth.login(READER, locale="en")
    response = client.get("/reports/")
    assert response.status_code == 200
    page = text_of(response)
    for report in october.definition.reports.values():
        assert report.label["en"] in page
    assert 'value="2026-10"' in response.get_data(as_text=True)
    assert "compared with 2026-09" in page and "due by 2026-11-10" in page


def test_tables_label_values_in_the_readers_language(client: FlaskClient, auth: Auth,
                                                     october: World) -> None:
    auth.login(READER, locale="zh-CN")
    page = text_of(client.get("/reports/?month=2026-10"))
    assert "客户投诉案件统计表" in page
    assert "生产制造 1 0 50.0%" in page  # cause Production: 1 case, none in September, half
    assert "设计 1 0 50.0%" in page
    assert "Engineer User" in page  # the engineer by name, not by user id
    auth.login(READER, locale="en")
    page = text_of(client.get("/reports/?month=2026-10"))
    assert "Monthly complaint statistics" in page and "Production 1 0 50.0%" in page


def test_a_missed_target_is_red_and_says_so_in_words(client: FlaskClient, auth: Auth,
                                                     october: World) -> None:
    auth.login(READER)
    html = client.get("/reports/?month=2026-10").get_data(as_text=True)
    # The figure links to the cases it counts (drill-down).
    assert re.search(r'<td class="number missed"><a href="[^"]+">50\.0%</a><span '
                     r'class="visually-hidden"> \(target missed\)', html)
    assert "≥ 95.0%" in html and "≤ 2.0%" in html


def test_charts_are_inline_svg_with_a_title_and_a_description_and_nothing_fetched(
        client: FlaskClient, auth: Auth, october: World) -> None:
    auth.login(READER)
    html = client.get("/reports/?month=2026-10").get_data(as_text=True)
    charts = re.findall(r"<svg role=\"img\" aria-labelledby=\"([^\"]+)\"", html)
    assert len(charts) >= 4  # three complaint tables and the KPIs at least
    for labelled_by in charts:
        for part in labelled_by.split():
            assert f'id="{part}"' in html
    assert "<desc" in html and "The table holds every figure." in html
    assert not re.search(r"(src|href)=\"https?://", html)


def test_a_month_that_does_not_exist_is_explained_and_the_previous_month_shown(
        client: FlaskClient, auth: Auth, october: World) -> None:
    auth.login(READER)
    response = client.get("/reports/?month=2026-13")
    assert response.status_code == 400
    page = text_of(response)
    assert "is not a month" in page and "Showing 2026-10 instead." in page


def test_people_without_a_reader_role_are_refused_with_the_roles_that_may_read(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("sales")
    for url in ("/reports/", "/reports/download?format=csv"):
        response = client.get(url)
        assert response.status_code == 403
        page = text_of(response)
        assert "only these roles may read them: Quality manager" in page


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/reports/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_navigation_links_to_reports_for_readers_only(client: FlaskClient, auth: Auth,
                                                          world: World) -> None:
    auth.login("sales")
    assert 'href="/reports/"' not in client.get("/").get_data(as_text=True)
    auth.login(READER)
    assert 'href="/reports/"' in client.get("/").get_data(as_text=True)


def test_the_excel_file_has_a_sheet_per_report_ready_to_print(
        client: FlaskClient, auth: Auth, october: World) -> None:
    auth.login(READER, locale="zh-CN")
    response = client.get("/reports/download?month=2026-10&format=xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('-reports-2026-10.xlsx"')
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["客户投诉案件统计表", "客户投诉指标", "售后服务指标",
                               "技术员客户评价月报"]
    sheet = book["客户投诉案件统计表"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "客户投诉案件统计表"
    header_at = next(i for i, row in enumerate(rows) if row[0] == "异常原因" and row[1])
    header = rows[header_at]
    assert header[:3] == ("异常原因", "件数 (2026-10)", "件数 (2026-09)")
    causes = {row[0]: row for row in rows[header_at + 1:header_at + 10]}
    share = causes["生产制造"][header.index("比率 (2026-10)")]
    assert share == 0.5
    share_cell = sheet.cell(header_at + 1 + list(causes).index("生产制造") + 1,
                            header.index("比率 (2026-10)") + 1)
    assert share_cell.number_format == "0.0%"
    assert sheet.cell(header_at + 1, 1).font.bold
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.paperSize == int(sheet.PAPERSIZE_A4)  # read back as a number
    assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.print_title_rows is not None
    assert "2026-10" in sheet.oddHeader.center.text
    assert sheet.column_dimensions["A"].width >= 10
    kpis = book["售后服务指标"]
    fills = {row[0].value: row[1].fill.start_color.rgb for row in kpis.iter_rows(min_row=6)
             if row[0].value and row[1].value is not None and row[1].fill.fill_type}
    assert fills == {"服务及时率": "00FFC7CE", "客户满意度": "00FFC7CE",
                     "客户抱怨率（确属服务责任的）": "00FFC7CE"}


def test_the_csv_file_opens_in_excel_as_utf8_and_reads_back(
        client: FlaskClient, auth: Auth, october: World) -> None:
    auth.login(READER, locale="zh-CN")
    response = client.get("/reports/download?month=2026-10&format=csv&report="
                          "monthly_complaints")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert 'monthly_complaints-2026-10.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == ["客户投诉案件统计表"]
    totals = [row for row in rows if row and row[0] == "合计"]
    assert len(totals) == 3  # one per table: category, cause, department
    assert all(row[1] == "2" for row in totals)
    design = next(row for row in rows if row and row[0] == "设计")
    assert design[1:4] == ["1", "0", "0.5"]


def test_downloads_refuse_unknown_formats_and_reports_naming_the_valid_ones(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(READER)
    response = client.get("/reports/download?format=pdf")
    assert response.status_code == 400 and "xlsx, csv" in text_of(response)
    response = client.get("/reports/download?format=csv&report=monthly")
    assert response.status_code == 404
    assert ("monthly_complaints, complaint_kpis, service_kpis, technician_ratings"
            in text_of(response))
    response = client.get("/reports/download?format=csv&month=October")
    assert response.status_code == 400 and "YYYY-MM" in text_of(response)


def test_a_dimension_without_a_label_is_titled_by_its_field_or_the_attribute(
        edited_set: EditSet) -> None:
    cause = "      - id: cause\n        label: {zh-CN: 异常原因, en: Cause}\n"
    category = ("      - id: category\n        label: {zh-CN: 投诉类别, en: Category}\n"
                "        field: category\n")
    definition = load(edited_set(("reports.yaml", cause, "      - id: cause\n"), (
        "reports.yaml", category, "      - id: by_state\n        field: state\n")))
    report = definition.reports["monthly_complaints"]
    total = Line(None, 0, 0, tuple(Figure(m.id, 0) for m in report.measures))
    result = ReportResult(report.id, OCTOBER, None, total, tuple(
        Breakdown(dimension, field, ()) for dimension, field in report.dimensions))
    shown = view(definition, report, result, "zh-CN",
                 lambda word: {"State": "状态"}.get(word, word))
    # the attribute by its UI word, the cause by its field's label, the department by its own
    assert [table.title for table in shown.tables] == ["状态", "异常原因", "责任部门"]
