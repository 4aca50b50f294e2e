"""The audit trail is append-only and hash-chained: tampering directly in SQL is caught."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from qmsflow.engine.persistence import audit

from .conftest import Database, World, open_complaint, unguard


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
    unguard(database, "audit_events")
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


def test_a_deleted_entry_breaks_both_chains_where_it_was(world: World) -> None:
    number = _worked_case(world)
    with world.database.sessions() as session:
        target = session.execute(text(
            "SELECT id FROM audit_events WHERE case_seq = 3")).scalar_one()
    _as_attacker(world.database, f"DELETE FROM audit_events WHERE id = {target}")
    _, breaks = _verify(world.database)
    assert breaks[0].event_id == target + 1
    assert f"entries {target}..{target} are missing" in breaks[0].message
    assert any(b.case_number == number and "case's chain breaks" in b.message for b in breaks)


def test_entries_removed_from_the_end_are_caught_by_the_chain_head(world: World) -> None:
    _worked_case(world)
    _as_attacker(world.database,
                 "DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)")
    _, breaks = _verify(world.database)
    assert any("removed from the end" in b.message for b in breaks)


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
