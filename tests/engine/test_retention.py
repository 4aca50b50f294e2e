"""Retention: when a record's keeping ends, from its dates and its device's service life."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.retention import KeptFor, Retention, add_period, reached

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("start", "period", "expected"), [
    (date(2026, 1, 31), KeptFor(months=1), date(2026, 2, 28)),
    (date(2028, 1, 31), KeptFor(months=1), date(2028, 2, 29)),
    (date(2028, 2, 29), KeptFor(years=1), date(2029, 2, 28)),
    (date(2028, 2, 29), KeptFor(years=4), date(2032, 2, 29)),
    (date(2026, 8, 31), KeptFor(months=1, days=1), date(2026, 10, 1)),
    (date(2026, 12, 15), KeptFor(months=1), date(2027, 1, 15)),
    (date(2026, 11, 30), KeptFor(years=1, months=3), date(2028, 2, 29)),
    (date(2026, 12, 31), KeptFor(days=1), date(2027, 1, 1)),
])
def test_retention_periods_count_calendar_months_ending_on_the_last_day_of_a_short_month(
        start: date, period: KeptFor, expected: date) -> None:
    assert add_period(start, period) == expected


def test_the_bundled_sets_keep_service_requests_a_year_past_their_devices_service_life(
        default_set: DefinitionSet) -> None:
    rule = default_set.process("service_request").retention
    assert rule is not None
    assert rule.start == ("closed_at",)
    assert rule.life == ("installed_device", "product", "service_life_years")
    assert rule.keep == KeptFor(years=1) and rule.otherwise == KeptFor(years=5)
    assert rule.roles == ("quality_manager",)
    complaint = default_set.process("complaint").retention
    assert complaint is not None and complaint.keep == KeptFor(years=10)
    device = default_set.registers["installed_device"].retention
    assert device is not None and device.life == ("product", "service_life_years")
    assert default_set.registers["product"].retention is None


def _lookup(entries: dict[tuple[str, str], dict[str, Any]]) -> Any:
    return lambda register, key: entries.get((register, key))


def test_a_service_request_is_kept_through_its_devices_product_service_life_plus_a_year(
        default_set: DefinitionSet) -> None:
    process = default_set.process("service_request")
    assert process.retention is not None
    entries = {("installed_device", "SN-1"): {"serial": "SN-1", "product": "M-8"},
               ("product", "M-8"): {"model": "M-8", "service_life_years": 8}}
    # Closed at 20:00 UTC on 31 Jan 2026: 1 February in Shanghai, the organisation's day.
    closed = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)
    found = reached(process.retention, {"closed_at": closed, "installed_device": "SN-1"},
                    process.fields, default_set.registers, _lookup(entries), SHANGHAI)
    assert found is not None
    assert found.on == date(2035, 2, 1)
    assert "service_life_years 8 years" in found.how
    assert not found.past(date(2035, 2, 1)) and found.past(date(2035, 2, 2))


def test_without_a_registered_device_the_request_is_kept_the_fixed_period(
        default_set: DefinitionSet) -> None:
    process = default_set.process("service_request")
    assert process.retention is not None
    closed = datetime(2020, 2, 29, 3, 0, tzinfo=UTC)
    for values, entries in [
            ({"closed_at": closed}, {}),  # no device picked
            ({"closed_at": closed, "installed_device": "SN-9"}, {}),  # the entry is gone
            ({"closed_at": closed, "installed_device": "SN-1"},  # no service life
             {("installed_device", "SN-1"): {"product": "M-8"}, ("product", "M-8"): {}})]:
        found = reached(process.retention, values, process.fields, default_set.registers,
                        _lookup(entries), SHANGHAI)
        assert found is not None
        assert found.on == date(2025, 2, 28), values
        assert "unknown" in found.how


def test_an_open_case_has_no_end_of_retention(default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    assert process.retention is not None
    assert reached(process.retention, {"closed_at": None}, process.fields,
                   default_set.registers, _lookup({})) is None


def test_a_device_file_counts_from_its_acceptance_date_and_a_decimal_service_life_in_months(
        default_set: DefinitionSet) -> None:
    register = default_set.registers["installed_device"]
    assert register.retention is not None
    entries = {("product", "M-8"): {"service_life_years": "7.5"}}
    found = reached(register.retention, {"acceptance_date": "2026-01-31", "product": "M-8"},
                    register.fields, default_set.registers, _lookup(entries))
    assert found is not None
    assert found.on == date(2035, 7, 31)  # + 90 months, then + 2 years


def test_a_rule_reads_as_the_definition_says_it() -> None:
    rule = Retention(("closed_at",), KeptFor(years=1), ("quality_manager",),
                     ("device", "product", "life"), KeptFor(years=5))
    assert rule.rule == ("closed_at + device.product.life years + 1 year "
                         "(otherwise 5 years)")
    assert str(KeptFor(years=2, months=1, days=3)) == "2 years 1 month 3 days"
