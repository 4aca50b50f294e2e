"""Sign-in and signature password checks: throttled by address and account, uniform to
outsiders, verified with no transaction open; web sessions that end on the server."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from datetime import timedelta

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import inspect, select

from qmsflow.engine.persistence import schema, tokens, user_sessions, users
from qmsflow.engine.persistence.logins import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    PAIR_LIMIT,
    SIGNATURE_LIMIT,
)
from qmsflow.engine.persistence.models import AuditEvent, User, UserSession
from qmsflow.engine.persistence.service import CaseService
from qmsflow.engine.persistence.versions import Versions

from .conftest import CHEAP, PASSWORD, Database, World, decided, open_complaint

IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)


class Watched(PasswordHasher):
    """The cheap test hasher, noting each verification and whether the database was free
    for another writer at that moment (SQLite: a transaction of ours holds the write lock)."""

    calls: list[str]
    database_free: list[bool]
    path: str | None

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.calls.append(str(hash))
        if self.path is not None:
            probe = sqlite3.connect(self.path, timeout=2, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                self.database_free.append(True)
            except sqlite3.OperationalError:
                self.database_free.append(False)
            finally:
                probe.close()
        return super().verify(hash, password)


def watched(world: World) -> tuple[CaseService, Watched]:
    hasher = Watched.from_parameters(profiles.CHEAPEST)
    assert isinstance(hasher, Watched)
    hasher.calls, hasher.database_free = [], []
    url = world.database.url
    hasher.path = url.removeprefix("sqlite:///") if url.startswith("sqlite") else None
    service = CaseService(world.database.sessions, Versions(), world.definition, world.clock,
                          hasher)
    return service, hasher


def actions(world: World, action: str) -> list[AuditEvent]:
    with world.database.sessions() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                    ).scalars())


def refused_why(service: CaseService, user_id: str, password: str, address: str) -> str:
    with pytest.raises(users.AuthenticationFailed) as refused:
        service.authenticate(user_id, password, address)
    assert str(refused.value) == "wrong user id or password"  # one text for every reason
    return refused.value.why


# -- sign-in ---------------------------------------------------------------------------------

def test_unknown_ids_are_verified_against_a_hash_too_so_they_take_as_long(world: World
                                                                          ) -> None:
    service, hasher = watched(world)
    refused_why(service, "nobody.here", PASSWORD, "10.0.0.1")
    refused_why(service, world.user("sales"), "not the password", "10.0.0.1")
    assert len(hasher.calls) == 2
    assert hasher.calls[0].startswith("$argon2id$")  # a real (dummy) hash, same parameters


def test_locked_and_disabled_accounts_are_verified_and_answered_like_a_wrong_password(
        world: World) -> None:
    service, hasher = watched(world)
    with world.database.sessions.begin() as session:
        session.get_one(User, world.user("sales")).locked_until = (
            world.clock() + timedelta(minutes=5))
        users.disable(session, world.user("gm"), world.clock(), "left")
    assert refused_why(service, world.user("sales"), PASSWORD, "10.0.0.1") == "locked"
    assert refused_why(service, world.user("gm"), PASSWORD, "10.0.0.1") == "disabled"
    assert len(hasher.calls) == 2


def test_passwords_are_verified_with_no_transaction_open_so_nothing_waits_for_them(
        world: World) -> None:
    if world.database.backend != "sqlite":
        pytest.skip("the stall was SQLite's single write lock")
    service, hasher = watched(world)
    wrong = [threading.Thread(target=_try, args=(service, world.user("sales"), f"10.0.1.{i}"))
             for i in range(20)]
    for thread in wrong:
        thread.start()
    for thread in wrong:
        thread.join()
    assert len(hasher.database_free) == 20
    assert all(hasher.database_free)  # no write lock held by anyone during a verification


def _try(service: CaseService, user_id: str, address: str) -> None:
    with contextlib.suppress(users.AuthenticationFailed):
        service.authenticate(user_id, "not the password", address)


def test_wrong_passwords_from_one_address_pause_that_address_for_that_account_only(
        world: World) -> None:
    sales, quality = world.user("sales"), world.user("quality")
    for _ in range(PAIR_LIMIT):
        assert refused_why(world.service, sales, "not the password", "10.0.0.9") == "wrong"
    assert refused_why(world.service, sales, PASSWORD, "10.0.0.9") == "pair"
    assert world.service.authenticate(sales, PASSWORD, "10.0.0.1").id == sales
    assert world.service.authenticate(quality, PASSWORD, "10.0.0.9").id == quality
    paused, = actions(world, "login_paused")
    assert (paused.field, paused.data["scope"], paused.data["address"]) == (
        sales, "pair", "10.0.0.9")
    world.clock.advance(minutes=16)
    assert world.service.authenticate(sales, PASSWORD, "10.0.0.9").id == sales


def test_an_address_that_tries_many_ids_is_paused_for_every_id(world: World) -> None:
    for number in range(ADDRESS_LIMIT):
        refused_why(world.service, f"guess{number}", "password1", "10.6.6.6")
    quality = world.user("quality")
    assert refused_why(world.service, quality, PASSWORD, "10.6.6.6") == "address"
    assert world.service.authenticate(quality, PASSWORD, "10.0.0.1").id == quality
    scopes = [entry.data["scope"] for entry in actions(world, "login_paused")]
    assert scopes.count("address") == 1


def test_one_stranger_cannot_lock_an_account_but_many_addresses_lock_it_for_a_while(
        world: World) -> None:
    sales = world.user("sales")
    for _ in range(3 * PAIR_LIMIT):  # one address: paused after PAIR_LIMIT, never counted on
        refused_why(world.service, sales, "not the password", "10.0.0.9")
    assert world.service.authenticate(sales, PASSWORD, "10.0.0.1").id == sales
    for attempt in range(ACCOUNT_LIMIT):
        refused_why(world.service, sales, "not the password", f"10.1.{attempt // 4}.1")
    assert refused_why(world.service, sales, PASSWORD, "10.2.0.1") == "locked"
    locked, = actions(world, "user_locked")
    assert locked.field == sales and locked.data["failures"] == ACCOUNT_LIMIT
    world.clock.advance(minutes=16)
    assert world.service.authenticate(sales, PASSWORD, "10.2.0.1").id == sales


def test_an_overlong_id_never_signs_in_as_the_account_it_starts_with(world: World) -> None:
    account = "a" + "b" * 99
    with world.database.sessions.begin() as session:
        users.add(session, world.definition, account, "Long", ["sales"], PASSWORD,
                  world.clock(), hasher=CHEAP)
    assert world.service.authenticate(account, PASSWORD).id == account
    assert refused_why(world.service, account + "c", PASSWORD, "10.0.0.1") == "unknown"


def test_unknown_ids_lock_like_known_ones_so_a_lock_tells_nothing(world: World) -> None:
    for attempt in range(ACCOUNT_LIMIT):
        refused_why(world.service, "nobody.here", "x" * 10, f"10.1.{attempt // 4}.1")
    assert refused_why(world.service, "nobody.here", "x" * 10, "10.2.0.1") == "locked"


# -- signatures ------------------------------------------------------------------------------

def lock_by_strangers(world: World, user_id: str) -> None:
    for attempt in range(ACCOUNT_LIMIT):
        refused_why(world.service, user_id, "not the password", f"10.1.{attempt // 4}.1")
    with world.database.sessions() as session:
        assert users.get(session, user_id).locked(world.clock())


def test_strangers_wrong_passwords_never_stop_a_persons_signature(world: World) -> None:
    quality = world.user("quality")
    case = open_complaint(world)
    lock_by_strangers(world, quality)
    signed = decided(world, case.number)  # a signed step, password again
    assert world.service.read_case(signed.number).signatures[-1].signer_id == quality


def test_wrong_signature_passwords_are_counted_apart_and_pause_only_signing(
        world: World) -> None:
    quality = world.user("quality")
    for _ in range(SIGNATURE_LIMIT):
        with pytest.raises(users.AuthenticationFailed) as wrong:
            world.service.check_signer(quality, "not the password")
        assert wrong.value.why == "wrong"
    with pytest.raises(users.AuthenticationFailed) as paused:
        world.service.check_signer(quality, PASSWORD)
    assert paused.value.why == "locked" and "signing is paused" in str(paused.value)
    assert world.service.authenticate(quality, PASSWORD, "10.0.0.1").id == quality
    entry, = actions(world, "signing_paused")
    assert entry.field == quality
    world.clock.advance(minutes=16)
    world.service.check_signer(quality, PASSWORD)


# -- API tokens ------------------------------------------------------------------------------

def test_a_token_of_a_locked_or_disabled_account_is_refused(world: World) -> None:
    sales, gm = world.user("sales"), world.user("gm")
    with world.database.sessions.begin() as session:
        _, of_sales = tokens.issue(session, sales, "intake", world.clock())
        _, of_gm = tokens.issue(session, gm, "reports", world.clock())
        users.disable(session, gm, world.clock(), "left")
    lock_by_strangers(world, sales)
    for plain, why in ((of_sales, "locked"), (of_gm, "disabled")):
        with pytest.raises(tokens.TokenRefused) as refused, \
                world.database.sessions.begin() as session:
            tokens.check(session, plain, world.clock())
        assert refused.value.why == why
    world.clock.advance(minutes=16)
    with world.database.sessions.begin() as session:
        assert tokens.check(session, of_sales, world.clock()).user.id == sales


# -- sessions --------------------------------------------------------------------------------

def check(world: World, session_id: str, user_id: str) -> user_sessions.SessionCheck:
    return world.service.session_user(session_id, user_id, IDLE, LIFETIME)


def test_a_session_is_live_until_signed_out_and_then_never_again(world: World) -> None:
    user, session_id = world.service.sign_in(world.user("sales"), PASSWORD, "10.0.0.1")
    assert check(world, session_id, user.id).user == user
    assert check(world, session_id, world.user("quality")).why == "unknown"  # not theirs
    assert world.service.sign_out(session_id)
    assert check(world, session_id, user.id) == user_sessions.SessionCheck(None, "signed_out")
    assert check(world, "made-up", user.id).why == "unknown"


@pytest.mark.parametrize("end", ["password", "disable", "everywhere"])
def test_a_new_password_disabling_or_signing_out_everywhere_ends_every_session(
        world: World, end: str) -> None:
    sales = world.user("sales")
    first = world.service.sign_in(sales, PASSWORD, "10.0.0.1")[1]
    second = world.service.sign_in(sales, PASSWORD, "10.0.0.2")[1]
    other = world.service.sign_in(world.user("quality"), PASSWORD, "10.0.0.1")[1]
    with world.database.sessions.begin() as session:
        if end == "password":
            users.set_password(session, sales, "a brand new secret", world.clock())
        elif end == "disable":
            users.disable(session, sales, world.clock(), "left")
        else:
            assert users.sign_out_everywhere(session, sales, world.clock()) == 2
    assert check(world, first, sales).user is None
    assert check(world, second, sales).user is None
    assert check(world, other, world.user("quality")).user is not None
    if end == "everywhere":
        entry, = actions(world, "sessions_ended")
        assert (entry.field, entry.data["sessions"]) == (sales, 2)


def test_a_session_ends_when_idle_and_after_its_longest_life(world: World) -> None:
    sales = world.user("sales")
    idle = world.service.sign_in(sales, PASSWORD)[1]
    busy = world.service.sign_in(sales, PASSWORD)[1]
    for _ in range(int(LIFETIME / timedelta(minutes=20))):
        world.clock.advance(minutes=20)
        assert check(world, busy, sales).user is not None
    assert check(world, idle, sales).why == "idle"
    world.clock.advance(minutes=20)
    assert check(world, busy, sales).why == "lifetime"


def test_the_session_table_keeps_only_a_hash_of_the_session_id(world: World) -> None:
    session_id = world.service.sign_in(world.user("sales"), PASSWORD)[1]
    with world.database.sessions() as session:
        stored = session.execute(select(UserSession.id)).scalar_one()
    assert stored == user_sessions.digest(session_id) != session_id


def test_the_sessions_migration_downgrades_and_upgrades_again(database: Database) -> None:
    schema.downgrade(database.engine, "0003")
    assert schema.current(database.engine)[0] == "0003"
    with database.engine.connect() as connection:
        assert not inspect(connection).has_table("user_sessions")
    schema.upgrade(database.engine)
    assert schema.differences(database.engine) == []

