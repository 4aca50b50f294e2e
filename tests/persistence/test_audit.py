"""The audit trail is append-only and hash-chained: tampering directly in SQL is caught."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import audit, schema
from qmsflow.engine.persistence.models import AuditEvent

from .conftest import AUDIT_KEYS, Clock, Database, World, make_world, open_complaint, unguard


def _verify(database: Database) -> tuple[int, list[audit.Break]]:
    with database.sessions() as session:
        return audit.verify(session)


def _worked_case(world: World) -> str:
    case = open_complaint(world)
    world.service.apply_step(case.number, "confirm_complaint", world.user("quality"),
                               {"is_complaint": True, "screening_rationale": "设备故障"})
    return case.number


def _as_attacker(database: Database, *statements: str) -> None:
    """Run SQL the way someone with direct database access would, triggers switched off."""
    unguard(database, "audit_events", "audit_seals")
    with database.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_an_untouched_trail_verifies_intact(world: World) -> None:
    _worked_case(world)
    count, breaks = _verify(world.database)
    assert count > 10
    assert breaks == []


@pytest.mark.parametrize("verb", ["UPDATE audit_events SET reason = 'x'",
                                  "DELETE FROM audit_events"])
def test_the_database_refuses_to_change_or_delete_an_audit_entry(world: World,
                                                                 verb: str) -> None:
    _worked_case(world)
    with pytest.raises(DBAPIError) as refused, world.database.engine.begin() as connection:
        connection.execute(text(f"{verb} WHERE id = 1"))
    assert "append-only" in str(refused.value)
    assert _verify(world.database)[1] == []


def test_a_changed_old_value_is_caught_at_the_entry_where_it_was_changed(world: World) -> None:
    number = _worked_case(world)
    with world.database.sessions() as session:
        target = session.execute(text(
            "SELECT id FROM audit_events WHERE field = 'screening_rationale'")).scalar_one()
    _as_attacker(world.database,
                 f"UPDATE audit_events SET new = '\"not a complaint\"' WHERE id = {target}")
    _, breaks = _verify(world.database)
    assert breaks[0].event_id == target
    assert breaks[0].case_number == number
    assert "changed after it was written" in breaks[0].message


def test_a_deleted_entry_breaks_its_case_chain_and_its_seal(world: World) -> None:
    number = _worked_case(world)
    world.service.seal_audit()
    with world.database.sessions() as session:
        target = session.execute(text(
            "SELECT id FROM audit_events WHERE case_seq = 3")).scalar_one()
    _as_attacker(world.database, f"DELETE FROM audit_events WHERE id = {target}")
    _, breaks = _verify(world.database)
    assert breaks[0].event_id == target + 1
    assert breaks[0].case_number == number
    assert "case's chain breaks" in breaks[0].message
    assert any(b.message.startswith("seal 1:") and "entries were removed" in b.message
               for b in breaks)


def test_entries_removed_from_the_end_are_caught_by_their_seal_and_their_case(
        world: World) -> None:
    number = _worked_case(world)
    world.service.seal_audit()
    _as_attacker(world.database,
                 "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    _, breaks = _verify(world.database)
    assert any(b.message.startswith("seal 1:") for b in breaks)
    assert any(b.case_number == number and "entries were removed" in b.message
               for b in breaks)


def test_a_seal_removed_from_the_end_is_caught_by_the_chain_head(world: World) -> None:
    _worked_case(world)
    world.service.seal_audit()
    _worked_case(world)
    world.service.seal_audit()
    _as_attacker(world.database, "DELETE FROM audit_seals WHERE seq = 2")
    _, breaks = _verify(world.database)
    assert any("removed from the end" in b.message for b in breaks)


def test_a_rewritten_seal_is_caught(world: World) -> None:
    _worked_case(world)
    world.service.seal_audit()
    _as_attacker(world.database, "UPDATE audit_seals SET count = count - 1 WHERE seq = 1")
    _, breaks = _verify(world.database)
    assert [b.message.split(":")[0] for b in breaks] == ["seal 1"]
    assert "the seal was changed" in breaks[0].message


def test_entries_wait_for_the_sealer_and_then_verify_under_their_seal(world: World) -> None:
    _worked_case(world)
    with world.database.sessions() as session:
        waiting = audit.pending(session)
    assert waiting > 10
    assert _verify(world.database)[1] == []  # their cases' chains hold them meanwhile
    sealed = world.service.seal_audit()
    assert (sealed.count, sealed.busy) == (waiting, False)
    with world.database.sessions() as session:
        assert audit.pending(session) == 0
        seals = session.execute(text("SELECT seq, count FROM audit_seals")).all()
    assert [tuple(seal) for seal in seals] == [(1, waiting)]
    assert _verify(world.database)[1] == []
    assert world.service.seal_audit().count == 0  # nothing waits: no empty seal


def test_entries_committed_after_the_sealers_horizon_wait_for_its_next_run(
        world: World) -> None:
    # The sealer finds the horizon in one short transaction (steps wait only for that one)
    # and seals in the next: a step committing in between is not in this seal, nor lost.
    _worked_case(world)
    with world.database.sessions.begin() as session:
        horizon = audit.settled(session)
    assert horizon is not None
    later = _worked_case(world)
    with world.database.sessions.begin() as session:
        first = audit.seal_pending(session, world.clock(), up_to=horizon)
        assert audit.pending(session) > 0
        last_sealed = session.execute(text("SELECT last_id FROM audit_head")).scalar_one()
        earliest_of_later = session.execute(select(AuditEvent.id).where(
            AuditEvent.case_number == later).order_by(AuditEvent.id)).scalars().first()
    assert first.count > 0 and last_sealed == horizon < earliest_of_later
    assert world.service.seal_audit().count > 0
    with world.database.sessions() as session:
        assert audit.pending(session) == 0
    assert _verify(world.database)[1] == []


def test_the_database_refuses_to_change_or_delete_a_seal(world: World) -> None:
    _worked_case(world)
    world.service.seal_audit()
    for verb in ("UPDATE audit_seals SET count = 0", "DELETE FROM audit_seals"):
        with pytest.raises(DBAPIError) as refused, world.database.engine.begin() as connection:
            connection.execute(text(verb))
        assert "append-only" in str(refused.value)


def test_every_step_records_who_when_what_and_the_definition_version(world: World) -> None:
    number = _worked_case(world)
    events = world.service.read_case(number).events
    assert all(e.at.tzinfo is not None and e.version == world.definition.version
               for e in events)
    assert {e.actor_id for e in events} == {world.user("sales"), world.user("quality")}
    assert [e.case_seq for e in events] == list(range(1, len(events) + 1))
    created = events[0]
    assert (created.action, created.new, created.meaning) == ("created", "registered",
                                                               "authored")


def test_entries_chained_before_seals_existed_verify_and_the_seals_go_on_from_them(
        database: Database, default_set: DefinitionSet, clock: Clock) -> None:
    schema.downgrade(database.engine, "0005")
    previous = audit.GENESIS
    with database.engine.begin() as connection:
        for event_id in (1, 2):  # as revision 0005 wrote them: chained globally, keyed
            row = {"id": event_id, "case_id": None, "case_seq": None, "case_number": None,
                   "at": clock(), "actor_id": None, "actor_name": "qmsflow",
                   "action": "audit_sealed", "entity": "audit", "field": None, "old": None,
                   "new": None, "reason": None, "meaning": None, "version": None,
                   "client": None, "data": {}, "prev_hash": previous, "case_prev_hash": None,
                   "key_id": AUDIT_KEYS.current_id}
            row["hash"] = previous = audit.entry_hash(row, AUDIT_KEYS)
            connection.execute(insert(audit.EVENTS).values(row))
        connection.execute(text("UPDATE audit_head SET last_id = 2, last_hash = :hash"),
                           {"hash": previous})
    schema.upgrade(database.engine)
    world = make_world(database, default_set, clock)
    _worked_case(world)
    world.service.seal_audit()
    assert _verify(database)[1] == []
    with database.sessions() as session:
        first = session.execute(text("SELECT first_id, prev_hash FROM audit_seals")).one()
    assert tuple(first) == (3, previous)  # new ids follow on; the seals chain to the old head

    _as_attacker(database, "UPDATE audit_events SET actor_name = 'x' WHERE id = 1")
    _, breaks = _verify(database)
    assert [b.event_id for b in breaks] == [1]


def test_list_empty_and_null_values_are_stored_exactly_as_written(world: World) -> None:
    values = [None, [], ["loaner_out"], [["a", 1]], {"k": [None, {"n": []}]}, "", 0, "[]"]
    with world.database.sessions.begin() as session:
        audit.append(session, [audit.Entry("probe", "test", world.clock(), None, "qmsflow",
                                           old=value, new=[value], data={"v": value})
                               for value in values])
    with world.database.sessions() as session:
        stored = session.execute(select(AuditEvent.old, AuditEvent.new, AuditEvent.data).where(
            AuditEvent.action == "probe").order_by(AuditEvent.id)).all()
    assert [(row[0], row[1], row[2]) for row in stored] == [
        (value, [value], {"v": value}) for value in values]
    assert _verify(world.database)[1] == []
