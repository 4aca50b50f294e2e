"""A process's state machine: drawn in the browser from DOT, and as tables of states and steps."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, render_template, request

from qmsflow.engine import graph
from qmsflow.engine.model import DefinitionSet, Process
from qmsflow.engine.persistence import UnknownVersion
from qmsflow.engine.problems import DefinitionError

from ..auth import service
from ..i18n import definition as served
from ..i18n import gettext as _
from ..i18n import label, locale
from . import bp


@dataclass(frozen=True)
class ShownState:
    """A row of the states table."""

    id: str
    label: str
    owner: str
    final: bool


@dataclass(frozen=True)
class ShownStep:
    """A row of the transitions table."""

    id: str
    label: str
    sources: str
    target: str
    roles: str
    signature: str
    authority: str


def role_names(definition: DefinitionSet, roles: tuple[str, ...]) -> str:
    """Roles by their labels, as the organisation names them."""
    known = definition.organisation.roles
    return ", ".join(label(known[r].label) if r in known else r for r in roles)


def meaning_name(definition: DefinitionSet, meaning: str | None) -> str:
    """A signature meaning's label in ``definition`` (which need not be the served set)."""
    if meaning is None:
        return ""
    found = definition.organisation.signature_meanings.get(meaning)
    return label(found.label) if found is not None else meaning


def states(definition: DefinitionSet, process: Process) -> list[ShownState]:
    """The process's states with owner role and whether the case ends there."""
    return [ShownState(state.id, label(state.label),
                       role_names(definition, (state.owner,)) if state.owner else "",
                       state.final) for state in process.states.values()]


def steps(definition: DefinitionSet, process: Process) -> list[ShownStep]:
    """Start steps and transitions with their source and target states, roles and rules."""
    def state_name(state_id: str) -> str:
        state = process.states.get(state_id)
        return label(state.label) if state else state_id

    result = []
    for step in process.every_step():
        authority = process.authorities.get(step.authority) if step.authority else None
        result.append(ShownStep(
            step.id, label(step.label),
            _("(new case)") if step.start else _("(any open state)")
            if step.from_keyword == "any" else _("(any state, finished ones too)")
            if step.from_keyword == "all" else ", ".join(state_name(s) for s in step.sources),
            _("(stays where it is)") if step.target is None else state_name(step.target),
            role_names(definition, step.roles),
            meaning_name(definition, step.signature),
            label(authority.label) if authority else (step.authority or "")))
    return result


def chosen_definition() -> DefinitionSet:
    """The served set, or the stored version named by ``?version=`` (404 if unknown)."""
    wanted = request.args.get("version", "")
    if not wanted or wanted == served().version:
        return served()
    if len(wanted) < 6:
        abort(404)
    try:
        return service().definition(wanted)
    except (UnknownVersion, DefinitionError):
        abort(404)


@bp.app_template_global()
def case_diagram(definition: DefinitionSet, process: Process, state: str) -> str:
    """The DOT of ``process`` in the reader's language with the case's ``state`` highlighted,
    for the case page's diagram (``cases/_state_diagram.html``, read by every case reader, not
    only administrators: it shows the process the case already runs on)."""
    return graph.dot(process, locale(), definition.organisation, current=state)


@bp.route("/processes/<process_id>")
def process(process_id: str) -> str:
    """The state diagram and the tables of one process."""
    definition = chosen_definition()
    found = definition.processes.get(process_id)
    if found is None:
        abort(404)
    here = locale()
    return render_template(
        "admin/process.html", definition=definition, process=found,
        is_served=definition.version == served().version,
        dot=graph.dot(found, here, definition.organisation),
        mermaid=graph.mermaid(found, here, definition.organisation),
        states=states(definition, found), steps=steps(definition, found))
