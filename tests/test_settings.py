"""Settings that refuse to be unsafe: misspelt names, unknown environments, weak or public keys.

A deployment that mistypes a setting must not start with that setting quietly at its default
(``QMSFLOW_SECRETKEY`` would leave the key unset), and no session or survey link may ever be
signed with a key anybody else knows.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from qmsflow import settings
from qmsflow.web import create_app

from .conftest import DEFAULT_SET

PUBLISHED_KEY = "qmsflow-development-key-do-not-use-in-production"


def environ(tmp_path: Path, **names: str) -> dict[str, str]:
    """An environment naming ``tmp_path`` as the instance folder, plus ``names``."""
    return {"QMSFLOW_INSTANCE": str(tmp_path), **{f"QMSFLOW_{k}": v for k, v in names.items()}}


def test_a_misspelt_environment_variable_is_refused_naming_the_setting_meant(
        tmp_path: Path) -> None:
    with pytest.raises(settings.SettingsError) as refused:
        settings.load(environ(tmp_path, SECRETKEY="k" * 32))
    assert ("QMSFLOW_SECRETKEY is not a qmsflow setting (did you mean 'QMSFLOW_SECRET_KEY'?)"
            in str(refused.value))


def test_a_misspelt_name_in_the_instance_file_is_refused_naming_the_file(
        tmp_path: Path) -> None:
    (tmp_path / "qmsflow.cfg").write_text('SESSION_TIMEOUT = 10\n', encoding="utf-8")
    with pytest.raises(settings.SettingsError) as refused:
        settings.load(environ(tmp_path))
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'qmsflow.cfg'}: SESSION_TIMEOUT is not a qmsflow")
    assert "did you mean 'SESSION_TIMEOUT_MINUTES'?" in message


def test_variables_other_programs_read_and_every_documented_setting_are_accepted(
        tmp_path: Path) -> None:
    loaded = settings.load(environ(tmp_path, BIND="0.0.0.0:8000", TEST_PG="host=db",
                                   SMTP_HOST="mail.example.com", PER_PAGE="50",
                                   SESSION_TIMEOUT_MINUTES="10"))
    assert loaded["SMTP_HOST"] == "mail.example.com"
    assert loaded["PER_PAGE"] == 50
    assert "BIND" not in loaded  # gunicorn's, not ours
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    for name in settings.DEFAULTS:  # the refusal points to the README's table: it must be there
        assert f"QMSFLOW_{name}" in readme or name == "DATABASE_URL", name


@pytest.mark.parametrize("name", ["Production", "prod", "staging", ""])
def test_an_environment_that_is_not_one_of_qmsflows_is_refused(tmp_path: Path,
                                                               name: str) -> None:
    with pytest.raises(settings.SettingsError) as refused:
        settings.load(environ(tmp_path, ENV=name))
    assert f"QMSFLOW_ENV is {name!r}, which is not an environment of qmsflow" in str(
        refused.value)


def test_production_needs_a_key_of_at_least_32_bytes_counted_in_bytes_not_characters(
        tmp_path: Path) -> None:
    base = {"ENV": "production", "INSTANCE": str(tmp_path)}
    with pytest.raises(settings.SettingsError, match="QMSFLOW_SECRET_KEY is not set"):
        settings.signing_keys(base)
    with pytest.raises(settings.SettingsError, match="has 1 bytes"):
        settings.signing_keys({**base, "SECRET_KEY": "x"})
    assert settings.signing_keys({**base, "SECRET_KEY": "密" * 11}) == ["密" * 11]  # 33 bytes
    assert not (tmp_path / settings.KEY_FILE).exists()  # production never makes its own key


def test_production_needs_an_audit_key_of_its_own_and_development_makes_one(
        tmp_path: Path) -> None:
    base = {"ENV": "production", "INSTANCE": str(tmp_path), "SECRET_KEY": "s" * 32}
    with pytest.raises(settings.SettingsError, match="QMSFLOW_AUDIT_KEY is not set"):
        settings.audit_keys(base)
    with pytest.raises(settings.SettingsError, match="QMSFLOW_AUDIT_KEY has 3 bytes"):
        settings.audit_keys({**base, "AUDIT_KEY": "abc"})
    with pytest.raises(settings.SettingsError, match="same as QMSFLOW_SECRET_KEY"):
        settings.audit_keys({**base, "AUDIT_KEY": "s" * 32})
    with pytest.raises(settings.SettingsError, match="AUDIT_KEY_FALLBACKS must be a list"):
        settings.audit_keys({**base, "AUDIT_KEY": "a" * 32, "AUDIT_KEY_FALLBACKS": "old"})
    assert settings.audit_keys({**base, "AUDIT_KEY": "a" * 32, "AUDIT_KEY_FALLBACKS": ["o"]}
                               ) == ("a" * 32, ["o"])
    assert not (tmp_path / settings.AUDIT_KEY_FILE).exists()
    chosen = {"ENV": "development", "INSTANCE": str(tmp_path / "site")}
    made, _ = settings.audit_keys(chosen)
    assert settings.audit_keys(chosen)[0] == made and len(made) == 64
    assert made not in settings.signing_keys(chosen)


def test_the_key_published_with_earlier_releases_is_refused_in_every_environment(
        tmp_path: Path) -> None:
    for env in settings.ENVIRONMENTS:
        with pytest.raises(settings.SettingsError, match="anybody can forge a session"):
            settings.signing_keys({"ENV": env, "SECRET_KEY": PUBLISHED_KEY,
                                   "INSTANCE": str(tmp_path)})
    with pytest.raises(settings.SettingsError, match="SECRET_KEY_FALLBACKS holds"):
        settings.signing_keys({"ENV": "development", "SECRET_KEY": "k" * 32,
                               "SECRET_KEY_FALLBACKS": [PUBLISHED_KEY]})


def test_development_without_a_key_makes_one_random_key_per_instance_readable_by_its_owner(
        tmp_path: Path) -> None:
    chosen = {"ENV": "development", "INSTANCE": str(tmp_path / "site")}
    first = settings.signing_keys(chosen)
    again = settings.signing_keys(chosen)  # another command or worker of the same instance
    other = settings.signing_keys({**chosen, "INSTANCE": str(tmp_path / "other")})
    assert first == again
    assert len(first[0]) == 64 and first != other
    mode = stat.S_IMODE((tmp_path / "site" / settings.KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_an_unwritable_instance_folder_says_how_to_give_a_key(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(settings.SettingsError, match="set QMSFLOW_SECRET_KEY"):
        settings.signing_keys({"ENV": "development", "INSTANCE": str(blocker / "instance")})


def _app(tmp_path: Path) -> Flask:
    return create_app({"ENV": "development", "SECRET_KEY": None, "TESTING": True,
                       "INSTANCE": str(tmp_path), "DEFINITIONS": str(DEFAULT_SET),
                       "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})


def _cookie(app: Flask, data: dict[str, object]) -> str:
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return str(serializer.dumps(data))


def test_a_session_cookie_forged_with_the_published_key_opens_nothing(tmp_path: Path) -> None:
    app = _app(tmp_path)
    try:
        forger = Flask("forger")
        forger.secret_key = PUBLISHED_KEY
        client = app.test_client()
        client.set_cookie("qmsflow_session", _cookie(forger, {
            "_user_id": "admin", "_fresh": True, "seen": 4102444800.0}))
        response = client.get("/admin/")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    finally:
        app.extensions["qmsflow"].close()


def test_two_workers_of_one_instance_accept_each_others_sessions(tmp_path: Path) -> None:
    first, second = _app(tmp_path), _app(tmp_path)
    try:
        assert first.secret_key == second.secret_key
        assert _cookie(first, {"locale": "en"}) == _cookie(second, {"locale": "en"})
    finally:
        first.extensions["qmsflow"].close()
        second.extensions["qmsflow"].close()
