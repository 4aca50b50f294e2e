"""What reads hand to callers above persistence: plain frozen records, never ORM rows.

An ORM row belongs to the session that loaded it: read after that session ended, an attribute
it had not loaded yet raises ``DetachedInstanceError`` (in a template, long after the query),
and a change to it may be written back by whichever transaction comes next. A record is copied
out of its row inside the transaction, holds only values, and cannot be changed; that is what
the web application, the API and the commands get from :class:`CaseService` and from the
functions of ``users``, ``tokens``, ``versions``, ``overview`` and ``outbox``.

A password hash, a token's hash and a case's internal row id are not in any record: no caller
above persistence needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..cases import Actor
from ..model import frozen_map
from .models import ApiToken, AuditEvent, DefinitionVersion, OutboxMessage, SignatureRow, User


@dataclass(frozen=True)
class UserRecord:
    """An account: who it is, what it may do, whether it may sign in (no password hash)."""

    id: str
    name: str
    roles: tuple[str, ...]
    departments: tuple[str, ...]
    locale: str
    email: str | None
    disabled: bool
    locked_until: datetime | None
    created_at: datetime
    password_changed_at: datetime | None
    #: Set by an administrator: the user must choose their own before anything else.
    password_temporary: bool = False
    timezone: str | None = None  # IANA name; None: the organisation's

    @classmethod
    def of(cls, row: User) -> UserRecord:
        """The record of a ``users`` row."""
        return cls(row.id, row.name, tuple(row.roles), tuple(row.departments), row.locale,
                   row.email, row.disabled, row.locked_until, row.created_at,
                   row.password_changed_at, bool(row.password_temporary), row.timezone)

    @property
    def actor(self) -> Actor:
        """The engine's view of this user."""
        return Actor(self.id, self.name, frozenset(self.roles))

    def locked(self, now: datetime) -> bool:
        """Whether the account is locked at ``now`` after too many wrong passwords."""
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True)
class AuditRecord:
    """One entry of the audit trail as a reader sees it, with the hash that chains it."""

    id: int
    case_number: str | None
    case_seq: int | None
    at: datetime
    actor_id: str | None
    actor_name: str | None
    action: str
    entity: str
    field: str | None
    old: Any
    new: Any
    reason: str | None
    meaning: str | None
    version: str | None
    client: str | None
    data: Mapping[str, Any]
    hash: str

    @classmethod
    def of(cls, row: AuditEvent) -> AuditRecord:
        """The record of an ``audit_events`` row."""
        return cls(row.id, row.case_number, row.case_seq, row.at, row.actor_id, row.actor_name,
                   row.action, row.entity, row.field, row.old, row.new, row.reason, row.meaning,
                   row.version, row.client, frozen_map(row.data), row.hash)


@dataclass(frozen=True)
class SignatureRecord:
    """An electronic signature: who signed which step, when, meaning what, over which values;
    ``invalidated_at`` and ``invalidated_by`` say when and why it stopped being valid."""

    step: str
    signer_id: str
    signer_name: str
    meaning: str
    signed_at: datetime
    row_version: int
    record_hash: str
    signed_values: Mapping[str, Any]
    invalidated_at: datetime | None
    invalidated_by: str | None

    @classmethod
    def of(cls, row: SignatureRow) -> SignatureRecord:
        """The record of a ``signatures`` row."""
        return cls(row.step, row.signer_id, row.signer_name, row.meaning, row.signed_at,
                   row.row_version, row.record_hash, frozen_map(row.signed_values),
                   row.invalidated_at, row.invalidated_by)


@dataclass(frozen=True)
class Notification:
    """An in-app notification of a user: what it says, about which case, since when."""

    id: int
    case_number: str | None
    template: str
    subject: str
    body: str
    status: str
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, row: OutboxMessage) -> Notification:
        """The record of an in-app ``outbox`` row."""
        return cls(row.id, row.case_number, row.template, row.subject, row.body, row.status,
                   row.created_at, row.read_at)


@dataclass(frozen=True)
class TokenRecord:
    """An API token as the record shows it (never the token nor its hash)."""

    id: int
    user_id: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken) -> TokenRecord:
        """The record of an ``api_tokens`` row."""
        return cls(row.id, row.user_id, row.label, row.created_at, row.last_used_at,
                   row.revoked_at)


@dataclass(frozen=True)
class VersionRecord:
    """A stored definition version: its hash, set, publication and files (path -> text)."""

    hash: str
    set_id: str
    root: str
    files: Mapping[str, str]
    published_at: datetime
    published_by: str | None
    note: str | None

    @classmethod
    def of(cls, row: DefinitionVersion) -> VersionRecord:
        """The record of a ``definition_versions`` row."""
        return cls(row.hash, row.set_id, row.root, frozen_map(row.files), row.published_at,
                   row.published_by, row.note)
