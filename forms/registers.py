"""Build the WTForms class of a register's entry form, with the fields of a case step.

Each field is made by the same :func:`.fields.make_field` as a step form's, so a register's
field takes the same input, with the same checks and messages, as a case field of its type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import wtforms

from qmsflow.engine.model import Field, Register

from .build import _meta
from .convert import to_engine, to_form
from .fields import Context, FileLimits, make_field


class EntryForm:
    """What every form class built by :func:`build_register_form` carries besides its
    fields: the register and the fields it edits, in order."""

    register: ClassVar[Register]
    editable: ClassVar[Mapping[str, Field]]

    @classmethod
    def initial(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """The ``data=`` that pre-fills the form with an entry's values."""
        return {name: to_form(spec, values.get(name)) for name, spec in cls.editable.items()
                if values.get(name) is not None}

    def raw(self) -> dict[str, Any]:
        """What the form holds, as engine input for :func:`~qmsflow.engine.registers.
        entry_values` (a blank input clears its field)."""
        form: Any = self
        return {name: to_engine(spec, form[name].data) for name, spec in self.editable.items()}


def _same(message: str) -> str:
    return message


def build_register_form(register: Register, locale: str, timezone: str, *,
                        editing: bool = False, base: type[wtforms.Form] = wtforms.Form,
                        gettext: Callable[[str], str] = _same) -> type[wtforms.Form]:
    """The form of one entry of ``register`` in ``locale``: every field but files (a register
    stores no uploads yet) and, when ``editing``, the key (it names the entry for good)."""
    ctx = Context(None, locale, ZoneInfo(timezone), (), gettext, FileLimits())
    editable = {name: spec for name, spec in register.fields.items()
                if spec.type != "file" and not (editing and name == register.key)}
    attrs: dict[str, Any] = {
        name: make_field(spec, spec.required is True, ctx) for name, spec in editable.items()}
    attrs.update(Meta=_meta(locale), register=register, editable=editable)
    return type(f"EntryForm_{register.id}", (EntryForm, base), attrs)
