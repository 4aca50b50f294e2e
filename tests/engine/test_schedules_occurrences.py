"""When scheduled work falls due: anchors, month ends, the warranty boundary, and the
business calendar moving a date off holidays (and onto make-up working days)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from qmsflow.engine.calendar import BusinessCalendar
from qmsflow.engine.expressions import compile_expression
from qmsflow.engine.model import DefinitionSet, Interval, RecentCases, Schedule, frozen_map
from qmsflow.engine.occurrences import (
    add_months,
    case_inputs,
    due_dates,
    month_window,
    next_month,
    occurrences,
)

IN_WARRANTY = "warranty_end is not none and due <= warranty_end"
AFTER_WARRANTY = "warranty_end is not none and due > warranty_end"


def schedule(every: tuple[Interval, ...] | None = None, **changes: Any) -> Schedule:
    fields: dict[str, Any] = {
        "id": "visits", "label": frozen_map({"en": "Visits"}), "description": frozen_map(),
        "register": "installed_device", "process": "maintenance_visit", "step": "plan_visit",
        "entry_field": "installed_device",
        "values": frozen_map({"visit_due": compile_expression("due")}),
        "anchor": "acceptance_date", "start": None,
        "every": every or (Interval(3, compile_expression(IN_WARRANTY)),
                           Interval(6, compile_expression(AFTER_WARRANTY))),
    }
    fields.update(changes)
    return Schedule(**fields)


@pytest.fixture(scope="module")
def china(default_set: DefinitionSet) -> BusinessCalendar:
    """The bundled mainland-China calendar: public holidays and make-up working days."""
    return default_set.calendars["cn_mainland"]


def device(accepted: str, warranty_end: str | None = None) -> dict[str, Any]:
    return {"acceptance_date": date.fromisoformat(accepted),
            "warranty_end": date.fromisoformat(warranty_end) if warranty_end else None}


class TestSchedulesDueDates:
    def test_the_first_visit_is_three_months_after_acceptance(self) -> None:
        dates = list(due_dates(schedule(), "SN-1", device("2026-01-15", "2027-01-14"),
                               date(2026, 12, 31)))
        assert dates == [date(2026, 4, 15), date(2026, 7, 15), date(2026, 10, 15)]

    def test_accepted_on_the_31st_visits_fall_on_each_months_last_day_without_drifting(
            self) -> None:
        dates = list(due_dates(schedule(), "SN-1", device("2026-01-31", "2028-01-31"),
                               date(2027, 4, 30)))
        assert dates == [date(2026, 4, 30), date(2026, 7, 31), date(2026, 10, 31),
                         date(2027, 1, 31), date(2027, 4, 30)]

    def test_a_leap_year_february_keeps_its_29th(self) -> None:
        dates = list(due_dates(schedule(), "SN-1", device("2027-11-30", "2029-01-01"),
                               date(2028, 3, 1)))
        assert dates == [date(2028, 2, 29)]

    def test_visits_come_every_three_months_in_warranty_then_every_six_after(self) -> None:
        dates = list(due_dates(schedule(), "SN-1", device("2025-01-15", "2026-01-15"),
                               date(2027, 12, 31)))
        # The warranty's last day is still in warranty; then six months from the last visit.
        assert dates == [date(2025, 4, 15), date(2025, 7, 15), date(2025, 10, 15),
                         date(2026, 1, 15), date(2026, 7, 15), date(2027, 1, 15),
                         date(2027, 7, 15)]

    def test_a_warranty_ending_between_two_visits_switches_to_six_months_from_the_last(
            self) -> None:
        dates = list(due_dates(schedule(), "SN-1", device("2025-01-15", "2025-12-01"),
                               date(2026, 12, 31)))
        assert dates == [date(2025, 4, 15), date(2025, 7, 15), date(2025, 10, 15),
                         date(2026, 4, 15), date(2026, 10, 15)]

    def test_a_device_without_acceptance_or_warranty_end_has_no_visit(self) -> None:
        assert list(due_dates(schedule(), "SN-1", {}, date(2030, 1, 1))) == []
        assert list(due_dates(schedule(), "SN-1", device("2026-01-15"),
                              date(2030, 1, 1))) == []

    def test_a_fixed_start_gives_every_entry_the_same_monthly_dates(self) -> None:
        monthly = schedule((Interval(1),), anchor=None, start=date(2026, 1, 5))
        assert list(due_dates(monthly, "C-1", {}, date(2026, 4, 30))) == [
            date(2026, 2, 5), date(2026, 3, 5), date(2026, 4, 5)]


class TestSchedulesOccurrences:
    def test_a_visit_due_in_the_national_day_holiday_opens_on_the_next_working_day(
            self, china: BusinessCalendar) -> None:
        found = occurrences(schedule(), {"SN-1": device("2026-07-05", "2027-07-04")}, china,
                            date(2026, 10, 1), date(2026, 10, 31))
        assert [(o.due, o.opens_on) for o in found] == [(date(2026, 10, 5), date(2026, 10, 8))]

    def test_a_visit_due_in_the_spring_festival_waits_for_the_first_day_back(
            self, china: BusinessCalendar) -> None:
        found = occurrences(schedule(), {"SN-1": device("2025-11-16", "2026-11-15")}, china,
                            date(2026, 2, 1), date(2026, 2, 28))
        # 16 to 23 February 2026 are holidays (the 23rd given for the make-up Saturday 28th).
        assert [(o.due, o.opens_on) for o in found] == [(date(2026, 2, 16), date(2026, 2, 24))]

    def test_a_visit_due_on_a_make_up_working_saturday_opens_that_saturday(
            self, china: BusinessCalendar) -> None:
        found = occurrences(schedule(), {"SN-1": device("2025-11-14", "2026-11-13")}, china,
                            date(2026, 2, 1), date(2026, 2, 28))
        assert [(o.due, o.opens_on) for o in found] == [(date(2026, 2, 14), date(2026, 2, 14))]

    def test_a_window_holds_what_opens_in_it_even_when_due_before_it(
            self, china: BusinessCalendar) -> None:
        devices = {"SN-1": device("2025-10-31", "2026-10-30")}  # due Saturday 31 January 2026
        january = occurrences(schedule(), devices, china, date(2026, 1, 1), date(2026, 1, 31))
        february = occurrences(schedule(), devices, china, date(2026, 2, 1), date(2026, 2, 28))
        assert january == []
        assert [(o.due, o.opens_on) for o in february] == [
            (date(2026, 1, 31), date(2026, 2, 2))]

    def test_the_schedules_condition_leaves_out_entries(self, china: BusinessCalendar) -> None:
        only_one = schedule(when=compile_expression("key != 'SN-2'"))
        found = occurrences(only_one, {"SN-1": device("2026-01-15", "2027-01-14"),
                                       "SN-2": device("2026-01-15", "2027-01-14")}, china,
                            date(2026, 4, 1), date(2026, 4, 30))
        assert [o.key for o in found] == ["SN-1"]

    def test_recent_cases_count_only_when_closed_in_the_days_before(
            self, china: BusinessCalendar) -> None:
        calls = schedule((Interval(1),), anchor=None, start=date(2026, 1, 5),
                         recent=RecentCases("service_request", "installed_device",
                                            "customer", 30))
        found = occurrences(calls, {"C-1": {}, "C-2": {}, "C-3": {}}, china,
                            date(2026, 3, 1), date(2026, 3, 31),
                            {"C-1": [date(2026, 2, 20)], "C-2": [date(2026, 1, 20)]})
        assert [(o.key, o.due) for o in found] == [("C-1", date(2026, 3, 5))]


class TestSchedulesHelpers:
    def test_add_months_keeps_the_day_or_takes_the_months_last(self) -> None:
        assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
        assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
        assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)

    def test_a_month_is_read_as_yyyy_mm_and_refused_otherwise(self) -> None:
        assert month_window("2027-02") == (date(2027, 2, 1), date(2027, 2, 28))
        assert next_month(date(2026, 12, 7)) == (date(2027, 1, 1), date(2027, 1, 31))
        for wrong in ("2026-13", "2026-1", "2026-00", "0001-01", "9999-12", "２０２６-01", ""):
            with pytest.raises(ValueError):
                month_window(wrong)

    def test_the_case_gets_the_entry_key_and_the_computed_values(self) -> None:
        inputs = case_inputs(schedule(), "SN-1", device("2026-01-15"), date(2026, 4, 15))
        assert inputs == {"installed_device": "SN-1", "visit_due": "2026-04-15"}

    def test_the_bundled_schedules_compile(self, default_set: DefinitionSet) -> None:
        visits = default_set.schedules["maintenance_visits"]
        calls = default_set.schedules["follow_up_calls"]
        assert (visits.anchor, [i.months for i in visits.every]) == ("acceptance_date", [3, 6])
        assert calls.start == date(2026, 1, 5)
        assert calls.recent == RecentCases("service_request", "installed_device", "customer",
                                           30)
