"""Database fixtures: every persistence test runs on SQLite and on the local PostgreSQL.

SQLite databases are copies of one migrated file; PostgreSQL databases are created per test
from a migrated template database (``CREATE DATABASE ... TEMPLATE``) and dropped afterwards.
PostgreSQL tests are skipped only when no server answers on 127.0.0.1:5432; CI has one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from qmsflow.engine.cases import Case
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import schema, users, versions
from qmsflow.engine.persistence.audit import Keys
from qmsflow.engine.persistence.db import connect, session_factory
from qmsflow.engine.persistence.service import CaseService

from ..conftest import AUDIT_KEY, DEFAULT_SET

PG_SERVER = os.environ.get("QMSFLOW_TEST_PG", "host=127.0.0.1 port=5432 user=postgres")
PASSWORD = "correct horse battery"
AUDIT_KEYS = Keys(AUDIT_KEY.encode("utf-8"))
# Tests check behaviour, not hashing cost: the cheapest argon2 parameters keep them fast.
CHEAP = PasswordHasher.from_parameters(profiles.CHEAPEST)


@cache
def postgresql_reachable() -> bool:
    try:
        psycopg.connect(f"{PG_SERVER} dbname=postgres connect_timeout=3").close()
    except psycopg.OperationalError:
        return False
    return True


def _admin(sql: str) -> None:
    with psycopg.connect(f"{PG_SERVER} dbname=postgres", autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def pg_url(name: str) -> str:
    params = dict(part.split("=", 1) for part in PG_SERVER.split())
    return (f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host')}:"
            f"{params.get('port', '5432')}/{name}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "qmsflow.sqlite3"
    engine = connect(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if not postgresql_reachable():
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    name = f"qmsflow_tpl_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    engine = connect(pg_url(name))
    schema.upgrade(engine)
    engine.dispose()
    yield name
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class Database:
    """A fresh, migrated database for one test."""

    backend: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]


def _sqlite(template: Path, folder: Path) -> Database:
    path = folder / "qmsflow.sqlite3"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    engine = connect(url)
    return Database("sqlite", url, engine, session_factory(engine, AUDIT_KEYS))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database on each backend."""
    if request.param == "sqlite":
        db = _sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
        yield db
        db.engine.dispose()
        return
    template = request.getfixturevalue("pg_template")
    name = f"qmsflow_t_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    engine = connect(pg_url(name))
    yield Database("postgresql", pg_url(name), engine, session_factory(engine, AUDIT_KEYS))
    engine.dispose()
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def unguard(database: Database, *tables: str) -> None:
    """Switch off the triggers that keep ``tables`` append-only, as someone with direct
    database access could (tests of what happens when a record is altered around qmsflow)."""
    with database.engine.begin() as connection:
        for table in tables:
            if database.backend == "postgresql":
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for verb in ("update", "delete"):
                    connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **span: float) -> None:
        self.now += timedelta(**span)


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@dataclass
class World:
    """A service on a database with the default definitions published and one user per role.

    ``user(role)`` is the id of that role's user; every user's password is PASSWORD.
    """

    database: Database
    service: CaseService
    definition: DefinitionSet
    clock: Clock
    ids: dict[str, str] = field(default_factory=dict)

    def user(self, role: str) -> str:
        return self.ids[role]


def make_world(database: Database, definition: DefinitionSet, clock: Clock,
               root: Path = DEFAULT_SET) -> World:
    with database.sessions.begin() as session:
        versions.store(session, definition, root, clock())
        ids = {}
        for role in definition.organisation.roles:
            ids[role] = f"{role.replace('_', '.')}.user"
            # Each user belongs to their role's department, as the demo's people do (read
            # rules may give a department's cases to a manager).
            department = definition.organisation.roles[role].department
            users.add(session, definition, ids[role], f"{role.title()} User", [role], PASSWORD,
                      clock(), departments=[department] if department else [], hasher=CHEAP)
    service = CaseService(database.sessions, versions.Versions(), definition, clock, CHEAP)
    return World(database, service, definition, clock, ids)


@pytest.fixture
def world(database: Database, default_set: DefinitionSet, clock: Clock) -> World:
    return make_world(database, default_set, clock)


COMPLAINT = {
    "channel": "phone", "received_at": "2026-03-02T09:30:00+08:00",
    "complainant_name": "王芳", "complainant_org": "市第一人民医院", "market": "domestic",
    "complainant_phone": "+86 21 5555 0100", "product_model": "MX-200",
    "batch_number": "B2026-02-031",
    "description": "监护仪屏幕在使用中间歇性闪烁", "patient_involved": False,
}


def open_complaint(world: World, **changes: object) -> Case:
    """A new complaint registered by the sales user."""
    return world.service.create_case("complaint", "register", world.user("sales"),
                                     {**COMPLAINT, **changes}, password=PASSWORD)


NOT_REPORTABLE = {"report_cn": "not_reportable", "report_us": "not_reportable",
                  "report_eu": "not_reportable",
                  "reportability_rationale": "未造成伤害，且不可能导致严重伤害。"}


def decided(world: World, number: str) -> Case:
    """The complaint ``number`` with its reportability decided (signed): not reportable."""
    return world.service.apply_step(number, "decide_reportability", world.user("quality"),
                                    NOT_REPORTABLE, password=PASSWORD)


def to_investigation(world: World) -> str:
    """A domestic complaint taken to investigation (its closure clock running); its number."""
    number = open_complaint(world).number
    steps = [
        ("quality", "confirm_complaint", {"is_complaint": True, "screening_rationale": "设备故障"}),
        ("quality", "classify", {"category": "malfunction"}),
        ("gm_office", "accept", {"joint_inspection": False}),
    ]
    for role, action, inputs in steps:
        world.service.apply_step(number, action, world.user(role), inputs)
    return number
