"""Bounds before work: every value is held to its field's range, or a default one, before any
conversion can cost time; text is held to a length and refuses invisible controls; an e-mail
field takes one address."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest

from qmsflow.engine.loader import check
from qmsflow.engine.model import DefinitionSet, Field
from qmsflow.engine.values import (
    DATE_MAX,
    DATE_MIN,
    INTEGER_MAX,
    LONG_TEXT_MAX,
    TEXT_MAX,
    ValueProblem,
    bounds,
    coerce,
    whole_number,
)

from ..conftest import EditSet

QUANTITY = Field("quantity", "integer", {"en": "Quantity"})
AMOUNT = Field("amount", "money", {"en": "Amount"}, currency="CNY")
MEASURE = Field("measure", "decimal", {"en": "Measure"})
EVENT = Field("event_date", "date", {"en": "Event date"})
RECEIVED = Field("received_at", "datetime", {"en": "Received"})
NAME = Field("name", "text", {"en": "Name"})
NOTES = Field("notes", "long_text", {"en": "Notes"})
EMAIL = Field("email", "email", {"en": "E-mail"})


def refusal(spec: Field, raw: object) -> str:
    """The message of the ValueProblem ``raw`` raises for ``spec``."""
    with pytest.raises(ValueProblem) as raised:
        coerce(spec, raw)
    return str(raised.value)


@pytest.mark.parametrize(("spec", "raw"), [
    (QUANTITY, Decimal("1e999999")), (QUANTITY, "1e999999"), (QUANTITY, "9" * 200_000),
    (QUANTITY, 10**30), (AMOUNT, Decimal("1e999999")), (AMOUNT, "1e999999"),
    (MEASURE, Decimal("-1e999999")), (MEASURE, "9" * 200_000), (AMOUNT, Decimal("1e-999999")),
])
def test_a_huge_number_is_refused_at_once_by_its_digits_and_exponent(spec: Field,
                                                                      raw: object) -> None:
    started = time.perf_counter()
    message = refusal(spec, raw)
    assert time.perf_counter() - started < 0.05
    assert len(message) < 200  # a value of 200,000 digits is cut in the message


def test_a_whole_number_beyond_64_bits_is_refused_and_the_largest_taken() -> None:
    assert coerce(QUANTITY, str(INTEGER_MAX)) == INTEGER_MAX
    assert "is not a whole number from" in refusal(QUANTITY, INTEGER_MAX + 1)
    assert whole_number(Decimal("1e999999")) is None
    assert whole_number(Decimal("12.0")) == 12
    assert whole_number(True) is None


def test_a_whole_number_is_written_in_ascii_digits_only() -> None:
    assert refusal(QUANTITY, "²") == "'²' is not a whole number"
    assert coerce(QUANTITY, " +20 ") == 20


def test_a_decimal_has_at_most_fifteen_digits_before_the_point_and_six_after() -> None:
    assert coerce(MEASURE, "999999999999999.5") == Decimal("999999999999999.5")
    assert "at most 15 digits before the point" in refusal(MEASURE, "1000000000000000")
    assert "at most 6" in refusal(MEASURE, "0.0000001")
    assert coerce(MEASURE, "1.500000000") == Decimal("1.5")


def test_dates_default_to_1900_through_2100() -> None:
    assert coerce(EVENT, "1900-01-01") == DATE_MIN and coerce(EVENT, "2100-12-31") == DATE_MAX
    assert refusal(EVENT, "0001-01-01") == (
        "0001-01-01 is out of range: write a date from 1900-01-01 to 2100-12-31")
    assert "out of range" in refusal(EVENT, "9999-12-31")
    assert "out of range" in refusal(RECEIVED, "2999-01-01T09:00:00+08:00")


def test_a_definition_overrides_the_date_range_per_field() -> None:
    old = Field("born", "date", {"en": "Born"}, minimum="1850-01-01", maximum="2000-12-31")
    assert coerce(old, "1860-05-01") == date(1860, 5, 1)
    assert refusal(old, "2001-01-01") == (
        "2001-01-01 is out of range: write a date from 1850-01-01 to 2000-12-31")


def test_text_without_max_length_has_a_default_limit_a_definition_may_raise() -> None:
    assert bounds(NAME).max_length == TEXT_MAX and bounds(NOTES).max_length == LONG_TEXT_MAX
    assert refusal(NAME, "x" * (TEXT_MAX + 1)) == (
        f"may have at most {TEXT_MAX} characters (it has {TEXT_MAX + 1})")
    assert coerce(NOTES, "x" * LONG_TEXT_MAX)
    longer = Field("notes", "long_text", {"en": "Notes"}, max_length=100_000)
    assert coerce(longer, "x" * 50_000)


@pytest.mark.parametrize("raw", ["a\x00b", "a\x1bb", "line\nbreak", "tab\there", "a\u2028b",
                                 "invoice\u202egnp.exe", "a\u2066b\u2069"])
def test_one_line_text_refuses_control_and_direction_characters(raw: str) -> None:
    assert "the text holds" in refusal(NAME, raw)


def test_long_text_keeps_line_breaks_and_tabs_but_not_other_controls() -> None:
    assert coerce(NOTES, "first line\r\n\tsecond line") == "first line\r\n\tsecond line"
    assert "U+0007" in refusal(NOTES, "bell\x07")
    assert "U+202E" in refusal(NOTES, "a\u202eb")


@pytest.mark.parametrize("raw", ["attacker@evil.com,victim", "a@evil.com, b@example.org",
                                 "a@evil.com;b@example.org", "Name <a@example.org>",
                                 "a b@example.org", "a@example", "a@@example.org",
                                 "a@example.org\nBcc: b@example.org", "a..b@example.org",
                                 "\"a\"@example.org"])
def test_an_email_field_takes_exactly_one_address(raw: str) -> None:
    with pytest.raises(ValueProblem):
        coerce(EMAIL, raw)


@pytest.mark.parametrize("raw", ["a.weber@example.org", "li.na+qms@hospital.com.cn",
                                 "wang.fang@例子.中国"])
def test_an_ordinary_address_is_taken(raw: str) -> None:
    assert coerce(EMAIL, raw) == raw


def test_a_date_bound_that_is_not_a_date_is_a_located_problem(edited_set: EditSet) -> None:
    folder = edited_set(("processes/complaint.yaml", "    type: date\n",
                         "    type: date\n    min: 'last year'\n"))
    lines = [str(problem) for problem in check(folder)]
    assert any("E207" in line and "min of a date field must be a date written YYYY-MM-DD"
               in line and "complaint.yaml:" in line for line in lines), lines


def test_the_bundled_set_keeps_its_fields_within_the_default_bounds(
        default_set: DefinitionSet) -> None:
    process = default_set.processes["complaint"]
    for spec in process.fields.values():
        limits = bounds(spec)
        if spec.type in ("text", "long_text", "email", "phone"):
            assert limits.max_length is not None, spec.id
        if spec.type in ("date", "datetime"):
            assert limits.minimum >= DATE_MIN and limits.maximum <= DATE_MAX, spec.id
