"""Records past retention, legal holds, and signed disposal.

Which cases and register entries are past the retention their definition declares
(:mod:`qmsflow.engine.retention` computes the day from the record's values), which of them are
under legal hold, and disposing of one: only past retention, never under hold, by a user with a
role the rule names, with a reason and an electronic signature (the password again, 21 CFR
11.200), in one transaction.

What disposal does, and why the audit trail still proves the record:

* The record's own chain gets a ``disposed`` entry (who, when, why, the rule and the day its
  retention ended, meaning "disposed"). Nothing in the audit trail is changed or deleted: the
  trail is append-only evidence under 21 CFR 11.10(e) and outlives the records it is about.
* Then the record's content is erased from the live tables: a case's values (and the values
  its signature rows covered; the rendered text of its notifications) and a register entry's
  values, title and search text. A case is also voided, so it leaves inboxes, lists and
  reports. Its number or key, dates and state stay, so that links and the trail still name it.
* :mod:`.proof` rebuilds each record from its trail: a ``disposed`` entry empties the values it
  expects, so a disposed record verifies clean, while a record whose values were erased around
  qmsflow (no signed ``disposed`` entry), a disposal entry without a signer or meaning, or a
  record changed after its disposal, is reported. A ``disposed`` entry written around qmsflow
  breaks the record's chain and the seals like any forged entry.

Legal holds are entries of the record's own chain too (``legal_hold_set``,
``legal_hold_released``, with who and why): the record's state is what its trail says, so no
table can say otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from ..model import DefinitionSet, Field, Register
from ..retention import Reached, Retention, reached
from . import audit, users
from .audit import By, Entry
from .models import AuditEvent, CaseRow, OutboxMessage, RegisterEntryRow, SignatureRow
from .records import UserRecord
from .registers import ENTITY as ENTRY_ENTITY

#: The kind of record a case is, as the commands and pages name it (any other is a register).
CASE = "case"
HOLD = "legal_hold_set"
RELEASE = "legal_hold_released"
DISPOSED = "disposed"
#: The meaning a disposal's signature carries.
MEANING = "disposed"
MARKS = (HOLD, RELEASE, DISPOSED)


class RetentionRefused(QmsflowError):
    """A hold, release or disposal that may not be done: ``code`` says which rule refused it
    (role, reason, not_past, held, not_held, already_held, disposed, no_rule, unknown,
    conflict) and ``params`` the names and dates the message uses, for a translation."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class RecordState:
    """One record a retention rule covers, as the list shows it: what it is (``kind`` is
    'case' or the register's id, ``ref`` its number or key), its rule and the last day it is
    kept (None while that day is unknown, e.g. an open case), and whether it is held or
    disposed of."""

    kind: str
    owner: str  # the process or the register
    ref: str
    title: str | None
    rule: str
    kept_until: date | None
    how: str
    held: bool
    hold_reason: str | None
    disposed: bool

    def past(self, today: date) -> bool:
        """Whether its retention ended before ``today``."""
        return self.kept_until is not None and today > self.kept_until

    @property
    def disposable(self) -> bool:
        """Not held and not disposed of yet (the date is checked apart)."""
        return not self.held and not self.disposed


def today_of(definition: DefinitionSet, now: datetime) -> date:
    """The organisation's calendar day at ``now``."""
    return now.astimezone(ZoneInfo(definition.organisation.timezone)).date()


class _Lookup:
    """Referenced entries' stored values, each read once per listing."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.found: dict[tuple[str, str], Mapping[str, Any] | None] = {}

    def __call__(self, register: str, key: str) -> Mapping[str, Any] | None:
        if (register, key) not in self.found:
            self.found[(register, key)] = self.session.execute(
                select(RegisterEntryRow.values).where(RegisterEntryRow.register == register,
                                                      RegisterEntryRow.key == key)
            ).scalar_one_or_none()
        return self.found[(register, key)]


@dataclass
class _Marks:
    held: bool = False
    reason: str | None = None
    disposed: bool = False
    #: A disposed record's values are gone: its end of retention is the one its disposal
    #: recorded.
    recorded: Reached | None = None


def _marks(session: Session, column: Any, ids: Sequence[int]) -> dict[int, _Marks]:
    """Holds and disposals of the records ``ids`` (case or entry ids), from their trails."""
    found: dict[int, _Marks] = {}
    for chunk in range(0, len(ids), 500):
        for owner, action, reason, data in session.execute(
                select(column, AuditEvent.action, AuditEvent.reason, AuditEvent.data)
                .where(column.in_(ids[chunk:chunk + 500]), AuditEvent.action.in_(MARKS))
                .order_by(column, AuditEvent.case_seq)):
            mark = found.setdefault(owner, _Marks())
            if action == HOLD:
                mark.held, mark.reason = True, reason
            elif action == RELEASE:
                mark.held, mark.reason = False, None
            else:
                mark.disposed = True
                with suppress(KeyError, TypeError, ValueError):
                    mark.recorded = Reached(date.fromisoformat(data["kept_until"]),
                                            str(data.get("how", "")))
    return found


def disposed_case(session: Session, case_id: int) -> bool:
    """Whether the case was disposed of (its trail holds a ``disposed`` entry): nothing may be
    added to it any more."""
    return session.execute(select(AuditEvent.id).where(
        AuditEvent.case_id == case_id, AuditEvent.action == DISPOSED).limit(1)).first() is not None


def _earliest_start(rule: Retention, today: date) -> datetime | None:
    """For a rule counting from a case's closure: records closed after this moment cannot be
    past retention yet (a service life only adds), so the list never reads them."""
    if rule.start != ("closed_at",):
        return None
    shortest = min(rule.keep, rule.otherwise or rule.keep,
                   key=lambda period: (period.years, period.months, period.days))
    days = shortest.years * 365 + shortest.months * 28 + shortest.days
    return datetime.combine(today - timedelta(days=days), datetime.min.time()).replace(
        tzinfo=ZoneInfo("UTC")) + timedelta(days=2)


def _case_values(fields: Mapping[str, Field], row: CaseRow) -> dict[str, Any]:
    return {**{name: value for name, value in (row.values or {}).items() if name in fields},
            "closed_at": row.closed_at, "created_at": row.created_at}


def _entry_values(row: RegisterEntryRow) -> dict[str, Any]:
    return {**(row.values or {}), "created_at": row.created_at}


def _state(kind: str, owner: str, ref: str, title: str | None, rule: Retention,
           found: Reached | None, mark: _Marks) -> RecordState:
    found = mark.recorded or found
    return RecordState(kind, owner, ref, title, rule.rule,
                       found.on if found else None, found.how if found else "", mark.held,
                       mark.reason, mark.disposed)


def states(session: Session, definition: DefinitionSet, today: date,
           only_past: bool = True) -> Iterator[RecordState]:
    """Every record a retention rule covers (past retention on ``today`` only, by default),
    disposed ones included: cases first, by process and number, then register entries."""
    zone = ZoneInfo(definition.organisation.timezone)
    lookup = _Lookup(session)
    registers = definition.registers
    for process in sorted(definition.processes.values(), key=lambda p: p.id):
        rule = process.retention
        if rule is None:
            continue
        query = select(CaseRow).where(CaseRow.process == process.id).order_by(CaseRow.number)
        if only_past and (before := _earliest_start(rule, today)) is not None:
            query = query.where(CaseRow.closed_at.is_not(None), CaseRow.closed_at < before)
        rows = session.execute(query).scalars().all()
        marks = _marks(session, AuditEvent.case_id, [row.id for row in rows])
        for row in rows:
            found = reached(rule, _case_values(process.fields, row), process.fields,
                            registers, lookup, zone)
            state = _state(CASE, process.id, row.number, None, rule, found,
                           marks.get(row.id, _Marks()))
            if not only_past or state.past(today):
                yield state
    for register in sorted(registers.values(), key=lambda r: r.id):
        rule = register.retention
        if rule is None:
            continue
        entries = session.execute(select(RegisterEntryRow).where(
            RegisterEntryRow.register == register.id).order_by(RegisterEntryRow.key)
        ).scalars().all()
        marks = _marks(session, AuditEvent.register_entry_id, [row.id for row in entries])
        for entry in entries:
            found = reached(rule, _entry_values(entry), register.fields, registers, lookup,
                            zone)
            state = _state(register.id, register.id, entry.key, entry.title, rule, found,
                           marks.get(entry.id, _Marks()))
            if not only_past or state.past(today):
                yield state


@dataclass
class _Target:
    """One record found for a change: its row, rule, state and how to write to its chain."""

    row: CaseRow | RegisterEntryRow
    rule: Retention
    state: RecordState
    entity: str
    about: dict[str, Any]


def _target(session: Session, definition: DefinitionSet, kind: str, ref: str,
            today: date) -> _Target:
    zone = ZoneInfo(definition.organisation.timezone)
    lookup = _Lookup(session)
    if kind == CASE:
        case = session.execute(select(CaseRow).where(CaseRow.number == ref)).scalar_one_or_none()
        if case is None:
            raise RetentionRefused("unknown", f"there is no case {ref}", ref=ref)
        process = definition.processes.get(case.process)
        rule = process.retention if process else None
        if process is None or rule is None:
            raise RetentionRefused("no_rule", f"case {ref}: its process declares no retention: "
                                              "its cases are kept for ever", ref=ref)
        mark = _marks(session, AuditEvent.case_id, [case.id]).get(case.id, _Marks())
        found = reached(rule, _case_values(process.fields, case), process.fields,
                        definition.registers, lookup, zone)
        return _Target(case, rule, _state(CASE, process.id, ref, None, rule, found, mark),
                       "case", {"state": case.state})
    register: Register | None = definition.registers.get(kind)
    if register is None:
        raise RetentionRefused("unknown", f"'{kind}' is neither 'case' nor a register: use one "
                                          "of case, " + ", ".join(sorted(definition.registers)),
                               ref=kind)
    entry = session.execute(select(RegisterEntryRow).where(
        RegisterEntryRow.register == register.id, RegisterEntryRow.key == ref)
    ).scalar_one_or_none()
    if entry is None:
        raise RetentionRefused("unknown", f"{register.id} has no entry '{ref}'", ref=ref)
    if register.retention is None:
        raise RetentionRefused("no_rule", f"{register.id} '{ref}': the register declares no "
                                          "retention: its entries are kept for ever", ref=ref)
    mark = _marks(session, AuditEvent.register_entry_id, [entry.id]).get(entry.id, _Marks())
    found = reached(register.retention, _entry_values(entry), register.fields,
                    definition.registers, lookup, zone)
    return _Target(entry, register.retention,
                   _state(register.id, register.id, ref, entry.title, register.retention,
                          found, mark), ENTRY_ENTITY, {"register": register.id, "key": ref})


def state(session: Session, definition: DefinitionSet, kind: str, ref: str,
          today: date) -> RecordState:
    """Where one record stands (RetentionRefused 'unknown' or 'no_rule')."""
    return _target(session, definition, kind, ref, today).state


def _where(target: _Target) -> str:
    state = target.state
    return f"case {state.ref}" if state.kind == CASE else f"{state.kind} '{state.ref}'"


def _allowed(target: _Target, roles: Sequence[str], reason: str, what: str) -> None:
    if not set(roles) & set(target.rule.roles):
        raise RetentionRefused("role", f"{what} {_where(target)} needs one of the roles "
                                       f"{', '.join(target.rule.roles)}",
                               roles=", ".join(target.rule.roles))
    if not reason or not reason.strip():
        raise RetentionRefused("reason", f"{what} {_where(target)} needs a reason")
    if target.state.disposed:
        raise RetentionRefused("disposed", f"{_where(target)} was disposed of already",
                               ref=target.state.ref)


def _append(session: Session, target: _Target, entries: list[Entry], now: datetime,
            client: str | None, erase: Callable[[], dict[str, Any]] | None = None) -> None:
    """Chain ``entries`` to the record's own chain and move its row version (and erase its
    content when disposing), in one statement that checks nobody changed it meanwhile."""
    row = target.row
    number = row.number if isinstance(row, CaseRow) else None
    batch = audit.chain(session, entries, audit.CaseChain(number, row.audit_count,
                                                          row.audit_hash), client)
    assert batch.case is not None
    model = CaseRow if isinstance(row, CaseRow) else RegisterEntryRow
    changes = {"audit_count": batch.case.count, "audit_hash": batch.case.hash,
               "row_version": row.row_version + 1, "updated_at": now,
               **(erase() if erase else {})}
    written = session.execute(update(model).where(
        model.id == row.id, model.row_version == row.row_version,
        model.audit_count == row.audit_count).values(**changes)
        .execution_options(synchronize_session=False))
    assert isinstance(written, CursorResult)
    if written.rowcount != 1:
        raise RetentionRefused("conflict", f"{_where(target)} was changed meanwhile: look at "
                                           "it again and repeat")
    if isinstance(row, CaseRow):
        audit.write(session, batch, case_id=row.id)
    else:
        audit.write(session, batch, register_entry_id=row.id)


def hold(session: Session, definition: DefinitionSet, kind: str, ref: str, by: By,
         roles: Sequence[str], reason: str, now: datetime, client: str | None = None
         ) -> RecordState:
    """Put a record under legal hold: it is never disposed of until the hold is released."""
    target = _target(session, definition, kind, ref, today_of(definition, now))
    _allowed(target, roles, reason, "a legal hold on")
    if target.state.held:
        raise RetentionRefused("already_held", f"{_where(target)} is under legal hold already "
                                               f"({target.state.hold_reason})",
                               ref=ref, reason=target.state.hold_reason or "")
    _append(session, target, [Entry(HOLD, target.entity, now, by.id, by.name,
                                    field="legal_hold", old=False, new=True, reason=reason,
                                    version=definition.version, data=target.about)],
            now, client)
    return state(session, definition, kind, ref, today_of(definition, now))


def release(session: Session, definition: DefinitionSet, kind: str, ref: str, by: By,
            roles: Sequence[str], reason: str, now: datetime, client: str | None = None
            ) -> RecordState:
    """Release a record's legal hold."""
    target = _target(session, definition, kind, ref, today_of(definition, now))
    _allowed(target, roles, reason, "releasing the legal hold on")
    if not target.state.held:
        raise RetentionRefused("not_held", f"{_where(target)} is not under legal hold",
                               ref=ref)
    _append(session, target, [Entry(RELEASE, target.entity, now, by.id, by.name,
                                    field="legal_hold", old=True, new=False, reason=reason,
                                    version=definition.version, data=target.about)],
            now, client)
    return state(session, definition, kind, ref, today_of(definition, now))


def _disposable(session: Session, definition: DefinitionSet, kind: str, ref: str,
                roles: Sequence[str], reason: str, today: date) -> _Target:
    """The record, if ``roles`` may dispose of it today (RetentionRefused otherwise)."""
    target = _target(session, definition, kind, ref, today)
    _allowed(target, roles, reason, "disposing of")
    current = target.state
    if current.held:
        raise RetentionRefused("held", f"{_where(target)} is under legal hold "
                                       f"({current.hold_reason}): release the hold first",
                               ref=ref, reason=current.hold_reason or "")
    if not current.past(today):
        until = current.kept_until.isoformat() if current.kept_until else None
        raise RetentionRefused(
            "not_past", f"{_where(target)} is kept until {until} ({current.how})" if until
            else f"{_where(target)} is kept: its retention has not started ({current.rule})",
            ref=ref, until=until or "", how=current.how or current.rule)
    return target


def dispose(session: Session, definition: DefinitionSet, kind: str, ref: str, by: By,
            roles: Sequence[str], reason: str, now: datetime, client: str | None = None
            ) -> RecordState:
    """Dispose of a record past retention and not held: a signed ``disposed`` entry on its
    chain, then its content erased from the live tables (see the module's docstring). The
    signer's password is the caller's to check first (:meth:`.CaseService.check_signer`)."""
    today = today_of(definition, now)
    target = _disposable(session, definition, kind, ref, roles, reason, today)
    current = target.state
    entry = Entry(DISPOSED, target.entity, now, by.id, by.name, field="disposed", old=False,
                  new=True, reason=reason, meaning=MEANING, version=definition.version,
                  data={**target.about, "rule": current.rule,
                        "kept_until": current.kept_until, "how": current.how})
    row = target.row
    if isinstance(row, CaseRow):
        def erase() -> dict[str, Any]:
            return {"values": {}, "voided_at": row.voided_at or now,
                    "void_reason": row.void_reason or f"disposed: {reason}"}
        _append(session, target, [entry], now, client, erase)
        session.execute(update(SignatureRow).where(SignatureRow.case_id == row.id)
                        .values(signed_values={}))
        session.execute(update(OutboxMessage).where(OutboxMessage.case_id == row.id)
                        .values(subject="", body=""))
    else:
        _append(session, target, [entry], now, client,
                lambda: {"values": {}, "title": None, "search_text": ""})
    session.expire_all()
    return state(session, definition, kind, ref, today)


class Signing(Protocol):
    """What acting on retention needs of the case service: its transactions, clock, served
    definitions and the signer's password check (:class:`.CaseService` is one)."""

    current: DefinitionSet

    def transaction(self) -> AbstractContextManager[Session]: ...

    def now(self) -> datetime: ...

    def check_signer(self, user_id: str, password: str, address: str = "") -> None: ...


ACTIONS = {"hold": hold, "release": release, "dispose": dispose}


def act(service: Signing, action: str, kind: str, ref: str, user_id: str, reason: str,
        password: str | None = None, client: str | None = None) -> RecordState:
    """``action`` (hold, release or dispose) on one record by ``user_id``, in one transaction.

    A disposal is an electronic signature: ``password`` is checked first, like a signed step's
    (AuthenticationFailed when wrong, and counted), and without one it is refused."""
    if action not in ACTIONS:
        raise RetentionRefused("unknown", f"no action {action!r}: hold, release or dispose",
                               ref=action)
    if action == "dispose":
        # Everything but the signature is checked first: a refused disposal asks for no
        # password, and a wrong one counts only against a decision that could be taken.
        with service.transaction() as session:
            user = _signer(session, user_id)
            _disposable(session, service.current, kind, ref, user.roles, reason,
                        today_of(service.current, service.now()))
        if not password:
            raise RetentionRefused("signature", "disposing of a record needs your electronic "
                                                "signature: enter your password")
        service.check_signer(user_id, password, client or "")
    with service.transaction() as session:
        user = _signer(session, user_id)
        return ACTIONS[action](session, service.current, kind, ref, By(user.id, user.name),
                               user.roles, reason, service.now(), client)


def _signer(session: Session, user_id: str) -> UserRecord:
    user = users.get(session, user_id)
    if user.disabled:
        raise RetentionRefused("role", f"{user_id}'s account is disabled", roles="")
    return user
