"""Persistence: the only package that talks to the database (SQLAlchemy, Alembic, psycopg).

Cases, users, signatures, definition versions and the hash-chained audit trail, on SQLite by
default or PostgreSQL through ``DATABASE_URL``. Callers above it (the web application, the API,
the commands) import from this package only, and only the names below: the case service and
what it takes and returns, the plain records reads return (never ORM rows, which belong to the
session that loaded them), the database set-up, and the modules that are a service of their own,
used as namespaces (``users.add``, ``versions.store``, ``sweep.sweep``...). The tables
(``models``) and the case store are internal.
"""

from . import (
    audit,
    drafts,
    lists,
    operations,
    outbox,
    overview,
    proof,
    register_sheets,
    registers,
    reports,
    retention,
    schedules,
    schema,
    sweep,
    tokens,
    user_sessions,
    users,
    versions,
)
from .audit import By
from .db import (
    DatabaseError,
    DatabaseUrlError,
    Sessions,
    connect,
    database_url,
    explain_database_error,
    session_factory,
    shown_url,
)
from .drafts import ActivationRecord, DraftError, DraftRecord
from .inbox import Filters, Page, Sort
from .overview import SchemaUpgradeError
from .records import (
    AuditRecord,
    Notification,
    SignatureRecord,
    TokenRecord,
    UserRecord,
    VersionRecord,
)
from .service import COMMENT_MAX, CaseNotFound, CaseService, Commented, History, utc_now
from .store import Conflict
from .users import AuthenticationFailed, UserError
from .versions import UnknownVersion, Versions

__all__ = [
    "COMMENT_MAX",
    "ActivationRecord",
    "AuditRecord",
    "AuthenticationFailed",
    "By",
    "CaseNotFound",
    "CaseService",
    "Commented",
    "Conflict",
    "DatabaseError",
    "DatabaseUrlError",
    "DraftError",
    "DraftRecord",
    "Filters",
    "History",
    "Notification",
    "Page",
    "SchemaUpgradeError",
    "Sessions",
    "SignatureRecord",
    "Sort",
    "TokenRecord",
    "UnknownVersion",
    "UserError",
    "UserRecord",
    "VersionRecord",
    "Versions",
    "audit",
    "connect",
    "database_url",
    "drafts",
    "explain_database_error",
    "lists",
    "operations",
    "outbox",
    "overview",
    "proof",
    "register_sheets",
    "registers",
    "reports",
    "retention",
    "schedules",
    "schema",
    "session_factory",
    "shown_url",
    "sweep",
    "tokens",
    "user_sessions",
    "users",
    "utc_now",
    "versions",
]
