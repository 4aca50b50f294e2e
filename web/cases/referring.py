"""The register entries a case refers to, and the other cases that refer to the same entry.

On the case page: a device's history (every case naming the same serial, as far as the reader
may read them) with a link to the entry's page. On a step form: a warning, never a refusal,
when the entry already has open cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_login import current_user

from qmsflow.engine.model import DefinitionSet, Process
from qmsflow.engine.references import referring

from ..auth import service
from ..i18n import label


@dataclass(frozen=True)
class OtherCase:
    """A case naming the same entry, as a list row shows it."""

    number: str
    process: str
    state: str
    opened: datetime
    open: bool


@dataclass(frozen=True)
class Reference:
    """One register field of a case with a value: the entry, whether the reader may open its
    page, and the cases that name it."""

    field: str
    register: str
    register_label: str
    key: str
    readable: bool
    cases: tuple[OtherCase, ...]


def _other(definition: DefinitionSet, number: str, process_id: str, state: str,
           created_at: datetime, closed: bool) -> OtherCase:
    process = definition.processes.get(process_id)
    state_label = (label(process.states[state].label)
                   if process is not None and state in process.states else state)
    return OtherCase(number, label(process.label) if process else process_id, state_label,
                     created_at, not closed)


def references(definition: DefinitionSet, process: Process, values: Mapping[str, Any],
               open_only: bool = False, leave_out: str | None = None) -> list[Reference]:
    """The entries ``values`` refer to, each with the cases naming it that the signed-in user
    may read (only the open ones with ``open_only``; without the case ``leave_out``)."""
    found = []
    for name, register_id in referring(process).items():
        key = values.get(name)
        register = definition.registers.get(register_id)
        if not isinstance(key, str) or not key or register is None:
            continue
        cases = naming(definition, register_id, key, open_only, leave_out)
        found.append(Reference(label(process.fields[name].label), register_id,
                               label(register.entry_label), key,
                               register.may_read(current_user.roles), cases))
    return found


def naming(definition: DefinitionSet, register_id: str, key: str, open_only: bool = False,
           leave_out: str | None = None) -> tuple[OtherCase, ...]:
    """The cases naming the entry ``key`` of ``register_id`` that the signed-in user may read
    (only the open ones with ``open_only``; without the case ``leave_out``), oldest first."""
    return tuple(
        _other(definition, case.number, case.process, case.state, case.created_at,
               case.closed_at is not None)
        for case in service().referring(register_id, key, current_user.id, open_only)
        if case.number != leave_out)
