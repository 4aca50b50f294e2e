"""Field values: coerce what a form or API sends into typed values, check them, store them.

Forms and the JSON API send text or JSON scalars; the engine keeps typed values (``Decimal`` for
money, ``date``/``datetime`` for dates) so expressions compare them correctly, and stores them as
JSON-safe data so a case saves and reloads unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .errors import QmsflowError
from .model import Field, Process, text

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: What a phone number looks like (also published in the API document).
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,24}$")
_LARGEST = Decimal("1e15")
_TRUE = {"true", "yes", "y", "1", "on", "是"}
_FALSE = {"false", "no", "n", "0", "off", "否"}


class ValueProblem(QmsflowError, ValueError):
    """A value that does not fit its field; the message is for the person who typed it."""


def is_empty(value: Any) -> bool:
    """Whether a value counts as not given (None, blank text, empty list)."""
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, list | tuple) and not value)


def coerce(spec: Field, raw: Any, process: Process | None = None) -> Any:
    """The typed value of ``raw`` for ``spec``, or ValueProblem saying what is wrong."""
    if is_empty(raw):
        return None
    kind = spec.type
    if kind in ("text", "long_text", "phone", "email", "file", "user"):
        if not isinstance(raw, str):
            raise ValueProblem("expected text")
        value: Any = raw.strip() if kind != "long_text" else raw
        if kind == "email" and not _EMAIL.match(value):
            raise ValueProblem(f"{value!r} is not an e-mail address")
        if kind == "phone" and not PHONE.match(value):
            raise ValueProblem(f"{value!r} is not a phone number")
        _check_length(spec, value)
        if spec.pattern and not re.fullmatch(spec.pattern, value):
            raise ValueProblem(f"{value!r} does not have the expected form")
        return value
    if kind == "integer":
        if isinstance(raw, bool):
            raise ValueProblem("expected a whole number")
        try:
            value = int(str(raw).strip()) if not isinstance(raw, int) else raw
        except ValueError:
            raise ValueProblem(f"{raw!r} is not a whole number") from None
        return _check_range(spec, value)
    if kind in ("decimal", "money"):
        if isinstance(raw, bool):
            raise ValueProblem("expected a number")
        try:
            value = Decimal(str(raw).replace(",", "").strip())
        except InvalidOperation:
            raise ValueProblem(f"{raw!r} is not a number") from None
        if not value.is_finite():
            raise ValueProblem(f"{raw!r} is not a number")
        if abs(value) >= _LARGEST:
            # Beyond any real amount; it would also overflow decimal arithmetic and storage.
            raise ValueProblem(f"{raw!r} is too large: at most 15 digits before the point")
        if kind == "money" and value != value.quantize(Decimal("0.01")):
            raise ValueProblem("an amount has at most 2 decimal places")
        return _check_range(spec, value)
    if kind == "yes_no":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueProblem(f"{raw!r} is not yes or no")
    if kind == "date":
        if isinstance(raw, datetime):
            raise ValueProblem("expected a date without a time")
        try:
            value = raw if isinstance(raw, date) else date.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueProblem(f"{raw!r} is not a date (YYYY-MM-DD)") from None
        return _check_range(spec, value)
    if kind == "datetime":
        try:
            value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueProblem(f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
        if value.tzinfo is None or value.utcoffset() is None:
            # A time without its zone is ambiguous across sites and cannot be compared safely.
            raise ValueProblem(f"{raw!r} has no time zone: add the offset, e.g. +08:00")
        try:
            # Stored in UTC: a time at the very edge of year 1 or 9999 has no UTC equivalent.
            value.astimezone(UTC)
        except OverflowError:
            raise ValueProblem(f"{raw!r} is out of range") from None
        return value
    if kind == "choice":
        if not isinstance(raw, str) or raw not in spec.choices:
            raise ValueProblem(f"{raw!r} is not one of the choices: {', '.join(spec.choices)}")
        return raw
    if kind == "multi_choice":
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or any(i not in spec.choices for i in items):
            raise ValueProblem(f"{raw!r} is not among the choices: {', '.join(spec.choices)}")
        return sorted(set(items), key=list(spec.choices).index)
    if kind == "category":
        known = process.categories if process else {}
        if not isinstance(raw, str) or raw not in known:
            raise ValueProblem(f"{raw!r} is not a category")
        return raw
    raise ValueProblem(f"unsupported field type {kind}")  # the schema allows no other


def _check_length(spec: Field, value: str) -> None:
    if spec.min_length is not None and len(value) < spec.min_length:
        raise ValueProblem(f"needs at least {spec.min_length} characters")
    if spec.max_length is not None and len(value) > spec.max_length:
        raise ValueProblem(f"may have at most {spec.max_length} characters")


def _check_range(spec: Field, value: Any) -> Any:
    low: Any = spec.minimum
    high: Any = spec.maximum
    if isinstance(value, date):
        low = date.fromisoformat(low) if isinstance(low, str) else None
        high = date.fromisoformat(high) if isinstance(high, str) else None
    if low is not None and value < low:
        raise ValueProblem(f"must be at least {low}")
    if high is not None and value > high:
        raise ValueProblem(f"must be at most {high}")
    return value


def to_json(spec: Field, value: Any) -> Any:
    """A JSON-safe form of a typed value."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def from_json(spec: Field, value: Any, process: Process | None = None) -> Any:
    """The typed value of stored JSON (the inverse of :func:`to_json`).

    Stored values were checked when they were entered, so they are only re-typed here, never
    checked again: a later change of the field's rules must not make an old record unreadable,
    and every case list reads thousands of values.
    """
    if value is None:
        return None
    kind = spec.type
    try:
        if kind in ("decimal", "money"):
            return Decimal(str(value))
        if kind == "date":
            return date.fromisoformat(value)
        if kind == "datetime":
            return datetime.fromisoformat(value)
        if kind == "multi_choice":
            return list(value)
    except (TypeError, ValueError, InvalidOperation):
        raise ValueProblem(f"stored value {value!r} is not a {kind}") from None
    return value  # text, whole numbers, yes/no and choices keep their JSON type


def display(spec: Field, value: Any, locale: str) -> str:
    """A value as a person reads it in ``locale``."""
    if value is None:
        return ""
    if spec.type == "choice":
        choice = spec.choices.get(value)
        return text(choice.label, locale) if choice else str(value)
    if spec.type == "multi_choice":
        return ", ".join(text(spec.choices[v].label, locale) for v in value if v in spec.choices)
    if spec.type == "yes_no":
        return {True: {"zh-CN": "是"}.get(locale, "yes"), False: {"zh-CN": "否"}.get(
            locale, "no")}[bool(value)]
    if isinstance(value, Decimal) and spec.currency:
        return f"{spec.currency} {value:,.2f}"
    return str(value)


def local_time(moment: datetime | None, timezone: str) -> str:
    """A time as people at the organisation read it: in its time zone, to the minute ('' for
    none). Notifications and the screens both show times this way."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def values_to_json(process: Process, values: Mapping[str, Any]) -> dict[str, Any]:
    """All field values of a case as JSON-safe data."""
    return {name: to_json(process.fields[name], value) for name, value in values.items()
            if name in process.fields}


def values_from_json(process: Process, data: Mapping[str, Any]) -> dict[str, Any]:
    """All field values of a case from stored JSON."""
    return {name: from_json(process.fields[name], value, process)
            for name, value in data.items() if name in process.fields}

