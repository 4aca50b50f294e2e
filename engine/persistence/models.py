"""The tables: definition versions, users, cases with their clocks, signatures, audit trail.

Columns that inboxes, reports and the deadline sweep filter on are real indexed columns; the
rest of a case (its clocks, steps and links as the engine sees them) is one JSON document, so a
case saves and reloads exactly. The Alembic migrations under ``migrations/`` build the same
schema; a test checks that they agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no time zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: qmsflow stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Stable constraint names, so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every qmsflow table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class DefinitionVersion(Base):
    """A definition set as it was published: every file's text, under its content hash."""

    __tablename__ = "definition_versions"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    set_id: Mapped[str] = mapped_column(String(100), index=True)
    files: Mapped[dict[str, Any]]  # relative path -> text, the set and every set it extends
    root: Mapped[str] = mapped_column(String(500))  # the set's folder among ``files``
    published_at: Mapped[datetime]
    published_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)



class DefinitionDraft(Base):
    """A definition set being edited in the browser: every file's text, not yet a version.

    Started as a copy of a stored version's files (``base_version``); ``published_version``
    is set once it was published, after which it is kept for the record but no longer edited.
    """

    __tablename__ = "definition_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    files: Mapped[dict[str, Any]]  # relative path -> text, like DefinitionVersion.files
    root: Mapped[str] = mapped_column(String(500))
    base_version: Mapped[str | None] = mapped_column(String(64))
    author_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_version: Mapped[str | None] = mapped_column(String(64))


class DefinitionActivation(Base):
    """The definition version new cases start on, from ``activated_at``: the newest row wins.

    Every worker reads the newest id on each request (one indexed row), so an activation is
    served everywhere without a restart; without any row the set named by the settings is.
    """

    __tablename__ = "definition_activations"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(ForeignKey("definition_versions.hash"))
    activated_at: Mapped[datetime]
    activated_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)

class User(Base):
    """A person who signs in. Never deleted, so an id is never reused; disabled instead."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[Any]]
    departments: Mapped[list[Any]]
    locale: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    # Set by an administrator: its holder must choose their own at the next sign-in.
    password_temporary: Mapped[bool] = mapped_column(Boolean, default=False,
                                                     server_default=false())
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA; None: the organisation's


class PasswordHistory(Base):
    """The argon2 hash of a password a user had before (never the password): a new password
    may not repeat one of the last ``PASSWORD_HISTORY``. Only the newest are kept."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    retired_at: Mapped[datetime]


class UserSession(Base):
    """A signed-in web session: the cookie carries a random id, the table its SHA-256.

    Each request reads its row by primary key; signing out, a new password, disabling the
    account or an administrator's "sign out everywhere" sets ``ended_at``, so a copy of the
    cookie stops working at once. ``last_seen_at`` (kept to the minute) drives the idle
    timeout, ``created_at`` the longest a session may last.
    """

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(50))
    client: Mapped[str | None] = mapped_column(String(100))  # the address it signed in from
    user_agent: Mapped[str | None] = mapped_column(String(200))  # the browser, as it says


class LoginFailure(Base):
    """A refused password, kept for the throttling windows (a day at most, then pruned).

    ``user_id`` is the id as typed, whether or not such an account exists, so unknown ids
    are throttled exactly like known ones; ``kind`` is ``login`` or ``signature`` (a wrong
    password when signing, counted apart so that nobody else's failures stop a signature).
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_address", "address", "kind", "at"),
        Index("ix_login_failures_user", "user_id", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(100))


class CaseSequence(Base):
    """The last case number taken per process and period (year, month or none)."""

    __tablename__ = "case_sequences"

    process: Mapped[str] = mapped_column(String(100), primary_key=True)
    period: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


OPEN = text("closed_at IS NULL AND voided_at IS NULL")


class CaseRow(Base):
    """One case: the engine's case as JSON, with what lists filter and sort on as columns."""

    __tablename__ = "cases"
    __table_args__ = (
        # A user's inbox: the open cases of a queue (role) or a person, soonest due first.
        # Partial indexes hold open cases only, in the order the inbox reads them.
        Index("ix_cases_open_role", "assignee_role", "next_due_at", "id",
              postgresql_where=OPEN, sqlite_where=OPEN),
        Index("ix_cases_open_user", "assignee", "next_due_at", "id",
              postgresql_where=OPEN, sqlite_where=OPEN, postgresql_include=["assignee_role"]),
        Index("ix_cases_process_state", "process", "state"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(100), unique=True)
    process: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(ForeignKey("definition_versions.hash"), index=True)
    state: Mapped[str] = mapped_column(String(100))
    priority: Mapped[str] = mapped_column(String(100), index=True)
    category: Mapped[str | None] = mapped_column(String(100), index=True)
    flags: Mapped[list[Any]]
    assignee_role: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    next_due_at: Mapped[datetime | None]  # the earliest running clock's due time
    values: Mapped[dict[str, Any]]  # field values, JSON-typed per field
    data: Mapped[dict[str, Any]]  # the rest of the engine's case: clocks, steps, links
    row_version: Mapped[int] = mapped_column(Integer)
    audit_count: Mapped[int] = mapped_column(Integer, default=0)
    audit_hash: Mapped[str] = mapped_column(String(64))  # head of this case's hash chain
    # How many of its signatures are still valid: a step reads them only when there are some.
    valid_signatures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(Text)



class RegisterEntryRow(Base):
    """One entry of a register (a customer, a device): its values as JSON, named by its key.

    Like a case, it carries a row version for optimistic locking and the head of its own audit
    chain (``audit_count``, ``audit_hash``); ``search_text`` holds the searched fields' text in
    lower case, so the list's search is one indexed-column filter on every backend.
    """

    __tablename__ = "register_entries"
    __table_args__ = (UniqueConstraint("register", "key"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    register: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(500))
    values: Mapped[dict[str, Any]]
    search_text: Mapped[str] = mapped_column(Text)
    row_version: Mapped[int] = mapped_column(Integer)
    audit_count: Mapped[int] = mapped_column(Integer, default=0)
    audit_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ScheduledOccurrence(Base):
    """One occurrence of scheduled work that was opened: which schedule, for which register
    entry, due on which date, and the case it opened.

    Written in the same transaction as the case, so a crash leaves both or neither; unique on
    (schedule, entry key, due date), so two workers never open the same occurrence twice (the
    second one's insert fails and its case is rolled back with it).
    """

    __tablename__ = "scheduled_occurrences"
    __table_args__ = (UniqueConstraint("schedule", "entry_key", "due_on"),
                      Index("ix_scheduled_occurrences_opens_on", "opens_on"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    schedule: Mapped[str] = mapped_column(String(100))
    register: Mapped[str] = mapped_column(String(100))
    entry_key: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    opens_on: Mapped[date] = mapped_column(Date)
    case_number: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime]


class CaseWatch(Base):
    """A user watching a case: it appears in their "watching" list until they stop."""

    __tablename__ = "case_watches"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True, index=True)
    created_at: Mapped[datetime]


class SavedFilter(Base):
    """A case list a user saved under a name: the list page's query string (filters, order)."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class CaseClock(Base):
    """A deadline clock of a case, as indexed columns for inboxes and the deadline sweep."""

    __tablename__ = "case_clocks"
    __table_args__ = (
        Index("ix_case_clocks_sweep_warn", "status", "warned", "warn_at"),
        Index("ix_case_clocks_sweep_due", "status", "breached", "due_at"),
    )

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    clock: Mapped[str] = mapped_column(String(100), primary_key=True)
    variant: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime]
    warn_at: Mapped[datetime | None]
    warned: Mapped[bool] = mapped_column(Boolean)
    breached: Mapped[bool] = mapped_column(Boolean)
    # The clock's runs_after_close: the sweep claims a closed case only for such a clock.
    after_close: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SignatureRow(Base):
    """An electronic signature (21 CFR 11.50): who, when, meaning, and what was signed.

    ``record_hash`` is the SHA-256 of the signed case version; ``signed_values`` the field
    values it covered. A later change to one of them invalidates the signature, visibly.
    """

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step: Mapped[str] = mapped_column(String(100))
    signer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    signer_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(100))
    signed_at: Mapped[datetime]
    row_version: Mapped[int] = mapped_column(Integer)  # the case version it signed
    record_hash: Mapped[str] = mapped_column(String(64))
    signed_values: Mapped[dict[str, Any]]
    invalidated_at: Mapped[datetime | None]
    invalidated_by: Mapped[str | None] = mapped_column(Text)  # why: which change, by whom


class AuditHead(Base):
    """The head of the sealed chain: one row, locked only by the sealer (steps never touch it).

    ``last_id`` is the last entry sealed (every entry up to it is), ``last_hash`` the last
    seal's hash, ``seal_seq`` its number (0: no seal yet; ``last_hash`` is then the last hash
    of the trail written before seals existed, or all zeros).
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    seal_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")


class AuditSeal(Base):
    """A seal over a run of audit entries, chained to the seal before it; appended, never
    changed or deleted.

    The sealer (:func:`.audit.seal_pending`) writes one after the steps that wrote the entries
    have committed, so the global order costs the steps nothing: ``digest`` covers the id and
    hash of every entry ``first_id..last_id`` held when it was sealed (``count`` of them),
    ``hash`` is the HMAC (under ``key_id``) of the seal's content and the previous seal's hash.
    """

    __tablename__ = "audit_seals"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    first_id: Mapped[int] = mapped_column(BigInteger)
    last_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    count: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))


class AuditEvent(Base):
    """One entry of the audit trail (21 CFR 11.10(e)); appended, never changed or deleted."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("case_id", "case_seq"),)

    # From a sequence: concurrent steps take ids without waiting for each other; the global
    # order is the seals' (see AuditSeal).
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    case_seq: Mapped[int | None] = mapped_column(Integer)
    case_number: Mapped[str | None] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[str | None] = mapped_column(String(100))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    field: Mapped[str | None] = mapped_column(String(100))
    old: Mapped[Any | None] = mapped_column(JSON)
    new: Mapped[Any | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    meaning: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(200))  # where from: cli, web address...
    data: Mapped[dict[str, Any]]
    # The entry before it in the global chain, for entries written before seals existed
    # (revision 0006); None since: the seals chain them.
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    case_prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # The key whose HMAC seals the entry (None: plain SHA-256, as before keys existed).
    key_id: Mapped[str | None] = mapped_column(String(16))
    # The register entry the entry is about (revision 0010): its chain is the entry's own, in
    # case_seq and case_prev_hash as a case's is. No foreign key: the column is added to the
    # append-only table in place, without rebuilding it (and its triggers) on SQLite.
    register_entry_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), index=True)


class OutboxMessage(Base):
    """A notification, written in the transaction of the change that caused it.

    E-mails are sent afterwards by the outbox worker (``status`` pending → sent, or failed
    after the last retry); in-app notifications are shown on the recipient's inbox until read.
    The subject and body are rendered when the row is written, so the record shows exactly
    what was said. ``key`` makes a notification unique: the same event never notifies the
    same recipient twice, even if a step is replayed.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        # The worker's queue: pending e-mails, oldest due attempt first.
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_user", "user_id", "channel", "read_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    case_number: Mapped[str | None] = mapped_column(String(100))
    template: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))  # email or in_app
    recipient: Mapped[str] = mapped_column(String(320))  # an address, or a user id in-app
    user_id: Mapped[str | None] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # pending, sent, failed; in_app: unread, read
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token of an integration user for the JSON API; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
