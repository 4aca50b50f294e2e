"""The record as its audit trail tells it: ``qmsflow audit verify`` proves the tables, not only
the chain.

The hash chain (:mod:`.audit`) proves that the trail is the one qmsflow wrote. But the trail
proves the record only if the record is what the trail says. So every case is rebuilt from its
own entries (its state, values, priority, flags, queue, definition version, whether it is voided
and how many of its signatures hold) and compared with its row; every signature row must be
the one a ``signed`` entry recorded, with the values that were the case's at that moment, and
every ``signed`` entry must still have its row; every activation of a definition version
must be the one its ``activated`` entry recorded; every account must be the one its entries
created and changed (name, roles, departments, e-mail, language, time zone, disabled, whether
its password is a temporary one and since when it holds it); every stored definition version
must have its ``published`` entry and still compile to the hash it is stored under; every
register entry must hold the key and the values its own entries set; every occurrence of
scheduled work recorded as opened must be the one its case's opening entry names, and every
case scheduled work opened must have its occurrence (a row deleted would open it again, one
added would keep it from opening). A record disposed of at
the end of its retention (:mod:`.retention`) is expected empty from its signed ``disposed``
entry on, and nothing may follow that entry.

A difference is a :class:`.audit.Break` naming the record (case number, user id, version)
and the field: what the table holds and what the trail says.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from ..model import DefinitionSet, Process
from ..occurrences import SCHEDULER, opened_by, opening_reason
from .audit import Break, jsonable
from .models import (
    AuditEvent,
    CaseRow,
    DefinitionActivation,
    DefinitionVersion,
    RegisterEntryRow,
    ScheduledOccurrence,
    SignatureRow,
    User,
)
from .retention import DISPOSED
from .retention import MEANING as DISPOSAL_MEANING
from .versions import Versions, files_digest

#: What a case's trail sets, and the entry actions that set it.
_SETS = {"created": "state", "transition": "state", "priority_changed": "priority",
         "flags_changed": "flags", "assigned": "assignee_role", "migrated": "version"}


@dataclass
class _Told:
    """What one case's trail says about it, entry by entry."""

    state: str | None = None
    version: str | None = None
    priority: str | None = None
    flags: Any = None
    assignee_role: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    voided: bool = False
    valid_signatures: int = 0
    #: Each ``signed`` entry: (step, signer, time, meaning, record hash, row version) and the
    #: case's values at that moment.
    signed: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    #: (step, signed at) of each ``signature_invalidated`` entry.
    invalidated: set[tuple[Any, ...]] = field(default_factory=set)
    #: What is wrong with the record's disposal, if anything (see :func:`_disposal`).
    disposal: str | None = None
    disposed: bool = False


def check(session: Session, versions: Versions, batch: int = 500) -> list[Break]:
    """Every difference between the tables and what the audit trail says."""
    return [*_definitions(session, versions), *_activations(session),
            *_cases(session, versions, batch), *_users(session),
            *_register_entries(session, batch), *_occurrences(session)]


def _time(value: Any) -> str | None:
    """A stored or audited time as one comparable text (UTC, ISO 8601)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _comparable(process: Process | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as JSON in one form: times in UTC, lists sorted, empty values left out."""
    found = {}
    for name, value in jsonable(dict(values)).items():
        if value is None or value == "" or value == []:
            continue
        spec = process.fields.get(name) if process else None
        if spec is not None and spec.type == "datetime" and isinstance(value, str):
            with suppress(ValueError):  # not a time: compared as it is, so it shows
                value = _time(value)
        elif isinstance(value, list):
            value = sorted(value, key=str)
        found[name] = value
    return found


def _fold(told: _Told, entry: Any, process_defaults: Mapping[str, Any]) -> None:
    """Apply one entry of a case's trail to what the trail says so far."""
    action = entry.action
    if told.disposed:
        # Nothing follows a disposal: the record's content is gone from the tables.
        told.disposal = told.disposal or f"its trail goes on after its disposal ('{action}')"
    if action == "created":
        told.values = dict(jsonable(dict(process_defaults)))
        told.version = entry.version
    if action in _SETS:
        setattr(told, _SETS[action], entry.new)
    if action == "field_changed" and entry.field:
        told.values[entry.field] = entry.new
    elif action == "migrated" and (entry.data or {}).get("state"):
        # A migration may map the case's state to one the new version names otherwise.
        told.state = entry.data["state"]
    elif action == "voided":
        told.voided = True
    elif action == "signed":
        told.valid_signatures += 1
        data = entry.data or {}
        told.signed.append(((entry.field, entry.actor_id, _time(entry.at), entry.meaning,
                             data.get("record_hash"), data.get("row_version")),
                            dict(told.values)))
    elif action == "signature_invalidated":
        told.valid_signatures -= 1
        told.invalidated.add((entry.field, _time((entry.data or {}).get("signed_at"))))
    elif action == DISPOSED:
        # A signed disposal erased the case's values (and voided it): the table holds none.
        told.values, told.voided, told.disposed = {}, True, True
        told.disposal = told.disposal or _unsigned(entry)


def _unsigned(entry: Any) -> str | None:
    """What is missing from a ``disposed`` entry for it to be a signed decision: a signer,
    the signature's meaning and a reason (None when nothing is)."""
    if entry.actor_id is None or entry.meaning != DISPOSAL_MEANING or not entry.reason:
        return ("the 'disposed' entry names no signer, meaning or reason: it is not a signed "
                "decision")
    return None


def _cases(session: Session, versions: Versions, batch: int) -> Iterator[Break]:
    after = 0
    while True:
        rows = session.execute(select(CaseRow).where(CaseRow.id > after)
                               .order_by(CaseRow.id).limit(batch)).scalars().all()
        if not rows:
            return
        ids = [row.id for row in rows]
        entries: dict[int, list[Any]] = defaultdict(list)
        for entry in session.execute(
                select(AuditEvent.case_id, AuditEvent.action, AuditEvent.field,
                       AuditEvent.new, AuditEvent.version, AuditEvent.actor_id,
                       AuditEvent.at, AuditEvent.meaning, AuditEvent.reason,
                       AuditEvent.data)
                .where(AuditEvent.case_id.in_(ids))
                .order_by(AuditEvent.case_id, AuditEvent.case_seq)):
            entries[entry.case_id].append(entry)
        signatures: dict[int, list[SignatureRow]] = defaultdict(list)
        for signature in session.execute(select(SignatureRow).where(
                SignatureRow.case_id.in_(ids))).scalars():
            signatures[signature.case_id].append(signature)
        for row in rows:
            yield from _case(session, versions, row, entries[row.id], signatures[row.id])
        after = rows[-1].id
        session.expunge_all()


def _process(session: Session, versions: Versions, version: str | None,
             process: str) -> Process | None:
    if version is None:
        return None
    try:
        definition: DefinitionSet = versions.get(session, version)
        return definition.process(process)
    except (QmsflowError, KeyError):
        return None  # reported by the definition check


def _case(session: Session, versions: Versions, row: CaseRow, entries: Sequence[Any],
          signatures: Sequence[SignatureRow]) -> Iterator[Break]:
    def differs(what: str, held: Any, said: Any) -> Break:
        return Break(None, row.number, f"{what} is {held!r} in the table, its audit trail "
                                       f"says {said!r}: the case was changed around qmsflow")

    if not entries or entries[0].action != "created":
        yield Break(None, row.number, "the case has no 'created' audit entry: it was written "
                                      "into the table around qmsflow")
        return
    first = _process(session, versions, entries[0].version, row.process)
    defaults = first.defaults() if first else {}  # what the case started from
    told = _Told()
    for entry in entries:
        _fold(told, entry, defaults)
    if told.disposal:
        yield Break(None, row.number, f"its disposal does not hold: {told.disposal}")
    for name in ("state", "version", "priority", "assignee_role", "valid_signatures"):
        if getattr(row, name) != getattr(told, name):
            yield differs(name, getattr(row, name), getattr(told, name))
    if sorted(row.flags or []) != sorted(told.flags or []):
        yield differs("flags", sorted(row.flags or []), sorted(told.flags or []))
    if row.assignee is not None:
        yield differs("assignee", row.assignee, None)
    if (row.voided_at is not None) != told.voided:
        yield differs("voided", row.voided_at is not None, told.voided)
    process = _process(session, versions, row.version, row.process)
    held, said = _comparable(process, row.values), _comparable(process, told.values)
    for name in sorted(set(held) | set(said)):
        if held.get(name) != said.get(name):
            yield differs(f"value '{name}'", held.get(name), said.get(name))
    yield from _signatures(row, process, told, signatures)


def _signatures(row: CaseRow, process: Process | None, told: _Told,
                rows: Sequence[SignatureRow]) -> Iterator[Break]:
    recorded = list(told.signed)
    defaults = _comparable(process, process.defaults()) if process else {}
    for signature in sorted(rows, key=lambda s: s.id):
        key = (signature.step, signature.signer_id, _time(signature.signed_at),
               signature.meaning, signature.record_hash, signature.row_version)
        match = next((i for i, (said, _) in enumerate(recorded) if said == key), None)
        where = (f"signature of step '{signature.step}' by {signature.signer_id} at "
                 f"{_time(signature.signed_at)}")
        if match is None:
            yield Break(None, row.number, f"{where}: no 'signed' audit entry records it "
                                          "(forged, or its signer, time or hash was changed)")
            continue
        _, values = recorded.pop(match)
        signed = {name: value for name, value in _comparable(process, values).items()
                  if defaults.get(name) != value} if not told.disposed else {}
        if _comparable(process, signature.signed_values) != signed:
            yield Break(None, row.number, f"{where}: the values it covers are not the case's "
                                          "values when it was signed")
        if (signature.invalidated_at is not None) != (
                (signature.step, _time(signature.signed_at)) in told.invalidated):
            yield Break(None, row.number, f"{where}: its invalidation does not match the "
                                          "audit trail")
    for (step, signer, at, *_), _ in recorded:
        yield Break(None, row.number, f"the signature of step '{step}' by {signer} at {at} "
                                      "recorded in the audit trail has no row: it was deleted")


def _users(session: Session) -> Iterator[Break]:
    told: dict[str, dict[str, Any]] = {}
    for entry in session.execute(select(AuditEvent).where(
            AuditEvent.entity == "user", AuditEvent.action.in_(
                ("user_added", "user_disabled", "roles_changed", "preferences_changed",
                 "password_set")))
            .order_by(AuditEvent.id)).scalars():
        if entry.action == "user_added":
            data = entry.data or {}
            told[str(entry.field)] = {
                "name": data.get("name"), "roles": sorted(data.get("roles") or []),
                "departments": sorted(data.get("departments") or []),
                "locale": data.get("locale"), "email": data.get("email"), "disabled": False,
                "timezone": None, "password_temporary": bool(data.get("temporary")),
                "password_changed_at": _time(entry.at)}
        elif entry.field not in told:
            continue
        elif entry.action == "password_set":
            # Whether its holder must replace the password, and since when it is theirs (its
            # age, which the ageing rule reads), as the last password entry set them.
            told[str(entry.field)].update(
                password_temporary=bool((entry.data or {}).get("temporary")),
                password_changed_at=_time(entry.at))
        elif entry.action == "roles_changed":
            told[str(entry.field)]["roles"] = sorted(entry.new or [])
        elif entry.action == "preferences_changed":
            told[str(entry.field)].update(
                {key: value for key, value in (entry.new or {}).items()
                 if key in ("locale", "timezone")})
        else:
            told[str(entry.field)]["disabled"] = True
    for user in session.execute(select(User).order_by(User.id)).scalars():
        said = told.pop(user.id, None)
        if said is None:
            yield Break(None, None, f"user '{user.id}' has no 'user_added' audit entry: the "
                                    "account was written into the table around qmsflow")
            continue
        held = {"name": user.name, "roles": sorted(user.roles or []),
                "departments": sorted(user.departments or []), "locale": user.locale,
                "email": user.email, "disabled": user.disabled, "timezone": user.timezone,
                "password_temporary": bool(user.password_temporary),
                "password_changed_at": _time(user.password_changed_at)}
        for name in held:
            if held[name] != said[name]:
                yield Break(None, None, f"user '{user.id}': {name} is {held[name]!r} in the "
                                        f"table, its audit trail says {said[name]!r}: the "
                                        "account was changed around qmsflow")
    for user_id in told:
        yield Break(None, None, f"user '{user_id}' was added according to the audit trail "
                                "but has no row: it was deleted")


def _activations(session: Session) -> Iterator[Break]:
    """Each activation row (the newest names the version served) must be the one its
    ``activated`` entry recorded: same version, who, when and why."""
    told = {(entry.data or {}).get("activation"): entry for entry in session.execute(
        select(AuditEvent).where(AuditEvent.entity == "definition",
                                 AuditEvent.action == "activated")).scalars()}
    for row in session.execute(select(DefinitionActivation).order_by(
            DefinitionActivation.id)).scalars():
        where = f"activation {row.id} (version {row.version[:12]})"
        entry = told.pop(row.id, None)
        if entry is None:
            yield Break(None, None, f"{where} has no 'activated' audit entry: it was written "
                                    "into the table around qmsflow")
        elif (entry.new, entry.actor_id, _time(entry.at), entry.reason) != (
                row.version, row.activated_by, _time(row.activated_at), row.reason):
            yield Break(entry.id, None, f"{where}: its version, who, when or why differ "
                                        "from its 'activated' audit entry")
    for activation in told:
        yield Break(None, None, f"activation {activation} was made according to the audit "
                                "trail but has no row: it was deleted")


def _occurrences(session: Session) -> Iterator[Break]:
    """Each scheduled occurrence recorded as opened must name a case whose opening entry was
    written by that schedule for that entry and due date, and each case scheduled work opened
    must have its occurrence: the rows are what keeps an occurrence from opening twice."""
    opened = {number: (entry_id, actor, reason) for entry_id, number, actor, reason in
              session.execute(select(AuditEvent.id, AuditEvent.case_number,
                                     AuditEvent.actor_name, AuditEvent.reason).where(
                  AuditEvent.entity == "case", AuditEvent.action == "created",
                  AuditEvent.actor_name.like(f"{SCHEDULER} %")))}
    for row in session.execute(select(ScheduledOccurrence).order_by(
            ScheduledOccurrence.id)).scalars():
        where = (f"scheduled occurrence {row.id} ({row.schedule}, {row.register} "
                 f"'{row.entry_key}', due {row.due_on.isoformat()})")
        found = opened.pop(row.case_number, None)
        if found is None:
            yield Break(None, row.case_number, f"{where} names case {row.case_number}, which "
                                               "no schedule opened according to the audit "
                                               "trail: the row was written around qmsflow")
        elif found[1:] != (opened_by(row.schedule), opening_reason(
                row.schedule, row.register, row.entry_key, row.due_on)):
            yield Break(found[0], row.case_number, f"{where}: its schedule, entry or due date "
                                                   "differ from what the case's opening entry "
                                                   f"recorded ({found[2]})")
    for number, (entry_id, _, reason) in opened.items():
        yield Break(entry_id, number, f"case {number} was opened by scheduled work ({reason}) "
                                      "but its occurrence has no row: it was deleted, and the "
                                      "occurrence would open again")


def _definitions(session: Session, versions: Versions) -> Iterator[Break]:
    published = {entry.version: entry for entry in session.execute(select(AuditEvent).where(
        AuditEvent.entity == "definition", AuditEvent.action == "published")).scalars()}
    for stored in session.execute(select(DefinitionVersion).order_by(
            DefinitionVersion.published_at)).scalars():
        where = f"definition version {stored.hash[:12]}"
        entry = published.pop(stored.hash, None)
        data = (entry.data if entry else None) or {}
        digest = files_digest(stored.files)
        if entry is None:
            yield Break(None, None, f"{where} has no 'published' audit entry: it was written "
                                    "into the table around qmsflow")
        elif (data.get("set") != stored.set_id
              or sorted(data.get("files") or []) != sorted(stored.files)
              # Versions published before the entry held the files' digest have none.
              or data.get("files_sha256", digest) != digest
              or _time(entry.at) != _time(stored.published_at)):
            yield Break(entry.id, None, f"{where}: its set, files' text or publication time "
                                        "differ from its 'published' audit entry")
        try:
            versions.get(session, stored.hash)
        except QmsflowError as error:  # the first line says what; the rest lists problems
            yield Break(None, None, f"{where}: {str(error).splitlines()[0]}")
    for version in published:
        yield Break(None, None, f"definition version {str(version)[:12]} was published "
                                "according to the audit trail but is not stored: it was "
                                "deleted")


def _register_entries(session: Session, batch: int) -> Iterator[Break]:
    """Each register entry rebuilt from its own trail: its key and every value."""
    after = 0
    while True:
        rows = session.execute(select(RegisterEntryRow).where(RegisterEntryRow.id > after)
                               .order_by(RegisterEntryRow.id).limit(batch)).scalars().all()
        if not rows:
            return
        trails: dict[int, list[Any]] = defaultdict(list)
        for entry in session.execute(
                select(AuditEvent.register_entry_id, AuditEvent.action, AuditEvent.field,
                       AuditEvent.new, AuditEvent.data, AuditEvent.actor_id,
                       AuditEvent.meaning, AuditEvent.reason)
                .where(AuditEvent.register_entry_id.in_([row.id for row in rows]))
                .order_by(AuditEvent.register_entry_id, AuditEvent.case_seq)):
            trails[entry.register_entry_id].append(entry)
        for row in rows:
            yield from _register_entry(row, trails[row.id])
        after = rows[-1].id
        session.expunge_all()


def _register_entry(row: RegisterEntryRow, trail: Sequence[Any]) -> Iterator[Break]:
    where = f"register entry {row.register} '{row.key}'"
    if not trail or trail[0].action != "entry_created":
        yield Break(None, None, f"{where} has no 'entry_created' audit entry: it was written "
                                "into the table around qmsflow")
        return
    about = trail[0].data or {}
    if (about.get("register"), about.get("key")) != (row.register, row.key):
        yield Break(None, None, f"{where}: its audit trail was written for "
                                f"{about.get('register')} '{about.get('key')}': the entry was "
                                "renamed around qmsflow")
    told: dict[str, Any] = {}
    disposal: str | None = None
    disposed = False
    for entry in trail:
        if disposed:
            disposal = disposal or f"its trail goes on after its disposal ('{entry.action}')"
        if entry.action == "field_changed" and entry.field:
            told[entry.field] = entry.new
        elif entry.action == DISPOSED:
            told, disposed = {}, True
            disposal = disposal or _unsigned(entry)
    if disposal:
        yield Break(None, None, f"{where}: its disposal does not hold: {disposal}")
    held, said = _comparable(None, row.values or {}), _comparable(None, told)
    for name in sorted(set(held) | set(said)):
        if held.get(name) != said.get(name):
            yield Break(None, None, f"{where}: value '{name}' is {held.get(name)!r} in the "
                                    f"table, its audit trail says {said.get(name)!r}: the "
                                    "entry was changed around qmsflow")
