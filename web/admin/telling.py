"""A new definition version told forward, in the reader's language, with the open cases it moves.

The sentences come from the engine (:func:`~qmsflow.engine.diff_words.told`), which stays pure;
how many open cases' due times a deadline change moves is counted here, from the service's dry
run of a migration (the engine's own clock code over the stored open cases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from qmsflow.engine import diff as diffs
from qmsflow.engine.diff_words import told
from qmsflow.engine.migration import Plan
from qmsflow.engine.model import DefinitionSet, text

from ..auth import service
from ..i18n import gettext as _
from ..i18n import locale

ClockKey = tuple[str, str]


@dataclass(frozen=True)
class ToldChange:
    """One change as users read it; ``moved`` counts the open cases whose due times it moves
    (None for a change that moves no deadline)."""

    kind: str
    words: str
    moved: int | None


@dataclass(frozen=True)
class ToldGroup:
    """The changes of one process (or of the whole set) under its name."""

    heading: str
    changes: tuple[ToldChange, ...]


@dataclass(frozen=True)
class Forward:
    """Everything the version page says about moving from ``running`` to ``target``."""

    groups: tuple[ToldGroup, ...]
    technical: tuple[str, ...]  # every difference with ids, for definition writers
    plans: tuple[Plan, ...]  # the dry run over the open cases on ``running``


def dry_run(running: str, target: str | DefinitionSet,
            state_map: Mapping[str, str] | None = None) -> list[Plan]:
    """What migrating the open cases of ``running`` to ``target`` (a stored version, or a set
    not published yet) would do, states renamed by ``state_map``; writes nothing."""
    return service().migrate(running, target, state_map or None, dry_run=True)


def moved_by(plans: Sequence[Plan], clocks: Sequence[ClockKey]) -> int:
    """How many of the planned cases get a new due time on one of ``clocks``."""
    wanted = set(clocks)
    return sum(1 for plan in plans if plan.case is not None and any(
        (plan.case.process, move.clock) in wanted for move in plan.moves))


def forward(running: DefinitionSet, target: DefinitionSet, open_cases: int,
            stored: bool = True) -> Forward:
    """The changes from ``running`` to ``target`` grouped by process, in the reader's language,
    each deadline change with the number of open cases (on ``running``) whose due times move.
    ``stored`` says whether ``target`` is a published version (else it is planned as given)."""
    plans = dry_run(running.version, target.version if stored else target) \
        if open_cases else []
    grouped: dict[str | None, list[ToldChange]] = {}
    for said in told(running, target, locale()):
        moved = moved_by(plans, said.clocks) if said.clocks else None
        grouped.setdefault(said.process, []).append(ToldChange(said.kind, said.words, moved))
    groups = []
    for pid, changes in grouped.items():
        process = target.processes.get(pid or "") or running.processes.get(pid or "")
        heading = text(process.label, locale()) if process else _("Shared by every process")
        groups.append(ToldGroup(heading, tuple(changes)))
    technical = tuple(change.words for change in diffs.diff(running, target))
    return Forward(tuple(groups), technical, tuple(plans))
