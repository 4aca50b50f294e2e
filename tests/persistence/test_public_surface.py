"""What persistence hands to callers above it: plain frozen records, never ORM rows.

An ORM row belongs to the session that loaded it (read later, an attribute it had not loaded
raises DetachedInstanceError; changed, it may be written back by the next transaction), so no
name of the public surface (``qmsflow.engine.persistence.__all__``) returns one.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from qmsflow.engine import persistence
from qmsflow.engine.cases import Case
from qmsflow.engine.events import Outcome
from qmsflow.engine.persistence import (
    AuditRecord,
    CaseService,
    Notification,
    SignatureRecord,
    UserRecord,
    outbox,
    tokens,
    users,
    versions,
)
from qmsflow.engine.persistence.models import Base

from .conftest import PASSWORD, World, open_complaint

# Names some modules import only for type checking.
HINTS: dict[str, Any] = {"CaseService": CaseService, "Outcome": Outcome}


def _orm_classes(hint: Any) -> set[str]:
    """The ORM classes named anywhere in a type hint (``list[tuple[User, int]]``...)."""
    found = {hint.__name__} if isinstance(hint, type) and issubclass(hint, Base) else set()
    for argument in typing.get_args(hint):
        found |= _orm_classes(argument)
    return found


def _public(owner: ModuleType | type) -> Iterator[tuple[str, Any]]:
    """The public functions and classes a module defines, or the public members of a class."""
    for name, value in vars(owner).items():
        if name.startswith("_"):
            continue
        if isinstance(owner, ModuleType) and getattr(value, "__module__", None) != owner.__name__:
            continue  # imported from elsewhere: checked where it is defined
        if isinstance(value, property):
            value = value.fget
        elif isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or inspect.isclass(value):
            yield name, value


def _surface() -> Iterator[tuple[str, Callable[..., Any] | type]]:
    """Every function and class of the public surface, with its dotted name."""
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(name, getattr(persistence, name))
                                    for name in persistence.__all__]
    while stack:
        name, value = stack.pop()
        if not (isinstance(value, ModuleType) or callable(value)):
            continue  # a constant (COMMENT_MAX): it hands out nothing
        home = value.__name__ if isinstance(value, ModuleType) else value.__module__
        if id(value) in seen or not home.startswith("qmsflow."):
            continue  # seen already, or a library's (DatabaseError is SQLAlchemy's)
        seen.add(id(value))
        if isinstance(value, ModuleType) or inspect.isclass(value):
            stack += [(f"{name}.{member}", found) for member, found in _public(value)]
        if inspect.isfunction(value) or inspect.isclass(value):
            yield name, value


def _returned(name: str, value: Callable[..., Any] | type) -> set[str]:
    """The ORM classes a function returns, or a class holds in its fields."""
    if inspect.isclass(value):
        if not dataclasses.is_dataclass(value) or issubclass(value, Base):
            return set()
        hints = typing.get_type_hints(value, localns=HINTS)
        return {f"{name}.{field.name}: {orm}" for field in dataclasses.fields(value)
                for orm in _orm_classes(hints[field.name])}
    hints = typing.get_type_hints(value, localns=HINTS)
    return {f"{name} -> {orm}" for orm in _orm_classes(hints.get("return"))}


def test_no_function_or_record_of_the_public_surface_hands_out_an_orm_row() -> None:
    leaks = sorted(leak for name, value in _surface() for leak in _returned(name, value))
    assert leaks == []


def test_the_check_finds_a_function_that_returns_an_orm_row() -> None:
    def listed() -> list[tuple[persistence.models.User, int]]:
        raise NotImplementedError

    assert _returned("users.listed", listed) == {"users.listed -> User"}


def test_reading_a_case_gives_frozen_records_of_its_audit_trail_and_signatures(
        world: World) -> None:
    number = open_complaint(world).number
    found = world.service.read_case(number)
    assert found.events and all(type(e) is AuditRecord for e in found.events)
    assert found.signatures and all(type(s) is SignatureRecord for s in found.signatures)
    created = found.events[0]
    assert (created.action, created.case_number) == ("created", number)
    with pytest.raises(dataclasses.FrozenInstanceError):
        created.reason = "rewritten"  # type: ignore[misc]
    with pytest.raises(TypeError):
        created.data["step"] = "rewritten"  # type: ignore[index]


def test_a_case_list_holds_the_engines_cases_on_their_own_versions(world: World) -> None:
    number = open_complaint(world).number
    page = world.service.list_cases(world.user("quality"))
    assert [type(case) for case in page.rows] == [Case]
    assert (page.rows[0].number, page.rows[0].version) == (number, world.definition.version)


def test_accounts_come_back_as_records_without_a_password_hash(world: World) -> None:
    user_id = world.user("quality")
    signed_in = world.service.authenticate(user_id, PASSWORD)
    with world.database.sessions() as session:
        everyone = users.listed(session)
        fetched = users.get(session, user_id)
    assert type(signed_in) is UserRecord and signed_in == world.service.user(user_id) == fetched
    assert all(type(user) is UserRecord for user in everyone)
    assert signed_in.actor.roles == frozenset({"quality"})
    assert not {"password_hash", "failed_logins"} & {f.name for f in
                                                     dataclasses.fields(UserRecord)}


def test_tokens_versions_and_notifications_come_back_as_records(world: World) -> None:
    with world.database.sessions.begin() as session:
        issued, plain = tokens.issue(session, world.user("sales"), "intake", world.clock())
        bearer = tokens.check(session, plain, world.clock())
        (listed_token, owner), = tokens.listed(session)
        stored = versions.listed(session)
        unread, _count = outbox.unread(session, world.user("quality"))
    assert (issued.id, issued.label) == (listed_token.id, "intake")
    assert listed_token.last_used_at == world.clock() and not hasattr(issued, "token_hash")
    assert type(bearer.user) is UserRecord and owner == bearer.user
    assert [v.hash for v in stored] == [world.definition.version]
    assert all(type(n) is Notification for n in unread)
