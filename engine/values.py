"""Field values: coerce what a form or API sends into typed values, check them, store them.

Forms and the JSON API send text or JSON scalars; the engine keeps typed values (``Decimal`` for
money, ``date``/``datetime`` for dates) so expressions compare them correctly, and stores them as
JSON-safe data so a case saves and reloads unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .errors import QmsflowError
from .frozen import quick_init
from .model import Field, Process, text

#: One e-mail address and nothing else: no list (``a@x.com,b``), no name, no spaces or quotes.
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}")
#: What a phone number looks like (also published in the API document).
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,24}$")

# -- default bounds: where a field declares none, these hold (a definition overrides them with
# the field's min, max and max_length). Every value is checked against them before it is
# converted, so no input can make the server compute with a number of a million digits.

#: The longest number text read at all (sign, digits, point, exponent): longer is refused
#: before any conversion.
MAX_NUMBER_TEXT = 40
#: Whole numbers: the 64-bit signed range, what every database stores.
INTEGER_MIN = -(2**63)
INTEGER_MAX = 2**63 - 1
#: Decimal numbers and amounts: at most this many digits before the point ...
DECIMAL_DIGITS = 15
#: ... and this many after it.
DECIMAL_PLACES = 6
#: Dates (and the day of a date and time): a plausible range for events, births, shipments.
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2100, 12, 31)
#: Most characters of one-line text (text, phone, user, file), of long text, of an address.
TEXT_MAX = 2_000
LONG_TEXT_MAX = 20_000
EMAIL_MAX = 254
#: Bidirectional embedding, override and isolate characters: they make text read differently
#: from what it holds ("Trojan source"), in a one-line or a long text alike.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: The control characters long text may hold: line breaks and tabs.
_LONG_TEXT_CONTROLS = frozenset("\n\r\t")
# Every character text_problem() objects to (control characters, which are category Cc,
# U+2028/9, bidirectional controls and surrogates, category Cs), without and with the long
# text's line breaks and tabs: text with none of them, nearly all text, needs no walk.
_SUSPECT = "".join(sorted(BIDI_CONTROLS)) + "\u2028\u2029\ud800-\udfff"
_SUSPECT_TEXT = {
    False: re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_SUSPECT}]"),
    True: re.compile(f"[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f{_SUSPECT}]"),
}
_TRUE = {"true", "yes", "y", "1", "on", "是"}
_FALSE = {"false", "no", "n", "0", "off", "否"}


class ValueProblem(QmsflowError, ValueError):
    """A value that does not fit its field; the message is for the person who typed it.

    ``facts`` say which rule it breaks, for a screen or an answer in another language: ``rule``
    (characters, too_short, too_long, email, phone, pattern, number_text, number, digits,
    places, whole, minimum, maximum, date_range, date, datetime, timezone, choice, yes_no,
    type) and the rule's bounds (``min``, ``max``, ``count``, ``digits``, ``places``) as text.
    """

    def __init__(self, message: str, rule: str = "", **facts: Any) -> None:
        super().__init__(message)
        self.facts: dict[str, str] = {"rule": rule, **{k: str(v) for k, v in facts.items()}
                                      } if rule else {}


@quick_init
@dataclass(frozen=True)
class Bounds:
    """The limits a field's values are held to: its own, or the defaults where it has none."""

    minimum: Any
    maximum: Any
    max_length: int | None


def bounds(spec: Field) -> Bounds:
    """The limits of ``spec``: its declared ``min``, ``max`` and ``max_length``, each default
    where the definition gives none (dates 1900-01-01 to 2100-12-31, whole numbers in 64 bits,
    one-line text 2,000 characters, long text 20,000). Decimals and amounts are held to their
    digits instead (:func:`decimal_problem`): 15 before the point, 6 after."""
    kind = spec.type
    low: Any = spec.minimum
    high: Any = spec.maximum
    if kind in ("date", "datetime"):
        low = _day(low) or DATE_MIN
        high = _day(high) or DATE_MAX
    elif kind == "integer":
        low = INTEGER_MIN if low is None else low
        high = INTEGER_MAX if high is None else high
    longest = spec.max_length
    if longest is None and kind in ("text", "phone", "user", "file", "register"):
        longest = TEXT_MAX
    elif longest is None and kind == "long_text":
        longest = LONG_TEXT_MAX
    elif kind == "email":
        longest = min(longest or EMAIL_MAX, EMAIL_MAX)
    return Bounds(low, high, longest)


def _day(bound: Any) -> date | None:
    """A date bound written as text (YYYY-MM-DD, or a date and time whose day counts)."""
    if not isinstance(bound, str):
        return None
    try:
        return date.fromisoformat(bound[:10])
    except ValueError:
        return None  # the compiler reports it (E207); the default holds meanwhile


def text_problem(value: str, multiline: bool) -> str | None:
    """Why ``value`` cannot be stored as text, or None: control characters (line breaks and
    tabs only in long text), bidirectional controls, NUL, unpaired surrogates."""
    if _SUSPECT_TEXT[multiline].search(value) is None:
        return None  # no character the walk below would stop at
    for index, char in enumerate(value):
        if char in BIDI_CONTROLS:
            return (f"holds the invisible direction control U+{ord(char):04X} at character "
                    f"{index + 1}: remove it")
        if multiline and char in _LONG_TEXT_CONTROLS:
            continue
        category = unicodedata.category(char)
        if category == "Cc" or char in "\u2028\u2029":
            where = "a line break" if char in "\n\r\u2028\u2029" else (
                f"the control character U+{ord(char):04X}")
            return (f"holds {where} at character {index + 1}: "
                    + ("remove it" if multiline else "write it on one line"))
        if category == "Cs":
            return f"holds an invalid character at character {index + 1}: remove it"
    return None


#: The characters :meth:`str.strip` removes (those of :meth:`str.isspace`), as the body of a
#: regular-expression class: blank text is text of these alone.
SPACE_CLASS = ("\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f"
               "\\u205f\\u3000")
#: Those that text may hold (the others are control characters): the spaces of Unicode
#: category Zs, and in long text tabs and line breaks.
_SPACES = "\\x20\\xa0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000"
_LINE_BREAKS = "\\t\\n\\r"


def text_pattern(multiline: bool, required: bool) -> str:
    """:func:`text_problem` (and, when ``required``, "not blank") as one regular expression,
    for the API document: written so that ECMA-262 (JSON Schema's dialect) and Python read it
    alike, and so that no input makes it backtrack. Unpaired surrogates are not in it (an
    ECMA-262 pattern cannot name them without refusing every character beyond U+FFFF)."""
    refused = ("\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f" if multiline else
               "\\x00-\\x1f\\x7f-\\x9f") + "\\u2028\\u2029" + "".join(
        f"\\u{ord(char):04x}" for char in sorted(BIDI_CONTROLS))
    if not required:
        return f"^[^{refused}]*$"
    # Spaces, then one character that is neither space nor refused, then anything allowed:
    # the first two classes are disjoint, so a match is found in one pass.
    spaces = _SPACES + (_LINE_BREAKS if multiline else "")
    return f"^[{spaces}]*[^{SPACE_CLASS}{refused}][^{refused}]*$"


def number_text(raw: str) -> str:
    """``raw`` as number text to convert (stripped, thousands separators removed), or
    ValueProblem when it is too long to be a number anyone typed: checked before converting,
    so a million digits cost nothing."""
    value = raw.replace(",", "").strip()
    if len(value) > MAX_NUMBER_TEXT:
        raise ValueProblem(f"a number of {len(value)} characters is too long: write at most "
                           f"{MAX_NUMBER_TEXT}", "number_text", count=MAX_NUMBER_TEXT)
    return value


def decimal_problem(value: Decimal) -> str | None:
    """Why a decimal cannot be taken, by its exponent and digit count alone (no arithmetic
    on its size), or None."""
    if not value.is_finite():
        return "is not a number"
    if value and value.adjusted() >= DECIMAL_DIGITS:
        return f"is too large: at most {DECIMAL_DIGITS} digits before the point"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > DECIMAL_PLACES and value != value.quantize(
            Decimal(1).scaleb(-DECIMAL_PLACES), rounding="ROUND_DOWN"):
        return f"has too many decimal places: at most {DECIMAL_PLACES}"
    return None


def whole_number(raw: Any) -> int | None:
    """``raw`` as a whole number when it is one of a size any database stores (an int, or an
    integral Decimal with fewer than 19 digits), else None; never converts a huge value."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if INTEGER_MIN <= raw <= INTEGER_MAX else None
    if isinstance(raw, Decimal) and raw.is_finite() and (not raw or raw.adjusted() < 19) \
            and raw == raw.to_integral_value():
        number = int(raw)
        return number if INTEGER_MIN <= number <= INTEGER_MAX else None
    return None


def is_empty(value: Any) -> bool:
    """Whether a value counts as not given (None, blank text, empty list)."""
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, list | tuple) and not value)


def coerce(spec: Field, raw: Any, process: Process | None = None) -> Any:
    """The typed value of ``raw`` for ``spec``, or ValueProblem saying what is wrong."""
    if is_empty(raw):
        return None
    kind = spec.type
    if kind in ("text", "long_text", "phone", "email", "file", "user", "register"):
        # A register field holds the key of the entry it refers to; whether that entry exists
        # is for the store to say (the engine reads no database).
        if not isinstance(raw, str):
            raise ValueProblem("expected text", "type")
        value: Any = raw.strip() if kind != "long_text" else raw
        _check_length(spec, value)
        wrong = text_problem(value, multiline=kind == "long_text")
        if wrong:
            raise ValueProblem(f"the text {wrong}", "characters")
        if kind == "email" and not EMAIL.fullmatch(value):
            raise ValueProblem(f"{value!r} is not an e-mail address: write one address, "
                               "e.g. name@example.com", "email")
        if kind == "phone" and not PHONE.match(value):
            raise ValueProblem(f"{value!r} is not a phone number", "phone")
        if spec.pattern and not re.fullmatch(spec.pattern, value):
            raise ValueProblem(f"{value!r} does not have the expected form", "pattern")
        return value
    if kind == "integer":
        if isinstance(raw, bool | float):
            raise ValueProblem("expected a whole number", "whole",
                               min=INTEGER_MIN, max=INTEGER_MAX)
        if isinstance(raw, int | Decimal):
            value = whole_number(raw)
            if value is None:
                raise ValueProblem(f"{_short(raw)} is not a whole number from {INTEGER_MIN} "
                                   f"to {INTEGER_MAX}", "whole",
                               min=INTEGER_MIN, max=INTEGER_MAX)
            return _check_range(spec, value)
        written = number_text(str(raw))
        if not re.fullmatch(r"[+-]?[0-9]{1,19}", written):
            raise ValueProblem(f"{_short(raw)} is not a whole number", "whole",
                               min=INTEGER_MIN, max=INTEGER_MAX)
        return _check_range(spec, int(written))
    if kind in ("decimal", "money"):
        if isinstance(raw, bool):
            raise ValueProblem("expected a number", "number")
        try:
            value = raw if isinstance(raw, Decimal) else Decimal(number_text(str(raw)))
        except InvalidOperation:
            raise ValueProblem(f"{_short(raw)} is not a number", "number") from None
        # Judged by exponent and digits before any arithmetic: beyond any real amount, a value
        # would also overflow decimal arithmetic and storage.
        wrong = decimal_problem(value)
        if wrong:
            raise ValueProblem(f"{_short(raw)} {wrong}", "number" if not value.is_finite() else
                               "digits", digits=DECIMAL_DIGITS, places=DECIMAL_PLACES)
        if kind == "money" and value != value.quantize(Decimal("0.01")):
            raise ValueProblem("an amount has at most 2 decimal places", "places", places=2)
        return _check_range(spec, value)
    if kind == "yes_no":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueProblem(f"{raw!r} is not yes or no", "yes_no")
    if kind == "date":
        if isinstance(raw, datetime):
            raise ValueProblem("expected a date without a time", "date")
        try:
            value = raw if isinstance(raw, date) else date.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueProblem(f"{raw!r} is not a date (YYYY-MM-DD)", "date") from None
        return _check_range(spec, value)
    if kind == "datetime":
        try:
            value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueProblem(f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM)",
                               "datetime") from None
        if value.tzinfo is None or value.utcoffset() is None:
            # A time without its zone is ambiguous across sites and cannot be compared safely.
            raise ValueProblem(f"{raw!r} has no time zone: add the offset, e.g. +08:00",
                               "timezone")
        _check_range(spec, value)
        try:
            # Stored in UTC: a time at the very edge of year 1 or 9999 has no UTC equivalent.
            value.astimezone(UTC)
        except OverflowError:
            limits = bounds(spec)
            raise ValueProblem(f"{raw!r} is out of range", "date_range", min=limits.minimum,
                               max=limits.maximum) from None
        return value
    if kind == "choice":
        if not isinstance(raw, str) or raw not in spec.choices:
            raise ValueProblem(f"{raw!r} is not one of the choices: {', '.join(spec.choices)}",
                               "choice")
        return raw
    if kind == "multi_choice":
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple) or any(i not in spec.choices for i in items):
            raise ValueProblem(f"{raw!r} is not among the choices: {', '.join(spec.choices)}",
                               "choice")
        return sorted(set(items), key=list(spec.choices).index)
    if kind == "category":
        known = process.categories if process else {}
        if not isinstance(raw, str) or raw not in known:
            raise ValueProblem(f"{raw!r} is not a category", "choice")
        return raw
    raise ValueProblem(f"unsupported field type {kind}")  # the schema allows no other


def _short(raw: Any) -> str:
    """``raw`` for a message: a value of thousands of characters is cut."""
    shown = str(raw) if isinstance(raw, int | Decimal) else repr(raw)
    return shown if len(shown) <= 60 else f"{shown[:40]}... ({len(shown)} characters)"


def _check_length(spec: Field, value: str) -> None:
    longest = bounds(spec).max_length
    if spec.min_length is not None and len(value) < spec.min_length:
        raise ValueProblem(f"needs at least {spec.min_length} characters", "too_short",
                           min=spec.min_length)
    if longest is not None and len(value) > longest:
        raise ValueProblem(f"may have at most {longest} characters (it has {len(value)})",
                           "too_long", max=longest, count=len(value))


def _check_range(spec: Field, value: Any) -> Any:
    limits = bounds(spec)
    low, high, shown = limits.minimum, limits.maximum, value
    if isinstance(value, datetime):
        shown = value = value.date()  # a date and time is held to its day's range
    if isinstance(value, date):
        if not low <= value <= high:
            raise ValueProblem(f"{shown} is out of range: write a date from {low} to {high}",
                               "date_range", min=low, max=high)
        return value
    if low is not None and value < low:
        raise ValueProblem(f"must be at least {low}", "minimum", min=low)
    if high is not None and value > high:
        raise ValueProblem(f"must be at most {high}", "maximum", max=high)
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


def display(spec: Field, value: Any, locale: str,
            names: Mapping[str, str] | None = None) -> str:
    """A value as a person reads it in ``locale``; ``names`` (user id -> name) shows a user
    field as the person's name, as people know each other, not by an account id."""
    if value is None:
        return ""
    if spec.type == "user" and names:
        return names.get(str(value), str(value))
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

