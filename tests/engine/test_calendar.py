"""Business calendars: working days with China's holidays and 调休, working hours, flags."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qmsflow.engine.calendar import (
    BusinessCalendar,
    CalendarSpec,
    OfficialYear,
    WorkingWindow,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE_HOURS = (WorkingWindow(time(8, 30), time(12, 0)), WorkingWindow(time(13, 0), time(17, 30)))


def make_calendar(**changes: Any) -> BusinessCalendar:
    """A mainland-China calendar (Mon-Fri, 08:30-12:00 and 13:00-17:30), with ``changes``."""
    spec = CalendarSpec(
        id="cn_mainland",
        timezone="Asia/Shanghai",
        country="CN",
        working_week=frozenset(range(5)),
        windows=OFFICE_HOURS,
    )
    return BusinessCalendar(replace(spec, **changes))


def shanghai(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def official_2027() -> dict[int, OfficialYear]:
    """A declaration for 2027: Wednesday 3 March off, Saturday 6 March worked."""
    return {2027: OfficialYear(2027, frozenset({date(2027, 3, 3)}), frozenset({date(2027, 3, 6)}))}


CN = make_calendar()
WEEKDAYS_ONLY = make_calendar(country=None)


# --- working days with China's public holidays ----------------------------------------------


def test_five_working_days_from_30_september_2026_skip_national_day_and_count_make_up_saturday():
    due = CN.add_working_days(shanghai(2026, 9, 30), 5)
    assert due.at.astimezone(SHANGHAI) == shanghai(2026, 10, 13, 17, 30)
    assert due.unofficial_years == frozenset()


def test_five_working_days_from_12_february_2026_skip_spring_festival_count_make_up_saturday():
    due = CN.add_working_days(shanghai(2026, 2, 12), 5)
    assert due.at.astimezone(SHANGHAI) == shanghai(2026, 2, 26, 17, 30)
    assert due.unofficial_years == frozenset()


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (shanghai(2026, 9, 30), shanghai(2026, 10, 7, 17, 30)),
        (shanghai(2026, 2, 12), shanghai(2026, 2, 19, 17, 30)),
    ],
)
def test_a_calendar_without_a_country_counts_plain_weekdays(start: datetime, expected: datetime):
    assert WEEKDAYS_ONLY.add_working_days(start, 5).at == expected


def test_a_due_moment_is_given_in_utc():
    due = CN.add_working_days(shanghai(2026, 9, 30), 5)
    assert due.at.utcoffset() == timedelta(0)
    assert due.at == datetime(2026, 10, 13, 9, 30, tzinfo=UTC)


def test_the_time_of_day_of_the_start_does_not_change_a_working_day_deadline():
    early = CN.add_working_days(shanghai(2026, 11, 19, 0, 1), 2)
    late = CN.add_working_days(shanghai(2026, 11, 19, 23, 59), 2)
    assert early.at == late.at == shanghai(2026, 11, 23, 17, 30)


def test_the_local_date_of_the_start_counts_not_its_utc_date():
    # 20:00 UTC on Thursday is already Friday 04:00 in Shanghai.
    due = CN.add_working_days(datetime(2026, 11, 19, 20, 0, tzinfo=UTC), 1)
    assert due.at == shanghai(2026, 11, 23, 17, 30)


def test_zero_working_days_end_today_on_a_working_day_and_on_the_next_working_day_otherwise():
    assert CN.add_working_days(shanghai(2026, 11, 20), 0).at == shanghai(2026, 11, 20, 17, 30)
    assert CN.add_working_days(shanghai(2026, 11, 21), 0).at == shanghai(2026, 11, 23, 17, 30)


def test_the_make_up_saturday_10_october_2026_is_worked_and_5_october_is_not():
    assert CN.is_working_day(date(2026, 10, 10))
    assert not CN.is_working_day(date(2026, 10, 5))


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 10, 8), "working day"),
        (date(2026, 10, 11), "weekend"),
        (date(2026, 10, 1), "public holiday: National Day"),
        (date(2026, 10, 10), "make-up working day (调休)"),
    ],
)
def test_describe_day_says_why_a_day_is_or_is_not_worked(day: date, reason: str):
    assert CN.describe_day(day) == reason


def test_a_company_closure_beats_a_make_up_day_and_an_extra_working_day():
    calendar = make_calendar(
        closures=frozenset({date(2026, 10, 10), date(2026, 10, 8)}),
        extra_working_days=frozenset({date(2026, 10, 8)}),
    )
    for day in (date(2026, 10, 10), date(2026, 10, 8)):
        assert not calendar.is_working_day(day)
        assert calendar.describe_day(day) == "company closure"


def test_a_company_extra_working_day_makes_a_sunday_and_a_public_holiday_worked():
    calendar = make_calendar(extra_working_days=frozenset({date(2026, 10, 11), date(2026, 10, 1)}))
    for day in (date(2026, 10, 11), date(2026, 10, 1)):
        assert calendar.is_working_day(day)
        assert calendar.describe_day(day) == "company extra working day"


def test_a_declared_official_year_wins_over_the_package_for_the_whole_year():
    calendar = make_calendar(official_years=MappingProxyType(official_2027()))
    assert not calendar.is_working_day(date(2027, 3, 3))  # a Wednesday declared a holiday
    assert calendar.describe_day(date(2027, 3, 3)).startswith("public holiday")
    assert calendar.is_working_day(date(2027, 3, 6))  # a Saturday declared a make-up day
    assert calendar.describe_day(date(2027, 3, 6)) == "make-up working day (调休)"
    # The package guesses 4 October 2027 is a holiday; the declaration does not list it.
    assert not CN.is_working_day(date(2027, 10, 4))
    assert calendar.is_working_day(date(2027, 10, 4))
    assert calendar.is_official(2027)


def test_a_declared_holiday_borrows_the_package_name_when_the_package_agrees_on_the_date():
    official = {2027: OfficialYear(2027, frozenset({date(2027, 10, 1)}), frozenset())}
    calendar = make_calendar(official_years=official)
    assert calendar.describe_day(date(2027, 10, 1)) == "public holiday: National Day"


# --- official and unofficial holiday data ---------------------------------------------------


def test_2026_is_official_and_2027_is_not_until_declared():
    assert CN.is_official(2025)
    assert CN.is_official(2026)
    assert not CN.is_official(2027)
    assert make_calendar(official_years=official_2027()).is_official(2027)


def test_years_are_official_without_a_country_or_when_official_data_is_not_required():
    assert WEEKDAYS_ONLY.is_official(2099)
    germany = make_calendar(country="DE", timezone="Europe/Berlin", require_official_data=False)
    assert germany.is_official(2099)


def test_a_deadline_inside_undeclared_2027_is_flagged():
    due = CN.add_working_days(shanghai(2027, 3, 1), 5)
    assert due.unofficial_years == frozenset({2027})


def test_a_deadline_inside_declared_2027_is_not_flagged():
    calendar = make_calendar(official_years=official_2027())
    due = calendar.add_working_days(shanghai(2027, 3, 1), 5)
    assert due.unofficial_years == frozenset()
    # Wednesday 3 March is declared off and Saturday 6 March worked.
    assert due.at == shanghai(2027, 3, 8, 17, 30)


def test_a_deadline_crossing_into_2027_is_flagged_for_2027():
    due = CN.add_working_days(shanghai(2026, 12, 28), 5)
    assert 2027 in due.unofficial_years
    assert 2026 not in due.unofficial_years


def test_working_hours_crossing_into_2027_are_flagged_for_2027():
    due = CN.add_working_hours(shanghai(2026, 12, 31, 16, 0), 4)
    assert due.unofficial_years == frozenset({2027})


# --- working hours --------------------------------------------------------------------------


def test_working_hours_skip_the_lunch_break():
    due = CN.add_working_hours(shanghai(2026, 11, 19, 11, 0), 2)
    assert due.at == shanghai(2026, 11, 19, 14, 0)
    assert due.unofficial_years == frozenset()


def test_four_working_hours_from_friday_16_30_end_on_monday_11_30():
    due = CN.add_working_hours(shanghai(2026, 11, 20, 16, 30), 4)
    assert due.at == shanghai(2026, 11, 23, 11, 30)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (shanghai(2026, 11, 19, 7, 0), shanghai(2026, 11, 19, 9, 30)),
        (shanghai(2026, 11, 19, 12, 15), shanghai(2026, 11, 19, 14, 0)),
        (shanghai(2026, 11, 19, 20, 0), shanghai(2026, 11, 20, 9, 30)),
        (shanghai(2026, 11, 21, 10, 0), shanghai(2026, 11, 23, 9, 30)),
    ],
)
def test_working_hours_outside_a_window_begin_at_the_next_window(
    start: datetime, expected: datetime
):
    assert CN.add_working_hours(start, 1).at == expected


def test_working_hours_that_fill_the_afternoon_end_at_its_close_not_the_next_morning():
    assert CN.add_working_hours(shanghai(2026, 11, 19, 13, 0), 4.5).at == shanghai(
        2026, 11, 19, 17, 30
    )


def test_zero_working_hours_return_the_start_unchanged():
    start = shanghai(2026, 11, 21, 3, 0)
    due = CN.add_working_hours(start, 0)
    assert due.at == start
    assert due.unofficial_years == frozenset()


def test_working_hours_skip_a_public_holiday_week():
    due = CN.add_working_hours(shanghai(2026, 9, 30, 17, 0), 1)
    assert due.at == shanghai(2026, 10, 8, 9, 0)


def test_working_hours_count_real_elapsed_time_across_a_daylight_saving_change():
    germany = make_calendar(
        id="de",
        country="DE",
        timezone="Europe/Berlin",
        require_official_data=False,
        windows=(WorkingWindow(time(9, 0), time(17, 0)),),
    )
    # Friday 27 March 2026 16:00; clocks go forward on Sunday 29 March.
    due = germany.add_working_hours(datetime(2026, 3, 27, 16, 0, tzinfo=BERLIN), 2)
    assert due.at == datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN)
    assert due.at == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)


def test_a_round_the_clock_calendar_works_full_24_hour_days():
    always = make_calendar(
        id="round_the_clock",
        country=None,
        working_week=frozenset(range(7)),
        windows=(WorkingWindow(time(0, 0), time.max),),
    )
    start = shanghai(2026, 10, 1, 0, 0)
    assert always.add_working_hours(start, 48).at == shanghai(2026, 10, 3, 0, 0)
    assert always.working_time_between(start, shanghai(2026, 10, 3, 0, 0)) == timedelta(hours=48)


# --- measuring between two moments ----------------------------------------------------------


def test_working_time_between_friday_afternoon_and_monday_morning_is_four_hours():
    between = CN.working_time_between(
        shanghai(2026, 11, 20, 16, 30), shanghai(2026, 11, 23, 11, 30)
    )
    assert between == timedelta(hours=4)


def test_working_time_between_is_zero_when_the_end_is_not_after_the_start():
    start = shanghai(2026, 11, 20, 10, 0)
    assert CN.working_time_between(start, start) == timedelta(0)
    assert CN.working_time_between(start, shanghai(2026, 11, 19, 10, 0)) == timedelta(0)


def test_working_days_between_counts_days_after_the_start_up_to_and_including_the_end():
    assert CN.working_days_between(shanghai(2026, 9, 30), shanghai(2026, 10, 13, 9, 0)) == 5
    assert CN.working_days_between(shanghai(2026, 9, 30), shanghai(2026, 9, 30, 23, 0)) == 0
    assert CN.working_days_between(shanghai(2026, 10, 13), shanghai(2026, 9, 30)) == 0


def test_to_local_expresses_a_moment_in_the_calendar_time_zone():
    local = CN.to_local(datetime(2026, 11, 19, 20, 0, tzinfo=UTC))
    assert local.tzinfo == SHANGHAI
    assert (local.date(), local.time()) == (date(2026, 11, 20), time(4, 0))


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda moment: CN.add_working_days(moment, 1),
        lambda moment: CN.add_working_hours(moment, 1),
        lambda moment: CN.working_days_between(moment, shanghai(2026, 1, 1)),
        lambda moment: CN.working_time_between(shanghai(2026, 1, 1), moment),
        CN.to_local,
    ],
)
def test_a_naive_datetime_is_refused(call: Any):
    with pytest.raises(ValueError) as caught:
        call(datetime(2026, 11, 20, 10, 0))
    assert "timezone-aware" in str(caught.value)
    assert "naive" in str(caught.value)


def test_negative_working_days_and_hours_are_refused():
    with pytest.raises(ValueError) as days:
        CN.add_working_days(shanghai(2026, 11, 20), -1)
    with pytest.raises(ValueError) as hours:
        CN.add_working_hours(shanghai(2026, 11, 20), -0.5)
    with pytest.raises(ValueError) as nan:
        CN.add_working_hours(shanghai(2026, 11, 20), float("nan"))
    assert "negative" in str(days.value)
    assert ">= 0" in str(hours.value)
    assert "finite" in str(nan.value)


def test_a_datetime_passed_as_a_day_is_refused():
    with pytest.raises(TypeError) as caught:
        CN.is_working_day(shanghai(2026, 11, 20))
    assert "not a datetime" in str(caught.value)


def test_a_calendar_without_any_working_day_gives_up_after_ten_years():
    idle = make_calendar(id="idle", country=None, working_week=frozenset())
    with pytest.raises(ValueError) as caught:
        idle.add_working_days(shanghai(2026, 1, 1), 1)
    assert str(caught.value) == "calendar idle has no working day within ten years"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"country": "XX"}, "no country 'XX'"),
        ({"windows": ()}, "no working window"),
        ({"windows": tuple(reversed(OFFICE_HOURS))}, "sorted and not overlap"),
        ({"working_week": frozenset({7})}, "0 (Monday) to 6"),
        ({"official_years": {2026: official_2027()[2027]}}, "filed under 2026"),
    ],
)
def test_a_broken_spec_is_refused_when_the_calendar_is_built(changes: dict[str, Any], message: str):
    with pytest.raises(ValueError) as caught:
        make_calendar(**changes)
    assert message in str(caught.value)


def test_a_window_that_does_not_run_forward_is_refused():
    with pytest.raises(ValueError) as caught:
        WorkingWindow(time(12, 0), time(8, 30))
    assert "must end after it starts" in str(caught.value)


def test_a_day_declared_both_holiday_and_working_day_is_refused():
    with pytest.raises(ValueError) as caught:
        OfficialYear(2027, frozenset({date(2027, 3, 6)}), frozenset({date(2027, 3, 6)}))
    assert "2027-03-06" in str(caught.value)


def test_a_spec_is_hashable_and_compares_its_official_years():
    spec = make_calendar().spec
    declared = replace(spec, official_years=MappingProxyType(official_2027()))
    assert hash(spec) == hash(replace(spec))
    assert spec != declared


# --- properties -----------------------------------------------------------------------------

aware_starts = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2026, 12, 31, 23, 59),
    timezones=st.sampled_from([UTC, SHANGHAI, NEW_YORK]),
)


@given(start=aware_starts, days=st.integers(min_value=1, max_value=30))
def test_adding_working_days_lands_on_a_working_day_that_many_working_days_later(
    start: datetime, days: int
):
    due = CN.add_working_days(start, days)
    local = CN.to_local(due.at)
    assert CN.is_working_day(local.date())
    assert local.time() == time(17, 30)
    assert CN.working_days_between(start, due.at) == days


@st.composite
def moments_inside_a_window(draw: st.DrawFn) -> datetime:
    day = draw(
        st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)).filter(CN.is_working_day)
    )
    window = draw(st.sampled_from(OFFICE_HOURS))
    opening = datetime.combine(day, window.start, tzinfo=SHANGHAI)
    length = datetime.combine(day, window.end, tzinfo=SHANGHAI) - opening
    offset = draw(st.integers(min_value=0, max_value=int(length.total_seconds()) - 1))
    return opening + timedelta(seconds=offset)


@given(
    start=moments_inside_a_window(),
    hours=st.floats(min_value=0, max_value=300, allow_nan=False, allow_infinity=False),
)
def test_working_time_between_gives_back_the_working_hours_added(start: datetime, hours: float):
    due = CN.add_working_hours(start, hours)
    measured = CN.working_time_between(start, due.at)
    assert abs(measured - timedelta(hours=hours)) <= timedelta(seconds=1)
