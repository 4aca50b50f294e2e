"""A user's own account: changing the password (with its history), their sessions, their
language and time zone; and a password an administrator set, which must be replaced first."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from qmsflow.engine.persistence import users
from qmsflow.engine.persistence.models import AuditEvent, User
from qmsflow.web.app import ConfigurationError

from ..persistence.conftest import CHEAP, PASSWORD, World
from .conftest import Auth, make_app, text_of

NEW = "amber kettle orbit"


def change(client: FlaskClient, current: str, new: str, again: str | None = None) -> str:
    response = client.post("/account/password", data={
        "current": current, "new": new, "again": new if again is None else again})
    if response.status_code == 302:
        response = client.get(response.headers["Location"])
    return text_of(response)


def test_every_signed_in_page_links_the_account_from_the_header(client: FlaskClient,
                                                                 auth: Auth) -> None:
    auth.login("sales")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/account/password"' in page
    assert "Account" in text_of(client.get("/account/password"))


def test_a_user_changes_their_password_and_keeps_this_session_only(
        app: Flask, client: FlaskClient, auth: Auth, world: World) -> None:
    elsewhere = app.test_client()
    Auth(elsewhere, world).login("sales")
    auth.login("sales")
    page = change(client, PASSWORD, NEW)
    assert "Your password was changed. Your other sessions have ended." in page
    assert client.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert world.service.authenticate(world.user("sales"), NEW).id == world.user("sales")
    with world.database.sessions() as session:
        entry = session.execute(select(AuditEvent).where(
            AuditEvent.action == "password_set")).scalar_one()
    assert (entry.actor_id, entry.field, entry.data["sessions_ended"]) == (
        world.user("sales"), world.user("sales"), 1)


def test_a_wrong_current_password_is_refused_and_nothing_typed_comes_back(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("sales")
    response = client.post("/account/password", data={
        "current": "not my password", "new": NEW, "again": NEW})
    assert "The current password is wrong." in text_of(response)
    html = response.get_data(as_text=True)
    assert NEW not in html and "not my password" not in html
    assert world.service.authenticate(world.user("sales"), PASSWORD)


def test_a_reused_weak_or_mistyped_new_password_is_refused_saying_why(
        client: FlaskClient, auth: Auth) -> None:
    auth.login("sales")
    assert ("The new password must differ from the last 5 passwords of this account."
            in change(client, PASSWORD, PASSWORD))
    assert "among the most common ones" in change(client, PASSWORD, "password123")
    assert "at least 10 characters" in change(client, PASSWORD, "short")
    assert "The two new passwords differ" in change(client, PASSWORD, NEW, NEW + "x")
    assert "Fill in all three fields." in change(client, "", NEW)


def test_the_refusals_are_in_chinese_for_a_chinese_reader(client: FlaskClient,
                                                          auth: Auth) -> None:
    auth.login("sales", locale="zh-CN")
    assert "当前密码不正确" in change(client, "not my password", NEW)
    assert "5" in change(client, PASSWORD, PASSWORD)


def test_the_history_length_follows_the_setting(app: Flask, client: FlaskClient,
                                                auth: Auth) -> None:
    app.config["PASSWORD_HISTORY"] = 1
    auth.login("sales")
    change(client, PASSWORD, NEW)
    assert "Your password was changed" in change(client, NEW, PASSWORD)


def test_a_user_sees_their_sessions_and_signs_out_the_others(
        app: Flask, client: FlaskClient, auth: Auth, world: World) -> None:
    phone = app.test_client()
    phone.post("/language", data={"locale": "en", "next": "/login"})
    phone.post("/login", data={"user_id": world.user("sales"), "password": PASSWORD},
               headers={"User-Agent": "PhoneBrowser/1.0"},
               environ_base={"REMOTE_ADDR": "10.1.1.7"})
    laptop = app.test_client()
    Auth(laptop, world).login("sales")
    auth.login("sales")
    page = text_of(client.get("/account/sessions"))
    assert "PhoneBrowser/1.0" in page and "10.1.1.7" in page
    assert page.count("this session") == 1
    keys = [line.split('value="')[1].split('"')[0]
            for line in client.get("/account/sessions").get_data(as_text=True).splitlines()
            if 'name="key"' in line]
    assert len(keys) == 2  # the two other sessions; this one has no button
    client.post("/account/sessions/end", data={"key": keys[0]})
    assert "That session had already ended." in text_of(
        client.post("/account/sessions/end", data={"key": keys[0]}, follow_redirects=True))
    ended = text_of(client.post("/account/sessions/others", follow_redirects=True))
    assert "1 sessions ended" in ended
    assert phone.get("/").status_code == 302 and laptop.get("/").status_code == 302
    assert client.get("/").status_code == 200


def test_a_user_cannot_end_another_users_session(app: Flask, client: FlaskClient,
                                                 auth: Auth, world: World) -> None:
    other = app.test_client()
    Auth(other, world).login("quality")
    auth.login("quality")
    keys = [line.split('value="')[1].split('"')[0]
            for line in client.get("/account/sessions").get_data(as_text=True).splitlines()
            if 'name="key"' in line]
    auth.login("sales")
    client.post("/account/sessions/end", data={"key": keys[0]})
    assert other.get("/").status_code == 200


def test_language_and_time_zone_are_kept_on_the_account_and_used_when_signed_in(
        app: Flask, client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("sales")
    saved = client.post("/account/preferences",
                        data={"locale": "zh-CN", "timezone": "Europe/Berlin"},
                        follow_redirects=True)
    assert "偏好" in text_of(saved)
    with world.database.sessions() as session:
        record = users.get(session, world.user("sales"))
    assert (record.locale, record.timezone) == ("zh-CN", "Europe/Berlin")
    fresh = app.test_client()  # another browser, no language chosen: the account's
    fresh.post("/login", data={"user_id": world.user("sales"), "password": PASSWORD},
               headers={"Accept-Language": "en"})
    assert "收件箱" in text_of(fresh.get("/")) or "待办" in text_of(fresh.get("/"))
    with app.test_request_context():
        from flask_login import login_user

        from qmsflow.web.auth import Account
        from qmsflow.web.i18n import local_time
        login_user(Account.of(record))
        shown = local_time(world.clock(), with_zone=True)
    assert "Europe/Berlin" in shown


def test_the_header_language_switch_is_kept_on_the_account_of_a_signed_in_user(
        app: Flask, client: FlaskClient, auth: Auth, world: World) -> None:
    with world.database.sessions() as session:
        assert users.get(session, world.user("sales")).locale == "zh-CN"
    auth.login("sales", locale="zh-CN")
    client.post("/language", data={"locale": "en", "next": "/"})
    with world.database.sessions() as session:
        assert users.get(session, world.user("sales")).locale == "en"
        entry = session.execute(select(AuditEvent).where(
            AuditEvent.action == "preferences_changed")).scalar_one()
    assert (entry.field, entry.new) == (world.user("sales"), {"locale": "en", "timezone": None})
    fresh = app.test_client()  # the next sign-in, elsewhere, opens in the language chosen
    fresh.post("/login", data={"user_id": world.user("sales"), "password": PASSWORD},
               headers={"Accept-Language": "zh-CN"})
    assert "Sign out" in text_of(fresh.get("/", headers={"Accept-Language": "zh-CN"}))


def test_the_language_switch_before_sign_in_changes_no_account(client: FlaskClient,
                                                               world: World) -> None:
    with world.database.sessions() as session:
        before = users.get(session, world.user("sales")).locale
    client.post("/language", data={"locale": "en", "next": "/login"})
    client.post("/language", data={"locale": "zh-CN", "next": "/login"})
    with world.database.sessions() as session:
        assert users.get(session, world.user("sales")).locale == before


def test_an_unknown_time_zone_is_refused_and_nothing_changes(client: FlaskClient,
                                                             auth: Auth,
                                                             world: World) -> None:
    auth.login("sales")
    page = text_of(client.post("/account/preferences",
                               data={"locale": "en", "timezone": "Mars/Olympus"}))
    assert "Mars/Olympus is not a time zone" in page
    with world.database.sessions() as session:
        assert users.get(session, world.user("sales")).timezone is None


def test_a_temporary_password_must_be_replaced_before_anything_else(
        client: FlaskClient, auth: Auth, world: World) -> None:
    with world.database.sessions.begin() as session:
        users.set_password(session, world.user("sales"), NEW, world.clock(), hasher=CHEAP,
                           temporary=True)
    auth.login("sales", password=NEW)
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"
    assert "Choose your own password to continue." in text_of(client.get("/account/password"))
    change(client, NEW, "violet harbour spoon")
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(("name", "value"), [("PASSWORD_HISTORY", "five"),
                                             ("PASSWORD_HISTORY", -1),
                                             ("PASSWORD_MAX_AGE_DAYS", True)])
def test_a_password_rule_that_is_not_a_small_whole_number_stops_the_start(
        world: World, tmp_path: Path, name: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as refused:
        make_app(world, tmp_path, **{name: value})
    assert f"QMSFLOW_{name}" in str(refused.value)


def test_a_password_older_than_the_maximum_age_must_be_changed_first(
        app: Flask, client: FlaskClient, auth: Auth, world: World) -> None:
    app.config["PASSWORD_MAX_AGE_DAYS"] = 90
    with world.database.sessions.begin() as session:
        session.get_one(User, world.user("sales")).password_changed_at = (
            world.clock() - timedelta(days=91))
        session.get_one(User, world.user("quality")).password_changed_at = (
            world.clock() - timedelta(days=89))
    auth.login("quality")
    assert client.get("/").status_code == 200
    auth.login("sales")
    assert client.get("/").headers["Location"] == "/account/password"
    assert "Your password is older than 90 days." in text_of(client.get("/account/password"))
    change(client, PASSWORD, NEW)
    assert client.get("/").status_code == 200
