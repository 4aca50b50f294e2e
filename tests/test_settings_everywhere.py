"""One settings file, one database: the commands and the web application all use the database
the instance folder's qmsflow.cfg names (qmsflow/settings.py), never the default SQLite file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from qmsflow.cli import main
from qmsflow.web import create_app

from .conftest import DEFAULT_SET

PASSWORD = "settings everywhere 42"


def qmsflow(*args: str, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_the_commands_and_the_web_application_use_the_database_qmsflow_cfg_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance = tmp_path / "site"
    instance.mkdir()
    database = tmp_path / "elsewhere" / "complaints.sqlite3"  # not in the instance folder
    url = f"sqlite:///{database}"
    (instance / "qmsflow.cfg").write_text(
        f"DATABASE_URL = {url!r}\nDEFINITIONS = {str(DEFAULT_SET)!r}\n", encoding="utf-8")
    for name in list(os.environ):  # nothing but the file names the database
        if name == "DATABASE_URL" or name.startswith("QMSFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QMSFLOW_INSTANCE", str(instance))
    monkeypatch.chdir(tmp_path)  # where the default ./instance would be

    upgraded = qmsflow("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert database.is_file()
    assert upgraded.output.startswith(f"{url}: schema at revision ")

    status = qmsflow("db", "status")
    assert status.exit_code == 0, status.output
    assert re.fullmatch(rf"{re.escape(url)}: revision (\w+), newest \1\n", status.output), (
        status.output)

    added = qmsflow("users", "add", "tester", "--name", "Settings Tester", "--role", "quality",
                    "--password-stdin", stdin=f"{PASSWORD}\n")
    assert added.exit_code == 0, added.output
    listed = qmsflow("users", "list")
    assert listed.exit_code == 0, listed.output
    assert re.search(r"^tester\s+Settings Tester\s+active\s+quality", listed.output, re.M), (
        listed.output)

    # On any database without the schema the sweep stops with "run 'qmsflow db upgrade'".
    swept = qmsflow("sweep")
    assert swept.exit_code == 0, swept.output
    assert swept.output.startswith("sweep: ")

    assert not (instance / "qmsflow.sqlite3").exists()
    assert not (tmp_path / "instance").exists()

    app = create_app()
    runtime = app.extensions["qmsflow"]
    try:
        assert app.config["DATABASE_URL"] == url
        assert runtime.engine.url.database == str(database)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token is not None, page
        signed_in = client.post("/login", data={"csrf_token": token.group(1),
                                                "user_id": "tester", "password": PASSWORD})
        assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
        inbox = client.get("/")
        assert inbox.status_code == 200
        assert "Settings Tester" in inbox.get_data(as_text=True)
    finally:
        runtime.close()
    assert not (instance / "qmsflow.sqlite3").exists()
