"""Signing in and out, sessions, languages, and the application's own safety settings."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from qmsflow.cli import main
from qmsflow.engine.persistence import users
from qmsflow.engine.persistence.models import User
from qmsflow.web.app import ConfigurationError, create_app

from ..conftest import DEFAULT_SET
from ..persistence.conftest import PASSWORD, World
from .conftest import Auth, make_app, text_of


def test_every_page_but_the_login_sends_a_stranger_to_sign_in(client: FlaskClient) -> None:
    for path in ("/", "/new", "/cases/KS-2026-03-0001", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")


def test_a_user_signs_in_sees_their_name_and_signs_out(client: FlaskClient, auth: Auth) -> None:
    response = auth.login("quality")
    assert response.status_code == 302
    assert "Quality User" in text_of(client.get("/"))
    auth.logout()
    assert client.get("/").status_code == 302


REFUSED = ("Wrong user ID or password. After several failed attempts, signing in is paused "
           "for a while; an administrator can help.")


def test_every_failed_sign_in_gets_the_same_page_whatever_the_reason(
        app: Flask, client: FlaskClient, world: World) -> None:
    with world.database.sessions.begin() as session:
        session.get_one(User, world.user("gm")).locked_until = world.clock() + timedelta(
            minutes=10)
        users.disable(session, world.user("finance"), world.clock(), "left")

    client.post("/language", data={"locale": "en", "next": "/login"})

    def page(user_id: str, password: str, address: str = "10.0.0.1") -> str:
        return text_of(client.post("/login", data={"user_id": user_id, "password": password},
                                   environ_base={"REMOTE_ADDR": address}))

    wrong = page(world.user("quality"), "not the password")
    assert REFUSED in wrong
    assert page("nobody.here", "not the password") == wrong
    assert page(world.user("gm"), PASSWORD) == wrong  # locked, right password
    assert page(world.user("finance"), PASSWORD) == wrong  # disabled, right password
    for _ in range(5):
        page(world.user("sales"), "not the password", "10.0.0.9")
    assert page(world.user("sales"), PASSWORD, "10.0.0.9") == wrong  # paused at that address
    assert "locked" not in wrong.lower() and "disabled" not in wrong.lower()


def test_sign_in_is_paused_by_the_clients_address_not_a_header_it_sends(
        client: FlaskClient, world: World) -> None:
    sales = world.user("sales")
    client.post("/language", data={"locale": "en", "next": "/login"})
    for number in range(5):
        client.post("/login", data={"user_id": sales, "password": "not the password"},
                    environ_base={"REMOTE_ADDR": "10.0.0.9"},
                    headers={"X-Forwarded-For": f"10.9.9.{number}"})
    refused = client.post("/login", data={"user_id": sales, "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.0.9"},
                          headers={"X-Forwarded-For": "10.9.9.200"})
    assert REFUSED in text_of(refused)
    elsewhere = client.post("/login", data={"user_id": sales, "password": PASSWORD},
                            environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert elsewhere.status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_clients(
        world: World, tmp_path: Path) -> None:
    app = make_app(world, tmp_path, TRUST_PROXY_HOPS=1)
    client = app.test_client()
    sales = world.user("sales")
    for _ in range(5):
        client.post("/login", data={"user_id": sales, "password": "not the password"},
                    environ_base={"REMOTE_ADDR": "127.0.0.1"},
                    headers={"X-Forwarded-For": "10.0.0.9"})
    other = client.post("/login", data={"user_id": sales, "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "127.0.0.1"},
                        headers={"X-Forwarded-For": "10.0.0.1"})
    assert other.status_code == 302  # another client behind the same proxy is not paused
    app.extensions["qmsflow"].close()
    with pytest.raises(ConfigurationError) as refused:
        make_app(world, tmp_path, TRUST_PROXY_HOPS="yes")
    assert "QMSFLOW_TRUST_PROXY_HOPS" in str(refused.value)


def test_after_signing_out_a_copy_of_the_old_cookie_no_longer_works(
        app: Flask, client: FlaskClient, auth: Auth) -> None:
    auth.login("sales")
    copied = client.get_cookie("qmsflow_session")
    assert copied is not None
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("qmsflow_session", copied.value)
    response = thief.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_signing_in_again_in_the_same_browser_ends_the_session_it_had(
        app: Flask, client: FlaskClient, auth: Auth) -> None:
    auth.login("sales")
    copied = client.get_cookie("qmsflow_session")
    assert copied is not None
    auth.login("quality")  # the same browser, another person: a new session, not two
    thief = app.test_client()
    thief.set_cookie("qmsflow_session", copied.value)
    response = thief.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("end", ["password", "disable", "sign-out"])
def test_a_new_password_disabling_or_signing_out_everywhere_ends_every_browsers_session(
        app: Flask, world: World, end: str) -> None:
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        Auth(browser, world).login("sales")
        assert browser.get("/").status_code == 200
    with world.database.sessions.begin() as session:
        if end == "password":
            users.set_password(session, world.user("sales"), "a brand new secret",
                               world.clock())
        elif end == "disable":
            users.disable(session, world.user("sales"), world.clock(), "left")
        else:
            users.sign_out_everywhere(session, world.user("sales"), world.clock())
    for browser in browsers:
        response = browser.get("/")
        assert response.status_code == 302
        assert "Your session has ended" in text_of(browser.get(response.headers["Location"]))


def test_a_cookie_without_a_live_session_id_counts_as_expired(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("sales")
    with client.session_transaction() as cookie:
        del cookie["sid"]  # e.g. a cookie from before server-side sessions
    assert client.get("/").status_code == 302
    auth.login("sales")
    with client.session_transaction() as cookie:
        cookie["sid"] = "made-up"
    assert client.get("/").status_code == 302


def test_the_login_returns_to_the_page_asked_for_but_never_to_another_site(
        client: FlaskClient, world: World) -> None:
    data = {"user_id": world.user("sales"), "password": "correct horse battery"}
    assert client.post("/login?next=/new", data=data).headers["Location"] == "/new"
    client.post("/logout")
    evil = client.post("/login?next=//evil.example/", data=data)
    assert evil.headers["Location"] == "/"


def test_a_session_idle_longer_than_the_timeout_is_signed_out_on_the_server(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("sales")
    world.clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    world.clock.advance(minutes=31)
    response = client.get("/")
    assert response.status_code == 302
    assert "signed out after 30 minutes without activity" in text_of(
        client.get(response.headers["Location"]))
    world.clock.advance(minutes=1)
    assert client.get("/").status_code == 302  # the ended session stays ended


def test_the_language_switch_shows_the_screens_and_the_definitions_in_chinese(
        client: FlaskClient, auth: Auth) -> None:
    auth.login("sales", locale="zh-CN")
    page = text_of(client.get("/new"))
    assert "新建案件" in page and "客户投诉" in page and "登记投诉" in page
    client.post("/language", data={"locale": "en", "next": "/new"})
    page = text_of(client.get("/new"))
    assert "New case" in page and "Register complaint" in page


def test_a_post_without_its_csrf_token_is_refused_and_saves_nothing(
        world: World, tmp_path: Path) -> None:
    app = make_app(world, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/login", data={"user_id": world.user("sales"),
                                           "password": "correct horse battery"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "The form has expired" in text_of(response)
    assert client.get("/").status_code == 302  # not signed in
    app.extensions["qmsflow"].close()


def test_pages_carry_the_security_headers_and_a_session_cookie_only_for_http(
        client: FlaskClient, auth: Auth) -> None:
    response = auth.login("sales")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/cases").headers["Cache-Control"] == "no-store"  # API answers too


def test_production_refuses_a_missing_short_or_published_key_and_sets_secure_cookies(
        world: World, tmp_path: Path) -> None:
    public = "https://service.example.com"
    for key, why in ((None, "QMSFLOW_SECRET_KEY is not set"), ("x" * 31, "has 31 bytes"),
                     ("qmsflow-development-key-do-not-use-in-production", "published")):
        with pytest.raises(ConfigurationError) as refused:
            make_app(world, tmp_path, ENV="production", SECRET_KEY=key, PUBLIC_URL=public)
        assert why in str(refused.value)
    app = make_app(world, tmp_path, ENV="production", SECRET_KEY="k" * 32, PUBLIC_URL=public)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    login = app.test_client().get("/login")
    assert login.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-qmsflow_session"
    app.extensions["qmsflow"].close()


def test_development_over_plain_http_sends_no_hsts_and_keeps_the_plain_cookie_name(
        app: Flask, client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert app.config["SESSION_COOKIE_NAME"] == "qmsflow_session"


def test_the_debugger_and_the_demo_accounts_are_refused_in_production(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, world: World) -> None:
    monkeypatch.setenv("QMSFLOW_INSTANCE", str(tmp_path))
    monkeypatch.setenv("QMSFLOW_ENV", "production")
    monkeypatch.setenv("QMSFLOW_SECRET_KEY", "k" * 32)
    monkeypatch.setenv("QMSFLOW_AUDIT_KEY", "a" * 32)
    monkeypatch.setenv("QMSFLOW_PUBLIC_URL", "https://service.example.com")
    monkeypatch.setenv("QMSFLOW_DEFINITIONS", str(DEFAULT_SET))
    monkeypatch.setenv("DATABASE_URL", world.database.url)
    debug = CliRunner().invoke(main, ["serve", "--debug"])
    assert debug.exit_code == 1 and "--debug is refused in production" in debug.output
    demo = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert demo.exit_code == 1 and "qmsflow demo is refused in production" in demo.output
    assert "Traceback" not in debug.output + demo.output


def test_a_broken_definition_set_stops_the_start_with_its_problems(
        world: World, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        create_app({"DATABASE_URL": world.database.url, "DEFINITIONS": str(tmp_path / "none"),
                    "SECRET_KEY": "x"})
    assert "has problems" in str(refused.value)
    assert "E104 $: no such definition folder" in str(refused.value)


def test_refused_sign_ins_tokens_and_pages_are_logged_as_warnings_without_secrets(
        app: Flask, client: FlaskClient, auth: Auth, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=app.logger.name):
        auth.login("quality", password="not the password")
        client.get("/api/v1/cases", headers={"Authorization": "Bearer qmsflow_not-a-real-one"})
        auth.login("sales")
        client.get("/admin/?q=王芳")
    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("sign-in refused (wrong) from") for line in lines)
    assert any(line.startswith("API token refused (unknown) from") for line in lines)
    assert any(line.endswith(" GET /admin/") and "refused (403)" in line for line in lines)
    assert "not the password" not in caplog.text and "not-a-real-one" not in caplog.text
    assert "王芳" not in caplog.text


def test_the_access_log_keeps_no_search_terms(app: Flask, caplog: pytest.LogCaptureFixture
                                              ) -> None:
    logger = logging.getLogger("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info('%s - - [%s] "%s" %s -', "127.0.0.1", "now",
                    "GET /?q=%E7%8E%8B%E8%8A%B3 HTTP/1.1", "200")
    assert "GET / HTTP/1.1" in caplog.text
    assert "q=" not in caplog.text


def test_configuration_comes_from_the_instance_file_then_the_environment(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "qmsflow.cfg").write_text(
        f'SECRET_KEY = "from-the-instance-file"\nDATABASE_URL = "{world.database.url}"\n'
        'SESSION_TIMEOUT_MINUTES = 10\n', encoding="utf-8")
    monkeypatch.setenv("QMSFLOW_INSTANCE", str(tmp_path))
    monkeypatch.setenv("QMSFLOW_SESSION_TIMEOUT_MINUTES", "5")
    monkeypatch.setenv("QMSFLOW_DEFINITIONS", str(DEFAULT_SET))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-instance-file"
    assert app.config["SESSION_TIMEOUT_MINUTES"] == 5  # the environment wins
    assert app.config["UPLOAD_FOLDER"] == str(tmp_path / "uploads")
    app.extensions["qmsflow"].close()


def test_serve_refuses_a_misspelt_environment_name_in_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QMSFLOW_INSTANCE", str(tmp_path))
    monkeypatch.setenv("QMSFLOW_ENV", "Production")
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1
    assert ("QMSFLOW_ENV is 'Production', which is not an environment of qmsflow: use "
            "production or development") in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_production_refuses_survey_links_to_this_machines_own_address(
        world: World, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        make_app(world, tmp_path, ENV="production", SECRET_KEY="k" * 32,
                 PUBLIC_URL="http://127.0.0.1:5000")
    assert "set it to the address they open" in str(refused.value)
    app = make_app(world, tmp_path, ENV="production", SECRET_KEY="k" * 32,
                   PUBLIC_URL="https://service.example.com")
    app.extensions["qmsflow"].close()
