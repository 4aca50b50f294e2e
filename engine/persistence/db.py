"""Connecting to the database: SQLite by default with zero set-up, PostgreSQL by URL.

SQLite lives in a file under the instance folder, in WAL mode with foreign keys on, and every
transaction takes the write lock when it begins (``BEGIN IMMEDIATE``): two writers never both
read a row and then fail to upgrade their lock halfway through an action. PostgreSQL is reached
through ``DATABASE_URL`` with psycopg 3.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import QmsflowError
from .audit import KEYS_INFO, NO_KEYS, Keys

Sessions = sessionmaker[Session]
DatabaseError = DBAPIError  # what a missing server, schema or table raises


class DatabaseUrlError(QmsflowError, ValueError):
    """A database URL that cannot be used: it does not parse, or names an unknown driver."""


def shown_url(url: str) -> str:
    """``url`` as it may be printed: without its password."""
    return make_url(url).render_as_string(hide_password=True)


def explain_database_error(error: DBAPIError) -> str:
    """One line a person can act on for a database error qmsflow did not expect."""
    message = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    if "no such table" in message or "does not exist" in message:
        return "the database has no qmsflow schema yet: run 'qmsflow db upgrade' first"
    return message

DEFAULT_INSTANCE = "instance"
SQLITE_FILE = "qmsflow.sqlite3"


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """The URL to use: ``DATABASE_URL``, else a SQLite file in the instance folder.

    ``QMSFLOW_INSTANCE`` names the instance folder (default ``./instance``). A
    ``postgresql://`` URL is read as psycopg 3, the driver qmsflow installs.
    """
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL")
    if not url:
        folder = Path(env.get("QMSFLOW_INSTANCE", DEFAULT_INSTANCE))
        return f"sqlite:///{folder / SQLITE_FILE}"
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def connect(url: str | None = None, **options: Any) -> Engine:
    """An engine for ``url`` (default: :func:`database_url`), set up for qmsflow's needs."""
    url = url or database_url()
    parsed = make_url(url)
    # A database error's text must not carry the statement's values into logs and error
    # reports: they are case values, personal data among them.
    options.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **options)
        _sqlite_setup(engine)
        return engine
    engine = create_engine(url, **options)
    _check_when_idle(engine)
    return engine


#: A pooled connection that sat unused longer than this (seconds) is checked with one round
#: trip before it is handed out; a busy pool's connections are not (a check on every checkout,
#: SQLAlchemy's pool_pre_ping, costs a round trip per transaction).
IDLE_CHECK = 30.0


def _check_when_idle(engine: Engine) -> None:
    # The server or a firewall drops idle connections (a restart, idle timeouts); a connection
    # in steady use is known to be alive. A dead one is replaced before anyone uses it.
    @event.listens_for(engine.pool, "checkin")
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_CHECK:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(f"an idle connection was dropped: {error}") from error
        if not alive:
            raise DisconnectionError("an idle connection was dropped")


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgresql(engine: Engine) -> bool:
    """Whether ``engine`` talks to PostgreSQL (some guarantees use its features)."""
    return engine.dialect.name == "postgresql"


def session_factory(engine: Engine, audit_keys: Keys | None = None) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit. ``audit_keys`` seal
    the audit entries they write and check those they read (see :class:`.audit.Keys`)."""
    return sessionmaker(engine, expire_on_commit=False, info={KEYS_INFO: audit_keys or NO_KEYS})


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back everything if it raises."""
    with sessions() as session, session.begin():
        yield session


#: ``session.info`` keys: the session is a step's (:func:`step`) on PostgreSQL; its last
#: write went out alone.
_STEP = "qmsflow.step"
_SENT_ALONE = "qmsflow.sent_alone"


@contextmanager
def step(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One step's unit of work, at the fewest round trips: read, then write all or nothing.

    On PostgreSQL the step's reads run outside a transaction, each statement seeing what was
    committed when it began: what READ COMMITTED, the server's default, gives each statement
    inside one, so the step reads the same; it just sends no BEGIN first. Its writes, from
    :func:`begin_writes` on, are one transaction; when one statement is all it writes
    (:func:`last_write`), it goes alone and commits with itself: such a step costs two round
    trips, where BEGIN, read, write and COMMIT took four. Only for reads that take no lock
    (a lock would be released at once). SQLite: a transaction, as :func:`transaction`.
    """
    with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            session.info[_STEP] = True
        yield session
        if session.info.get(_SENT_ALONE):
            session.flush()
            if _driver(session).info.transaction_status != TransactionStatus.IDLE:
                # Written after a write that committed alone: that one stands, these would
                # not be atomic with it. A defect in the caller, refused before it commits.
                raise RuntimeError("a step wrote after its last write (db.last_write): "
                                   "rolled back what came after it")


def _driver(session: Session) -> Any:
    return session.connection().connection.driver_connection


def begin_writes(session: Session) -> None:
    """In a step (:func:`step`): what the session sends from here on is one transaction."""
    if session.info.get(_STEP):
        _driver(session).autocommit = False


@contextmanager
def last_write(session: Session) -> Iterator[None]:
    """In a step, around its last write, one statement: when nothing was written before it
    (nor is left to flush), it is sent alone and commits with itself, atomic as any single
    statement. Nothing may be written after it (the step refuses to commit then)."""
    if not session.info.get(_STEP):
        yield
        return
    session.flush()  # an object added but not yet sent is a write before it
    driver = _driver(session)
    if driver.info.transaction_status != TransactionStatus.IDLE:
        yield  # in the transaction the writes before it began
        return
    driver.autocommit = True
    try:
        yield
    finally:
        driver.autocommit = False
        session.info[_SENT_ALONE] = True
