"""Reports computed in the database, on SQLite and PostgreSQL, over cases the service made.

What a quality manager relies on: the monthly complaint statistics count the complaints
finished in the month by category, cause and responsible department, with shares, open
improvements and the established rate, next to the month before; months begin at midnight in
Beijing, not in UTC; voided cases never count; the service KPIs are red or green against the
targets the definitions set; and every report condition counts in SQL exactly the cases the
expression language itself would.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from qmsflow.engine import machine
from qmsflow.engine.expressions import EvaluationError, Expression
from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence.reports import (
    Period,
    ReportResult,
    month,
    period_containing,
    run_report,
    run_reports,
)

from ..conftest import EditSet
from .conftest import Clock, Database, World, make_world
from .report_cases import (
    closed_complaint,
    closed_service_request,
    complaint_in_investigation,
    not_established_complaint,
)

OCTOBER = month(2026, 10)


def utc(text: str) -> datetime:
    """A moment written in Beijing time, as the aware UTC datetime the database keeps."""
    return datetime.fromisoformat(text).astimezone(UTC)


def report(world: World, report_id: str, period: Period = OCTOBER) -> ReportResult:
    definition = world.definition
    return run_report(world.database.sessions, definition, definition.reports[report_id],
                      period.start, period.end)


def table(result: ReportResult, dimension: str) -> dict[object, int]:
    """Dimension value -> cases this period, for the values that have any."""
    found = next(b for b in result.breakdowns if b.dimension == dimension)
    return {line.key: line.count for line in found.lines if line.count}


# -- periods (no database) ----------------------------------------------------------------------

def test_a_month_runs_from_its_first_day_to_the_first_of_the_next() -> None:
    assert month(2026, 12) == Period(date(2026, 12, 1), date(2027, 1, 1))
    assert str(month(2026, 2)) == "2026-02"


def test_the_month_before_january_is_december_of_the_year_before() -> None:
    assert month(2026, 1).previous() == month(2025, 12)
    assert period_containing(date(2026, 5, 17), "quarter").previous() == Period(
        date(2026, 1, 1), date(2026, 4, 1))


def test_a_month_begins_at_midnight_in_the_organisations_time_zone() -> None:
    start, end = OCTOBER.instants("Asia/Shanghai")
    assert start == datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)


def test_a_month_that_does_not_exist_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError) as raised:
        month(2026, 13)
    assert "months run from 1 to 12" in str(raised.value)


# -- the monthly complaint statistics -----------------------------------------------------------

def test_monthly_statistics_count_finished_complaints_by_category_cause_and_department(
        world: World) -> None:
    closed_complaint(world, utc("2026-09-20T10:00:00+08:00"), cause="design",
                     department="technical")
    closed_complaint(world, utc("2026-10-09T10:00:00+08:00"))
    closed_complaint(world, utc("2026-10-12T10:00:00+08:00"), category="out_of_spec",
                     cause="design", department="technical", improvement="done")
    closed_complaint(world, utc("2026-10-15T10:00:00+08:00"), improvement="verified")
    not_established_complaint(world, utc("2026-10-20T10:00:00+08:00"))
    complaint_in_investigation(world, utc("2026-10-21T10:00:00+08:00"))  # not finished

    result = report(world, "monthly_complaints")

    assert (result.total.count, result.total.previous_count) == (4, 1)
    assert table(result, "category") == {"malfunction": 3, "out_of_spec": 1}
    assert table(result, "cause") == {"production": 2, "design": 1, None: 1}
    assert table(result, "responsible_department") == {"production": 2, "technical": 1,
                                                       None: 1}
    causes = {line.key: line for line in result.breakdowns[1].lines}
    assert causes["production"].figure("share").value == Decimal("0.5")
    assert causes["design"].figure("share").previous == 1  # all of September's one case
    assert causes[None].figure("share").value == Decimal("0.25")
    assert result.total.figure("improvement_open").value == 1
    assert result.total.figure("established_rate").value == Decimal("0.75")
    assert result.total.figure("established_rate").previous == 1


def test_every_declared_cause_is_listed_even_without_cases_so_months_line_up(
        world: World) -> None:
    closed_complaint(world, utc("2026-10-09T10:00:00+08:00"))
    result = report(world, "monthly_complaints")
    causes = [line.key for line in result.breakdowns[1].lines]
    assert causes == list(world.definition.process("complaint").fields["cause"].choices)
    assert [line.count for line in result.breakdowns[1].lines].count(0) == len(causes) - 1


def test_a_case_closed_just_after_midnight_in_beijing_counts_in_the_new_month(
        world: World) -> None:
    closed_complaint(world, utc("2026-10-31T23:30:00+08:00"))  # 15:30 UTC on 31 October
    closed_complaint(world, utc("2026-11-01T00:30:00+08:00"))  # still 31 October in UTC
    october = report(world, "monthly_complaints")
    november = report(world, "monthly_complaints", month(2026, 11))
    assert october.total.count == 1
    assert (november.total.count, november.total.previous_count) == (1, 1)


def test_a_voided_case_never_counts(world: World) -> None:
    closed_complaint(world, utc("2026-10-09T10:00:00+08:00"))
    voided = closed_complaint(world, utc("2026-10-10T10:00:00+08:00"))
    world.service.void_case(voided, world.user("quality_manager"), "重复登记")
    assert report(world, "monthly_complaints").total.count == 1


def test_a_month_without_cases_has_no_rate_and_no_verdict(world: World) -> None:
    result = report(world, "service_kpis")
    assert result.total.count == 0
    timeliness = result.total.figure("timeliness_rate")
    assert (timeliness.value, timeliness.verdict) == (None, None)
    assert result.total.figure("count").value == 0


# -- service KPIs and technicians -----------------------------------------------------------

def test_service_kpis_are_green_when_they_meet_the_targets_the_definitions_set(
        world: World) -> None:
    for day in (12, 13):
        closed_service_request(world, utc(f"2026-10-{day}T11:00:00+08:00"))
    result = report(world, "service_kpis")
    figures = {f.measure: (f.value, f.verdict) for f in result.total.figures}
    assert figures == {"count": (2, None), "timeliness_rate": (1, "met"),
                       "satisfaction_rate": (1, "met"), "complaint_rate": (0, "met")}


def test_service_kpis_turn_red_when_a_late_unhappy_complaint_misses_them(
        world: World) -> None:
    closed_service_request(world, utc("2026-10-12T11:00:00+08:00"))
    closed_service_request(world, utc("2026-10-16T11:00:00+08:00"), late=True,
                           satisfied=False, complaint=True)
    total = report(world, "service_kpis").total
    assert total.figure("timeliness_rate").value == Decimal("0.5")
    assert {f.measure: f.verdict for f in total.figures if f.verdict} == {
        "timeliness_rate": "missed", "satisfaction_rate": "missed",
        "complaint_rate": "missed"}


def test_technician_ratings_group_jobs_by_engineer_and_count_escalations(
        world: World) -> None:
    engineer = world.user("engineer")
    closed_service_request(world, utc("2026-10-12T11:00:00+08:00"), engineer=engineer)
    closed_service_request(world, utc("2026-10-14T11:00:00+08:00"), engineer=engineer,
                           satisfied=False)
    closed_service_request(world, utc("2026-10-15T11:00:00+08:00"))  # fixed remotely
    result = report(world, "technician_ratings")
    lines = {line.key: line for line in result.breakdowns[0].lines}
    assert set(lines) == {engineer, None}
    assert lines[engineer].count == 2
    assert lines[engineer].figure("satisfaction_rate").value == Decimal("0.5")
    assert lines[engineer].figure("satisfaction_rate").verdict == "missed"
    assert lines[engineer].figure("escalated").value == 1
    assert lines[None].figure("satisfaction_rate").verdict == "met"


def test_all_reports_run_together_for_a_month(world: World) -> None:
    closed_complaint(world, utc("2026-10-09T10:00:00+08:00"))
    results = run_reports(world.database.sessions, world.definition, OCTOBER)
    assert [r.report for r in results] == list(world.definition.reports)
    assert all(r.period == OCTOBER and r.previous == month(2026, 9) for r in results)


def test_asking_for_an_unknown_report_names_the_known_ones(world: World) -> None:
    with pytest.raises(KeyError) as raised:
        run_reports(world.database.sessions, world.definition, OCTOBER, ["monthly"])
    assert "monthly_complaints" in str(raised.value)


# -- SQL counts what the expression language counts ---------------------------------------------

CONDITIONS = {
    "not_established": "not established",
    "cause_not_design": "cause != 'design'",
    "improvement_not_open": "not (improvement_status == 'open')",
    "big_orders": "quantity >= 20",
    "assessed": "'assessment_required' in flags",
    "not_assessed": "'assessment_required' not in flags",
    "cause_listed_or_empty": "cause in ['production', 'design'] or cause is none",
    "repaired": "'repair' in handling",
    "no_patient": "patient_involved == false",
    "low_and_open": "priority != 'high' and state not in ['closed', 'not_established']",
    "quality_family": "'quality' in category_path",
    "department_given": "responsible_department is not none and not established == false",
}

PARITY_REPORTS = """\
kind: reports
reports:
  - id: every_complaint
    label: {zh-CN: 全部投诉, en: Every complaint}
    process: complaint
    period: {field: created_at, every: month}
    dimensions:
      - {id: state, field: state}
      - {id: category, field: category}
      - {id: established, field: established}
      - {id: quantity, field: quantity}
    measures:
      - {id: cases, aggregate: count}
MEASURES
      - {id: quantity_sum, aggregate: sum, field: quantity}
      - {id: defective_max, aggregate: max, field: defective_quantity}
      - {id: established_average, aggregate: avg, field: quantity, if: established}
  - id: by_received_time
    label: {zh-CN: 按接收时间, en: By time received}
    process: complaint
    period: {field: received_at, every: month}
    measures:
      - {id: cases, aggregate: count}
  - id: by_event_day
    label: {zh-CN: 按事件日期, en: By event day}
    process: complaint
    period: {field: event_date, every: month}
    measures:
      - {id: cases, aggregate: count}
"""


@pytest.fixture
def parity_world(database: Database, clock: Clock, edited_set: EditSet) -> World:
    measures = "\n".join(f"      - {{id: {name}, aggregate: count, if: \"{source}\"}}"
                         for name, source in CONDITIONS.items())
    folder = edited_set(files={"reports.yaml": PARITY_REPORTS.replace("MEASURES", measures)})
    return make_world(database, load(folder), clock, folder)


def _holds(condition: Expression, context: dict[str, Any]) -> bool:
    """Whether a condition holds; one the language cannot evaluate on an empty field ('x' in
    an empty list, an empty number ordered) does not hold, as in a report."""
    try:
        return condition.test(context)
    except EvaluationError:
        return False


def _expected(definition: DefinitionSet, world: World, numbers: list[str]) -> dict[str, Any]:
    """What the expression language says, case by case, for the cases created in October."""
    process = definition.process("complaint")
    measures = definition.reports["every_complaint"].measures
    counts: dict[str, Any] = {m.id: 0 for m in measures}
    quantities, defective, established = [], [], []
    for number in numbers:
        case = world.service.read_case(number, history=False).case
        context = machine.context(process, case.values, case, now=world.clock.now)
        counts["cases"] += 1
        for measure in measures:
            if measure.condition is not None and measure.aggregate == "count":
                counts[measure.id] += _holds(measure.condition, context)
        quantities.append(case.values["quantity"])
        if case.values.get("defective_quantity") is not None:
            defective.append(case.values["defective_quantity"])
        if case.values.get("established"):
            established.append(case.values["quantity"])
    counts["quantity_sum"] = sum(quantities)
    counts["defective_max"] = max(defective)
    counts["established_average"] = Decimal(sum(established)) / len(established)
    return counts


def test_report_conditions_count_in_sql_exactly_what_the_expression_language_counts(
        parity_world: World) -> None:
    world = parity_world
    numbers = [
        closed_complaint(world, utc("2026-10-05T10:00:00+08:00"), quantity=5,
                         defective_quantity=1),
        closed_complaint(world, utc("2026-10-06T10:00:00+08:00"), category="safety",
                         cause="design", department="technical", improvement="done",
                         quantity=40, defective_quantity=12),
        not_established_complaint(world, utc("2026-10-07T10:00:00+08:00"), quantity=20),
        complaint_in_investigation(world, utc("2026-10-08T10:00:00+08:00"), quantity=7),
        complaint_in_investigation(world, utc("2026-10-09T10:00:00+08:00"), quantity=20,
                                   patient_involved=True, patient_harm="none",
                                   defective_quantity=3),
    ]
    result = report(world, "every_complaint")
    got = {f.measure: f.value for f in result.total.figures}
    expected = _expected(world.definition, world, numbers)
    assert got["established_average"] == pytest.approx(expected.pop("established_average"))
    got.pop("established_average")
    assert got == expected
    assert table(result, "established") == {True: 2, False: 1, None: 2}
    assert table(result, "quantity") == {5: 1, 7: 1, 20: 2, 40: 1}
    assert table(result, "state") == {"closed": 2, "not_established": 1, "investigation": 2}


def test_a_period_on_a_datetime_field_begins_at_local_midnight_of_that_field(
        parity_world: World) -> None:
    world = parity_world
    complaint_in_investigation(world, utc("2026-10-08T10:00:00+08:00"),
                               received_at="2026-10-01T07:30:00+08:00")  # 30 Sep in UTC
    complaint_in_investigation(world, utc("2026-10-08T11:00:00+08:00"),
                               received_at="2026-09-30T23:30:00+08:00")
    complaint_in_investigation(world, utc("2026-10-08T12:00:00+08:00"),
                               received_at="2026-10-31T15:00:00-08:00")  # 1 Nov in Beijing
    result = report(world, "by_received_time")
    assert (result.total.count, result.total.previous_count) == (1, 1)


def test_a_period_on_a_date_field_counts_by_that_day(parity_world: World) -> None:
    world = parity_world
    for day in ("2026-09-30", "2026-10-01", "2026-10-31", "2026-11-01"):
        complaint_in_investigation(world, utc("2026-10-08T10:00:00+08:00"), event_date=day)
    result = report(world, "by_event_day")
    assert (result.total.count, result.total.previous_count) == (2, 1)


def test_a_report_with_a_period_needs_its_start_and_end(world: World,
                                                        default_set: DefinitionSet) -> None:
    with pytest.raises(ValueError) as raised:
        run_report(world.database.sessions, default_set,
                   default_set.reports["service_kpis"])
    assert "give its start and end" in str(raised.value)


def test_a_report_runs_inside_an_open_session_too(world: World) -> None:
    closed_complaint(world, utc("2026-10-09T10:00:00+08:00"))
    with world.database.sessions() as session:
        result = run_report(session, world.definition,
                            world.definition.reports["monthly_complaints"], OCTOBER.start,
                            OCTOBER.end, compare=False)
    assert (result.total.count, result.previous) == (1, None)
    assert result.total.figure("count").previous == 0
