"""Fixtures for the forms tests: the example client set, people to pick, posts of valid values."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import wtforms
from werkzeug.datastructures import FileStorage, MultiDict

from qmsflow.engine.cases import Actor
from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet, Field, Process, Step
from qmsflow.forms import build_form

from ..conftest import EXAMPLE_SETS

#: People of every role of the default set, and one who holds none.
PEOPLE = (
    Actor("zhang", "Zhang San", frozenset({"quality_manager", "quality"})),
    Actor("li", "Li Si", frozenset({"sales"})),
    Actor("wang", "Wang Wu", frozenset({"engineer"})),
    Actor("zhao", "Zhao Liu", frozenset({"technical_manager", "technical"})),
    Actor("visitor", "Guest", frozenset()),
)


@pytest.fixture(scope="session")
def example_sets() -> list[DefinitionSet]:
    """The bundled example client sets, compiled once."""
    return [load(path) for path in EXAMPLE_SETS]


def steps(definition: DefinitionSet) -> Iterator[tuple[Process, Step]]:
    """Every step of every process of a set, those that open a case included."""
    for process in definition.processes.values():
        yield from ((process, step) for step in process.every_step())


def find(definition: DefinitionSet, wanted: Callable[[Process, Step, Field], bool],
         ) -> tuple[Process, Step, Field]:
    """The first step (in definition order) with an editable field that ``wanted`` accepts."""
    for process, step in steps(definition):
        form_class = build_form(definition, process, step, "en")
        for name, spec in form_class.form_spec.editable.items():
            if wanted(process, step, spec):
                return process, step, process.fields[name]
    raise LookupError("no step of the set has such a field")


def valid_value(process: Process, spec: Field) -> Any:
    """A value a user could type into ``spec`` that breaks none of its rules."""
    kind = spec.type
    if kind in ("text", "long_text"):
        return "x" * max(spec.min_length or 0, 12)
    if kind == "register":
        return "SN-0001"  # an entry's key: whether it exists is the store's to say
    if kind == "email":
        return "someone@example.com"
    if kind == "phone":
        return "+86 21 5555 0100"
    if kind in ("integer", "decimal", "money"):
        low = spec.minimum if spec.minimum is not None else 1
        return str(max(int(low), 1))
    if kind == "date":
        return "2026-03-02"
    if kind == "datetime":
        return "2026-03-02T10:00"
    if kind in ("choice", "multi_choice"):
        return next(iter(spec.choices))
    if kind == "yes_no":
        return "yes"
    if kind == "category":
        return next(iter(process.categories))
    if kind == "user":
        return next(person.id for person in PEOPLE
                    if not spec.roles or set(spec.roles) & person.roles)
    return FileStorage(io.BytesIO(b"%PDF-1.4 test"), filename="record.pdf")


def valid_post(form_class: type[wtforms.Form], **changes: Any) -> MultiDict[str, Any]:
    """Form data giving every editable field a valid value, with ``changes`` on top.

    A change of None leaves the field out of the post, as a browser does for an empty input
    or a hidden (disabled) one; a list posts the name once per item.
    """
    spec = form_class.form_spec
    data: dict[str, Any] = {name: valid_value(spec.process, field)
                            for name, field in spec.editable.items()}
    data.update(changes)
    pairs = []
    for name, value in data.items():
        if value is None:
            continue
        pairs.extend((name, item) for item in (value if isinstance(value, list) else [value]))
    return MultiDict(pairs)


def errors_of(form: wtforms.Form) -> Mapping[str, list[str]]:
    """The form's errors by field, for readable assertion failures."""
    return {name: list(messages) for name, messages in form.errors.items()}
