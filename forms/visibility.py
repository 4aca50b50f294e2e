"""What a built form knows about its step, and which of its fields are shown for given values.

Conditions (``show_if``, and the engine's required-by-condition) read the case's values
overlaid with what the user just submitted, typed the way the engine types them. A field that
is hidden counts as empty for the other conditions, exactly as in the browser, where a hidden
input is disabled and not posted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import wtforms

from qmsflow.engine.expressions import EvaluationError, Expression
from qmsflow.engine.machine import context as engine_context
from qmsflow.engine.model import Field, Process, Step

from .convert import to_engine, typed
from .layout import Layout


@dataclass(frozen=True)
class FormSpec:
    """What a form class built by ``build_form`` knows besides its fields."""

    process: Process
    step: Step
    layout: Layout
    locale: str
    timezone: ZoneInfo
    #: The fields the user may change here, by id.
    editable: Mapping[str, Field]
    #: The conditions of each editable field's placement: its section's and its own.
    conditions: Mapping[str, tuple[Expression | None, Expression | None]]


def spec_of(form: wtforms.Form | type[wtforms.Form]) -> FormSpec:
    """The spec of a form (or form class) built by ``build_form``."""
    spec = getattr(form, "form_spec", None)
    if not isinstance(spec, FormSpec):
        raise TypeError(f"{form!r} was not built by qmsflow.forms.build_form")
    return spec


def holds(expression: Expression | None, context: Mapping[str, Any]) -> bool:
    """Whether a ``show_if`` condition holds; None always does, and so does one that fails.

    Showing is the safe choice when in doubt: a shown field is validated, and the engine, which
    requires a field whose ``required`` condition cannot be evaluated (see
    :func:`qmsflow.engine.machine.required_fields`), decides.
    """
    if expression is None:
        return True
    try:
        return expression.test(context)
    except EvaluationError:
        return True


def submitted(form: wtforms.Form) -> dict[str, Any]:
    """The typed values the user gave for the form's editable fields (None when empty).

    A file field counts only when a file was chosen; otherwise the case keeps what it has.
    """
    spec = spec_of(form)
    result: dict[str, Any] = {}
    for name, field_spec in spec.editable.items():
        raw = to_engine(field_spec, form[name].data)
        if field_spec.type == "file":
            if raw is not None:
                result[name] = raw
            continue
        result[name] = typed(field_spec, raw, spec.process)
    return result


def context(spec: FormSpec, case_values: Mapping[str, Any],
            given: Mapping[str, Any]) -> dict[str, Any]:
    """The names a condition reads: the case's values overlaid with ``given`` ones.

    ``case_values`` may be the case's field values alone or a whole engine context (with
    ``state``, ``priority`` ...); attributes it carries are kept, except those the engine
    derives from the values (the category path), which follow the new values.
    """
    process = spec.process
    values = {name: case_values.get(name) for name in process.fields}
    values.update(given)
    result = engine_context(process, values)
    derived = {"category_path"}
    for key, value in case_values.items():
        if key not in process.fields and key not in derived:
            result[key] = value
    return result


def shown(form: wtforms.Form, case_values: Mapping[str, Any]) -> tuple[frozenset[str],
                                                                         dict[str, Any]]:
    """The editable fields shown for the submitted values, and the context that decided it."""
    spec = spec_of(form)
    given = submitted(form)
    hidden: frozenset[str] = frozenset()
    values = context(spec, case_values, given)
    # A hidden field counts as empty, which may hide another: repeat until nothing changes.
    # Each round can only follow a chain one step, so the number of fields bounds the rounds.
    for _ in range(len(spec.conditions) + 1):
        now_hidden = frozenset(
            name for name, (section_if, field_if) in spec.conditions.items()
            if not (holds(section_if, values) and holds(field_if, values)))
        if now_hidden == hidden:
            break
        hidden = now_hidden
        values = context(spec, case_values, {
            name: None if name in hidden else value for name, value in given.items()})
    return frozenset(spec.editable) - hidden, values
