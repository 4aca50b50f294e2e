"""Validate a posted step form, turn it into engine inputs, and show the engine's refusals.

WTForms' static validators run first; then what they cannot know: which sections and fields
are shown for the values just submitted (hidden ones are neither validated nor submitted), and
which fields are required by condition or by the chosen category, as the engine decides it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import wtforms

from qmsflow.engine.machine import Reason, required_fields
from qmsflow.engine.values import is_empty

from .convert import to_engine
from .fields import blank
from .visibility import shown, spec_of

# Where validate() leaves the fields it found shown, for files() and attach_reasons().
_SHOWN = "_qmsflow_shown"


def validate(form: wtforms.Form, case_values: Mapping[str, Any]) -> bool:
    """Validate ``form`` against its step and the case; errors go onto the fields.

    ``case_values`` are the case's values (or its engine context, which adds ``state`` and the
    like for conditions); empty for a case not opened yet. Returns whether the form is valid.
    """
    form.validate()
    spec = spec_of(form)
    visible, values = shown(form, case_values)
    setattr(form, _SHOWN, visible)
    # The engine's own rule, on the values as shown: by condition or by the chosen category.
    required = required_fields(spec.process, spec.step, values)
    for name, field_spec in spec.editable.items():
        field = form[name]
        if name not in visible:
            field.errors = []
            continue
        if field.errors or name not in required:
            continue
        stored = field_spec.type == "file" and not is_empty(case_values.get(name))
        if blank(field) and not stored:
            # WTForms' own message, so its catalogs say it in the form's language.
            field.errors = [field.gettext("This field is required.")]
    return not form.errors


def inputs(form: wtforms.Form, case_values: Mapping[str, Any]) -> dict[str, Any]:
    """The engine inputs of a validated form: every shown editable field except files.

    An emptied field is None, so the engine clears it; hidden fields are left out, so the case
    keeps what it has. File fields come from :func:`files`: the web stores the upload and puts
    the stored reference into the inputs itself.
    """
    spec = spec_of(form)
    visible, _ = shown(form, case_values)
    result: dict[str, Any] = {}
    for name, field_spec in spec.editable.items():
        if name not in visible or field_spec.type == "file":
            continue
        value = to_engine(field_spec, form[name].data)
        old = case_values.get(name)
        if isinstance(value, datetime) and isinstance(old, datetime) and _same_minute(
                value, old):
            # The input shows minutes only; an unchanged time must not lose its seconds and
            # read as a change.
            value = old
        result[name] = value
    return result


def _same_minute(new: datetime, old: datetime) -> bool:
    if old.tzinfo is None or new.tzinfo is None:
        return False
    return old.astimezone(new.tzinfo).replace(second=0, microsecond=0) == new


def files(form: wtforms.Form) -> dict[str, Any]:
    """The uploaded file objects of the form's shown file fields, by field id."""
    spec = spec_of(form)
    visible = getattr(form, _SHOWN, None)
    result: dict[str, Any] = {}
    for name, field_spec in spec.editable.items():
        data = form[name].data
        if (field_spec.type == "file" and getattr(data, "filename", None)
                and (visible is None or name in visible)):
            result[name] = data
    return result


def unexpected(form_class: type[wtforms.Form], names: Iterable[str],
               allowed: Iterable[str] = ()) -> list[str]:
    """The posted ``names`` the form has no field for, except ``allowed`` ones, each once."""
    known = {name for name in dir(form_class)
             if getattr(getattr(form_class, name, None), "_formfield", False)}
    known |= set(allowed)
    return list(dict.fromkeys(name for name in names if name not in known))


def attach_reasons(form: wtforms.Form, reasons: Iterable[Reason]) -> list[Reason]:
    """Put each engine refusal that names a shown field of the form onto that field.

    Returns the others, for the top of the form: reasons about the step, the role, the
    signature, or a field the user cannot change here.
    """
    spec = spec_of(form)
    visible = getattr(form, _SHOWN, None)
    rest: list[Reason] = []
    for reason in reasons:
        name = reason.field
        if name is None or name not in spec.editable or (
                visible is not None and name not in visible):
            rest.append(reason)
            continue
        field = form[name]
        if reason.code == "missing":
            message = field.gettext("This field is required.")
        else:
            # The engine says "field: problem" for a list of reasons; under the field, the
            # problem is enough.
            message = reason.message.removeprefix(f"{name}: ")
        if message not in field.errors:
            field.errors = [*field.errors, message]
    return rest
