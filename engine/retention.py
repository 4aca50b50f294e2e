"""Retention of records: how long a register's entries or a process's cases are kept.

A definition's ``retention`` block says from which date a record is kept (a date of the record,
or of an entry it refers to, reached through register fields), optionally plus a service life
in years read the same way (a device's product's ``service_life_years``), plus a period; and
which roles may put records under legal hold and dispose of those past retention. Seed 003
keeps sales and service records until at least a year past the product's service life
(使用期限); NMPA keeps records the device's expiry plus two years, or five years without one.

Everything here is pure: :func:`compile_retention` checks a block at load time (located
problems), and :func:`reached` says, from a record's values, the entries it refers to (a
``lookup`` the caller supplies) and nothing else, on which day the record's retention ends.
Whether that day has passed, and holds and disposals, are the store's to know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from .calendar import add_months
from .compiler import CompileContext
from .model import Field, Organisation, Register
from .problems import Problem, a_field, phrase
from .sources import Document

#: Dates every case has besides its fields, usable as a case's ``from``.
CASE_DATES = frozenset({"closed_at", "created_at"})
#: Dates every register entry has besides its fields.
ENTRY_DATES = frozenset({"created_at"})
DATE_TYPES = frozenset({"date", "datetime"})
NUMBER_TYPES = frozenset({"integer", "decimal"})

#: Values of the referenced entry ``key`` of register ``register``, or None when there is none.
Lookup = Callable[[str, str], Mapping[str, Any] | None]


@dataclass(frozen=True)
class KeptFor:
    """Calendar years, months and days, added in that order."""

    years: int = 0
    months: int = 0
    days: int = 0

    def __str__(self) -> str:
        parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in
                 ((self.years, "year"), (self.months, "month"), (self.days, "day")) if n]
        return " ".join(parts) or "0 days"


def add_period(start: date, period: KeptFor) -> date:
    """``start`` plus ``period``: a month or a year landing past the end of a month lands on
    its last day (31 January + 1 month = 28 or 29 February; 29 February + 1 year = 28
    February), as a person counts; then the days."""
    return add_months(start, period.months + 12 * period.years) + timedelta(days=period.days)


@dataclass(frozen=True)
class Retention:
    """A compiled ``retention`` block: the record is kept until ``start`` (+ the service life
    in years at ``life``, when it can be read) + ``keep``; ``otherwise`` instead of both when
    ``life`` has no value. ``roles`` hold, release and dispose."""

    start: tuple[str, ...]
    keep: KeptFor
    roles: tuple[str, ...]
    life: tuple[str, ...] | None = None
    otherwise: KeptFor | None = None

    @property
    def rule(self) -> str:
        """The rule in one line, as the definition says it (for lists and the audit trail)."""
        life = f" + {'.'.join(self.life)} years" if self.life else ""
        other = f" (otherwise {self.otherwise})" if self.otherwise else ""
        return f"{'.'.join(self.start)}{life} + {self.keep}{other}"


@dataclass(frozen=True)
class Reached:
    """When one record's retention ends, and how: ``on`` is its last day kept, so the record
    is past retention from the day after; ``how`` says the dates and numbers it came from."""

    on: date
    how: str

    def past(self, today: date) -> bool:
        """Whether the record is past retention on ``today``."""
        return today > self.on


def _period(raw: Mapping[str, Any] | None) -> KeptFor | None:
    if raw is None:
        return None
    return KeptFor(int(raw.get("years", 0)), int(raw.get("months", 0)), int(raw.get("days", 0)))


def compile_retention(doc: Document, problems: list[Problem], org: Organisation,
                      fields: Mapping[str, Field], registers: Mapping[str, Register],
                      dates: frozenset[str]) -> Retention | None:
    """The document's ``retention`` block compiled (None when it has none, or a problem).

    ``fields``: the record's fields; ``dates``: the dates every such record has besides them
    (:data:`CASE_DATES`, :data:`ENTRY_DATES`); ``registers``: the set's registers, through
    whose reference fields a path goes.
    """
    raw = doc.data.get("retention")
    if not isinstance(raw, Mapping):
        return None
    ctx = CompileContext(doc, problems, org.locales)
    before = len(problems)
    here: list[str | int] = ["retention"]
    start = _path(ctx, raw["from"], [*here, "from"], fields, registers, dates, DATE_TYPES)
    life = None
    if raw.get("service_life") is not None:
        life = _path(ctx, raw["service_life"], [*here, "service_life"], fields, registers,
                     frozenset(), NUMBER_TYPES)
        if raw.get("otherwise") is None:
            ctx.problem([*here, "service_life"], "E281", phrase(
                "a retention with a service life needs 'otherwise': how long records are kept "
                "when the service life cannot be read"),
                phrase("add e.g. 'otherwise: {{years: 5}}' under retention"))
    elif raw.get("otherwise") is not None:
        ctx.problem([*here, "otherwise"], "E281", phrase(
            "'otherwise' applies only with 'service_life'"),
            phrase("add 'service_life: <field path>' or remove 'otherwise'"))
    for index, role in enumerate(raw["roles"]):
        ctx.ref(role, org.roles, "role", [*here, "roles", index])
    if len(problems) > before or start is None:
        return None
    keep = _period(raw["keep"])
    assert keep is not None
    return Retention(start=start, keep=keep, roles=tuple(raw["roles"]), life=life,
                     otherwise=_period(raw.get("otherwise")))


def _path(ctx: CompileContext, text: str, here: list[str | int], fields: Mapping[str, Field],
          registers: Mapping[str, Register], dates: frozenset[str],
          wanted: frozenset[str]) -> tuple[str, ...] | None:
    """Resolve ``a.b.c``: every name but the last a register field, the last of a type in
    ``wanted`` (or one of ``dates``, at the record itself)."""
    names = tuple(text.split("."))
    here_fields: Mapping[str, Field] = fields
    for index, name in enumerate(names):
        last = index == len(names) - 1
        if index == 0 and last and name in dates:
            return names
        known = set(here_fields) | (dates if index == 0 else set())
        if not ctx.ref(name, known, "field", here):
            return None
        spec = here_fields[name]
        if last:
            if spec.type not in wanted:
                ctx.problem(here, "E280", phrase(
                    "'{path}' is {kind}: retention needs {wanted} here", path=text,
                    kind=a_field(spec.type),
                    wanted=phrase("a date or datetime field") if wanted is DATE_TYPES
                    else phrase("an integer or decimal field (years)")),
                    phrase("name a field of that type, reached through register fields"))
                return None
            return names
        target = spec.register
        if spec.type != "register" or target is None or target not in registers:
            ctx.problem(here, "E280", phrase(
                "'{name}' in '{path}' is {kind}: only a register field leads to another "
                "entry's fields", name=name, path=text, kind=a_field(spec.type)),
                phrase("write the path through register fields, e.g. device.product.field"))
            return None
        here_fields = registers[target].fields
    return names


def _day(value: Any, zone: tzinfo | None) -> date | None:
    """A stored date or time as a calendar day in the organisation's zone."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return (value.astimezone(zone) if zone is not None and value.tzinfo else value).date()
    return value if isinstance(value, date) else None


def _years(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        years = Decimal(str(value))
    except InvalidOperation:
        return None
    return years if years.is_finite() and years >= 0 else None


def _read(path: tuple[str, ...], values: Mapping[str, Any], fields: Mapping[str, Field],
          registers: Mapping[str, Register], lookup: Lookup) -> Any:
    """The value at ``path``, following register fields through ``lookup`` (None when any
    link is empty or names no entry)."""
    here_values, here_fields = values, fields
    for name in path[:-1]:
        key = here_values.get(name)
        target = here_fields[name].register if name in here_fields else None
        if key is None or target is None or target not in registers:
            return None
        found = lookup(target, str(key))
        if found is None:
            return None
        here_values, here_fields = found, registers[target].fields
    return here_values.get(path[-1])


def reached(retention: Retention, values: Mapping[str, Any], fields: Mapping[str, Field],
            registers: Mapping[str, Register], lookup: Lookup,
            zone: tzinfo | None = None) -> Reached | None:
    """The last day the record is kept, from its ``values`` (fields and dates such as
    ``closed_at``) and the entries ``lookup`` finds; None while the start date has no value
    (an open case is kept)."""
    start = _day(_read(retention.start, values, fields, registers, lookup), zone)
    if start is None:
        return None
    how = f"{'.'.join(retention.start)} {start.isoformat()}"
    if retention.life is None:
        return Reached(add_period(start, retention.keep), f"{how} + {retention.keep}")
    years = _years(_read(retention.life, values, fields, registers, lookup))
    if years is None:
        assert retention.otherwise is not None  # compile_retention requires it
        return Reached(add_period(start, retention.otherwise),
                       f"{how} + {retention.otherwise} ({'.'.join(retention.life)} unknown)")
    # A service life in decimal years counts in whole months (7.5 years: 90 months).
    months = int((years * 12).to_integral_value())
    life_end = add_period(start, KeptFor(months=months))
    return Reached(add_period(life_end, retention.keep),
                   f"{how} + {'.'.join(retention.life)} {years.normalize():f} years "
                   f"+ {retention.keep}")
