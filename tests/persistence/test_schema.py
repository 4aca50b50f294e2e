"""The database schema: migrations and models agree, and SQLite is set up as promised."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from qmsflow.engine.persistence import schema
from qmsflow.engine.persistence.db import connect, database_url

from .conftest import Database


def test_the_migrations_build_exactly_the_schema_the_models_describe(database: Database) -> None:
    assert schema.differences(database.engine) == []
    revision, head = schema.current(database.engine)
    assert revision == head


def test_upgrading_an_up_to_date_database_changes_nothing(database: Database) -> None:
    schema.upgrade(database.engine)
    assert schema.differences(database.engine) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(tmp_path: Path) -> None:
    engine = connect(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_without_database_url_the_database_is_a_file_in_the_instance_folder() -> None:
    assert database_url({}) == "sqlite:///instance/qmsflow.sqlite3"
    assert database_url({"QMSFLOW_INSTANCE": "/srv/qms"}) == "sqlite:////srv/qms/qmsflow.sqlite3"
    assert database_url({"DATABASE_URL": "postgresql://u@h/db"}) == (
        "postgresql+psycopg://u@h/db")
