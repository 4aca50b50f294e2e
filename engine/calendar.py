"""Business calendars: which days are worked, and deadlines counted in working days or hours.

A calendar answers questions such as "when is 5 working days after this complaint arrived?" for
one site: its time zone, working week, daily working windows, public holidays (with China's
make-up working days, 调休), and the company's own closures and extra working days.

The module is pure: it never reads a clock or a file. Public-holiday data comes from the
``holidays`` package unless a year is declared in the definitions (``official_years``); a year
whose data is not official is reported on every result that walked over it, never silently
guessed.
"""

from __future__ import annotations

import math
from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

__all__ = [
    "MAX_IDLE_DAYS",
    "BusinessCalendar",
    "CalendarSpec",
    "Due",
    "OfficialYear",
    "WorkingWindow",
]

#: How many consecutive non-working days a walk may cross before the calendar is declared broken
#: (e.g. an empty working week); ten years is far beyond any real run of holidays.
MAX_IDLE_DAYS = 3660

_ONE_DAY = timedelta(days=1)
# How many days a calendar remembers (their classification, their windows) before it
# starts again: some hundred years of days, far more than deadlines walk.
_DAYS_KEPT = 40_000


def add_months(start: date, months: int) -> date:
    """``start`` moved by ``months`` calendar months (back when negative), on the same day of
    the month or, in a shorter month, its last day (31 January + 1 month is 28 or 29
    February), as a person counts; a datetime keeps its time. The one month arithmetic of
    the engine: scheduled visits, retention periods and the ``add_months`` filter use it.
    OverflowError when the date would leave the years 1 to 9999."""
    year, month = divmod(start.year * 12 + start.month - 1 + months, 12)
    if not 1 <= year <= 9999:
        raise OverflowError("the date would leave the years 1 to 9999")
    return start.replace(year=year, month=month + 1,
                         day=min(start.day, monthrange(year, month + 1)[1]))
_MIDNIGHT = time(0, 0)

_WORKING_DAY = "working day"
_WEEKEND = "weekend"
_MAKE_UP_DAY = "make-up working day (调休)"
_CLOSURE = "company closure"
_EXTRA_DAY = "company extra working day"


@dataclass(frozen=True)
class WorkingWindow:
    """One working-time window of a day in local time, e.g. 08:30-12:00.

    ``time.max`` as the end stands for 24:00 (the definitions write "24:00"); working-time
    arithmetic treats it as the following midnight so a round-the-clock day is exactly 24 hours.
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"working window {self.start}-{self.end} must end after it starts")


@dataclass(frozen=True)
class OfficialYear:
    """A year's official public holidays and make-up working days (调休) declared in YAML.

    A declared year wins over the ``holidays`` package for that whole year: days it does not
    list follow the working week.
    """

    year: int
    holidays: frozenset[date]
    working_days: frozenset[date]  # make-up working days that fall on a weekend

    def __post_init__(self) -> None:
        clash = self.holidays & self.working_days
        if clash:
            days = ", ".join(str(day) for day in sorted(clash))
            raise ValueError(f"official year {self.year}: {days} both a holiday and a working day")


def _no_official_years() -> Mapping[int, OfficialYear]:
    return MappingProxyType({})


@dataclass(frozen=True)
class CalendarSpec:
    """Everything that defines a business calendar, as compiled from a ``kind: calendar`` file."""

    id: str
    timezone: str  # IANA name, e.g. "Asia/Shanghai"
    country: str | None  # ISO 3166 code for the `holidays` package, or None for no holidays
    working_week: frozenset[int]  # weekday numbers, 0 = Monday
    windows: tuple[WorkingWindow, ...]  # sorted, non-overlapping
    closures: frozenset[date] = frozenset()  # company's own non-working days
    extra_working_days: frozenset[date] = frozenset()  # company's own extra working days
    # A mapping is not hashable; leaving it out of the hash keeps the spec usable as a key
    # while equality still compares it.
    official_years: Mapping[int, OfficialYear] = field(
        default_factory=_no_official_years, hash=False
    )
    require_official_data: bool = True


@dataclass(frozen=True)
class Due:
    """A computed point in time plus the years whose holiday data was not official.

    The years are a flag for the caller (e.g. "deadline provisional: 2027 holidays not yet
    published"), never silently guessed away.
    """

    at: datetime  # timezone-aware, in UTC
    unofficial_years: frozenset[int]  # empty when every day crossed was official


@dataclass(frozen=True)
class _PackageYear:
    """One year of ``holidays`` package data, reduced to plain sets for fast lookups."""

    holidays: Mapping[date, str]
    make_up_days: frozenset[date]
    has_make_up_days: bool


_NO_PACKAGE_DATA = _PackageYear(MappingProxyType({}), frozenset(), False)


class BusinessCalendar:
    """Answers working-day and working-time questions for one :class:`CalendarSpec`.

    Cheap to build and meant to be reused: package holiday data is fetched once per year on
    first use and kept.
    """

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        if not spec.windows:
            raise ValueError(f"calendar {spec.id} has no working window")
        for before, after in zip(spec.windows, spec.windows[1:], strict=False):
            if after.start < before.end:
                raise ValueError(
                    f"calendar {spec.id}: working windows must be sorted and not overlap "
                    f"({before.start}-{before.end} then {after.start}-{after.end})"
                )
        if not spec.working_week <= frozenset(range(7)):
            raise ValueError(f"calendar {spec.id}: weekdays are numbered 0 (Monday) to 6")
        for year, official in spec.official_years.items():
            if official.year != year:
                raise ValueError(
                    f"calendar {spec.id}: official year {official.year} is filed under {year}"
                )
        try:
            self._zone = ZoneInfo(spec.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"calendar {spec.id}: unknown time zone {spec.timezone!r}") from error
        if spec.country is not None:
            try:
                # Building with no years costs nothing and fails now, at load, for an unknown
                # country rather than on the first deadline computed.
                holidays.country_holidays(spec.country, years=())
            except NotImplementedError as error:
                raise ValueError(
                    f"calendar {spec.id}: the holidays package has no country {spec.country!r}"
                ) from error
        # Declarations are indexed by date rather than by year so that a make-up day dated in
        # late December for the next year's New Year still counts.
        self._declared_holidays = frozenset().union(
            *(o.holidays for o in spec.official_years.values())
        )
        self._declared_working = frozenset().union(
            *(o.working_days for o in spec.official_years.values())
        )
        self._package_years: dict[int, _PackageYear] = {}
        # Per day: whether and why it is worked, and its windows in UTC. Both follow from the
        # spec and the package's holidays alone, and every deadline walks the same few weeks:
        # a clock started, paused, resumed or re-counted asks about the same days again.
        self._days: dict[date, tuple[bool, str]] = {}
        self._windows: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.spec.id!r})"

    # --- days -------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` (a local calendar date) is worked."""
        return self._classify(_plain_date(day))[0]

    def describe_day(self, day: date) -> str:
        """Why ``day`` is or is not worked, e.g. "public holiday: National Day"."""
        return self._classify(_plain_date(day))[1]

    def is_official(self, year: int) -> bool:
        """Whether the holiday data for ``year`` is official rather than rule-based guesswork.

        China's State Council declares each year's holidays with make-up working days; the
        package only has those for declared years, so their presence marks official data.
        """
        spec = self.spec
        if year in spec.official_years or not spec.require_official_data or spec.country is None:
            return True
        return self._package_year(year).has_make_up_days

    # --- deadlines --------------------------------------------------------------------------

    def add_working_days(self, start: datetime, days: int) -> Due:
        """The end of the last working window on the ``days``-th working day after ``start``.

        Days are counted from the day after ``start``'s local date, so the time of day at which
        something arrived does not matter. ``days == 0`` means the end of ``start``'s own day if
        it is worked, else the end of the next working day.
        """
        local = self._localize(start, "start")
        if days < 0:
            raise ValueError(f"working days must not be negative, got {days}")
        consulted: set[int] = set()
        day = local.date()
        if days == 0:
            day = self._next_working_day(day, consulted)
        for _ in range(days):
            day = self._next_working_day(day + _ONE_DAY, consulted)
        end = datetime.combine(day, self.spec.windows[-1].end, tzinfo=self._zone)
        return Due(end.astimezone(UTC), self._unofficial(consulted))

    def add_working_hours(self, start: datetime, hours: float) -> Due:
        """The moment ``hours`` of working time after ``start``.

        Only time inside working windows on working days counts; a start outside a window
        begins at the next window.
        """
        local = self._localize(start, "start")
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"working hours must be a finite number >= 0, got {hours}")
        begin = start.astimezone(UTC)
        if hours == 0:
            return Due(begin, frozenset())
        remaining = timedelta(hours=hours)
        consulted: set[int] = set()
        day = local.date()
        while True:
            day = self._next_working_day(day, consulted)
            for window_start, window_end in self._windows_utc(day):
                from_ = max(window_start, begin)
                if from_ >= window_end:
                    continue
                available = window_end - from_
                # "<=" so that a deadline which exactly fills a window ends at its close
                # (17:30) rather than at the next morning's opening.
                if remaining <= available:
                    return Due(from_ + remaining, self._unofficial(consulted))
                remaining -= available
            day += _ONE_DAY

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """How many working days ``d`` satisfy start's local date < d <= end's local date.

        The inverse of :meth:`add_working_days`: for ``n >= 1``,
        ``working_days_between(s, add_working_days(s, n).at) == n``.
        """
        first = self._localize(start, "start").date() + _ONE_DAY
        last = self._localize(end, "end").date()
        count = 0
        day = first
        while day <= last:
            count += self._classify(day)[0]
            day += _ONE_DAY
        return count

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside windows on working days between two instants.

        Zero when ``end`` is not after ``start``.
        """
        first = self._localize(start, "start").date()
        last = self._localize(end, "end").date()
        begin, finish = start.astimezone(UTC), end.astimezone(UTC)
        total = timedelta(0)
        if finish <= begin:
            return total
        day = first
        while day <= last:
            if self._classify(day)[0]:
                for window_start, window_end in self._windows_utc(day):
                    overlap = min(window_end, finish) - max(window_start, begin)
                    if overlap > timedelta(0):
                        total += overlap
            day += _ONE_DAY
        return total

    def working_day_length(self) -> timedelta:
        """How long one working day of this calendar is: its working windows added up."""
        total = timedelta(0)
        for window in self.spec.windows:
            end = (timedelta(days=1) if window.end == time.max
                   else timedelta(hours=window.end.hour, minutes=window.end.minute))
            total += end - timedelta(hours=window.start.hour, minutes=window.start.minute)
        return total

    def split_working_time(self, start: datetime, end: datetime) -> tuple[int, int, int]:
        """The working time between two instants as (working days, hours, minutes).

        The time is found by walking the calendar (weekends, public holidays, make-up working
        days, the company's closures and extra days), then told in this calendar's own
        working days: with 08:30-12:00 and 13:00-17:30, 17 working hours are 2 working days
        and 1 hour. Never divided by 24. Minutes are whole (rounded down); (0, 0, 0) when
        ``end`` is not after ``start``.
        """
        worked = self.working_time_between(start, end)
        day = self.working_day_length()
        days, rest = divmod(worked, day)
        minutes = int(rest.total_seconds() // 60)
        return int(days), minutes // 60, minutes % 60

    def to_local(self, moment: datetime) -> datetime:
        """``moment`` (timezone-aware) expressed in the calendar's time zone."""
        return self._localize(moment, "moment")

    # --- internals --------------------------------------------------------------------------

    def _classify(self, day: date) -> tuple[bool, str]:
        """Whether ``day`` is worked and why (:meth:`_classify_day`, remembered)."""
        known = self._days.get(day)
        if known is None:
            if len(self._days) >= _DAYS_KEPT:
                self._days.clear()  # a bound for a long-running process; rarely reached
            known = self._days[day] = self._classify_day(day)
        return known

    def _classify_day(self, day: date) -> tuple[bool, str]:
        """Whether ``day`` is worked and why, applying the precedence rules in order."""
        spec = self.spec
        if day in spec.closures:
            return False, _CLOSURE
        if day in spec.extra_working_days:
            return True, _EXTRA_DAY
        if day in self._declared_holidays:
            # The declaration has no names; borrow the package's where it agrees on the date.
            name = self._package_year(day.year).holidays.get(day, "official declaration")
            return False, f"public holiday: {name}"
        if day in self._declared_working:
            return True, _MAKE_UP_DAY
        if day.year not in spec.official_years:
            package = self._package_year(day.year)
            holiday = package.holidays.get(day)
            if holiday is not None:
                return False, f"public holiday: {holiday}"
            if day in package.make_up_days:
                return True, _MAKE_UP_DAY
        if day.weekday() in spec.working_week:
            return True, _WORKING_DAY
        return False, _WEEKEND

    def _package_year(self, year: int) -> _PackageYear:
        """The package's data for ``year``, built on first use and cached."""
        country = self.spec.country
        if country is None:
            return _NO_PACKAGE_DATA
        cached = self._package_years.get(year)
        if cached is None:
            data = holidays.country_holidays(country, years=year)
            make_up = frozenset(data.weekend_workdays)
            cached = _PackageYear(
                MappingProxyType(dict(data.items())),
                make_up,
                # weekend_workdays may carry dates of neighbouring years; only this year's count.
                any(day.year == year for day in make_up),
            )
            self._package_years[year] = cached
        return cached

    def _next_working_day(self, day: date, consulted: set[int]) -> date:
        """The first working day on or after ``day``, noting each year walked over."""
        for _ in range(MAX_IDLE_DAYS + 1):
            consulted.add(day.year)
            if self._classify(day)[0]:
                return day
            day += _ONE_DAY
        raise ValueError(f"calendar {self.spec.id} has no working day within ten years")

    def _windows_utc(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The day's working windows as UTC instants, so that subtraction is real elapsed time.

        (Subtracting two datetimes sharing one tzinfo ignores a daylight-saving change between
        them; UTC has none.) Remembered per day, as :meth:`_classify` is.
        """
        known = self._windows.get(day)
        if known is None:
            if len(self._windows) >= _DAYS_KEPT:
                self._windows.clear()
            known = self._windows[day] = tuple(self._day_windows_utc(day))
        return known

    def _day_windows_utc(self, day: date) -> list[tuple[datetime, datetime]]:
        windows: list[tuple[datetime, datetime]] = []
        for window in self.spec.windows:
            start = datetime.combine(day, window.start, tzinfo=self._zone).astimezone(UTC)
            if window.end == time.max:
                end_local = datetime.combine(day + _ONE_DAY, _MIDNIGHT, tzinfo=self._zone)
            else:
                end_local = datetime.combine(day, window.end, tzinfo=self._zone)
            end = end_local.astimezone(UTC)
            # A window lying in a daylight-saving gap can come out empty or reversed.
            if end > start:
                windows.append((start, end))
        return windows

    def _localize(self, moment: datetime, what: str) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(
                f"{what} must be a timezone-aware datetime, got naive {moment.isoformat()}"
            )
        return moment.astimezone(self._zone)

    def _unofficial(self, years: set[int]) -> frozenset[int]:
        return frozenset(year for year in years if not self.is_official(year))


def _plain_date(day: date) -> date:
    # A datetime is a date subclass but never equals a date, so set lookups would silently
    # miss; its calendar date also depends on a time zone the caller should choose.
    if isinstance(day, datetime):
        raise TypeError("pass a date, e.g. calendar.to_local(moment).date(), not a datetime")
    return day
