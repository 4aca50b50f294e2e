"""Users: never-reused ids, roles from the definitions, argon2 hashes, lockout, disabling."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from qmsflow.engine.machine import Refused
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import UserRecord, users
from qmsflow.engine.persistence.models import AuditEvent, User

from .conftest import CHEAP, PASSWORD, Database, World, to_investigation


def _add(session: Session, definition: DefinitionSet, now: datetime, user_id: str = "zhang.san",
         roles: tuple[str, ...] = ("quality",), password: str = PASSWORD) -> UserRecord:
    return users.add(session, definition, user_id, "张三", roles, password, now, hasher=CHEAP)


def test_a_password_is_stored_only_as_an_argon2_hash(database: Database,
                                                     default_set: DefinitionSet,
                                                     now: datetime) -> None:
    with database.sessions.begin() as session:
        added = _add(session, default_set, now)
    assert not hasattr(added, "password_hash")  # the record callers get carries no hash
    with database.sessions() as session:
        user = session.get_one(User, "zhang.san")
        entry = session.query(AuditEvent).filter_by(action="user_added").one()
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert PASSWORD not in str(entry.data) and entry.field == "zhang.san"


def test_an_unknown_role_is_refused_with_a_suggestion(database: Database,
                                                      default_set: DefinitionSet,
                                                      now: datetime) -> None:
    with pytest.raises(users.UserError) as error, database.sessions.begin() as session:
        _add(session, default_set, now, roles=("qualty",))
    assert "unknown role 'qualty'" in str(error.value)
    assert "did you mean 'quality'" in str(error.value)


def test_an_id_is_never_reused_even_after_the_account_is_disabled(world: World) -> None:
    taken = world.user("quality")
    with world.database.sessions.begin() as session:
        users.disable(session, taken, world.clock(), "left the company")
    with pytest.raises(users.UserError) as error, world.database.sessions.begin() as session:
        _add(session, world.definition, world.clock(), user_id=taken)
    assert "ids are never reused" in str(error.value)
    assert "disabled account" in str(error.value)


def test_a_weak_password_is_refused(database: Database, default_set: DefinitionSet,
                                    now: datetime) -> None:
    with pytest.raises(users.UserError) as error, database.sessions.begin() as session:
        _add(session, default_set, now, password="short")
    assert "at least 10 characters" in str(error.value)


@pytest.mark.parametrize(("password", "why"), [
    ("password123", "is among the most common passwords"),
    ("P@ssw0rd123", "is among the most common passwords"),  # l33t spelling does not hide it
    ("asdfghjkl;", "is easy to guess"),  # a keyboard walk
    ("19880808abc", "is easy to guess"),  # a date and a sequence
    ("zhangsan@example.com", "is built from the person's name or e-mail"),
])
def test_a_guessable_password_is_refused_saying_why(
        database: Database, default_set: DefinitionSet, now: datetime, password: str,
        why: str) -> None:
    with pytest.raises(users.UserError) as error, database.sessions.begin() as session:
        users.add(session, default_set, "zhang.san", "Zhang San", ("quality",), password, now,
                  email="zhangsan@example.com", hasher=CHEAP)
    assert why in str(error.value) and "three or four unrelated words" in str(error.value)


def test_a_guessable_new_password_is_refused_and_the_old_one_kept(world: World) -> None:
    user = world.user("quality")
    with pytest.raises(users.UserError, match="most common"), \
            world.database.sessions.begin() as session:
        users.set_password(session, user, "iloveyou123", world.clock(), hasher=CHEAP)
    assert world.service.authenticate(user, PASSWORD).id == user


def test_setting_a_new_password_unlocks_and_the_old_one_stops_working(world: World) -> None:
    user_id = world.user("sales")
    with world.database.sessions.begin() as session:
        session.get_one(User, user_id).locked_until = world.clock() + timedelta(minutes=15)
    with pytest.raises(users.AuthenticationFailed):
        world.service.authenticate(user_id, PASSWORD)
    with world.database.sessions.begin() as session:
        users.set_password(session, user_id, "a brand new secret", world.clock(),
                           hasher=CHEAP)
    assert world.service.authenticate(user_id, "a brand new secret").id == user_id
    with pytest.raises(users.AuthenticationFailed):
        world.service.authenticate(user_id, PASSWORD)


def test_a_disabled_account_cannot_sign_in_and_is_refused_like_a_wrong_password(
        world: World) -> None:
    with world.database.sessions.begin() as session:
        users.disable(session, world.user("gm"), world.clock(), "retired")
    with pytest.raises(users.AuthenticationFailed) as error:
        world.service.authenticate(world.user("gm"), PASSWORD)
    assert (str(error.value), error.value.why) == ("wrong user id or password", "disabled")


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(world: World) -> None:
    with pytest.raises(users.AuthenticationFailed) as error:
        world.service.authenticate("nobody", PASSWORD)
    assert str(error.value) == "wrong user id or password"


def test_the_acting_user_naming_themselves_in_a_user_field_is_checked_like_anyone_else(
        world: World) -> None:
    decision = {"investigated": False, "recall_needed": False,
                "no_investigation_reason": "同批次已有调查结论，无需重复调查"}
    quality, manager = world.user("quality"), world.user("quality_manager")
    number = to_investigation(world)
    with pytest.raises(Refused) as refused:
        world.service.apply_step(number, "report_investigation", quality,
                                   {**decision, "no_investigation_decider": quality},
                                   password=PASSWORD)
    name = world.service.user(quality).name  # type: ignore[union-attr]
    assert f"no_investigation_decider: {name} holds none of the roles quality_manager" in str(
        refused.value)
    done = world.service.apply_step(number, "report_investigation", manager,
                                    {**decision, "no_investigation_decider": manager},
                                    password=PASSWORD)
    assert done.values["no_investigation_decider"] == manager


@pytest.mark.parametrize(("who", "why"), [("disabled", "is disabled"),
                                          ("unknown", "does not exist")])
def test_a_step_by_a_disabled_or_unknown_account_is_refused_and_writes_nothing(
        world: World, who: str, why: str) -> None:
    number = to_investigation(world)
    actor = world.user("quality") if who == "disabled" else "no.such.user"
    if who == "disabled":
        with world.database.sessions.begin() as session:
            users.disable(session, actor, world.clock(), "left the company")
    before = world.service.read_case(number)
    with pytest.raises(Refused) as refused:
        world.service.apply_step(number, "report_investigation", actor,
                                   {"investigated": True, "findings": "电源模块失效"})
    assert f"user '{actor}' {why}" in str(refused.value)
    after = world.service.read_case(number)
    assert after.case == before.case and len(after.events) == len(before.events)


def test_a_user_field_must_name_an_active_user_with_one_of_its_roles(world: World) -> None:
    number = to_investigation(world)
    quality = world.user("quality")
    decision = {"investigated": False, "recall_needed": False,
                "no_investigation_reason": "同批次已有调查结论，无需重复调查"}
    with pytest.raises(Refused) as refused:
        world.service.apply_step(number, "report_investigation", quality,
                                   {**decision, "no_investigation_decider": world.user("sales")},
                                   password=PASSWORD)
    assert "no_investigation_decider: Sales User holds none of the roles quality_manager" in str(
        refused.value)
    done = world.service.apply_step(
        number, "report_investigation", quality,
        {**decision, "no_investigation_decider": world.user("quality_manager")},
        password=PASSWORD)
    assert done.values["no_investigation_decider"] == world.user("quality_manager")
