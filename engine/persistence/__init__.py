"""Persistence: the only package that talks to the database (SQLAlchemy, Alembic, psycopg).

Cases, users, signatures, definition versions and the hash-chained audit trail, on SQLite by
default or PostgreSQL through ``DATABASE_URL``. Callers work through :class:`CaseService`; the
public surface:
"""

from .audit import By
from .db import connect, database_url, session_factory
from .inbox import Filters, Page
from .service import CaseNotFound, CaseService, History
from .store import Conflict
from .users import AuthenticationFailed, UserError
from .versions import UnknownVersion, Versions

__all__ = [
    "AuthenticationFailed", "By", "CaseNotFound", "CaseService", "Conflict", "Filters", "History",
    "Page", "UnknownVersion", "UserError", "Versions", "connect", "database_url",
    "session_factory",
]
