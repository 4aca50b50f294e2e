"""Read access in SQL: the cases a reader may see as one condition, and the facts of loaded cases.

The rules are the current definition set's (:mod:`..access`): an administrator who narrows
who reads a process narrows it for the cases already running too. A case of a process the
current set no longer has is read by the people who work it only.

The condition goes into the query itself, so counts and pages of a case list are right and a
case nobody may read is never loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from ..access import ALWAYS, CaseFacts, Grant, Reader, grants
from ..cases import Case
from ..model import DefinitionSet, ReadScope
from .models import AuditEvent, CaseRow, User


def reader(user: User) -> Reader:
    """The reader a ``users`` row is."""
    return Reader(user.id, frozenset(user.roles), frozenset(user.departments))


def registrar() -> ColumnElement[str]:
    """Who registered a case: the actor of its first (opening) step."""
    found: ColumnElement[str] = CaseRow.data[("steps", 0, "actor")].as_string()
    return found


def _colleagues(session: Session, who: Reader) -> list[str]:
    """The users sharing one of ``who``'s departments (a company has hundreds, not millions:
    reading them is cheaper than a JSON-array test that differs per database)."""
    if not who.departments:
        return []
    rows = session.execute(select(User.id, User.departments)).all()
    return sorted(uid for uid, departments in rows if who.departments & set(departments or ()))


def _scope(scope: ReadScope, who: Reader, colleagues: list[str]) -> ColumnElement[bool]:
    registered = registrar() == who.id
    if scope == "all":
        return true()
    if scope == "opened":
        return registered
    if scope == "assigned":
        return CaseRow.assignee == who.id
    if scope == "queue":
        return CaseRow.assignee_role.in_(sorted(who.roles)) if who.roles else false()
    if scope == "involved":
        acted = exists().where(AuditEvent.case_id == CaseRow.id, AuditEvent.actor_id == who.id)
        return or_(registered, CaseRow.assignee == who.id, acted)
    return registrar().in_(colleagues) if colleagues else false()


def _grant(grant: Grant, who: Reader, colleagues: list[str]) -> ColumnElement[bool]:
    covered = or_(*(_scope(scope, who, colleagues) for scope in sorted(grant.cases)))
    if grant.states:
        return and_(CaseRow.state.in_(sorted(grant.states)), covered)
    return covered


def readable(session: Session, who: Reader, current: DefinitionSet, pii: bool = False
             ) -> ColumnElement[bool]:
    """The SQL condition true for exactly the cases ``who`` may read (``pii``: whose
    personal data they may see too)."""
    held_by = {pid: tuple(g for g in grants(process, who)[1:] if g.pii or not pii)
               # ALWAYS is added once, for every process
               for pid, process in current.processes.items()}
    departmental = any("department" in g.cases for held in held_by.values() for g in held)
    colleagues = _colleagues(session, who) if departmental else []
    per_process = []
    for pid, held in held_by.items():
        if held:
            per_process.append(and_(CaseRow.process == pid,
                                    or_(*(_grant(g, who, colleagues) for g in held))))
    return or_(_grant(ALWAYS, who, colleagues), *per_process)


def facts(session: Session, cases: Mapping[int, Case]) -> dict[int, CaseFacts]:
    """The read-access facts of loaded cases (by row id), in two queries whatever their number."""
    if not cases:
        return {}
    acted: dict[int, set[str]] = {case_id: set() for case_id in cases}
    for case_id, actor in session.execute(
            select(AuditEvent.case_id, AuditEvent.actor_id).distinct()
            .where(AuditEvent.case_id.in_(list(cases)), AuditEvent.actor_id.is_not(None))):
        if case_id is not None and actor is not None:
            acted[case_id].add(actor)
    registrars = {case.steps[0].actor for case in cases.values() if case.steps}
    departments: dict[str, list[str] | None] = {
        uid: found for uid, found in session.execute(
            select(User.id, User.departments).where(User.id.in_(sorted(registrars))))}
    return {case_id: CaseFacts.of(case, acted[case_id], _departments(
        departments, case.steps[0].actor if case.steps else None))
        for case_id, case in cases.items()}


def _departments(known: Mapping[str, Iterable[str] | None], user: str | None) -> list[str]:
    return list(known.get(user) or ()) if user is not None else []
