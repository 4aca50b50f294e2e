"""``qmsflow report monthly`` as an operator types it: Excel, CSV and text, and clear refusals.

Every invocation reads DATABASE_URL and QMSFLOW_DEFINITIONS afresh, as a new process would;
the files are read back (the workbook with openpyxl, the CSV with the csv module).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from qmsflow.cli import main
from qmsflow.cli import report as report_command

from ..conftest import DEFAULT_SET
from ..persistence.conftest import World
from ..persistence.report_cases import closed_complaint, closed_service_request


def beijing(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def october(world: World) -> World:
    """Complaints and service requests finished in September and October 2026."""
    closed_complaint(world, beijing("2026-09-20T10:00:00+08:00"), cause="design")
    closed_complaint(world, beijing("2026-10-09T10:00:00+08:00"))
    closed_complaint(world, beijing("2026-10-12T10:00:00+08:00"), cause="design",
                     department="technical")
    closed_service_request(world, beijing("2026-10-14T11:00:00+08:00"))
    closed_service_request(world, beijing("2026-10-16T11:00:00+08:00"), late=True)
    return world


def run(world: World, *args: str) -> Result:
    env = {"DATABASE_URL": world.database.url, "QMSFLOW_DEFINITIONS": str(DEFAULT_SET)}
    result = CliRunner().invoke(main, ["report", "monthly", *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def test_the_excel_file_holds_a_sheet_per_report_with_the_months_figures(
        october: World, tmp_path: Path) -> None:
    target = tmp_path / "october.xlsx"
    result = run(october, "--month", "2026-10", "--format", "xlsx", "--output", str(target),
                 "--locale", "en")
    assert result.exit_code == 0, result.output
    book = load_workbook(target)
    assert book.sheetnames == ["Monthly complaint statistics", "Complaint KPIs",
                               "After-sales service KPIs", "Monthly technician ratings"]
    rows = list(book["Monthly complaint statistics"].iter_rows(values_only=True))
    assert rows[1][0] == "Period: 2026-10; compared with 2026-09; due by 2026-11-10"
    design = next(row for row in rows if row[0] == "Design")
    assert design[1:5] == (1, 1, 0.5, 1.0)  # October, September, and the shares of each
    kpis = {row[0]: row for row in book["After-sales service KPIs"].iter_rows(values_only=True)}
    assert kpis["Timeliness rate"][1:] == (0.5, "—", "≥ 95.0%", "missed")  # none in September


def test_excel_goes_to_a_file_named_after_the_set_and_the_month_by_default(
        october: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(october, "--month", "2026-10", "--format", "xlsx")
    assert result.exit_code == 0, result.output
    written = list(tmp_path.rglob("*.xlsx"))
    assert [p.name for p in written] == ["default-reports-2026-10.xlsx"]


def test_csv_goes_to_standard_output_with_a_byte_order_mark_and_reads_back(
        october: World) -> None:
    result = run(october, "--month", "2026-10", "--format", "csv", "--report",
                 "monthly_complaints", "--locale", "zh-CN")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert rows[0] == ["客户投诉案件统计表"]
    assert [row[:3] for row in rows if row and row[0] == "设计"] == [["设计", "1", "1"]]


def test_the_text_report_marks_missed_targets_for_a_terminal(october: World) -> None:
    result = run(october, "--month", "2026-10", "--report", "service_kpis", "--locale", "en")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "After-sales service KPIs"
    timeliness = next(line for line in lines if line.startswith("Timeliness rate"))
    assert timeliness.split() == ["Timeliness", "rate", "50.0%", "!", "—", "≥", "95.0%",
                                  "missed"]
    assert lines[-1] == "! marks a value that misses its target."


class NewYearInShanghai(datetime):
    """A wall clock stopped at 00:30 on 1 January 2027 in Shanghai, still 31 December in UTC."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> NewYearInShanghai:
        moment = cls(2026, 12, 31, 16, 30, tzinfo=UTC)
        return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)


def test_without_a_month_the_report_is_for_the_previous_month_in_the_organisations_zone(
        october: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # The command reads the wall clock itself: stopped here, so the test does not depend on
    # today's date (and shows the month is the organisation's, not UTC's, 2026-11).
    monkeypatch.setattr(report_command, "datetime", NewYearInShanghai)
    result = run(october, "--report", "service_kpis", "--locale", "en")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1].startswith("Period: 2026-12; compared with 2026-11;")


@pytest.mark.parametrize(("args", "says"), [
    (["--month", "2026-13"], "'2026-13' is not a month: there is no month 13"),
    (["--month", "October"], "write YYYY-MM, e.g. 2026-10"),
    (["--report", "monthly_complaint"], "no report 'monthly_complaint' (did you mean "
                                        "'monthly_complaints'?); the reports are: "
                                        "monthly_complaints, complaint_kpis, service_kpis, "
                                        "technician_ratings"),
    (["--locale", "fr"], "'fr' is not a locale of the organisation; use one of: zh-CN, en"),
    (["--format", "pdf"], "'pdf' is not one of 'text', 'xlsx', 'csv'"),
])
def test_bad_input_is_a_usage_error_naming_what_is_valid(world: World, args: list[str],
                                                         says: str) -> None:
    result = run(world, *args)
    assert result.exit_code == 2
    assert says in result.output
