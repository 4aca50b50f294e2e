"""The transactional outbox: notifications written with the change that caused them, sent after.

:func:`enqueue` runs inside the transaction of a step, a warning or a breach: every ``notify``
event becomes one row per recipient and channel, rendered in the recipient's language, or no
row at all if the transaction rolls back. :func:`deliver` runs afterwards (``qmsflow worker``),
on any number of hosts: it claims due e-mails with ``FOR UPDATE SKIP LOCKED``, hands each to a
sender (SMTP), marks it sent in the same transaction, and retries failures with exponential
back-off until ``max_attempts``. In-app notifications are read from the table by the inbox.

Never twice: a message is marked sent in the transaction that holds its row lock while it is
sent, so a second worker skips it and a finished one is never picked again. One window is left,
as with any SMTP client: a worker killed after the server accepted a message and before the
commit sends it again on restart. It then carries the same ``Message-ID``, by which mail
systems drop the copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ..cases import Case
from ..events import Event
from ..model import DefinitionSet
from ..notifications import Recipient, Rendered, RenderFailed, context, reads, render
from . import rowsets
from .db import transaction
from .models import CaseRow, OutboxMessage, User
from .records import Notification

#: Makes the customer's link to a survey: (case number, survey id) -> absolute URL.
SurveyLink = Callable[[str, str], str]

EMAIL, IN_APP = "email", "in_app"
PENDING, SENT, FAILED = "pending", "sent", "failed"
UNREAD, READ = "unread", "read"


@dataclass(frozen=True)
class Address:
    """Where one copy goes: an e-mail address or a user id (in-app), in which language."""

    channel: str
    recipient: str
    locale: str
    user_id: str | None = None
    name: str = ""
    problem: str | None = None  # why it cannot be sent (e.g. an empty e-mail field)


@dataclass(frozen=True)
class Addressee:
    """An active account as a notice addresses it: plain data, read once per transaction."""

    id: str
    name: str
    email: str | None
    locale: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Staff:
    """The active accounts by id, each role's members and each person's name by id."""

    by_id: Mapping[str, Addressee]
    by_role: Mapping[str, tuple[Addressee, ...]]
    names: Mapping[str, str]

    @classmethod
    def of(cls, people: Iterable[Addressee]) -> Staff:
        """Staff made of ``people``, indexed."""
        by_id = {person.id: person for person in people}
        by_role: dict[str, list[Addressee]] = {}
        for person in by_id.values():
            for role in person.roles:
                by_role.setdefault(role, []).append(person)
        return cls(by_id, {role: tuple(members) for role, members in by_role.items()},
                   {person.id: person.name for person in by_id.values()})

    def account(self, user_id: str | None) -> tuple[Addressee, ...]:
        """The active account ``user_id`` (none when it is not one)."""
        found = self.by_id.get(user_id) if user_id else None
        return (found,) if found is not None else ()


#: Nobody: addressing only a case's own fields (the customer), as a preview does.
NOBODY = Staff.of(())


def addresses(definition: DefinitionSet, case: Case, targets: Iterable[str], channel: str,
              staff: Staff) -> list[Address]:
    """The recipients of a notify event, one address each, duplicates removed.

    A field recipient (the customer) is reached by e-mail only, in the organisation's first
    language; staff are reached in their own language, by e-mail when the template is an
    e-mail and they have an address, otherwise in-app on their inbox. A customer who cannot be
    reached (an empty e-mail field) is kept with the reason, so the outbox shows what was not
    sent and why.
    """
    default_locale = definition.organisation.locales[0]
    found: dict[tuple[str, str], Address] = {}

    def person(user: Addressee) -> None:
        if channel == EMAIL and user.email:
            found.setdefault((EMAIL, user.email), Address(EMAIL, user.email, user.locale,
                                                          user.id, user.name))
        else:  # in-app templates, and staff without an e-mail address, see it on their inbox
            found.setdefault((IN_APP, user.id), Address(IN_APP, user.id, user.locale, user.id,
                                                        user.name))

    for target in targets:
        recipient = Recipient.parse(target)
        if recipient.kind == "field":
            value = case.values.get(recipient.name)
            if value:
                found.setdefault((EMAIL, str(value)), Address(EMAIL, str(value),
                                                              default_locale))
            else:
                found.setdefault((EMAIL, f"field:{recipient.name}"), Address(
                    EMAIL, f"field:{recipient.name}", default_locale,
                    problem=f"the field '{recipient.name}' is empty: no address to send to"))
            continue
        if recipient.kind == "role":
            chosen = staff.by_role.get(recipient.name, ())
        elif recipient.kind == "creator":
            chosen = staff.account(case.steps[0].actor if case.steps else None)
        elif case.assignee:
            chosen = staff.account(case.assignee)
        else:
            chosen = staff.by_role.get(case.assignee_role or "", ())
        for user in chosen:
            person(user)
    return list(found.values())


def _key(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def enqueue(session: Session, definition: DefinitionSet, case: Case, case_id: int,
            events: Iterable[Event], now: datetime,
            survey_link: SurveyLink | None = None) -> int:
    """Write the outbox rows of the ``notify`` events of one change of ``case``; how many.

    Runs in the change's own transaction. Each row's key is the case, its row version, the
    template, the clock and the address: the same change never notifies anyone twice.
    """
    notices = [event for event in events if event.kind == "notify"]
    if not notices:
        return 0
    staff = _staff(session)
    rows: list[dict[str, Any]] = []
    for event in notices:
        template = definition.templates[str(event.data["template"])]
        clock = event.data.get("clock")
        survey = event.data.get("survey")
        link = survey_link(case.number, str(survey)) if survey and survey_link else ""
        # A resent invitation (operations.resend_survey) is a new message of the same change.
        again = (event.data["resent"],) if event.data.get("resent") else ()
        # Worded once per language, and per reader only when the template names its reader:
        # a warning to a role's members is one text (the sweep renders thousands).
        worded: dict[tuple[str, str], Rendered | RenderFailed] = {}
        names = reads(template)
        personal = "recipient" in names
        for address in addresses(definition, case, event.data["to"], template.channel, staff):
            key = _key(case.number, case.row_version, template.id, clock, address.channel,
                       address.recipient, *again)
            status = UNREAD if address.channel == IN_APP else PENDING
            error = address.problem
            subject = body = ""
            if error is None:
                reader = address.name if personal else ""
                wording = worded.get((address.locale, reader))
                if wording is None:
                    try:
                        wording = render(template, address.locale, context(
                            definition, case, address.locale,
                            clock=str(clock) if clock else None, recipient=reader,
                            survey_url=link, names=names, people=staff.names))
                    except RenderFailed as failed:
                        wording = failed
                    worded[address.locale, reader] = wording
                if isinstance(wording, RenderFailed):
                    error = str(wording)
                else:
                    subject, body = wording.subject, wording.body
            if error is not None:
                status = FAILED
            rows.append({
                "key": key, "case_id": case_id, "case_number": case.number,
                "template": template.id, "channel": address.channel,
                "recipient": address.recipient, "user_id": address.user_id,
                "locale": address.locale, "subject": subject, "body": body, "status": status,
                "attempts": 0, "next_attempt_at": now if status == PENDING else None,
                "last_error": error, "created_at": now})
    unique = list({row["key"]: row for row in rows}.values())
    deferred = session.info.get(DEFERRED_ROWS)
    if deferred is not None:
        deferred.extend(unique)  # the sweep's batch: written together (write_rows)
    else:
        write_rows(session, unique)
    return len(unique)


#: Where a transaction collects outbox rows to write at once (the deadline sweep's batch, as
#: :data:`.store.DEFERRED_WRITES` for its cases): while set in ``session.info``,
#: :func:`enqueue` appends to it, and whoever set it calls :func:`write_rows` before commit.
DEFERRED_ROWS = "qmsflow.deferred_outbox"


def write_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows made by :func:`enqueue` (one statement on PostgreSQL: the sweep
    writes thousands of these per minute)."""
    rowsets.insert_rows(session.connection(), OUTBOX, WRITTEN_TYPES, rows)


def tell_users(session: Session, case_number: str, case_id: int, row_version: int,
               notices: Mapping[str, tuple[str, str, str]], now: datetime, kind: str) -> None:
    """In-app notices to people by user id, each already worded: (locale, subject, body);
    ``kind`` names them in the outbox's template column (e.g. ``(mention)``)."""
    write_rows(session, [{
        "key": _key(case_number, row_version, kind, None, IN_APP, user_id), "case_id": case_id,
        "case_number": case_number, "template": kind, "channel": IN_APP, "recipient": user_id,
        "user_id": user_id, "locale": locale, "subject": subject, "body": body,
        "status": UNREAD, "attempts": 0, "next_attempt_at": None, "last_error": None,
        "created_at": now} for user_id, (locale, subject, body) in notices.items()])


OUTBOX = cast(Table, OutboxMessage.__table__)
#: The columns :func:`enqueue` and :func:`tell_users` fill; the others start empty.
WRITTEN_TYPES = [(c.name, c.type) for c in OUTBOX.columns
                 if c.name not in ("id", "sent_at", "read_at")]


def _staff(session: Session) -> Staff:
    """The active accounts, read once per transaction (a sweep batch notifies many cases)."""
    transaction = session.get_transaction()
    cached = session.info.get("qmsflow.outbox.staff")
    if cached is None or cached[0] is not transaction:
        accounts = session.execute(select(User).where(User.disabled.is_(False))).scalars()
        staff = Staff.of(Addressee(user.id, user.name, user.email, user.locale,
                                   frozenset(user.roles or ())) for user in accounts)
        cached = session.info["qmsflow.outbox.staff"] = (transaction, staff)
    return cast(Staff, cached[1])


# -- sending ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    """An e-mail ready for the sender; ``message_id`` is stable across retries."""

    id: int
    to: str
    subject: str
    body: str
    message_id: str
    case_number: str | None


Sender = Callable[[Message], None]


@dataclass
class Delivery:
    """What one :func:`deliver` run did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 1, 2, 4... minutes, at most 6 h."""
    return min(timedelta(minutes=2 ** (attempts - 1)), timedelta(hours=6))


def message_id(row: OutboxMessage, domain: str) -> str:
    """The RFC 5322 Message-ID of an outbox row: the same on every attempt."""
    return f"<outbox-{row.id}.{row.key[:16]}@{domain}>"


def deliver(sessions: sessionmaker[Session], send: Sender, now: Callable[[], datetime], *,
            domain: str = "qmsflow.invalid", limit: int = 100, max_attempts: int = 8
            ) -> Delivery:
    """Send due e-mails, one transaction each, until none is due or ``limit`` were tried.

    Each message is claimed with ``FOR UPDATE SKIP LOCKED`` (several workers share the queue),
    sent while its row is locked, and marked in the same transaction. A failure is recorded
    with its error and tried again after :func:`backoff`; after ``max_attempts`` it is failed
    and stays visible with the last error.
    """
    result = Delivery()
    for _ in range(limit):
        with transaction(sessions) as session:
            moment = now()
            row = session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= moment)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(1).with_for_update(skip_locked=True)).scalar_one_or_none()
            if row is None:
                break
            try:
                send(Message(row.id, row.recipient, row.subject, row.body,
                             message_id(row, domain), row.case_number))
            except Exception as error:  # any sending failure is recorded and retried
                row.attempts += 1
                row.last_error = f"{type(error).__name__}: {error}"[:2000]
                if row.attempts >= max_attempts:
                    row.status = FAILED
                    row.next_attempt_at = None
                    result.failed += 1
                else:
                    row.next_attempt_at = moment + backoff(row.attempts)
                    result.retried += 1
            else:
                row.attempts += 1
                row.status = SENT
                row.sent_at = moment
                row.next_attempt_at = None
                row.last_error = None
                result.sent += 1
    return result


# -- in-app ----------------------------------------------------------------------------------

def unread(session: Session, user_id: str, limit: int = 20,
           readable: ColumnElement[bool] | None = None) -> tuple[list[Notification], int]:
    """A user's newest unread in-app notifications and how many are unread in all; with
    ``readable`` (the read-access condition on cases), only those about no case or about a
    case the user may read (a notification quotes the case, personal data included)."""
    mine: tuple[ColumnElement[bool], ...] = (
        OutboxMessage.user_id == user_id, OutboxMessage.channel == IN_APP,
        OutboxMessage.status == UNREAD)
    if readable is not None:
        mine = (*mine, or_(OutboxMessage.case_id.is_(None), OutboxMessage.case_id.in_(
            select(CaseRow.id).where(readable))))
    rows = [Notification.of(row) for row in session.execute(
        select(OutboxMessage).where(*mine).order_by(OutboxMessage.id.desc()).limit(limit)
    ).scalars()]
    count = session.execute(select(func.count()).select_from(OutboxMessage)
                            .where(*mine)).scalar_one()
    return rows, count


def mark_read(session: Session, user_id: str, ids: Iterable[int] | None, now: datetime) -> int:
    """Mark a user's in-app notifications read (all of them when ``ids`` is None)."""
    statement = update(OutboxMessage).where(
        OutboxMessage.user_id == user_id, OutboxMessage.channel == IN_APP,
        OutboxMessage.status == UNREAD)
    if ids is not None:
        statement = statement.where(OutboxMessage.id.in_(list(ids)))
    result = session.execute(statement.values(status=READ, read_at=now))
    assert isinstance(result, CursorResult)
    return result.rowcount


def counts(session: Session) -> Mapping[tuple[str, str], int]:
    """How many messages there are per (channel, status): what ``qmsflow worker`` reports."""
    rows = session.execute(select(OutboxMessage.channel, OutboxMessage.status, func.count())
                           .group_by(OutboxMessage.channel, OutboxMessage.status))
    return {(channel, status): count for channel, status, count in rows}
