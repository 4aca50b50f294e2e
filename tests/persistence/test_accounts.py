"""Accounts over time: password history (21 CFR 11.300), temporary passwords, a user's own
password change and sessions, roles and preferences, all in the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from qmsflow.engine.persistence import proof, user_sessions, users, versions
from qmsflow.engine.persistence.models import AuditEvent, PasswordHistory

from .conftest import CHEAP, PASSWORD, World

# Strong enough for check_password, and different from each other.
NEW = ["amber kettle orbit", "violet harbour spoon", "quiet meadow lantern",
       "copper window falcon", "silent river basket", "golden tundra piano"]
IDLE, LIFETIME = timedelta(minutes=30), timedelta(hours=12)


def _set(world: World, user_id: str, password: str, history: int = 5) -> None:
    with world.database.sessions.begin() as session:
        users.set_password(session, user_id, password, world.clock(), hasher=CHEAP,
                           history=history)


def test_a_new_password_may_not_repeat_any_of_the_last_five(world: World) -> None:
    user_id = world.user("quality")
    for password in NEW[:4]:
        _set(world, user_id, password)
    # The last five: PASSWORD and NEW[0..3]; each of them is refused, the current one too.
    for password in (PASSWORD, NEW[0], NEW[3]):
        with pytest.raises(users.UserError) as error:
            _set(world, user_id, password)
        assert error.value.code == "password_reused"
        assert "last 5 passwords" in str(error.value)
    assert world.service.authenticate(user_id, NEW[3]).id == user_id


def test_a_password_older_than_the_history_may_come_back(world: World) -> None:
    user_id = world.user("quality")
    for password in NEW[:5]:
        _set(world, user_id, password)
    _set(world, user_id, PASSWORD)  # six changes ago: out of the last five
    with world.database.sessions() as session:
        kept = session.execute(select(PasswordHistory.password_hash)
                               .where(PasswordHistory.user_id == user_id)).scalars().all()
    assert len(kept) == 4  # with the current one: five, older ones are deleted
    assert all(hashed.startswith("$argon2id$") for hashed in kept)
    assert not any(password in hashed for hashed in kept for password in NEW)


def test_the_history_length_is_a_setting(world: World) -> None:
    user_id = world.user("quality")
    _set(world, user_id, NEW[0], history=2)
    _set(world, user_id, NEW[1], history=2)
    _set(world, user_id, PASSWORD, history=2)  # three back: allowed with a history of two
    with pytest.raises(users.UserError, match="last 2 passwords"):
        _set(world, user_id, NEW[1], history=2)


def test_changing_ones_own_password_needs_the_current_one_and_keeps_this_session(
        world: World) -> None:
    user_id = world.user("sales")
    _, here = world.service.sign_in(user_id, PASSWORD, "10.0.0.1", "Firefox")
    _, there = world.service.sign_in(user_id, PASSWORD, "10.0.0.2", "Chrome")
    with pytest.raises(users.AuthenticationFailed) as wrong:
        world.service.change_password(user_id, "not my password", NEW[0], here)
    assert wrong.value.why == "wrong"
    with pytest.raises(users.UserError) as reused:
        world.service.change_password(user_id, PASSWORD, PASSWORD, here)
    assert reused.value.code == "password_reused"
    with pytest.raises(users.UserError) as weak:
        world.service.change_password(user_id, PASSWORD, "password123", here)
    assert weak.value.code == "password_common"

    world.service.change_password(user_id, PASSWORD, NEW[0], here)

    check = world.service.session_user
    assert check(here, user_id, IDLE, LIFETIME).user is not None
    assert check(there, user_id, IDLE, LIFETIME).why == user_sessions.PASSWORD_CHANGED
    assert world.service.authenticate(user_id, NEW[0]).id == user_id
    with world.database.sessions() as session:
        entry = session.execute(select(AuditEvent).where(
            AuditEvent.action == "password_set")).scalar_one()
    assert (entry.actor_id, entry.field) == (user_id, user_id)
    assert entry.data == {"sessions_ended": 1, "temporary": False}


def test_an_administrators_password_is_temporary_until_its_holder_chooses_one(
        world: World) -> None:
    user_id = world.user("sales")
    with world.database.sessions.begin() as session:
        record = users.set_password(session, user_id, NEW[0], world.clock(), hasher=CHEAP,
                                    temporary=True)
    assert record.password_temporary
    _, here = world.service.sign_in(user_id, NEW[0])
    assert world.service.change_password(user_id, NEW[0], NEW[1], here).password_temporary \
        is False


def test_a_user_lists_their_live_sessions_and_ends_one_of_them_only(world: World) -> None:
    user_id = world.user("sales")
    _, first = world.service.sign_in(user_id, PASSWORD, "10.0.0.1", "Firefox")
    _, second = world.service.sign_in(user_id, PASSWORD, "10.0.0.2", "Chrome")
    world.service.sign_in(world.user("quality"), PASSWORD)
    now = world.clock()
    with world.database.sessions.begin() as session:
        listed = user_sessions.listed(session, user_id, now, IDLE, LIFETIME)
        assert {(s.address, s.agent) for s in listed} == {("10.0.0.1", "Firefox"),
                                                        ("10.0.0.2", "Chrome")}
        other = next(s for s in listed if s.is_session(second))
        assert not user_sessions.end_own(session, world.user("quality"), other.key, now)
        assert user_sessions.end_own(session, user_id, other.key, now)
    with world.database.sessions() as session:
        left = user_sessions.listed(session, user_id, now, IDLE, LIFETIME)
    assert [s.is_session(first) for s in left] == [True]


def test_roles_and_preferences_change_with_audit_entries_the_proof_accepts(
        world: World) -> None:
    user_id = world.user("sales")
    now = world.clock()
    with world.database.sessions.begin() as session:
        users.set_roles(session, world.definition, user_id, ["sales", "quality"], now)
        users.set_preferences(session, world.definition, user_id, "en", "Europe/Berlin", now)
    with world.database.sessions() as session:
        record = users.get(session, user_id)
        actions = session.execute(select(AuditEvent.action).where(
            AuditEvent.field == user_id)).scalars().all()
        breaks = proof.check(session, versions.Versions())
    assert record.roles == ("quality", "sales")
    assert (record.locale, record.timezone) == ("en", "Europe/Berlin")
    assert "roles_changed" in actions and "preferences_changed" in actions
    assert [b for b in breaks if user_id in str(b)] == []


def test_unknown_roles_time_zones_and_languages_are_refused_with_a_hint(world: World) -> None:
    user_id = world.user("sales")
    now = world.clock()
    with pytest.raises(users.UserError) as role, world.database.sessions.begin() as session:
        users.set_roles(session, world.definition, user_id, ["qualty"], now)
    assert role.value.code == "role_unknown" and "did you mean 'quality'" in str(role.value)
    with pytest.raises(users.UserError) as zone, world.database.sessions.begin() as session:
        users.set_preferences(session, world.definition, user_id, "en", "Asia/Shangai", now)
    assert zone.value.code == "timezone_unknown" and "Asia/Shanghai" in str(zone.value)
    with pytest.raises(users.UserError) as lang, world.database.sessions.begin() as session:
        users.set_preferences(session, world.definition, user_id, "fr", None, now)
    assert lang.value.code == "locale_unknown"
