"""The administrators' users page: list, add, change roles, disable, temporary passwords;
refused to everybody else, and to an administrator against their own account."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from qmsflow.engine.persistence import users
from qmsflow.engine.persistence.models import AuditEvent

from ..persistence.conftest import PASSWORD, World
from .conftest import Auth, text_of

ADMIN = "quality_manager"
TEMPORARY = "amber kettle orbit"
PAGES = ["/admin/users", "/admin/users/new", "/admin/users/sales.user"]


@pytest.mark.parametrize("page", PAGES)
def test_users_without_an_admin_role_are_refused_the_users_pages(
        client: FlaskClient, auth: Auth, page: str) -> None:
    auth.login("quality")
    assert client.get(page).status_code == 403
    assert client.post("/admin/users/sales.user/disable",
                       data={"reason": "x"}).status_code == 403


def test_the_list_shows_names_role_labels_states_and_last_sign_in(
        client: FlaskClient, auth: Auth, world: World) -> None:
    with world.database.sessions.begin() as session:
        users.disable(session, world.user("finance"), world.clock(), "left")
    auth.login(ADMIN)
    page = text_of(client.get("/admin/users"))
    assert "Sales User" in page and "Sales clerk" in page
    assert "disabled" in page and "active" in page
    assert world.clock().strftime("%Y-%m-%d") in page  # the admin's own sign-in


def test_an_administrator_adds_a_user_with_a_role_and_a_temporary_password(
        app: Flask, client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    response = client.post("/admin/users/new", data={
        "user_id": "zhang.san", "name": "张三", "email": "", "roles": ["quality", "sales"],
        "locale": "zh-CN", "password": TEMPORARY})
    assert response.status_code == 302
    page = text_of(client.get(response.headers["Location"]))
    assert "The account zhang.san was added." in page and "Quality engineer" in page
    with world.database.sessions() as session:
        added = users.get(session, "zhang.san")
        entry = session.execute(select(AuditEvent).where(
            AuditEvent.action == "user_added", AuditEvent.field == "zhang.san")).scalar_one()
    assert added.roles == ("quality", "sales") and added.password_temporary
    assert set(added.departments) == {"quality", "sales"}
    assert entry.actor_id == world.user(ADMIN)
    newcomer = app.test_client()
    newcomer.post("/login", data={"user_id": "zhang.san", "password": TEMPORARY})
    assert newcomer.get("/").headers["Location"] == "/account/password"


@pytest.mark.parametrize(("fields", "message"), [
    ({"user_id": "Zhang San"}, "The user ID may hold 2 to 100 lower-case letters"),
    ({"user_id": "sales.user"}, "IDs are never reused"),
    ({"roles": []}, "Choose at least one role."),
    ({"password": "password123"}, "among the most common ones"),
    ({"name": ""}, "Fill in the user ID, the name and a temporary password."),
])
def test_a_new_user_with_a_mistake_is_refused_saying_which(
        client: FlaskClient, auth: Auth, fields: dict[str, object], message: str) -> None:
    auth.login(ADMIN)
    data = {"user_id": "li.si", "name": "李四", "roles": ["quality"], "locale": "en",
            "password": TEMPORARY, **fields}
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 200
    assert message in text_of(response)
    assert TEMPORARY not in response.get_data(as_text=True)


def test_roles_change_with_an_audit_entry_and_unknown_ones_are_refused(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    sales = world.user("sales")
    response = client.post(f"/admin/users/{sales}/roles",
                           data={"roles": ["sales", "sales_manager"]}, follow_redirects=True)
    assert "The roles were saved." in text_of(response)
    refused = client.post(f"/admin/users/{sales}/roles", data={"roles": ["pope"]})
    assert refused.status_code == 400
    assert "pope is not a role of this organisation." in text_of(refused)
    with world.database.sessions() as session:
        assert users.get(session, sales).roles == ("sales", "sales_manager")
        entry = session.execute(select(AuditEvent).where(
            AuditEvent.action == "roles_changed")).scalar_one()
    assert (entry.old, entry.new, entry.actor_id) == (["sales"], ["sales", "sales_manager"],
                                                      world.user(ADMIN))


def test_disabling_needs_a_reason_and_ends_the_sign_in(
        app: Flask, client: FlaskClient, auth: Auth, world: World) -> None:
    victim = app.test_client()
    Auth(victim, world).login("sales")
    auth.login(ADMIN)
    sales = world.user("sales")
    missing = client.post(f"/admin/users/{sales}/disable", data={"reason": " "})
    assert "Give the reason for disabling the account." in text_of(missing)
    done = client.post(f"/admin/users/{sales}/disable", data={"reason": "left the company"},
                       follow_redirects=True)
    assert "The account was disabled." in text_of(done)
    assert victim.get("/").status_code == 302


def test_an_administrator_cannot_disable_themselves_or_drop_their_own_admin_role(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    me = world.user(ADMIN)
    disabled = client.post(f"/admin/users/{me}/disable", data={"reason": "testing"})
    assert disabled.status_code == 400
    assert "You cannot disable your own account" in text_of(disabled)
    dropped = client.post(f"/admin/users/{me}/roles", data={"roles": ["quality"]})
    assert "You cannot take away your own administrator role" in text_of(dropped)
    with world.database.sessions() as session:
        record = users.get(session, me)
    assert not record.disabled and record.roles == (ADMIN,)


def test_a_temporary_password_replaces_the_old_one_and_must_be_changed(
        app: Flask, client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    sales = world.user("sales")
    page = text_of(client.post(f"/admin/users/{sales}/password",
                               data={"password": TEMPORARY}, follow_redirects=True))
    assert "The temporary password was set" in page
    assert "temporary password" in page
    holder = app.test_client()
    holder.post("/login", data={"user_id": sales, "password": PASSWORD})
    assert holder.get("/").status_code == 302  # the old password no longer works
    holder.post("/login", data={"user_id": sales, "password": TEMPORARY})
    assert holder.get("/").headers["Location"] == "/account/password"


def test_an_unknown_user_is_not_found(client: FlaskClient, auth: Auth) -> None:
    auth.login(ADMIN)
    assert client.get("/admin/users/nobody.here").status_code == 404
    assert client.post("/admin/users/nobody.here/disable",
                       data={"reason": "x"}).status_code == 404


def test_a_temporary_password_may_not_repeat_a_recent_one_either(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login(ADMIN)
    refused = client.post(f"/admin/users/{world.user('sales')}/password",
                          data={"password": PASSWORD})
    assert refused.status_code == 400
    assert "must differ from the last 5 passwords" in text_of(refused)
