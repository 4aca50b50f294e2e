"""The case service: what the web, the API and the CLI call to work cases durably.

Each public method is one transaction: it reads the case, lets the pure engine decide, and
writes the new case, its clocks, signatures and audit entries together, or nothing. Every rule
the engine enforces holds whatever the caller sends; the service adds what needs the database:
who the user is (and their password again for a signature), stale reads (a conflict, never a
lost update), gap-free case numbers, voided cases, and the definition version each case runs on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from sqlalchemy import Text, and_, bindparam, cast, or_, select
from sqlalchemy.orm import Session, sessionmaker

from .. import access as read_access
from .. import machine, references, register_updates
from ..access import FULL, Reader, Visibility
from ..cases import Actor, Case, Signature
from ..errors import QmsflowError
from ..escalation import escalate
from ..events import Event, Outcome
from ..machine import Reason, Refused
from ..migration import Plan, plan
from ..model import DefinitionSet, Field, Process, Schedule, frozen_map
from ..occurrences import case_inputs, opened_by, opening_reason
from ..registers import EntryInvalid
from ..values import is_empty, text_problem
from . import (
    access,
    audit,
    db,
    inbox,
    logins,
    outbox,
    registers,
    retention,
    signatures,
    store,
    user_sessions,
    users,
)
from .db import transaction
from .inbox import Filters, Page
from .models import AuditEvent, CaseRow, DefinitionVersion, SignatureRow, User
from .records import AuditRecord, Notification, SignatureRecord, UserRecord
from .versions import UnknownVersion, Versions

Clock = Callable[[], datetime]
SWEEP = "qmsflow (deadline sweep)"


def utc_now() -> datetime:
    """The real clock (tests pass a fixed one)."""
    return datetime.now(UTC)


class CaseNotFound(QmsflowError, LookupError):
    """No case with that number."""


@dataclass(frozen=True)
class History:
    """A case as a reader sees it: the case, its audit entries and its signatures."""

    case: Case
    definition: DefinitionSet
    voided_at: datetime | None
    void_reason: str | None
    events: tuple[AuditRecord, ...] = ()
    signatures: tuple[SignatureRecord, ...] = ()
    #: What the reader may see of it: with personal data hidden, the case's values, its audit
    #: entries and its signatures' values hold none of the fields marked pii.
    visibility: Visibility = FULL


#: The session's record of the row version each register entry a step changes was read
#: at, by (register, key).
_ENTRY_VERSIONS = "qmsflow.entry_versions"
#: The register entries one step read, by (register, key); None for a key not there.
_Read = dict[tuple[str, str], "registers.EntryRecord | None"]
#: Most cases a device's history lists.
REFERRING_MAX = 200
#: Most characters of one comment on a case.
COMMENT_MAX = 4000


@dataclass(frozen=True)
class Commented:
    """A comment added: the people told on their inbox, and those mentioned but not told
    (no such active account, themselves, or not allowed to read the case)."""

    told: tuple[str, ...]
    untold: tuple[str, ...]


@dataclass(frozen=True)
class _Stored:
    """A case as read in this transaction: its row and the engine's case."""

    row: store.StoredRow
    case: Case


def _masked(case: Case, hidden: frozenset[str]) -> Case:
    """``case`` without the values of the fields in ``hidden``."""
    if not hidden:
        return case
    return replace(case, values=frozen_map(
        {k: v for k, v in case.values.items() if k not in hidden}))


def _masked_event(event: AuditRecord, hidden: frozenset[str]) -> AuditRecord:
    """An audit entry without the old and new values of a field in ``hidden``."""
    return replace(event, old=None, new=None) if event.field in hidden else event


def _masked_signature(signed: SignatureRecord, hidden: frozenset[str]) -> SignatureRecord:
    """A signature without the signed values of the fields in ``hidden``."""
    if not hidden:
        return signed
    return replace(signed, signed_values={k: v for k, v in signed.signed_values.items()
                                          if k not in hidden})


def _missing(number: str) -> CaseNotFound:
    return CaseNotFound(f"no case {number!r}: check the number (e.g. as printed on the case form)")


def _restated(old: Case, new: Case) -> bool:
    """Whether a value that was already filled in changed (only that can void a signature)."""
    return any(not is_empty(value) and new.values.get(name) != value
               for name, value in old.values.items())


class _Account(NamedTuple):
    """The acting user's account as a step reads it, beside its case."""

    id: str
    name: str
    roles: list[str]
    disabled: bool


_CASES, _USERS = store.CASES, User.__table__
#: A step's case and its actor's account, in one round trip and built once (building it for
#: every step cost a fifth of the load's time in the client). Core, not the ORM: turning the
#: row into a CaseRow and a User cost about 0.1 ms more CPU per step, of the 1-2.5 ms a step
#: of bench/writers_bench.py takes its writer.
_CASE_WITH_USER = (select(_CASES, *(column.label(f"user_{column.name}") for column in (
    _USERS.c.id, _USERS.c.name, _USERS.c.roles, _USERS.c.disabled)))
    .outerjoin(_USERS, _USERS.c.id == bindparam("user"))
    .where(_CASES.c.number == bindparam("number")))


class CaseService:
    """Create, act on, list, read and void cases; publish and migrate definitions.

    ``sessions`` makes database sessions; ``versions`` compiles stored definition versions;
    ``current`` is the set new cases start on; ``clock`` says what time it is; ``hasher``
    checks signers' passwords; ``survey_link`` makes customers' survey links.
    """

    def __init__(self, sessions: sessionmaker[Session], versions: Versions,
                 current: DefinitionSet, clock: Clock = utc_now,
                 hasher: PasswordHasher = users.HASHER,
                 survey_link: outbox.SurveyLink | None = None) -> None:
        self.sessions = sessions
        self.versions = versions
        self.current = current
        self.clock = clock
        self.hasher = hasher
        self._published = False
        #: Makes the customer's survey link for notifications (the runtime builds it from the
        #: signing key and the public address); without it a survey's e-mail carries no link.
        self.survey_link = survey_link
        versions.remember(current)

    def transaction(self) -> AbstractContextManager[Session]:
        """One unit of work: all of it is written, or none of it."""
        return transaction(self.sessions)

    def now(self) -> datetime:
        """What time it is: the clock's aware UTC datetime."""
        moment = self.clock()
        machine.check_now(moment)
        return moment

    # -- people -----------------------------------------------------------------------------

    def authenticate(self, user_id: str, password: str, address: str = "") -> UserRecord:
        """The user when the password is right and sign-in is open to them from ``address``;
        else AuthenticationFailed, one text whatever the reason (see :mod:`.logins`).

        The password is verified with no transaction open: a slow hash never holds a lock
        other requests wait for. A wrong one is counted in a second, short transaction.
        """
        user, _ = self._sign_in(user_id, password, address, start=False)
        return user

    def sign_in(self, user_id: str, password: str, address: str = "",
                agent: str | None = None) -> tuple[UserRecord, str]:
        """Authenticate as :meth:`authenticate` and start a web session: the user and the
        session id for the cookie (``agent``: the browser's User-Agent, for the user's list
        of their sessions)."""
        user, session_id = self._sign_in(user_id, password, address, start=True, agent=agent)
        assert session_id is not None
        return user, session_id

    def _sign_in(self, user_id: str, password: str, address: str,
                 start: bool, agent: str | None = None) -> tuple[UserRecord, str | None]:
        with self.transaction() as session:
            attempt = logins.prepare(session, user_id, address, self.now())
        checked = logins.verify(self.hasher, attempt, password)  # no transaction open
        failure: users.AuthenticationFailed | None = None
        with self.transaction() as session:
            now = self.now()
            try:
                user = logins.conclude(session, attempt, checked, now)
            except users.AuthenticationFailed as error:
                failure = error  # leave the block normally so the failure count is committed
            else:
                return user, (user_sessions.start(session, user.id, now, address, agent)
                              if start else None)
        raise failure

    def session_user(self, session_id: str, user_id: str, idle: timedelta,
                     lifetime: timedelta) -> user_sessions.SessionCheck:
        """The user of a live web session (its last request noted), or why it is not live."""
        with self.transaction() as session:
            return user_sessions.check(session, session_id, user_id, self.now(), idle,
                                       lifetime)

    def sign_out(self, session_id: str) -> bool:
        """End a web session; whether a live one was ended."""
        with self.transaction() as session:
            return user_sessions.end(session, session_id, self.now())

    def check_signer(self, user_id: str, password: str, address: str = "") -> None:
        """The password again for an electronic signature (21 CFR 11.200); AuthenticationFailed
        if it is wrong. Counted apart from sign-in: no one else's failures can stop it."""
        with self.transaction() as session:
            attempt = logins.prepare_signature(session, user_id, self.now())
        self._conclude_signature(attempt, password, address)

    def _conclude_signature(self, attempt: logins.Attempt, password: str, address: str) -> None:
        """Verify a signature-style password with no transaction open, then record the check
        (a wrong one is committed, so it counts) and raise AuthenticationFailed if it failed."""
        checked = logins.verify(self.hasher, attempt, password)
        failure: users.AuthenticationFailed | None = None
        with self.transaction() as session:
            try:
                logins.conclude_signature(session, attempt, checked, self.now(), address)
            except users.AuthenticationFailed as error:
                failure = error  # committed: the wrong password counts
        if failure is not None:
            raise failure

    def change_password(self, user_id: str, current: str, new: str, session_id: str | None,
                        history: int = users.PASSWORD_HISTORY,
                        address: str = "") -> UserRecord:
        """A user changes their own password: ``current`` must be right (a wrong one counts
        like a wrong signature password, so guessing it from an unattended browser stops),
        ``new`` strong and none of the last ``history``. Every other web session of the user
        ends; ``session_id``, the one asking, stays. UserError (AuthenticationFailed for the
        current password) says what is wrong.

        The argon2 verifications (the current password, the earlier ones) run with no
        transaction open, as for signing in.
        """
        with self.transaction() as session:
            attempt = logins.prepare_signature(session, user_id, self.now())
            earlier = users.earlier_hashes(session, user_id, history)
            user = users.get(session, user_id)
        self._conclude_signature(attempt, current, address)
        users.check_password(user_id, new, user.name, user.email)
        if users.reused(self.hasher, earlier, new):
            raise users.reuse_refusal(history)
        with self.transaction() as session:
            return users.set_password(session, user_id, new, self.now(),
                                      audit.By(user.id, user.name), self.hasher,
                                      history=history, keep_session=session_id,
                                      checked_against=earlier)

    def user(self, user_id: str) -> UserRecord | None:
        """The account ``user_id`` when it exists and is not disabled (e.g. for a session)."""
        with self.transaction() as session:
            user = session.get(User, user_id)
            return None if user is None or user.disabled else UserRecord.of(user)

    def people(self) -> list[Actor]:
        """Every active account as the engine sees it (who may be picked in a user field)."""
        with self.transaction() as session:
            return [users.actor(user) for user in users.listed(session, include_disabled=False)]

    def names(self) -> dict[str, str]:
        """Every account's name by user id, disabled ones included: a screen shows the person
        who did or holds something by name, also after their account was closed."""
        with self.transaction() as session:
            return {user.id: user.name for user in users.listed(session)}

    def definition(self, version: str) -> DefinitionSet:
        """The compiled definition set of a stored version (cached once compiled)."""
        known = self.versions.known(version)
        if known is not None:
            return known  # no transaction: on SQLite even a read takes the write lock
        with self.transaction() as session:
            return self.versions.get(session, version)

    def _actor(self, session: Session, user_id: str) -> tuple[User, Actor]:
        user = session.get(User, user_id)
        actor = self._active(user, user_id)
        assert user is not None  # _active refused otherwise
        return user, actor

    def _reader(self, session: Session, user_id: str) -> Reader:
        user = session.get(User, user_id)
        if user is None or user.disabled:
            return Reader(user_id, frozenset())  # reads nothing: no queue, no rule
        return access.reader(user)

    def _visibility(self, session: Session, who: Reader, definition: DefinitionSet | None,
                    cases: Mapping[int, Case]) -> dict[int, Visibility]:
        """What ``who`` sees of each case (by row id), by the current set's read rules (a
        process the current set no longer has: by its own version's, without any rule)."""
        known = access.facts(session, cases)
        seen = {}
        for case_id, case in cases.items():
            process = self.current.processes.get(case.process)
            if process is None:
                own = (definition or self.definition(case.version)).process(case.process)
                process = replace(own, read=())
            seen[case_id] = read_access.can_read(process, who, known[case_id])
        return seen

    @staticmethod
    def _active(user: users.RoleHolder | None, user_id: str) -> Actor:
        """The engine's actor for an account that may act; refused otherwise."""
        if user is None or user.disabled:
            why = "is disabled" if user else "does not exist"
            raise Refused.any_step([Reason("user", f"user '{user_id}' {why}")])
        return users.actor(user)

    def _signature(self, process: Process, step_id: str, user_id: str,
                   password: str | None, meaning: str | None,
                   client: str | None) -> Signature | None:
        step = process.step(step_id)
        if step is None or not step.signature:
            return None
        if password is None:
            return None  # the engine refuses: a signature is required
        # 21 CFR 11.200: the password again, every time.
        self.check_signer(user_id, password, client or "")
        return Signature(user_id, meaning or step.signature, True)

    # -- cases ------------------------------------------------------------------------------

    def create_case(self, process_id: str, step_id: str, user_id: str,
                    inputs: Mapping[str, Any], *, password: str | None = None,
                    meaning: str | None = None, reason: str | None = None,
                    client: str | None = None) -> Case:
        """Open a new case through a start step; its number is taken in the same transaction,
        so a refused or failed intake leaves no gap."""
        definition = self.current
        process = definition.process(process_id)
        signature = self._signature(process, step_id, user_id, password, meaning, client)
        with self.transaction() as session:
            now = self.now()
            _, actor = self._actor(session, user_id)
            self._require_published(session)
            outcome = self._start(session, definition, process, step_id, actor, inputs, now,
                                  signature, reason)
            self._check_user_fields(session, process, outcome.case, None)
            return self._save(session, definition, None, outcome, actor, now, client,
                              signature, step_id)

    def apply_step(self, number: str, step_id: str, user_id: str, inputs: Mapping[str, Any],
                     *, expected_version: int | None = None, password: str | None = None,
                     meaning: str | None = None, reason: str | None = None,
                     client: str | None = None) -> Case:
        """Take a step on case ``number``.

        ``expected_version`` is the row version the user saw (the form carries it): if the case
        changed since, the step is refused as a conflict and nothing is written. Comments
        are not changes of the case: a step whose case only got comments since goes through.
        """
        signature = None
        if password is not None:
            with self.transaction() as session:
                signed, definition = self._load(session, number)
                process = definition.process(signed.process)
            signature = self._signature(process, step_id, user_id, password, meaning, client)
        with db.step(self.sessions) as session:
            now = self.now()
            row, definition, user = self._load_with_user(session, number, user_id)
            if expected_version is not None and row.row_version != expected_version and not (
                    self._only_comments_since(session, row, expected_version)):
                raise store.Conflict(
                    f"case {number} changed since you opened it (it is at version "
                    f"{row.row_version}, you saw {expected_version}); nothing was saved: "
                    "reload it, check what changed, and take the step again")
            if row.voided_at is not None:
                raise Refused(step_id, row.state, [Reason(
                    "voided", f"case {number} was voided on {row.voided_at:%Y-%m-%d}: "
                              f"{row.void_reason}")])
            actor = self._active(user, user_id)
            process = definition.process(row.process)
            case = store.to_case(definition, row)
            read: _Read = {}
            targets = self._targets(session, definition, process, step_id, inputs, case, read)
            outcome = machine.apply(definition, case, step_id, actor, inputs, now, signature,
                                    reason, linked=self._linked(session, case),
                                    entries=self._referred(session, definition, process,
                                                           inputs, case, read),
                                    targets=targets)
            self._check_user_fields(session, process, outcome.case, case, user)
            db.begin_writes(session)
            return self._save(session, definition, _Stored(row, case), outcome, actor, now,
                              client, signature, step_id)

    def escalate_case(self, number: str) -> Outcome:
        """Run the due warning and breach actions of one case's clocks, each exactly once."""
        with self.transaction() as session:
            row, _ = self._load(session, number)
            return self.escalate_row(session, row, self.now())

    def escalate_row(self, session: Session, row: CaseRow, now: datetime) -> Outcome:
        """Escalate the case of ``row`` inside the caller's transaction (the deadline sweep's
        batch), which must hold the row's lock: its clocks say what was already done, so a
        warning or breach that another sweeper committed first is not done again."""
        definition = self.versions.get(session, row.version)
        case = store.to_case(definition, row)
        outcome = escalate(definition, case, now)
        if outcome.events:
            sweep = Actor("", SWEEP, frozenset())
            self._save(session, definition, _Stored(row, case), outcome, sweep, now, "sweep")
        return outcome

    def open_scheduled(self, session: Session, schedule: Schedule, key: str,
                       values: Mapping[str, Any], due: date, now: datetime) -> Case:
        """Open the case of one occurrence of ``schedule`` (the entry ``key`` with ``values``,
        due on ``due``) inside the caller's transaction, which records the occurrence too.

        The system takes the schedule's start step, with that step's roles: its audit entries
        name the schedule as the actor and say which entry and due date opened the case.
        Raises Refused when the step refuses the values, EvaluationError when a value of the
        schedule cannot be computed for this entry.
        """
        definition = self.current
        self._require_published(session)
        process = definition.process(schedule.process)
        step = process.starts[schedule.step]
        actor = Actor("", opened_by(schedule.id), frozenset(step.roles))
        inputs = case_inputs(schedule, key, values, due)
        reason = opening_reason(schedule.id, schedule.register, key, due)
        outcome = self._start(session, definition, process, step.id, actor, inputs, now, None,
                              reason)
        return self._save(session, definition, None, outcome, actor, now, "schedule")

    def _start(self, session: Session, definition: DefinitionSet, process: Process,
               step_id: str, actor: Actor, inputs: Mapping[str, Any], now: datetime,
               signature: Signature | None, reason: str | None) -> Outcome:
        """Take a start step inside ``session``: the next case number, the register entries
        its references name and its ``update`` effects change, then the engine. One path for
        a person's intake and the scheduler's."""
        number = store.next_number(session, process, self._local(definition, now))
        read: _Read = {}
        targets = self._targets(session, definition, process, step_id, inputs, None, read)
        return machine.start(definition, process.id, step_id, actor, inputs, now, number,
                             signature, reason,
                             entries=self._referred(session, definition, process, inputs, None,
                                                    read),
                             targets=targets)

    def answer_survey(self, number: str, survey_id: str, inputs: Mapping[str, Any], *,
                      client: str | None = None) -> Case:
        """Record the customer's answer to survey ``survey_id`` of case ``number``.

        The caller has checked the signed link that names the case and the survey; no
        account acts, and the audit entries name the link as the source. One transaction:
        refused like a step (already answered, never sent, expired, invalid input, a voided
        case), and a concurrent answer is a conflict, so a survey is never answered twice.
        """
        from ..surveys import answer, respondent

        with self.transaction() as session:
            now = self.now()
            row, definition = self._load(session, number)
            if row.voided_at is not None:
                raise Refused(f"survey:{survey_id}", row.state, [Reason(
                    "voided", f"case {number} was voided on {row.voided_at:%Y-%m-%d}")])
            case = store.to_case(definition, row)
            outcome = answer(definition, case, survey_id, inputs, now)
            return self._save(session, definition, _Stored(row, case), outcome,
                              respondent(survey_id), now, client or "survey link")

    def void_case(self, number: str, user_id: str, reason: str, *,
                  client: str | None = None) -> None:
        """Void a case (its deletion, 21 CFR 11.10(e)): it leaves inboxes and reports, and
        stays readable with every prior value and the reason."""
        with self.transaction() as session:
            now = self.now()
            row, definition = self._load(session, number)
            user, actor = self._actor(session, user_id)
            allowed = definition.organisation.void_roles
            if not set(allowed) & actor.roles:
                raise Refused("void", row.state, [Reason(
                    "role", f"voiding needs one of the roles {', '.join(allowed) or '(none)'}"
                            f"; {user.name} has {', '.join(sorted(actor.roles))}")])
            if row.voided_at is not None:
                raise Refused("void", row.state, [Reason("voided", f"case {number} is "
                                                                   "already voided")])
            if is_empty(reason):
                raise Refused("void", row.state, [Reason("reason", "voiding needs a reason")])
            case = store.to_case(definition, row)
            voided = replace(case, row_version=case.row_version + 1, updated_at=now)
            self._write(session, definition, _Stored(row, case), voided, [audit.Entry(
                "voided", "case", now, actor.id, actor.name, field="voided", old=False,
                new=True, reason=reason, version=row.version, data={"state": row.state})],
                client, {"voided_at": now, "void_reason": reason})

    def comment(self, number: str, user_id: str, text: str, *,
                mentions: Collection[str] = (),
                word: Callable[[UserRecord], tuple[str, str]] | None = None,
                client: str | None = None) -> Commented:
        """Add a comment to a case's record (an audit entry like any change, so it is part of
        the tamper-evident trail); tell each of ``mentions`` (user ids) who may read the case
        on their inbox, worded by ``word`` (subject, body) in their language.

        The comment moves the case's row version (the case row holds its trail's last link),
        and its entry names the version it made: a step sent from a form opened before the
        comment still goes through when only comments came since (see :meth:`apply_step`)."""
        if is_empty(text) or not text.strip():
            raise Refused.any_step([Reason("comment", "a comment needs some text")])
        if len(text) > COMMENT_MAX:
            raise Refused.any_step([Reason(
                "comment", f"a comment holds at most {COMMENT_MAX} characters; this one has "
                           f"{len(text)}")])
        with self.transaction() as session:
            now = self.now()
            row, definition = self._load(session, number)
            user, actor = self._actor(session, user_id)
            case = store.to_case(definition, row)
            seen = self._visibility(session, access.reader(user), definition, {row.id: case})
            if not seen[row.id].visible:
                raise _missing(number)
            if row.voided_at is not None and retention.disposed_case(session, row.id):
                raise Refused.any_step([Reason(
                    "disposed", f"case {number} was disposed of at the end of its retention: "
                                "nothing can be added to it")])
            told, untold = {}, []
            for mentioned in dict.fromkeys(mentions):
                account = session.get(User, mentioned)
                if account is None or account.disabled or account.id == user_id or not (
                        self._visibility(session, access.reader(account), definition,
                                         {row.id: case})[row.id].visible):
                    untold.append(mentioned)
                    continue
                subject, body = word(UserRecord.of(account)) if word else (text, text)
                told[account.id] = (account.locale, subject, body)
            commented = replace(case, row_version=case.row_version + 1, updated_at=now)
            self._write(session, definition, _Stored(row, case), commented, [audit.Entry(
                "comment", "case", now, actor.id, actor.name, new=text, version=row.version,
                data={"mentions": sorted(told), "row_version": commented.row_version})], client)
            outbox.tell_users(session, number, row.id, commented.row_version, told, now,
                              "(mention)")
            return Commented(tuple(sorted(told)), tuple(untold))

    def read_case(self, number: str, history: bool = True, reader: str | None = None
                  ) -> History:
        """The case with its whole audit trail and signatures, oldest first (without them
        when ``history`` is False: a form needs only the case).

        With ``reader`` (a user id), the case is read as that user may: a case they may not
        read is not found, exactly like a case that does not exist, and personal data they
        may not see is left out."""
        with self.transaction() as session:
            row, definition = self._load(session, number)
            case = store.to_case(definition, row)
            seen = FULL
            if reader is not None:
                seen = self._visibility(session, self._reader(session, reader), definition,
                                        {row.id: case})[row.id]
                if not seen.visible:
                    raise _missing(number)
            process = definition.process(case.process)
            hidden = frozenset() if seen.pii else read_access.pii_fields(process)
            case = _masked(case, hidden)
            if not history:
                return History(case, definition, row.voided_at, row.void_reason,
                               visibility=seen)
            events = session.execute(select(AuditEvent).where(AuditEvent.case_id == row.id)
                                     .order_by(AuditEvent.id)).scalars().all()
            signed = session.execute(select(SignatureRow).where(SignatureRow.case_id == row.id)
                                     .order_by(SignatureRow.id)).scalars().all()
            return History(
                case, definition, row.voided_at, row.void_reason,
                tuple(_masked_event(AuditRecord.of(e), hidden) for e in events),
                tuple(_masked_signature(SignatureRecord.of(s), hidden) for s in signed), seen)

    def can_read_file(self, user_id: str, reference: str) -> bool:
        """Whether ``user_id`` may download the attached file ``reference`` (``digest/name``):
        only when they may read a case holding it in a field they may see."""
        with self.transaction() as session:
            who = self._reader(session, user_id)
            rows = session.execute(select(CaseRow).where(
                CaseRow.voided_at.is_(None),
                # By the digest alone: SQLite's JSON text escapes a Chinese file name
                # (\uXXXX), PostgreSQL's does not; the whole reference is compared below.
                cast(CaseRow.values, Text).contains(f'"{reference.partition("/")[0]}/',
                                                    autoescape=True),
                access.readable(session, who, self.current))).scalars().all()
            for row in rows:
                definition = self.versions.get(session, row.version)
                case = store.to_case(definition, row)
                seen = self._visibility(session, who, definition, {row.id: case})[row.id]
                process = definition.process(case.process)
                hidden = frozenset() if seen.pii else read_access.pii_fields(process)
                if any(value == reference for name, value in case.values.items()
                       if name not in hidden):
                    return True
            return False

    def notifications(self, user_id: str, limit: int = 20
                      ) -> tuple[list[Notification], int]:
        """A user's newest unread in-app notifications, and how many are unread in all."""
        with self.transaction() as session:
            who = self._reader(session, user_id)
            return outbox.unread(session, user_id, limit,
                                 access.readable(session, who, self.current))

    def mark_read(self, user_id: str, ids: list[int] | None = None) -> int:
        """Mark a user's in-app notifications read (all when ``ids`` is None); how many."""
        with self.transaction() as session:
            return outbox.mark_read(session, user_id, ids, self.now())

    def list_cases(self, user_id: str, filters: Filters = inbox.INBOX, page: int = 1,
                   per_page: int = 50) -> Page:
        """A page of cases for ``user_id``: by default their own and their roles' open queues,
        soonest due first (cases without a running clock last), each as the engine's case on
        its own definition version."""
        with self.transaction() as session:
            user, actor = self._actor(session, user_id)
            who = access.reader(user)
            private = None
            if filters.text:
                # A personal-data field is searched only where the user may see it.
                filters = replace(filters, private_fields=tuple(
                    name for name in filters.text_fields
                    if any(name in p.fields and p.fields[name].pii
                           for p in self.current.processes.values())), search_config=(
                    filters.search_config or inbox.chinese_search_config(session)))
                private = access.readable(session, who, self.current, pii=True)
            found = inbox.page_of(session, actor, filters, page, per_page, self.now(),
                                  self.versions, access.readable(session, who, self.current),
                                  private)
            if not found.rows:
                return found
            ids = dict(zip(found.ids, found.rows, strict=True))
            seen = self._visibility(session, who, None, ids)
            rows, hidden = [], set()
            for case_id, case in ids.items():
                if seen[case_id].pii:
                    rows.append(case)
                else:
                    hidden.add(case.number)
                    rows.append(_masked(case, read_access.pii_fields(
                        self.definition(case.version).process(case.process))))
            return replace(found, rows=tuple(rows), hidden=frozenset(hidden))

    # -- the audit trail ------------------------------------------------------------------

    def seal_audit(self) -> audit.Sealed:
        """Seal the audit entries written since the last seal (the worker runs this every
        second): a short transaction finds the horizon (:func:`.audit.settled`), then one
        transaction per seal covers the entries up to it (:func:`.audit.seal_pending`).
        ``busy``: steps still writing entries kept the horizon back; all wait for the next run."""
        # The horizon's lock holds steps back until its transaction ends, so that transaction
        # does nothing else: the hashing and the seals' commits come after it.
        with self.transaction() as session:
            up_to = audit.settled(session)
        if up_to is None:
            return audit.Sealed(0, busy=True)
        total = 0
        while True:
            with self.transaction() as session:
                done = audit.seal_pending(session, self.now(), up_to=up_to)
            total += done.count
            if done.count < audit.SEAL_BATCH:
                return audit.Sealed(total)

    # -- definition versions --------------------------------------------------------------

    def migrate(self, from_version: str, to_version: str | DefinitionSet,
                state_map: Mapping[str, str] | None = None, *, by: audit.By = audit.SYSTEM,
                dry_run: bool = False, client: str | None = None) -> list[Plan]:
        """Move the open cases of one definition version to another.

        Cases that fit move, each with a ``migrated`` audit entry and one entry per clock whose
        due time the new version moves; the others stay where they are and come back with the
        reasons. ``dry_run`` only reports; only a dry run may be given a compiled set that is
        not stored (a set being checked before it is published), as a case runs on stored
        versions only.
        """
        if not dry_run and not isinstance(to_version, str):
            raise UnknownVersion("cases move only to a published version")
        with self.transaction() as session:
            now = self.now()
            old = self.versions.get(session, from_version)
            new = self.versions.get(session, to_version) if isinstance(to_version, str) \
                else to_version
            rows = session.execute(select(CaseRow).where(
                CaseRow.version == old.version, CaseRow.closed_at.is_(None),
                CaseRow.voided_at.is_(None)).order_by(CaseRow.id)).scalars().all()
            plans = []
            for row in rows:
                case = store.to_case(old, row)
                result = plan(old, new, case, now, state_map)
                plans.append(result)
                if dry_run or result.case is None:
                    continue
                entries = [audit.Entry(
                    "migrated", "case", now, by.id, by.name, field="version",
                    old=old.version, new=new.version, version=new.version,
                    data={"state_from": result.state_from, "state": result.case.state})]
                entries += [audit.Entry(
                    "clock_changed", "case", now, by.id, by.name, field=move.clock,
                    old=move.old_due, new=move.new_due, version=new.version,
                    data={"why": "the new definition version changes this deadline"})
                    for move in result.moves]
                self._write(session, new, _Stored(row, case), result.case, entries, client)
            return plans

    def linked(self, case: Case) -> dict[str, bool]:
        """Whether each case linked to ``case`` is finished, by number: what
        :func:`~..machine.available` needs to tell whether a close still waits for one."""
        with self.transaction() as session:
            return self._linked(session, case)

    def readable_numbers(self, numbers: Collection[str], reader: str) -> set[str]:
        """Which of the case ``numbers`` ``reader`` may read: a page that names cases it did not
        look up through the read rules (scheduled work) names only these."""
        if not numbers:
            return set()
        with self.transaction() as session:
            who = self._reader(session, reader)
            return set(session.execute(select(CaseRow.number).where(
                CaseRow.number.in_(list(numbers)),
                access.readable(session, who, self.current))).scalars())

    def referring(self, register_id: str, key: str, reader: str, open_only: bool = False
                  ) -> list[Case]:
        """The cases whose register fields name the entry ``key`` of ``register_id`` (a
        device's history), oldest first: only those ``reader`` may read, none voided; with
        ``open_only`` only those not closed yet."""
        fields = {pid: references.referring(process, register_id)
                  for pid, process in self.current.processes.items()}
        named = [and_(CaseRow.process == pid, CaseRow.values[name].as_string() == key)
                 for pid, found in fields.items() for name in found]
        if not named or not key or text_problem(key, False):
            return []  # no entry has a key that is not text (a NUL would fail on PostgreSQL)
        with self.transaction() as session:
            who = self._reader(session, reader)
            query = select(CaseRow).where(
                or_(*named), CaseRow.voided_at.is_(None),
                access.readable(session, who, self.current))
            if open_only:
                query = query.where(CaseRow.closed_at.is_(None))
            rows = session.execute(query.order_by(CaseRow.created_at, CaseRow.id)
                                   .limit(REFERRING_MAX)).scalars().all()
            return [store.to_case(self.versions.get(session, row.version), row)
                    for row in rows]

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _entry(session: Session, definition: DefinitionSet, register_id: str, key: str,
               read: _Read) -> registers.EntryRecord | None:
        """The entry ``key`` of ``register_id`` (None: no such entry), read once per step:
        ``read`` holds what the step read already (an entry a step both names and updates,
        such as a loaner handed out, is read once, with the row version it is updated on)."""
        if (register_id, key) not in read:
            try:
                read[(register_id, key)] = registers.get(session, definition, register_id, key)
            except registers.EntryNotFound:
                read[(register_id, key)] = None
        return read[(register_id, key)]

    def _referred(self, session: Session, definition: DefinitionSet, process: Process,
                  inputs: Mapping[str, Any], case: Case | None, read: _Read
                  ) -> dict[str, Mapping[str, Any] | None]:
        """The entry each register field of ``inputs`` names, when it names a new one: its
        values, or None when its register has no such entry (the engine refuses it). A
        reference the case already holds is not read again: what it copied stays."""
        found: dict[str, Mapping[str, Any] | None] = {}
        for name, register_id in references.referring(process).items():
            key = inputs.get(name)
            if not isinstance(key, str) or not key.strip() or register_id not in (
                    definition.registers):
                continue
            key = key.strip()
            if text_problem(key, False) or (case is not None and case.values.get(name) == key):
                # Not text (the engine refuses it, as any such value), or held already.
                continue
            record = self._entry(session, definition, register_id, key, read)
            if record is None:
                found[name] = None
                continue
            found[name] = references.Referred(record.values, self._through(
                session, definition, process.fields[name], record.values, read))
        return found

    def _through(self, session: Session, definition: DefinitionSet, spec: Field,
                 values: Mapping[str, Any], read: _Read
                 ) -> dict[str, Mapping[str, Any] | None]:
        """The entries the copies of the register field ``spec`` read through the entry's own
        register fields (the device's customer): their values, None for an empty or unknown
        key."""
        further: dict[str, Mapping[str, Any] | None] = {}
        for name, register_id in references.through_registers(
                spec, definition.registers).items():
            key = values.get(name)
            if not isinstance(key, str) or not key or text_problem(key, False):
                further[name] = None
                continue
            # None when removed from its register: nothing to copy.
            record = self._entry(session, definition, register_id, key, read)
            further[name] = record.values if record else None
        return further

    def _targets(self, session: Session, definition: DefinitionSet, process: Process,
                 step_id: str, inputs: Mapping[str, Any], case: Case | None, read: _Read
                 ) -> dict[str, Mapping[str, Any] | None]:
        """The entries the step's ``update`` effects change, by case field: their values, or
        None when the register holds no such key (the engine refuses it). Their row versions
        are kept in the session for :meth:`_update_entries`, so an entry changed by another
        step meanwhile is a conflict, never a lost update."""
        step = process.step(step_id)
        if step is None or not register_updates.updates(step):
            return {}
        values = {**(case.values if case else {}), **inputs}
        found: dict[str, Mapping[str, Any] | None] = {}
        versions = session.info.setdefault(_ENTRY_VERSIONS, {})
        for name, key in register_updates.targets(process, step, values).items():
            register_id = process.fields[name].register
            if register_id is None or text_problem(key, False):
                continue
            record = self._entry(session, definition, register_id, key, read)
            if record is None:
                found[name] = None
                continue
            found[name] = record.values
            versions[(register_id, record.key)] = record.row_version
        return found

    def _update_entries(self, session: Session, definition: DefinitionSet, case: Case,
                        outcome: Outcome, actor: Actor, now: datetime,
                        client: str | None) -> None:
        """Write the entries the step changed, each audited in its own trail with the case
        number, on the row version read before the step (EntryConflict otherwise)."""
        versions = session.info.get(_ENTRY_VERSIONS, {})
        for event in outcome.events:
            if event.kind != register_updates.EVENT:
                continue
            register_id, key = str(event.data["register"]), str(event.data["key"])
            raw = {name: value for name, value in event.data["values"].items()}
            try:
                record = registers.update(
                    session, definition, register_id, key, raw,
                    versions[(register_id, key)], now, audit.By(actor.id or None, actor.name),
                    client=client, source={"case": case.number, "step": str(event.data["step"])})
            except registers.EntryConflict as conflict:
                raise store.Conflict(
                    f"{register_id} '{key}' was changed by someone else while the step was "
                    f"taken: nothing was saved; take the step again") from conflict
            except EntryInvalid as invalid:
                # What only the store can check (a reference to an entry it does not hold).
                field, words = next(iter(invalid.problems.items()))
                raise Refused(str(event.data["step"]), case.state, [Reason(
                    "entry", f"{register_id} '{key}': {field}: {words}", None,
                    (("register", register_id), ("key", key), ("field", field)))]) from invalid
            versions[(register_id, key)] = record.row_version

    def _only_comments_since(self, session: Session, row: store.StoredRow, seen: int) -> bool:
        """Whether every write to the case after row version ``seen`` was a comment (each
        comment's entry names the version it made; comments before that was recorded do
        not, and count as changes)."""
        if not 0 <= seen < row.row_version:
            return False
        made = {(data or {}).get("row_version") for data in session.execute(
            select(AuditEvent.data).where(AuditEvent.case_id == row.id,
                                          AuditEvent.action == "comment")).scalars()}
        return all(version in made for version in range(seen + 1, row.row_version + 1))

    def _linked(self, session: Session, case: Case) -> dict[str, bool]:
        # A close waits for the linked cases it opened through a blocks_close relation (a
        # regulatory report): the engine reads whether each is finished. One query, and none
        # for a case without links.
        numbers = [link.number for link in case.links]
        if not numbers:
            return {}
        rows = session.execute(select(CaseRow.number, CaseRow.closed_at)
                               .where(CaseRow.number.in_(numbers)))
        return {number: closed_at is not None for number, closed_at in rows}

    def _load(self, session: Session, number: str) -> tuple[CaseRow, DefinitionSet]:
        row = store.find_case(session, number)
        if row is None:
            raise _missing(number)
        return row, self.versions.get(session, row.version)

    def _load_with_user(self, session: Session, number: str, user_id: str
                        ) -> tuple[store.StoredRow, DefinitionSet, _Account | None]:
        """The case and the acting user's account in one round trip."""
        found: Any = session.connection().execute(
            _CASE_WITH_USER, {"number": number, "user": user_id}).first()
        if found is None:
            raise _missing(number)
        user = None if found.user_id is None else _Account(
            found.user_id, found.user_name, found.user_roles, found.user_disabled)
        return found, self.versions.get(session, found.version), user

    def _require_published(self, session: Session) -> None:
        # The version a case runs on must be a stored, controlled record before the case is.
        if self._published:
            return
        if session.get(DefinitionVersion, self.current.version) is None:
            raise Refused.any_step([Reason(
                "version", f"definition version {self.current.version[:12]} is not published: "
                           "run 'qmsflow definitions publish PATH' first")])
        self._published = True

    @staticmethod
    def _local(definition: DefinitionSet, now: datetime) -> datetime:
        return now.astimezone(ZoneInfo(definition.organisation.timezone))

    def _check_user_fields(self, session: Session, process: Process, new: Case,
                           old: Case | None, acting: users.RoleHolder | None = None) -> None:
        """A user field must name an active user holding one of the field's roles
        (``acting``: the account already read, asked for without a query)."""
        reasons = []
        for name, spec in process.fields.items():
            value = new.values.get(name)
            if spec.type != "user" or is_empty(value) or (old and old.values.get(name) == value):
                continue
            user: users.RoleHolder | None = (acting if acting is not None and acting.id == value
                                         else session.get(User, str(value)))
            if user is None or user.disabled:
                reasons.append(Reason("invalid", f"{name}: no active user '{value}'", name))
            elif spec.roles and not set(spec.roles) & set(user.roles):
                reasons.append(Reason("invalid", f"{name}: {user.name} holds none of the roles "
                                                 f"{', '.join(spec.roles)}", name))
        if reasons:
            raise Refused(new.steps[-1].step if new.steps else None,
                          old.state if old else None, reasons)

    def _entries(self, definition: DefinitionSet, outcome: Outcome,
                 actor: Actor) -> list[audit.Entry]:
        entries = [entry(event, actor, definition.version) for event in outcome.events
                   if event.kind not in ("open_case", register_updates.EVENT)]
        # The step's reason is why each of its field changes was made (GMP Art. 27).
        reason = next((e.reason for e in entries if e.action in ("transition", "created")), None)
        return [replace(e, reason=reason) if e.action == "field_changed" else e
                for e in entries]

    def _save(self, session: Session, definition: DefinitionSet, stored: _Stored | None,
              outcome: Outcome, actor: Actor, now: datetime, client: str | None,
              signature: Signature | None = None, step_id: str = "") -> Case:
        """Write a step's outcome: linked cases, signatures, the case and its audit entries."""
        entries = self._entries(definition, outcome, actor)
        case = outcome.case
        for event in outcome.events:
            if event.kind == "open_case":
                case = self._open_linked(session, definition, case, event, actor, now, client,
                                         entries)
        valid = stored.row.valid_signatures if stored else 0
        if stored is not None and valid and _restated(stored.case, case):
            for signed, changed in signatures.invalidate(session, definition, stored.row.id,
                                                         case, actor.name, now):
                valid -= 1
                entries.append(audit.Entry(
                    "signature_invalidated", "signature", now, actor.id or None, actor.name,
                    field=signed.step, meaning=signed.meaning, version=case.version,
                    data={"signer": signed.signer_name, "signed_at": signed.signed_at,
                          "changed": changed}))
        if signature is not None:
            valid += 1
            entries.append(audit.Entry(
                "signed", "signature", now, actor.id, actor.name, field=step_id,
                meaning=signature.meaning, version=definition.version,
                data={"record_hash": signatures.record_hash(definition, case),
                      "row_version": case.row_version}))
        # The case's row is written before what names it or follows from it: its version
        # check is what lets only one of two steps racing on the case go on writing.
        last = signature is None and not any(e.kind in _WRITTEN_AFTER_CASE
                                             for e in outcome.events)
        with db.last_write(session) if last and stored is not None else nullcontext():
            case_id = self._write(session, definition, stored, case, entries, client,
                                  {"valid_signatures": valid})
        self._update_entries(session, definition, case, outcome, actor, now, client)
        outbox.enqueue(session, definition, case, case_id, outcome.events, now,
                       self.survey_link)
        if signature is not None:
            signatures.sign(session, definition, case_id, case, step_id, actor,
                            signature.meaning, now)
        return case

    def _write(self, session: Session, definition: DefinitionSet, stored: _Stored | None,
               case: Case, entries: list[audit.Entry], client: str | None,
               extra: Mapping[str, Any] | None = None) -> int:
        """Insert or update the case with its audit entries chained in; the case's row id.

        The case's chain is computed first, so the case row is written once, with its new
        chain head, in the same statement that checks its row version: that check is what
        orders a case's entries, and no lock is shared with steps on other cases. Inside the
        sweep's batch the write is collected (:data:`.store.DEFERRED_WRITES`) and made with
        the batch's others.
        """
        head = (audit.CaseChain(case.number, stored.row.audit_count, stored.row.audit_hash)
                if stored else audit.CaseChain(case.number, 0, audit.GENESIS))
        batch = audit.chain(session, entries, head, client)
        assert batch.case is not None
        columns = {"audit_count": batch.case.count, "audit_hash": batch.case.hash,
                   **(extra or {})}
        if stored is None:
            case_id = store.insert_case(session, definition, case, columns)
            audit.write(session, batch, case_id)
            return case_id
        write = store.case_write(definition, stored.row.id, stored.case, case, columns, batch)
        deferred = session.info.get(store.DEFERRED_WRITES)
        if deferred is not None:
            deferred.append(write)  # the sweep's batch: written together before its commit
        else:
            store.update_cases(session, [write])
        return stored.row.id

    def _open_linked(self, session: Session, definition: DefinitionSet, source: Case,
                     event: Event, actor: Actor, now: datetime, client: str | None,
                     entries: list[audit.Entry]) -> Case:
        """Open the case an ``open_case`` effect asks for; the source with its link."""
        process = definition.process(str(event.data["process"]))
        number = store.next_number(session, process, self._local(definition, now))
        linked, source = machine.open_linked(definition, source, event, actor, now, number)
        entries.append(audit.Entry(
            "linked", "case", now, actor.id or None, actor.name, field="links",
            new=linked.case.number, version=definition.version,
            data={"relation": str(event.data["relation"]), "process": process.id}))
        linked_id = self._write(session, definition, None, linked.case,
                                self._entries(definition, linked, actor), client)
        outbox.enqueue(session, definition, linked.case, linked_id, linked.events, now,
                       self.survey_link)
        return source


#: The events :meth:`CaseService._save` writes something for after the case's row: the
#: register entries a step updates, its notifications (and a signature, which is no event).
_WRITTEN_AFTER_CASE = frozenset({register_updates.EVENT, "notify"})


def entry(event: Event, actor: Actor, version: str) -> audit.Entry:
    """The audit entry of one engine event."""
    data = dict(event.data)
    kind = event.kind
    field_name = data.pop("field", None) or {
        "priority_changed": "priority", "flags_changed": "flags",
        "assigned": "assignee_role"}.get(kind) or data.get("clock")
    old = data.pop("old", None)
    new = data.pop("new", None)
    if kind in ("transition", "created"):
        old, new = data.pop("from", None), data.pop("to", None)
        field_name = "state"
    elif kind == "assigned":
        old, new = data.pop("previous", None), data.pop("role", None)
    elif kind.startswith("clock_"):
        new = data.get("due_at")
    actor_id = event.actor or None
    return audit.Entry(
        kind, "case", event.at, actor_id, actor.name if actor_id == actor.id or not actor_id
        else actor_id, field=field_name, old=old, new=new, reason=data.pop("reason", None),
        meaning=data.pop("signature", None), version=version, data=data)

