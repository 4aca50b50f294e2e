"""Read access: who may see which cases of a process, and whether they see personal data.

A process's ``read`` rules name roles and the cases they see (``all``, the cases they
``opened``, those ``assigned`` to them by name, those in the ``queue`` of one of their
roles, those they are ``involved`` in, those registered in their ``department``) and whether
fields marked ``pii: true`` are shown. Two things hold whatever the rules say:

* whoever can work a case can read it: the cases in one of a person's roles' queues or
  assigned to them by name are always visible, with personal data (they need the record to
  do the step; a rule cannot take that away, so no rule set can contradict it);
* a role that no rule names sees nothing else of the process.

Without a ``read`` block, the roles that can take some step of the process see the cases of
their queues and the cases they are involved in (:func:`default_rules`); nobody else does.

Pure: :func:`can_read` decides one case from :class:`CaseFacts`; :func:`grants` says what a
reader holds in a process, for the persistence layer to turn into one SQL condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .cases import Case
from .model import Process, ReadRule, ReadScope

__all__ = ["ALWAYS", "FULL", "HIDDEN", "SCOPES", "CaseFacts", "Grant", "Reader", "Visibility",
           "by_role", "can_read", "default_rules", "grants", "masked", "pii_fields"]

#: Every word a rule's ``cases`` may use, in the order the documentation explains them.
SCOPES: tuple[ReadScope, ...] = ("all", "opened", "assigned", "queue", "involved",
                                 "department")


@dataclass(frozen=True)
class Reader:
    """Who reads: a user's id, roles and departments."""

    id: str
    roles: frozenset[str]
    departments: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CaseFacts:
    """What read access looks at in a case: who registered it (and their departments), where
    it sits, and who has done something on it (``actors``: the ids in its audit trail)."""

    registered_by: str | None
    state: str
    assignee: str | None
    assignee_role: str | None
    actors: frozenset[str] = frozenset()
    registrar_departments: frozenset[str] = frozenset()

    @classmethod
    def of(cls, case: Case, actors: Iterable[str] = (),
           registrar_departments: Iterable[str] = ()) -> CaseFacts:
        """The facts of ``case``; the registrar is whoever took its first (opening) step."""
        return cls(case.steps[0].actor if case.steps else None, case.state, case.assignee,
                   case.assignee_role,
                   frozenset(actors) | {s.actor for s in case.steps},
                   frozenset(registrar_departments))


@dataclass(frozen=True)
class Visibility:
    """Whether a reader sees a case, and whether its personal-data fields are shown."""

    visible: bool
    pii: bool


FULL = Visibility(True, True)
HIDDEN = Visibility(False, False)


@dataclass(frozen=True)
class Grant:
    """One way a reader sees cases of a process: the cases any of ``cases`` covers (in one
    of ``states``, when it is not empty)."""

    cases: frozenset[ReadScope]
    pii: bool
    states: frozenset[str] = frozenset()


#: What everyone holds in every process: the cases they must work.
ALWAYS = Grant(frozenset({"queue", "assigned"}), True)


def default_rules(process: Process) -> tuple[ReadRule, ...]:
    """The read rules of a process without a ``read`` block: the roles that can take some
    step see the cases of their queues and those they are involved in."""
    roles = sorted({role for step in process.every_step() for role in step.roles})
    return (ReadRule(tuple(roles), frozenset({"queue", "involved"})),) if roles else ()


def grants(process: Process, reader: Reader) -> tuple[Grant, ...]:
    """What ``reader`` holds in ``process``: :data:`ALWAYS` first, then each rule that names
    one of their roles."""
    return (ALWAYS, *(Grant(rule.cases, rule.pii, rule.states) for rule in process.read
                      if reader.roles.intersection(rule.roles)))


def _covers(scope: ReadScope, reader: Reader, facts: CaseFacts) -> bool:
    registered = facts.registered_by is not None and facts.registered_by == reader.id
    if scope == "all":
        return True
    if scope == "opened":
        return registered
    if scope == "assigned":
        return facts.assignee == reader.id
    if scope == "queue":
        return facts.assignee_role is not None and facts.assignee_role in reader.roles
    if scope == "involved":
        return registered or facts.assignee == reader.id or reader.id in facts.actors
    # department: registered by someone of one of the reader's departments
    return bool(facts.registered_by and reader.departments & facts.registrar_departments)


def can_read(process: Process, reader: Reader, facts: CaseFacts) -> Visibility:
    """Whether ``reader`` sees the case ``facts`` describes, and its personal data: visible
    when some grant covers it, personal data shown when some covering grant shows it."""
    covering = [g for g in grants(process, reader)
                if (not g.states or facts.state in g.states)
                and any(_covers(scope, reader, facts) for scope in g.cases)]
    if not covering:
        return HIDDEN
    return Visibility(True, any(g.pii for g in covering))


def masked(process: Process, values: Mapping[str, Any], visibility: Visibility
           ) -> dict[str, Any]:
    """``values`` without the personal-data fields when ``visibility`` hides them."""
    if visibility.pii:
        return dict(values)
    return {name: value for name, value in values.items()
            if not (name in process.fields and process.fields[name].pii)}


def pii_fields(process: Process) -> frozenset[str]:
    """The ids of the fields holding personal data."""
    return frozenset(name for name, spec in process.fields.items() if spec.pii)


def by_role(process: Process) -> dict[str, tuple[str, ...]]:
    """What each role named by a rule reads, in words (for the version diff)."""
    found: dict[str, set[str]] = {}
    for rule in process.read:
        words = "+".join(s for s in SCOPES if s in rule.cases)
        if rule.states:
            words += f" in {', '.join(sorted(rule.states))}"
        for role in rule.roles:
            found.setdefault(role, set()).add(
                words if rule.pii else f"{words} (personal data hidden)")
    return {role: tuple(sorted(words)) for role, words in found.items()}
