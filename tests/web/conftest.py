"""Web fixtures: an application on a fresh SQLite database with the default definitions
published and one user per role (password ``PASSWORD``), a fixed clock, a test client and a
login helper (flaskr's ``AuthActions``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from qmsflow.engine.model import DefinitionSet
from qmsflow.web import create_app

from ..conftest import DEFAULT_SET
from ..persistence import conftest as db
from ..persistence.conftest import AUDIT_KEY, CHEAP, PASSWORD, Clock, Database, World, make_world

# The database fixtures of the persistence tests, shared.
sqlite_template = db.sqlite_template
pg_template = db.pg_template
database = db.database
clock = db.clock


@pytest.fixture
def world(sqlite_template: Path, tmp_path: Path, default_set: DefinitionSet,
          clock: Clock) -> Iterator[World]:
    """The database behind the app: default set published, one user per role."""
    database: Database = db._sqlite(sqlite_template, tmp_path)
    yield make_world(database, default_set, clock)
    database.engine.dispose()


def make_app(world: World, tmp_path: Path, **config: object) -> Flask:
    """An application over ``world``'s database, clock and definitions."""
    settings = {
        "TESTING": True, "SECRET_KEY": "test-secret", "AUDIT_KEY": AUDIT_KEY,
        "DATABASE_URL": world.database.url,
        "DEFINITIONS": str(DEFAULT_SET), "COMPILED": world.definition, "CLOCK": world.clock,
        "HASHER": CHEAP, "WTF_CSRF_ENABLED": False, "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    }
    settings.update(config)
    return create_app(settings)


@pytest.fixture
def app(world: World, tmp_path: Path) -> Iterator[Flask]:
    application = make_app(world, tmp_path)
    yield application
    application.extensions["qmsflow"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class Auth:
    """Signs the test client in as the user of a role."""

    client: FlaskClient
    world: World

    def login(self, role: str, password: str = PASSWORD, locale: str = "en") -> TestResponse:
        self.client.post("/language", data={"locale": locale, "next": "/login"})
        return self.client.post("/login", data={"user_id": self.world.user(role),
                                                "password": password})

    def logout(self) -> TestResponse:
        return self.client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient, world: World) -> Auth:
    return Auth(client, world)


def text_of(response: TestResponse) -> str:
    """The visible text of a page, whitespace collapsed (for asserting what users read)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"(?s)<(script|style).*?</\1>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
