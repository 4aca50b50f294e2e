"""Field values: what people type becomes typed values, or a message saying what is wrong."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from qmsflow.engine.model import DefinitionSet, Field
from qmsflow.engine.values import ValueProblem, coerce, display, values_from_json, values_to_json


def field(definition: DefinitionSet, name: str) -> Field:
    return definition.processes["complaint"].fields[name]


@pytest.mark.parametrize(("name", "raw", "typed"), [
    ("compensation_amount", "12,345.50", Decimal("12345.50")),
    ("quantity", " 20 ", 20),
    ("patient_involved", "是", True),
    ("patient_involved", "no", False),
    ("ship_date", "2026-10-10", date(2026, 10, 10)),
    ("handling", ["compensate", "repair"], ["repair", "compensate"]),
    ("complainant_email", " a.weber@example.org ", "a.weber@example.org"),
    ("description", "", None),
])
def test_typed_input_becomes_a_typed_value(default_set: DefinitionSet, name: str, raw: object,
                                           typed: object) -> None:
    process = default_set.processes["complaint"]
    assert coerce(field(default_set, name), raw, process) == typed


@pytest.mark.parametrize(("name", "raw", "message"), [
    ("compensation_amount", "12.345", "an amount has at most 2 decimal places"),
    ("compensation_amount", "-1", "must be at least 0"),
    ("compensation_amount", "abc", "'abc' is not a number"),
    ("quantity", "0", "must be at least 1"),
    ("quantity", True, "expected a whole number"),
    ("ship_date", "10/10/2026", "'10/10/2026' is not a date (YYYY-MM-DD)"),
    ("complainant_email", "not-an-address",
     "'not-an-address' is not an e-mail address: write one address, e.g. name@example.com"),
    ("complainant_phone", "call me", "'call me' is not a phone number"),
    ("market", "overseas", "'overseas' is not one of the choices: domestic, international"),
    ("category", "nonsense", "'nonsense' is not a category"),
    ("description", "short", "needs at least 10 characters"),
])
def test_a_value_that_does_not_fit_says_what_is_wrong(default_set: DefinitionSet, name: str,
                                                       raw: object, message: str) -> None:
    process = default_set.processes["complaint"]
    with pytest.raises(ValueProblem) as raised:
        coerce(field(default_set, name), raw, process)
    assert str(raised.value) == message


def test_values_survive_a_json_round_trip(default_set: DefinitionSet) -> None:
    process = default_set.processes["complaint"]
    values = {"compensation_amount": Decimal("3000.00"), "ship_date": date(2026, 9, 1),
              "handling": ["repair"], "patient_involved": False}
    assert values_from_json(process, values_to_json(process, values)) == values


def test_values_are_shown_in_the_readers_language(default_set: DefinitionSet) -> None:
    assert display(field(default_set, "market"), "domestic", "zh-CN") == "国内"
    assert display(field(default_set, "market"), "domestic", "en") == "Domestic"
    assert display(field(default_set, "patient_involved"), True, "zh-CN") == "是"
    assert display(field(default_set, "handling"), ["repair", "compensate"], "en") == (
        "Repair, Compensate")
    assert display(field(default_set, "compensation_amount"), Decimal("80000"), "en") == (
        "CNY 80,000.00")


def test_an_amount_beyond_fifteen_digits_is_refused_with_a_message_not_a_crash() -> None:
    spec = Field("compensation", "money", {"en": "Compensation"}, currency="CNY")
    with pytest.raises(ValueProblem, match="too large"):
        coerce(spec, "1e30")


def test_a_time_that_cannot_be_stored_in_utc_is_refused_as_out_of_range() -> None:
    spec = Field("received_at", "datetime", {"en": "Received"})
    with pytest.raises(ValueProblem, match="out of range"):
        coerce(spec, "0001-01-01T00:30:00+08:00")


@pytest.mark.parametrize(("spec", "raw", "facts"), [
    (Field("name", "text", {"en": "Name"}, max_length=3), "abcd",
     {"rule": "too_long", "max": "3", "count": "4"}),
    (Field("name", "text", {"en": "Name"}), "a\x07b", {"rule": "characters"}),
    (Field("day", "date", {"en": "Day"}), "1899-12-31",
     {"rule": "date_range", "min": "1900-01-01", "max": "2100-12-31"}),
    (Field("fee", "money", {"en": "Fee"}), "1.005", {"rule": "places", "places": "2"}),
])
def test_a_value_problem_names_its_rule_and_bounds_so_a_screen_can_word_it(
        spec: Field, raw: str, facts: dict[str, str]) -> None:
    with pytest.raises(ValueProblem) as raised:
        coerce(spec, raw)
    assert raised.value.facts == facts
