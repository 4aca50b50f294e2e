"""Operations: the e-mails of the outbox as staff see them, sending a failed one again, and
resending a customer's survey invitation.

Read access holds here as on every screen: a message about a case is shown only to those who
may read the case, and its recipient and subject only to those who may see the case's
personal data (a customer's address is personal data; a colleague's account is not). The
failure reason stays readable for all of them, with a hidden address taken out of it.

Sending again and resending are recorded twice: on the message (its status, attempts and last
error, as the worker records every try) and in the audit trail (who asked, when, which
message; never the address).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from .. import access as read_access
from ..access import Reader, Visibility
from ..cases import Case
from ..errors import QmsflowError
from ..events import Event
from ..machine import Reason, Refused
from ..surveys import invitation
from . import access, audit, outbox, reports, store
from .models import CaseRow, OutboxMessage, User
from .service import CaseNotFound, CaseService

__all__ = ["STATUSES", "MessagePage", "MessageRecord", "NotRetryable", "Operations"]

#: The statuses of an e-mail, in the order the outbox page offers them.
STATUSES = (outbox.FAILED, outbox.PENDING, outbox.SENT)
#: An in-app notice's statuses: on the user's inbox, not read yet, or read.
NOTICE_STATUSES = (outbox.UNREAD, outbox.READ)
#: What each channel of the outbox can be, for its listing.
CHANNEL_STATUSES = {outbox.EMAIL: STATUSES, outbox.IN_APP: NOTICE_STATUSES}
HIDDEN = "…"


class NotRetryable(QmsflowError, ValueError):
    """The message cannot be sent again: it is not failed, or it failed before any try."""


@dataclass(frozen=True)
class MessageRecord:
    """An e-mail of the outbox as one reader may see it.

    ``recipient`` and ``subject`` are None when they are the case's personal data and the
    reader may not see it; ``last_error`` then has the address taken out.
    """

    id: int
    case_number: str | None
    template: str
    recipient: str | None
    subject: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None

    @property
    def retryable(self) -> bool:
        """Whether sending it again can help: it failed while being sent. A message that
        failed before any try (no address, a template that did not render) needs the case
        or the definitions corrected first."""
        return self.status == outbox.FAILED and self.attempts > 0

    @classmethod
    def of(cls, row: OutboxMessage, personal: bool) -> MessageRecord:
        """The record of an e-mail ``row``; ``personal``: whether the reader sees the case's
        personal data (a colleague's address is shown either way)."""
        shown = personal or row.user_id is not None
        error = row.last_error
        if error and not shown:
            error = error.replace(row.recipient, HIDDEN)
        return cls(row.id, row.case_number, row.template, row.recipient if shown else None,
                   row.subject if personal else None, row.status, row.attempts, error,
                   row.created_at, row.sent_at, row.next_attempt_at)


@dataclass(frozen=True)
class MessagePage:
    """One page of the outbox, newest first, and how many e-mails each status holds."""

    rows: tuple[MessageRecord, ...]
    total: int
    page: int
    per_page: int
    counts: Mapping[str, int]

    @property
    def pages(self) -> int:
        """How many pages the chosen status fills (at least one)."""
        return max(1, -(-self.total // self.per_page))


class Operations:
    """The outbox's e-mails for the screens, through the case service's database, clock,
    definitions and survey links."""

    def __init__(self, service: CaseService) -> None:
        self.service = service

    # -- reading ------------------------------------------------------------------------------

    def _reader(self, session: Session, user_id: str) -> Reader:
        user = session.get(User, user_id)
        if user is None or user.disabled:
            return Reader(user_id, frozenset())  # reads nothing
        return access.reader(user)

    def _readable(self, session: Session, who: Reader) -> ColumnElement[bool]:
        """E-mails about no case, or about a case ``who`` may read."""
        return or_(OutboxMessage.case_id.is_(None), OutboxMessage.case_id.in_(
            select(CaseRow.id).where(access.readable(session, who, self.service.current))))

    def _seen(self, session: Session, who: Reader, case_ids: set[int]) -> dict[int, Visibility]:
        """What ``who`` sees of each case, by the current set's read rules (a process the
        current set no longer has: by its own version's, without any rule)."""
        if not case_ids:
            return {}
        rows = session.execute(select(CaseRow).where(CaseRow.id.in_(sorted(case_ids))))
        cases: dict[int, Case] = {}
        for row in rows.scalars():
            cases[row.id] = store.to_case(self.service.versions.get(session, row.version), row)
        known = access.facts(session, cases)
        seen = {}
        for case_id, case in cases.items():
            process = self.service.current.processes.get(case.process)
            if process is None:
                own = self.service.definition(case.version).process(case.process)
                process = replace(own, read=())
            seen[case_id] = read_access.can_read(process, who, known[case_id])
        return seen

    def messages(self, user_id: str, status: str | None = None, page: int = 1,
                 per_page: int = 50, channel: str = outbox.EMAIL) -> MessagePage:
        """A page of the e-mails (``channel`` ``in_app``: the in-app notices) ``user_id`` may
        see (``status``: of one status), newest first, with the count of each status."""
        if page < 1 or not 1 <= per_page <= 500:
            raise ValueError("page starts at 1 and a page holds 1 to 500 messages")
        if channel not in CHANNEL_STATUSES:
            raise ValueError(f"no channel {channel!r}: use {' or '.join(CHANNEL_STATUSES)}")
        with self.service.transaction() as session:
            who = self._reader(session, user_id)
            where = [OutboxMessage.channel == channel, self._readable(session, who)]
            counts = {found: int(count) for found, count in session.execute(
                select(OutboxMessage.status, func.count()).where(*where)
                .group_by(OutboxMessage.status))}
            if status is not None:
                where.append(OutboxMessage.status == status)
            rows = session.execute(select(OutboxMessage).where(*where)
                                   .order_by(OutboxMessage.id.desc()).limit(per_page)
                                   .offset((page - 1) * per_page)).scalars().all()
            seen = self._seen(session, who, {r.case_id for r in rows if r.case_id is not None})
            records = tuple(MessageRecord.of(row, row.case_id is None or (
                row.case_id in seen and seen[row.case_id].pii)) for row in rows)
            total = counts.get(status, 0) if status is not None else sum(counts.values())
            return MessagePage(records, total, page, per_page, counts)

    def case_messages(self, user_id: str, number: str) -> list[MessageRecord]:
        """The e-mails of case ``number``, oldest first; CaseNotFound when ``user_id`` may
        not read the case (as when it does not exist)."""
        with self.service.transaction() as session:
            who = self._reader(session, user_id)
            row = session.execute(select(CaseRow).where(CaseRow.number == number)
                                  ).scalar_one_or_none()
            seen = self._seen(session, who, {row.id} if row is not None else set())
            if row is None or not seen[row.id].visible:
                raise CaseNotFound(f"no case {number}")
            found = session.execute(select(OutboxMessage).where(
                OutboxMessage.case_id == row.id, OutboxMessage.channel == outbox.EMAIL)
                .order_by(OutboxMessage.id)).scalars().all()
            return [MessageRecord.of(message, seen[row.id].pii) for message in found]

    def figures(self, user_id: str, period: reports.Period, report_ids: list[str]
                ) -> list[reports.ReportResult]:
        """Reports ``report_ids`` of the current set for ``period`` (see
        :func:`.reports.run_reports`), counted over the cases ``user_id`` may read only."""
        with self.service.transaction() as session:
            who = self._reader(session, user_id)
            return reports.run_reports(session, self.service.current, period, report_ids,
                                       within=access.readable(session, who,
                                                              self.service.current))

    # -- acting -------------------------------------------------------------------------------

    def retry(self, user_id: str, message_id: int, client: str | None = None
              ) -> MessageRecord:
        """Queue failed e-mail ``message_id`` to be sent again at once by the worker.

        Its attempts and last error stay as they are (the worker counts the next try and
        records its result); the audit trail records who asked. CaseNotFound when there is
        no such e-mail or ``user_id`` may not read its case; NotRetryable when it did not fail
        while being sent.
        """
        with self.service.transaction() as session:
            now = self.service.now()
            who = self._reader(session, user_id)
            row = session.execute(select(OutboxMessage).where(
                OutboxMessage.id == message_id, OutboxMessage.channel == outbox.EMAIL,
                self._readable(session, who)).with_for_update()).scalar_one_or_none()
            if row is None:
                raise CaseNotFound(f"no e-mail {message_id}")
            seen = self._seen(session, who, {row.case_id} if row.case_id else set())
            before = MessageRecord.of(row, row.case_id is None or seen[row.case_id].pii)
            if not before.retryable:
                raise NotRetryable(f"e-mail {message_id} is {row.status} after "
                                   f"{row.attempts} attempts: only an e-mail that failed "
                                   "while being sent is sent again")
            row.status = outbox.PENDING
            row.next_attempt_at = now
            user = session.get(User, user_id)
            # The audit trail is kept for ever and read by auditors: no address in it.
            error = (row.last_error or "").replace(row.recipient, HIDDEN) or None
            audit.append(session, [audit.Entry(
                "email_retried", "outbox", now, user_id, user.name if user else None,
                reason=error, data={
                    "message": row.id, "case": row.case_number, "template": row.template,
                    "attempts": row.attempts})], client)
            return replace(before, status=row.status, next_attempt_at=now)

    def resend_survey(self, user_id: str, number: str, survey_id: str,
                      client: str | None = None) -> int:
        """Send the invitation of survey ``survey_id`` of case ``number`` again, to the
        address the case holds now, with a fresh link; how many e-mails were queued.

        Only while the survey may still be answered (else Refused with the engine's reason:
        ``answered``, ``not_sent``, ``expired``, ``unknown``; ``voided`` for a voided case),
        and only by a reader who may see the case's personal data (the address is): others
        get CaseNotFound, as for a case they may not read.
        """
        with self.service.transaction() as session:
            now = self.service.now()
            who = self._reader(session, user_id)
            row = session.execute(select(CaseRow).where(CaseRow.number == number)
                                  .with_for_update()).scalar_one_or_none()
            seen = self._seen(session, who, {row.id} if row is not None else set())
            if row is None or not seen[row.id].visible or not seen[row.id].pii:
                raise CaseNotFound(f"no case {number}")
            if row.voided_at is not None:
                raise Refused(f"survey:{survey_id}", row.state, [Reason(
                    "voided", f"case {number} was voided on {row.voided_at:%Y-%m-%d}")])
            definition = self.service.versions.get(session, row.version)
            case = store.to_case(definition, row)
            survey, _sent, _until = invitation(definition, case, survey_id, now)
            # Each resend is a new message: numbered by the invitations the case has (the
            # case row is locked, so two resends at once are numbered one after the other).
            earlier = session.execute(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.case_id == row.id, OutboxMessage.template == survey.template)
            ).scalar_one()
            queued = outbox.enqueue(session, definition, case, row.id, [Event(
                "notify", now, user_id, {"template": survey.template, "to": (survey.to,),
                                         "survey": survey.id, "resent": f"resend {earlier}"})],
                now, self.service.survey_link)
            user = session.get(User, user_id)
            audit.append(session, [audit.Entry(
                "survey_resent", "outbox", now, user_id, user.name if user else None,
                data={"case": number, "survey": survey.id, "template": survey.template})],
                client)
            return queued
