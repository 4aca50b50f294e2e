"""One WTForms field per definition field type, with the validators its rules call for.

Messages WTForms already knows ("This field is required.") come from WTForms' own catalogs in
the form's locale; messages of our own go through the caller's ``gettext`` with literal English
msgids, so that ``pybabel extract`` finds them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import wtforms
from wtforms import validators as checks
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import UnboundField
from wtforms.widgets import CheckboxInput, ListWidget

from qmsflow.engine.cases import Actor
from qmsflow.engine.model import Field, Process, text
from qmsflow.engine.values import (
    DECIMAL_DIGITS,
    DECIMAL_PLACES,
    INTEGER_MAX,
    INTEGER_MIN,
    MAX_NUMBER_TEXT,
    Bounds,
    ValueProblem,
    bounds,
    coerce,
    decimal_problem,
    display,
    is_empty,
    text_problem,
)

from .convert import NO, YES, to_engine

Gettext = Callable[[str], str]

#: Label of the empty first option of a drop-down: nothing chosen yet.
EMPTY_OPTION = "—"


@dataclass(frozen=True)
class FileLimits:
    """What an upload may be: its largest size in bytes and its allowed extensions."""

    max_bytes: int = 10 * 1024 * 1024
    extensions: frozenset[str] = field(default_factory=lambda: frozenset({
        "pdf", "png", "jpg", "jpeg", "gif", "txt", "csv", "xlsx", "docx", "msg", "eml"}))


def blank(field: wtforms.Field) -> bool:
    """Whether the user gave nothing for ``field`` (blank text, no choice, no file)."""
    raw = field.raw_data if field.raw_data is not None else [field.data]
    return all(is_empty(item) or (hasattr(item, "filename") and not item.filename)
               for item in raw)


class Required:
    """The field must be given: like WTForms' InputRequired, but blank text counts as missing.

    InputRequired accepts "   ", which the engine then refuses as empty; DataRequired refuses
    0 and "no". Marks the input ``required`` for the browser.
    """

    field_flags = {"required": True}  # noqa: RUF012 - WTForms reads this class attribute

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if blank(field):
            field.errors[:] = []
            raise checks.StopValidation(field.gettext("This field is required."))
        if field.process_errors:
            raise checks.StopValidation()  # "not a valid number" says it all; no range check


class Optional:
    """An empty optional field is neither checked nor in error (WTForms' Optional, for all types).

    Empty number and date inputs make WTForms record "not a valid value"; for a field that may
    stay empty that is no error. Whether it must be given by condition is decided later, once
    the other values are known.
    """

    field_flags = {"optional": True}  # noqa: RUF012 - WTForms reads this class attribute

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if blank(field):
            field.errors[:] = []
            raise checks.StopValidation()
        if field.process_errors:
            raise checks.StopValidation()  # "not a valid number" says it all; no range check


class Check:
    """Refuses what ``accept(data)`` rejects, with a fixed message."""

    def __init__(self, accept: Callable[[Any], bool], message: str) -> None:
        self.accept = accept
        self.message = message

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if field.data is not None and not self.accept(field.data):
            raise checks.ValidationError(self.message)


class Finite:
    """A decimal must be a number: Decimal parses "NaN" and "Infinity", and comparing them fails."""

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if isinstance(field.data, Decimal) and not field.data.is_finite():
            raise checks.StopValidation(field.gettext("Not a valid decimal value."))


class NumberSize:
    """A number must have a size a person types: judged on the text sent (its length) and on
    the decimal's exponent, before any rule computes with it."""

    def __init__(self, kind: str, gettext: Gettext) -> None:
        self.kind = kind
        self.too_long = gettext("Enter a number of at most %(count)s characters.") % {
            "count": MAX_NUMBER_TEXT}
        self.too_large = gettext(
            "Enter a number with at most %(digits)s digits before the point and "
            "%(places)s after it.") % {"digits": DECIMAL_DIGITS, "places": DECIMAL_PLACES}

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        raw = field.raw_data[0] if field.raw_data else ""
        if isinstance(raw, str) and len(raw.strip()) > MAX_NUMBER_TEXT:
            field.errors = []  # WTForms' own "not a valid number" would only repeat it
            raise checks.StopValidation(self.too_long)
        if isinstance(field.data, Decimal) and field.data.is_finite() and decimal_problem(
                field.data):
            raise checks.StopValidation(self.too_large)


class PlainText:
    """Text without control characters (long text may keep line breaks and tabs) and without
    the invisible direction controls that make text read other than it is."""

    def __init__(self, multiline: bool, gettext: Gettext) -> None:
        self.multiline = multiline
        self.message = gettext(
            "Remove the control or direction characters (they may be invisible): line breaks "
            "and tabs are allowed only in long text.")

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if isinstance(field.data, str) and text_problem(field.data, self.multiline):
            raise checks.StopValidation(self.message)


class EngineRule:
    """The engine's own check of the value, last: what the form accepts, the engine accepts.

    The validators before it say the same things in the user's language; this one only
    speaks when a rule has no validator of its own, with the engine's English message.
    """

    def __init__(self, spec: Field, process: Process | None) -> None:
        self.spec = spec
        self.process = process

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if field.errors:
            return
        try:
            coerce(self.spec, to_engine(self.spec, field.data), self.process)
        except ValueProblem as problem:
            raise checks.ValidationError(str(problem)) from None


class FileCheck:
    """An upload must be small enough and of an allowed type."""

    def __init__(self, limits: FileLimits, gettext: Gettext) -> None:
        self.limits = limits
        allowed = ", ".join(sorted(limits.extensions))
        self.too_large = gettext("The file is larger than %(size)s.") % {
            "size": _size(limits.max_bytes)}
        self.wrong_type = gettext(
            "Files of this type are not accepted; allowed: %(extensions)s.") % {
            "extensions": allowed}

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        upload = field.data
        name = getattr(upload, "filename", None)
        if not name:
            return
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if extension not in self.limits.extensions:
            raise checks.ValidationError(self.wrong_type)
        if _upload_size(upload) > self.limits.max_bytes:
            raise checks.ValidationError(self.too_large)


class Checkboxes(wtforms.SelectMultipleField):
    """A multi-choice field shown as one checkbox per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: wtforms.Form) -> None:
        # WTForms' own message for a multiple choice is not translated in every catalog (zh);
        # the single-choice one is, and says the same.
        try:
            super().pre_validate(form)
        except checks.ValidationError:
            raise checks.ValidationError(self.gettext("Not a valid choice.")) from None


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if count < 1024 or unit == "MB":
            return f"{count:g} {unit}"
        count //= 1024
    return f"{count} MB"  # pragma: no cover - the loop always returns


def _upload_size(upload: Any) -> int:
    stream = getattr(upload, "stream", upload)
    try:
        position = stream.tell()
        stream.seek(0, 2)
        size = int(stream.tell())
        stream.seek(position)
    except (AttributeError, OSError):
        # Streams that cannot seek: trust what the client declared.
        return int(getattr(upload, "content_length", 0) or 0)
    return size


@dataclass(frozen=True)
class Context:
    """What every field of one form is made with."""

    process: Process | None  # None for a register's fields: they have no categories
    locale: str
    timezone: ZoneInfo
    people: Sequence[Actor]
    gettext: Gettext
    uploads: FileLimits


def make_field(spec: Field, required: bool, ctx: Context) -> UnboundField:
    """The WTForms field for ``spec``; ``required`` when the step always needs a value.

    Requirements by condition are not static validators: ``validate`` decides them once the
    submitted values are known.
    """
    first: list[Any] = []
    if spec.type in ("integer", "decimal", "money"):
        # Size first, by digits and exponent, before "required" (an unreadable number counts
        # as blank to it): no arithmetic on a number of a million digits.
        first.append(NumberSize(spec.type, ctx.gettext))
    if spec.type != "file":
        # A file already stored on the case satisfies "required"; validate() knows the case.
        first.append(Required() if required else Optional())
    rules = [*first, *_rules(spec, ctx)]
    if spec.type != "file":
        rules.append(EngineRule(spec, ctx.process))
    options: dict[str, Any] = {
        "label": text(spec.label, ctx.locale),
        "description": text(spec.help, ctx.locale) if spec.help else "",
        "validators": rules,
    }
    return _field(spec, ctx, options)


def _field(spec: Field, ctx: Context, options: dict[str, Any]) -> UnboundField:
    kind = spec.type
    if kind in ("text", "email", "phone", "register"):
        # A register field takes the key of the entry it refers to (a serial, a model).
        field_class = {"text": wtforms.StringField, "email": wtforms.EmailField,
                       "phone": wtforms.TelField, "register": wtforms.StringField}[kind]
        if kind == "register" and spec.register:
            # lookup.js offers matching entries as the user types; without it, a text box.
            options["render_kw"] = {"data-register": spec.register, "autocomplete": "off"}
        return field_class(filters=[_strip], **options)
    if kind == "long_text":
        return wtforms.TextAreaField(**options)
    if kind == "integer":
        return wtforms.IntegerField(**options)
    if kind in ("decimal", "money"):
        step = "0.01" if kind == "money" else "any"
        return wtforms.DecimalField(places=2 if kind == "money" else None,
                                    render_kw={"step": step}, **options)
    if kind == "date":
        return wtforms.DateField(**options)
    if kind == "datetime":
        # The first format is the one rendered: what a datetime-local input expects.
        return wtforms.DateTimeLocalField(
            format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                    "%Y-%m-%d %H:%M:%S"], tz=ctx.timezone, **options)
    if kind == "yes_no":
        return wtforms.RadioField(choices=[SelectChoice(YES, _yes_no(spec, True, ctx.locale)),
                                           SelectChoice(NO, _yes_no(spec, False, ctx.locale))],
                                  **options)
    if kind == "multi_choice":
        return Checkboxes(choices=_choices(spec, ctx), **options)
    if kind == "file":
        allowed = ",".join(f".{extension}" for extension in sorted(ctx.uploads.extensions))
        # A keyword, not a string key: "accept" is also a step id of the bundled set, and the
        # layer test keeps definition ids out of string constants.
        return wtforms.FileField(render_kw=dict(accept=allowed), **options)
    return wtforms.SelectField(choices=[SelectChoice("", EMPTY_OPTION), *_choices(spec, ctx)],
                               **options)


def _choices(spec: Field, ctx: Context) -> list[SelectChoice]:
    if spec.type == "category" and ctx.process is not None:
        # Indented by depth so the tree reads as a tree in a flat drop-down.
        return [SelectChoice(category.id, "\u00a0\u00a0\u00a0" * (len(category.path) - 1)
                             + f"{category.code} {text(category.label, ctx.locale)}")
                for category in ctx.process.categories.values()]
    if spec.type == "user":
        return [SelectChoice(person.id, f"{person.name} ({person.id})") for person in ctx.people
                if not spec.roles or set(spec.roles) & set(person.roles)]
    return [SelectChoice(choice.id, text(choice.label, ctx.locale))
            for choice in spec.choices.values()]


def _yes_no(spec: Field, value: bool, locale: str) -> str:
    # The engine's words, so a screen and a printed record say the same.
    word = display(spec, value, locale)
    return word[:1].upper() + word[1:]


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _rules(spec: Field, ctx: Context) -> list[Any]:
    gettext = ctx.gettext
    rules: list[Any] = []
    kind = spec.type
    limits = bounds(spec)  # the field's own, or the defaults where it declares none
    if kind in ("text", "long_text", "email", "phone", "register"):
        rules.append(checks.Length(min=spec.min_length if spec.min_length is not None else -1,
                                   max=limits.max_length if limits.max_length is not None
                                   else -1))
        rules.append(PlainText(kind == "long_text", gettext))
    if kind == "email":
        rules.append(Check(_format_accepts(spec, ctx.process), gettext(
            "Enter one e-mail address, e.g. name@example.com (no list, no name).")))
    if kind == "phone":
        rules.append(Check(_format_accepts(spec, ctx.process),
                           gettext("Enter a valid phone number.")))
    if spec.pattern and kind in ("text", "long_text", "email", "phone"):
        pattern = re.compile(spec.pattern)
        rules.append(Check(lambda value: pattern.fullmatch(value) is not None,
                           gettext("Enter a value in the expected format.")))
    if kind in ("decimal", "money"):
        rules.insert(0, Finite())
    if kind in ("integer", "decimal", "money"):
        if spec.minimum is not None or spec.maximum is not None:
            rules.append(checks.NumberRange(min=spec.minimum, max=spec.maximum))
        if kind == "integer":  # the default range: what a database stores
            rules.append(checks.NumberRange(min=INTEGER_MIN, max=INTEGER_MAX))
    if kind == "money":
        rules.append(Check(lambda value: value == value.quantize(Decimal("0.01")),
                           gettext("Enter an amount with at most 2 decimal places.")))
    if kind in ("date", "datetime"):
        rules.extend(_date_range(spec, limits, gettext))
    if kind == "file":
        rules.append(FileCheck(ctx.uploads, gettext))
    return rules


def _format_accepts(spec: Field, process: Process | None) -> Callable[[Any], bool]:
    # The engine's own e-mail and phone rules, without the length and pattern rules that have
    # messages of their own.
    bare = replace(spec, min_length=None, max_length=None, pattern=None)

    def accepts(value: Any) -> bool:
        try:
            coerce(bare, value, process)
        except ValueProblem:
            return False
        return True

    return accepts


class DayRange:
    """A date, or the day of a date and time, must lie within the field's range."""

    def __init__(self, low: date, high: date, message: str) -> None:
        self.low, self.high, self.message = low, high, message

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        data = field.data
        day = data.date() if isinstance(data, datetime) else data
        if isinstance(day, date) and not self.low <= day <= self.high:
            raise checks.StopValidation(self.message)


def _date_range(spec: Field, limits: Bounds, gettext: Gettext) -> list[DayRange]:
    """The field's own range, said as the definition declares it, then the whole range (its
    own bounds or the defaults, 1900-01-01 to 2100-12-31, where it declares none)."""
    low, high = limits.minimum, limits.maximum
    # WTForms' date-range messages are missing from some catalogs (zh); ours are extracted.
    # Formatted here: DateRange would print the bounds as date-times ("2026-01-01 00:00:00").
    whole = DayRange(low, high, gettext("Enter a date between %(min)s and %(max)s.") % {
        "min": low.isoformat(), "max": high.isoformat()})
    if spec.minimum is not None and spec.maximum is None:
        return [DayRange(low, DATE_MAX_EVER, gettext("Enter a date on or after %(min)s.") % {
            "min": low.isoformat()}), whole]
    if spec.maximum is not None and spec.minimum is None:
        return [DayRange(DATE_MIN_EVER, high, gettext("Enter a date on or before %(max)s.") % {
            "max": high.isoformat()}), whole]
    return [whole]


DATE_MIN_EVER = date.min
DATE_MAX_EVER = date.max
