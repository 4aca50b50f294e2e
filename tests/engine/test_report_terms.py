"""Report conditions as predicate trees: what the database computes, and clear refusals.

A report's ``filter`` and each measure's ``if`` are computed in SQL; a condition SQL cannot
compute is a definition problem (X304) at load time, saying what is not supported and how to
write it instead.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from qmsflow.engine.expressions import compile_expression
from qmsflow.engine.loader import check
from qmsflow.engine.model import DefinitionSet, Process
from qmsflow.engine.report_terms import (
    AllOf,
    Among,
    AnyOf,
    Comparison,
    Contains,
    Empty,
    Not,
    Operand,
    ReportConditionError,
    Term,
    Truth,
    condition_term,
)

from ..conftest import EditSet

STATE = Operand("state", "state", "text")
CAUSE = Operand("cause", None, "text")
QUANTITY = Operand("quantity", None, "number")
ESTABLISHED = Operand("established", None, "boolean")
FLAGS = Operand("flags", "flags", "list")


@pytest.fixture
def complaint(default_set: DefinitionSet) -> Process:
    return default_set.process("complaint")


def term(process: Process, source: str) -> Term:
    return condition_term(compile_expression(source), process)


def refusal(process: Process, source: str) -> str:
    with pytest.raises(ReportConditionError) as raised:
        term(process, source)
    return str(raised.value)


@pytest.mark.parametrize(("source", "expected"), [
    ("state in ['closed', 'not_established']", Among(STATE, ("closed", "not_established"))),
    ("cause == 'design'", Comparison(CAUSE, "==", "design")),
    ("'design' != cause", Comparison(CAUSE, "!=", "design")),
    ("quantity >= 10", Comparison(QUANTITY, ">=", Decimal("10"))),
    ("10 < quantity", Comparison(QUANTITY, ">", Decimal("10"))),
    ("quantity > -2.5", Comparison(QUANTITY, ">", Decimal("-2.5"))),
    ("established", Truth(ESTABLISHED)),
    ("established == false", Comparison(ESTABLISHED, "==", False)),
    ("not established", Not(Truth(ESTABLISHED))),
    ("not not established", Truth(ESTABLISHED)),
    ("'reportable' in flags", Contains(FLAGS, "reportable")),
    ("'reportable' not in flags", Not(Contains(FLAGS, "reportable"))),
    ("cause not in ['design']", Not(Among(CAUSE, ("design",)))),
    ("cause is none", Empty(CAUSE)),
    ("cause is not none", Not(Empty(CAUSE))),
    ("cause == none", Empty(CAUSE)),
    ("cause != none", Not(Empty(CAUSE))),
    ("established and (cause == 'design' or cause == 'production') and quantity > 1",
     AllOf((Truth(ESTABLISHED), AnyOf((Comparison(CAUSE, "==", "design"),
                                       Comparison(CAUSE, "==", "production"))),
            Comparison(QUANTITY, ">", Decimal("1"))))),
])
def test_conditions_the_database_computes_become_predicate_trees(
        complaint: Process, source: str, expected: Term) -> None:
    assert term(complaint, source) == expected


def test_the_category_field_is_read_from_its_indexed_column(complaint: Process) -> None:
    assert term(complaint, "category == 'malfunction'") == Comparison(
        Operand("category", "category", "text"), "==", "malfunction")


def test_a_category_family_becomes_the_list_of_its_categories(complaint: Process) -> None:
    found = term(complaint, "'quality' in category_path")
    assert found == Among(Operand("category", "category", "text"),
                          ("quality", "out_of_spec", "malfunction", "repair_quality"))


def test_a_multi_choice_field_is_asked_what_it_holds(complaint: Process) -> None:
    assert term(complaint, "'repair' in handling") == Contains(
        Operand("handling", None, "list"), "repair")


@pytest.mark.parametrize(("source", "says"), [
    ("quantity + 1 > 3", "arithmetic ('+') cannot be computed in a report condition"),
    ("description | length > 3", "filters (| ...) cannot be computed by the database"),
    ("now > created_at", "'now' changes with the moment the report is run"),
    ("clocks.closure.breached", "reading an attribute (a.b)"),
    ("quantity > defective_quantity", "compares a name with a constant"),
    ("1 < quantity < 5", "chained comparisons"),
    ("cause", "'cause' alone is only a condition for a yes/no field"),
    ("cause > 'a'", "a report condition orders numbers only"),
    ("quantity == 'many'", "'quantity' is a number; compare it with a number"),
    ("established == 1", "'established' is a yes/no field; compare it with true or false"),
    ("created_at == 'x'", "a report condition cannot compare dates"),
    ("handling == 'repair'", "'handling' is a list"),
    ("'a' in description", "'description' is not a list"),
    ("cause in ['design', none]", "none cannot be listed"),
    ("quantity is even", "the test 'is even' cannot be computed"),
    ("(cause if established else 'x') == 'x'", "conditional values"),
    ("improvement_status == 'opne'", "'opne' is not a value 'improvement_status' can have "
                                     "(did you mean 'open'?)"),
    ("'reportabel' in flags", "did you mean 'reportable'?"),
    ("state == 'closd'", "did you mean 'closed'?"),
    ("'qualiti' in category_path", "did you mean 'quality'?"),
    ("category_path", "'category_path' can only be asked whether it holds a category"),
])
def test_what_the_database_cannot_compute_is_refused_saying_how_to_write_it(
        complaint: Process, source: str, says: str) -> None:
    assert says in refusal(complaint, source)


def test_every_refusal_suggests_a_way_to_write_the_condition(complaint: Process) -> None:
    with pytest.raises(ReportConditionError) as raised:
        term(complaint, "quantity * 2 > 10")
    assert raised.value.hint is not None and "quantity > 10" in raised.value.hint


def test_the_bundled_report_conditions_are_all_computable(default_set: DefinitionSet) -> None:
    for report in default_set.reports.values():
        process = default_set.process(report.process)
        for condition in [report.filter, *(m.condition for m in report.measures)]:
            if condition is not None:
                condition_term(condition, process)


# -- load-time problems ----------------------------------------------------------------------

REPORT = """\
kind: reports
reports:
  - id: checked
    label: {zh-CN: 检查, en: Checked}
    process: complaint
    period: {field: PERIOD, every: month}
    dimensions:
      - {id: grouped, field: GROUPED}
    filter: "FILTER"
    measures:
      - {id: cases, aggregate: count}
"""


def problems_of(edited_set: EditSet, period: str = "closed_at", grouped: str = "cause",
                condition: str = "state == 'closed'") -> list[str]:
    text = REPORT.replace("PERIOD", period).replace("GROUPED", grouped).replace(
        "FILTER", condition)
    return [f"{p.code} line {p.line}: {p.message} ({p.hint})"
            for p in check(edited_set(files={"reports.yaml": text}))]


def test_a_filter_the_database_cannot_compute_is_a_load_time_problem(
        edited_set: EditSet) -> None:
    found = problems_of(edited_set, condition="description | length > 10")
    assert len(found) == 1
    assert found[0].startswith("X304 line 9: expression 'description | length > 10' cannot be "
                               "computed by the database for a report: filters")


def test_a_misspelt_name_is_reported_once_as_unknown_not_again_as_uncomputable(
        edited_set: EditSet) -> None:
    found = problems_of(edited_set, condition="stat == 'closed'")
    assert [p.split(":")[0] for p in found] == ["X302 line 9"]


def test_a_period_on_a_field_that_is_not_a_date_is_refused(edited_set: EditSet) -> None:
    found = problems_of(edited_set, period="cause")
    assert found == ["E207 line 6: the period cannot be taken on 'cause': it is not a date "
                     "(use closed_at, created_at or a date or datetime field)"]


@pytest.mark.parametrize("grouped", ["handling", "description", "closed_at", "event_date"])
def test_cases_cannot_be_grouped_by_lists_long_texts_or_times(edited_set: EditSet,
                                                               grouped: str) -> None:
    found = problems_of(edited_set, grouped=grouped)
    assert len(found) == 1 and found[0].startswith(
        f"E207 line 8: cases cannot be grouped by '{grouped}'")


def test_the_bundled_definitions_have_no_report_problem() -> None:
    from ..conftest import DEFAULT_SET

    assert check(DEFAULT_SET) == []
