"""A running case: plain, immutable data that saves to JSON and reloads unchanged.

The engine never changes a case in place: :func:`.machine.apply` returns a new one. Everything
here is data; rules live in :mod:`.machine`, deadlines in :mod:`.clocks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from .frozen import quick_init
from .model import DefinitionSet, frozen_map
from .values import values_from_json, values_to_json

ClockStatus = Literal["running", "paused", "stopped"]


@dataclass(frozen=True)
class Actor:
    """Who acts: a user's unique id, printed name and roles."""

    id: str
    name: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Signature:
    """An electronic signature given with a step.

    The caller re-authenticated the signer (password again, 21 CFR 11.200) before building it;
    the engine checks that a signature is there, is the signer's own and has the meaning the
    definition asks for.
    """

    signer_id: str
    meaning: str
    authenticated: bool


@quick_init
@dataclass(frozen=True)
class ClockState:
    """One deadline clock of a case; times are aware UTC datetimes."""

    id: str
    variant: str
    status: ClockStatus
    started_at: datetime
    due_at: datetime
    warn_at: datetime | None
    paused_at: datetime | None = None
    stopped_at: datetime | None = None
    unofficial_years: tuple[int, ...] = ()
    warned: bool = False
    breached: bool = False
    paused_hours: float = 0.0  # time spent paused so far (working hours on working clocks)


@quick_init
@dataclass(frozen=True)
class StepRecord:
    """Who took which step when (needed for separation of duties)."""

    step: str
    actor: str
    at: datetime


@quick_init
@dataclass(frozen=True)
class Link:
    """A relation to another case, e.g. a follow-up complaint or the service record it came from."""

    relation: str
    process: str
    number: str


@quick_init
@dataclass(frozen=True)
class Case:
    """A case at one moment of its life."""

    process: str
    version: str
    number: str
    state: str
    values: Mapping[str, Any]
    priority: str
    flags: frozenset[str]
    assignee_role: str | None
    created_at: datetime
    updated_at: datetime
    clocks: Mapping[str, ClockState] = field(default_factory=lambda: frozen_map())
    steps: tuple[StepRecord, ...] = ()
    links: tuple[Link, ...] = ()
    assignee: str | None = None
    priority_override: str | None = None
    closed_at: datetime | None = None
    row_version: int = 1


_CASE_FIELDS = frozenset(f.name for f in fields(Case))


def assemble(**parts: Any) -> Case:
    """A case from every one of its fields, by name: what ``Case(**parts)`` makes, without
    the frozen dataclass's one object.__setattr__ per field (the engine makes a case on every
    step). Refuses a missing or unknown field as the constructor would."""
    if parts.keys() != _CASE_FIELDS:
        raise TypeError(f"a case needs exactly its fields: {sorted(_CASE_FIELDS)}")
    case = object.__new__(Case)
    case.__dict__.update(parts)
    return case


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def to_dict(definition: DefinitionSet, case: Case) -> dict[str, Any]:
    """The case as JSON-safe data."""
    process = definition.process(case.process)
    return {
        "process": case.process, "version": case.version, "number": case.number,
        "state": case.state, "values": values_to_json(process, case.values),
        "priority": case.priority, "flags": sorted(case.flags),
        "assignee_role": case.assignee_role, "assignee": case.assignee,
        "priority_override": case.priority_override,
        "created_at": _time(case.created_at), "updated_at": _time(case.updated_at),
        "closed_at": _time(case.closed_at), "row_version": case.row_version,
        "clocks": {
            cid: {
                "variant": c.variant, "status": c.status, "started_at": _time(c.started_at),
                "due_at": _time(c.due_at), "warn_at": _time(c.warn_at),
                "paused_at": _time(c.paused_at), "stopped_at": _time(c.stopped_at),
                "unofficial_years": list(c.unofficial_years), "warned": c.warned,
                "breached": c.breached, "paused_hours": c.paused_hours,
            } for cid, c in case.clocks.items()
        },
        "steps": [{"step": s.step, "actor": s.actor, "at": _time(s.at)} for s in case.steps],
        "links": [{"relation": link.relation, "process": link.process, "number": link.number}
                  for link in case.links],
    }


def from_dict(definition: DefinitionSet, data: Mapping[str, Any]) -> Case:
    """A case from :func:`to_dict` data (the inverse: nothing changes on the round trip)."""
    process = definition.process(data["process"])
    clocks = {
        cid: ClockState(
            id=cid, variant=c["variant"], status=c["status"],
            started_at=_parse(c["started_at"]),  # type: ignore[arg-type]
            due_at=_parse(c["due_at"]),  # type: ignore[arg-type]
            warn_at=_parse(c["warn_at"]), paused_at=_parse(c["paused_at"]),
            stopped_at=_parse(c["stopped_at"]),
            unofficial_years=tuple(c["unofficial_years"]), warned=c["warned"],
            breached=c["breached"], paused_hours=c.get("paused_hours", 0.0),
        ) for cid, c in data["clocks"].items()
    }
    return Case(
        process=data["process"], version=data["version"], number=data["number"],
        state=data["state"], values=frozen_map(values_from_json(process, data["values"])),
        priority=data["priority"], flags=frozenset(data["flags"]),
        assignee_role=data["assignee_role"], assignee=data["assignee"],
        priority_override=data["priority_override"],
        created_at=_parse(data["created_at"]),  # type: ignore[arg-type]
        updated_at=_parse(data["updated_at"]),  # type: ignore[arg-type]
        closed_at=_parse(data["closed_at"]), row_version=data["row_version"],
        clocks=frozen_map(clocks),
        steps=tuple(StepRecord(s["step"], s["actor"], _parse(s["at"]))  # type: ignore[arg-type]
                    for s in data["steps"]),
        links=tuple(Link(x["relation"], x["process"], x["number"]) for x in data["links"]),
    )
