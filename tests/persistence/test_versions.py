"""Definition versions: stored whole, running cases stay on theirs, migration moves them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from qmsflow.engine.cases import Case
from qmsflow.engine.loader import load
from qmsflow.engine.machine import Refused
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import proof, versions
from qmsflow.engine.persistence.audit import By
from qmsflow.engine.persistence.models import AuditEvent, CaseClock, CaseRow, DefinitionVersion
from qmsflow.engine.persistence.service import CaseService

from ..conftest import DEFAULT_SET, ROOT, EditSet
from .conftest import (
    CHEAP,
    COMPLAINT,
    PASSWORD,
    Clock,
    Database,
    World,
    decided,
    open_complaint,
    unguard,
)

KANGNING = ROOT / "definitions" / "examples" / "kangning"
COMPLAINT_YAML = "processes/complaint.yaml"
# The closure clock's domestic variant, and the same deadline one working day shorter.
FIVE_DAYS = ("        if: \"market == 'domestic'\"\n        duration: {working_days: 5}\n")
FOUR_DAYS = FIVE_DAYS.replace("working_days: 5", "working_days: 4")
SHORTER_CLOSURE = (COMPLAINT_YAML, FIVE_DAYS, FOUR_DAYS)
# 'gm_acceptance' renamed 'gm_intake': its definition and the two transitions naming it.
RENAMED_STATE = (
    (COMPLAINT_YAML, "  - id: gm_acceptance\n", "  - id: gm_intake\n"),
    (COMPLAINT_YAML, "    to: gm_acceptance\n", "    to: gm_intake\n"),
    (COMPLAINT_YAML, "    from: [gm_acceptance]\n", "    from: [gm_intake]\n"),
)
# Only the quality manager may confirm a complaint any more (before: quality too).
STRICTER_SCREENING = (
    COMPLAINT_YAML, "    to: classification\n    roles: [quality, quality_manager]\n",
    "    to: classification\n    roles: [quality_manager]\n")

CLASSIFIED = {"category": "malfunction"}
# Accepted on Monday 2 March 2026, 10:00 in Shanghai (the world's clock): the closure deadline
# is 5 working days later on the default set, 4 on the shorter one.
DUE_IN_5_DAYS = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)  # Monday 9 March, 17:30 Shanghai
DUE_IN_4_DAYS = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)  # Friday 6 March, 17:30 Shanghai


def classified_complaint(world: World) -> Case:
    """A complaint screened and classified, waiting for the GM office (state gm_acceptance)."""
    case = open_complaint(world)
    world.service.apply_step(case.number, "confirm_complaint", world.user("quality"),
                               {"is_complaint": True, "screening_rationale": "设备故障"})
    return world.service.apply_step(case.number, "classify", world.user("quality"),
                                      CLASSIFIED)


def accepted_complaint(world: World) -> Case:
    """A complaint the GM office accepted: its closure clock runs."""
    case = classified_complaint(world)
    return world.service.apply_step(case.number, "accept", world.user("gm_office"),
                                      {"joint_inspection": False})


def publish(world: World, folder: Path) -> DefinitionSet:
    """Compile and store the set in ``folder``; the compiled set."""
    definition = load(folder)
    with world.database.sessions.begin() as session:
        versions.store(session, definition, folder, world.clock())
    return definition


def service_on(world: World, definition: DefinitionSet) -> CaseService:
    """A second service on the same database serving ``definition``, with nothing compiled
    yet: every other version it meets comes from the database."""
    return CaseService(world.database.sessions, versions.Versions(), definition, world.clock,
                       CHEAP)


def row_of(world: World, number: str) -> CaseRow:
    with world.database.sessions() as session:
        return session.execute(select(CaseRow).where(CaseRow.number == number)).scalar_one()


def audit_count(world: World) -> int:
    with world.database.sessions() as session:
        return session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


# -- publishing ------------------------------------------------------------------------------

def test_publishing_stores_every_file_of_the_set_and_compiles_back_to_the_same_version(
        database: Database, default_set: DefinitionSet, clock: Clock) -> None:
    with database.sessions.begin() as session:
        assert versions.store(session, default_set, DEFAULT_SET, clock())
    with database.sessions() as session:
        row = versions.find(session, default_set.version)
        on_disk = {str(p.relative_to(DEFAULT_SET)): p.read_text(encoding="utf-8")
                   for p in DEFAULT_SET.rglob("*.yaml")}
        assert row.files == on_disk
        assert (row.set_id, row.root, row.published_at) == ("default", ".", clock())
        assert versions.compile_files(row.files, row.root).version == default_set.version


def test_publishing_a_set_that_extends_another_stores_the_base_sets_files_too(
        database: Database, clock: Clock) -> None:
    kangning = load(KANGNING)
    with database.sessions.begin() as session:
        versions.store(session, kangning, KANGNING, clock())
    with database.sessions() as session:
        row = versions.find(session, kangning.version)
        assert row.root == "examples/kangning"
        assert {"default/set.yaml", "default/processes/complaint.yaml",
                "examples/kangning/set.yaml", "examples/kangning/processes/complaint.yaml",
                "examples/kangning/calendars/cn_mainland.yaml"} <= set(row.files)
        assert row.files["default/processes/complaint.yaml"] == (
            DEFAULT_SET / COMPLAINT_YAML).read_text(encoding="utf-8")
        compiled = versions.Versions().get(session, kangning.version[:12])
    assert compiled.version == kangning.version
    closure = compiled.process("complaint").clocks["closure"].variants[0]
    assert (closure.id, closure.duration.amount) == ("domestic", 4)


def test_publishing_the_same_set_twice_stores_it_once_as_one_audit_entry(
        database: Database, default_set: DefinitionSet, clock: Clock) -> None:
    with database.sessions.begin() as session:
        first = versions.store(session, default_set, DEFAULT_SET, clock(),
                               By("zhao.min", "赵敏"), "CR-2026-007")
    clock.advance(days=1)
    with database.sessions.begin() as session:
        again = versions.store(session, default_set, DEFAULT_SET, clock(), By("li.qiang", "李强"))
    assert (first, again) == (True, False)
    with database.sessions() as session:
        (stored,) = versions.listed(session)
        (entry,) = session.execute(select(AuditEvent)).scalars().all()
    assert (stored.published_by, stored.note) == ("zhao.min", "CR-2026-007")
    assert (entry.action, entry.entity, entry.actor_id, entry.actor_name) == (
        "published", "definition", "zhao.min", "赵敏")
    assert entry.version == default_set.version
    assert entry.data["note"] == "CR-2026-007"
    assert "processes/complaint.yaml" in entry.data["files"]


def test_an_unknown_version_names_the_stored_ones(
        database: Database, default_set: DefinitionSet, clock: Clock) -> None:
    with database.sessions.begin() as session:
        versions.store(session, default_set, DEFAULT_SET, clock())
    with database.sessions() as session, pytest.raises(versions.UnknownVersion) as unknown:
        versions.Versions().get(session, "0123456789ab")
    assert str(unknown.value) == (
        f"'0123456789ab' is not a stored definition version; stored: "
        f"{default_set.version[:12]} (default, 2026-03-02)")


def test_a_stored_version_whose_files_were_altered_is_refused(
        database: Database, default_set: DefinitionSet, clock: Clock) -> None:
    with database.sessions.begin() as session:
        versions.store(session, default_set, DEFAULT_SET, clock())
    unguard(database, "definition_versions")
    with database.sessions.begin() as session:
        row = session.get(DefinitionVersion, default_set.version)
        assert row is not None
        files = dict(row.files)
        files[COMPLAINT_YAML] = files[COMPLAINT_YAML].replace(FIVE_DAYS, FOUR_DAYS)
        row.files = files
    with database.sessions() as session, pytest.raises(versions.UnknownVersion) as altered:
        versions.Versions().get(session, default_set.version)
    assert "the stored files were altered" in str(altered.value)


# -- running cases keep their version --------------------------------------------------------

def test_a_running_case_stays_on_its_version_and_its_rules_when_a_new_one_is_published(
        world: World, edited_set: EditSet) -> None:
    old_case = open_complaint(world)
    stricter = publish(world, edited_set(STRICTER_SCREENING))
    service = service_on(world, stricter)
    assert service.current.version == stricter.version != world.definition.version

    new_case = service.create_case("complaint", "register", world.user("sales"), COMPLAINT,
                                   password=PASSWORD)
    assert new_case.version == stricter.version
    history = service.read_case(old_case.number)
    assert history.case.version == history.definition.version == world.definition.version
    assert history.definition is not world.definition  # compiled again from the stored files
    assert row_of(world, old_case.number).version == world.definition.version

    # The old case still follows the old rules: quality may confirm it.
    confirmed = service.apply_step(old_case.number, "confirm_complaint", world.user("quality"),
                                     {"is_complaint": True, "screening_rationale": "设备故障"})
    assert (confirmed.state, confirmed.version) == ("classification", world.definition.version)
    # The new case follows the new ones: only the quality manager may.
    with pytest.raises(Refused) as refused:
        service.apply_step(new_case.number, "confirm_complaint", world.user("quality"),
                             {"is_complaint": True, "screening_rationale": "设备故障"})
    assert "role" in {r.code for r in refused.value.reasons}


# -- migration -------------------------------------------------------------------------------

def test_a_case_in_a_state_the_new_version_lacks_stays_and_says_why_until_mapped(
        world: World, edited_set: EditSet) -> None:
    waiting = classified_complaint(world)  # in gm_acceptance
    fresh = open_complaint(world)  # in registered, which the new version keeps
    renamed = publish(world, edited_set(*RENAMED_STATE))
    old, new = world.definition.version, renamed.version

    first = world.service.migrate(old, new)
    assert [(p.number, p.case is not None) for p in first] == [
        (waiting.number, False), (fresh.number, True)]
    assert first[0].reasons == (
        "state 'gm_acceptance' does not exist in the new version: map it with "
        "--map gm_acceptance=<new state>",)
    assert row_of(world, waiting.number).version == old
    assert row_of(world, fresh.number).version == new

    (mapped,) = world.service.migrate(old, new, {"gm_acceptance": "gm_intake"})
    assert (mapped.number, mapped.reasons, mapped.state_from) == (
        waiting.number, (), "gm_acceptance")
    row = row_of(world, waiting.number)
    assert (row.version, row.state) == (new, "gm_intake")
    migrated = world.service.read_case(waiting.number).events[-1]
    assert (migrated.action, migrated.old, migrated.new) == ("migrated", old, new)
    assert migrated.data == {"state_from": "gm_acceptance", "state": "gm_intake"}
    with world.database.sessions() as session:  # audit verify rebuilds the mapped state
        assert proof.check(session, versions.Versions()) == []
    # The case goes on under the new version's rules.
    accepted = world.service.apply_step(waiting.number, "accept", world.user("gm_office"),
                                          {"joint_inspection": False})
    assert (accepted.state, accepted.version) == ("investigation", new)


def test_a_dry_run_may_plan_for_a_set_not_yet_published_but_cases_move_only_to_stored_ones(
        world: World, edited_set: EditSet) -> None:
    case = accepted_complaint(world)
    unpublished = load(edited_set(SHORTER_CLOSURE))
    (planned,) = world.service.migrate(world.definition.version, unpublished, dry_run=True)
    assert [(m.clock, m.old_due, m.new_due) for m in planned.moves] == [
        ("closure", DUE_IN_5_DAYS, DUE_IN_4_DAYS)]
    assert planned.before == world.service.read_case(case.number).case
    with pytest.raises(versions.UnknownVersion):
        world.service.migrate(world.definition.version, unpublished)
    assert row_of(world, case.number).version == world.definition.version


def test_a_shorter_closure_deadline_moves_a_running_clock_earlier_and_the_trail_says_so(
        world: World, edited_set: EditSet) -> None:
    case = accepted_complaint(world)
    assert case.clocks["closure"].due_at == DUE_IN_5_DAYS
    shorter = publish(world, edited_set(SHORTER_CLOSURE))
    old, new = world.definition.version, shorter.version
    world.clock.advance(hours=3)
    manager = By(world.user("quality_manager"), "Quality_Manager User")

    (moved,) = world.service.migrate(old[:12], new[:12], by=manager, client="cli")
    assert [(m.clock, m.old_due, m.new_due) for m in moved.moves] == [
        ("closure", DUE_IN_5_DAYS, DUE_IN_4_DAYS)]
    history = world.service.read_case(case.number)
    assert history.case.version == new
    assert history.case.clocks["closure"].due_at == DUE_IN_4_DAYS
    assert history.case.row_version == case.row_version + 1
    assert row_of(world, case.number).version == new
    with world.database.sessions() as session:
        clock_row = session.get(CaseClock, (row_of(world, case.number).id, "closure"))
        assert clock_row is not None and clock_row.due_at == DUE_IN_4_DAYS
    migrated, changed = history.events[-2:]
    assert (migrated.action, migrated.field, migrated.old, migrated.new) == (
        "migrated", "version", old, new)
    assert (changed.action, changed.field, changed.old, changed.new) == (
        "clock_changed", "closure", DUE_IN_5_DAYS.isoformat(), DUE_IN_4_DAYS.isoformat())
    for entry in (migrated, changed):
        assert (entry.actor_id, entry.actor_name, entry.client, entry.version) == (
            world.user("quality_manager"), "Quality_Manager User", "cli", new)
        assert entry.at == world.clock()


def test_a_dry_run_reports_the_moves_and_changes_nothing(
        world: World, edited_set: EditSet) -> None:
    case = accepted_complaint(world)
    shorter = publish(world, edited_set(SHORTER_CLOSURE))
    entries = audit_count(world)

    (plan,) = world.service.migrate(world.definition.version, shorter.version, dry_run=True)
    assert plan.case is not None and plan.case.version == shorter.version
    assert [(m.clock, m.shift.days) for m in plan.moves] == [("closure", -3)]
    assert world.service.read_case(case.number).case == case
    assert row_of(world, case.number).version == world.definition.version
    assert audit_count(world) == entries


def test_closed_and_voided_cases_are_not_migrated(world: World, edited_set: EditSet) -> None:
    closed = world.service.apply_step(
        decided(world, open_complaint(world).number).number, "not_a_complaint",
        world.user("quality_manager"),
        {"screening_rationale": "咨询"}, reason="咨询类来电", password=PASSWORD)
    assert closed.state == "not_a_complaint"
    voided = open_complaint(world)
    world.service.void_case(voided.number, world.user("quality_manager"), "entered twice")
    running = open_complaint(world)
    shorter = publish(world, edited_set(SHORTER_CLOSURE))

    plans = world.service.migrate(world.definition.version, shorter.version)
    assert [p.number for p in plans] == [running.number]
    for number in (closed.number, voided.number):
        row = row_of(world, number)
        assert row.version == world.definition.version
        assert not [e for e in world.service.read_case(number).events
                    if e.action == "migrated"]


def test_migrating_to_a_version_that_is_not_stored_names_the_stored_ones(
        world: World, edited_set: EditSet) -> None:
    open_complaint(world)
    unpublished = load(edited_set(SHORTER_CLOSURE))
    with pytest.raises(versions.UnknownVersion) as unknown:
        world.service.migrate(world.definition.version, unpublished.version)
    assert f"'{unpublished.version}' is not a stored definition version" in str(unknown.value)
    assert world.definition.version[:12] in str(unknown.value)
