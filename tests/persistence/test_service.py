"""The case service: cases survive in the database and every engine rule still holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import inbox, users
from qmsflow.engine.persistence.service import CaseNotFound, Filters
from qmsflow.engine.persistence.store import Conflict

from .conftest import CHEAP, PASSWORD, World, decided, open_complaint, to_investigation


def test_a_new_case_gets_the_next_number_of_its_month_and_is_stored(world: World) -> None:
    first = open_complaint(world)
    second = open_complaint(world)
    assert (first.number, second.number) == ("KS-2026-03-0001", "KS-2026-03-0002")
    stored = world.service.read_case(first.number)
    assert stored.case == first
    assert stored.case.version == world.definition.version


def test_case_numbers_restart_each_month_in_the_company_time_zone(world: World) -> None:
    world.clock.now = datetime(2026, 3, 31, 17, 0, tzinfo=UTC)  # 1 April 01:00 in Shanghai
    assert open_complaint(world).number == "KS-2026-04-0001"


def test_a_refused_intake_takes_no_number(world: World) -> None:
    with pytest.raises(Refused) as refused:
        world.service.create_case("complaint", "register", world.user("finance"), {})
    assert {r.code for r in refused.value.reasons} >= {"role", "missing"}
    assert open_complaint(world).number == "KS-2026-03-0001"


def test_a_step_is_saved_with_its_audit_entries_old_and_new_values(world: World) -> None:
    case = open_complaint(world)
    after = world.service.apply_step(
        case.number, "confirm_complaint", world.user("quality"),
        {"is_complaint": True, "screening_rationale": "设备故障"},
        expected_version=case.row_version)
    assert after.state == "classification"
    history = world.service.read_case(case.number)
    assert history.case == after
    step = [e for e in history.events if e.action == "transition"][-1]
    assert (step.field, step.old, step.new) == ("state", "registered", "classification")
    assert step.actor_id == world.user("quality")
    assert step.actor_name == "Quality User"
    assert step.version == world.definition.version
    rationale = next(e for e in history.events if e.field == "screening_rationale")
    assert (rationale.old, rationale.new) == (None, "设备故障")


def test_every_engine_rule_is_enforced_whatever_the_caller_sends(world: World) -> None:
    case = open_complaint(world)
    with pytest.raises(Refused) as refused:
        world.service.apply_step(case.number, "confirm_complaint", world.user("sales"),
                                   {"is_complaint": True, "unknown_field": 1})
    assert {r.code for r in refused.value.reasons} >= {"role", "unexpected"}
    assert world.service.read_case(case.number).case == case


def test_a_stale_row_version_is_a_conflict_and_nothing_is_written(world: World) -> None:
    case = open_complaint(world)
    world.service.apply_step(case.number, "confirm_complaint", world.user("quality"),
                               {"is_complaint": True, "screening_rationale": "a"},
                               expected_version=case.row_version)
    with pytest.raises(Conflict) as conflict:
        world.service.apply_step(case.number, "not_a_complaint", world.user("quality_manager"),
                                   {}, expected_version=case.row_version)
    assert "changed since you opened it" in str(conflict.value)
    assert world.service.read_case(case.number).case.state == "classification"


def test_an_unknown_case_number_says_so(world: World) -> None:
    with pytest.raises(CaseNotFound) as missing:
        world.service.read_case("KS-2026-03-9999")
    assert "KS-2026-03-9999" in str(missing.value)


def test_a_disabled_user_can_no_longer_act(world: World) -> None:
    case = open_complaint(world)
    with world.database.sessions.begin() as session:
        users.disable(session, world.user("quality"), world.clock(), "left the company")
    with pytest.raises(Refused) as refused:
        world.service.apply_step(case.number, "confirm_complaint", world.user("quality"),
                                   {"is_complaint": True})
    assert "disabled" in str(refused.value)


def test_the_inbox_lists_a_roles_open_cases_soonest_due_first_with_paging(world: World) -> None:
    numbers = [open_complaint(world).number for _ in range(3)]
    page = world.service.list_cases(world.user("quality"), per_page=2)
    assert page.total == 3 and page.pages == 2
    assert [r.number for r in page.rows] == numbers[:2]
    assert world.service.list_cases(world.user("finance")).total == 0
    found = world.service.list_cases(world.user("quality"), Filters(number="0002"))
    assert [r.number for r in found.rows] == [numbers[1]]
    by_state = world.service.list_cases(world.user("quality"), Filters(state="closed"))
    assert by_state.total == 0


def test_the_inbox_search_finds_a_customer_in_the_search_fields_whatever_the_case(
        world: World) -> None:
    first = open_complaint(world, complainant_org="Klinikum Nord").number
    open_complaint(world, complainant_org="市第一人民医院")
    fields = world.definition.process("complaint").inbox_search
    search = world.service.list_cases
    found = search(world.user("quality"), Filters(text="klinikum", text_fields=fields))
    assert [r.number for r in found.rows] == [first]
    by_number = search(world.user("quality"), Filters(text=first[-4:], text_fields=fields))
    assert [r.number for r in by_number.rows] == [first]
    assert search(world.user("quality"), Filters(text="50%_", text_fields=fields)).total == 0


def test_a_voided_case_keeps_its_history_and_leaves_the_inbox(world: World) -> None:
    case = open_complaint(world)
    with pytest.raises(Refused) as refused:
        world.service.void_case(case.number, world.user("sales"), "duplicate")
    assert "voiding needs one of the roles quality_manager" in str(refused.value)
    world.service.void_case(case.number, world.user("quality_manager"), "entered twice")
    history = world.service.read_case(case.number)
    assert history.void_reason == "entered twice"
    assert history.case.values["complainant_name"] == "王芳"
    assert history.events[-1].action == "voided"
    assert world.service.list_cases(world.user("quality")).total == 0
    with pytest.raises(Refused) as acting:
        world.service.apply_step(case.number, "confirm_complaint", world.user("quality"),
                                   {"is_complaint": True})
    assert "voided" in str(acting.value)


def test_a_signed_step_needs_the_password_again(world: World) -> None:
    case = decided(world, open_complaint(world).number)
    manager = world.user("quality_manager")
    with pytest.raises(Refused) as unsigned:
        world.service.apply_step(case.number, "not_a_complaint", manager,
                                   {"screening_rationale": "咨询"}, reason="咨询类来电")
    assert "signature" in {r.code for r in unsigned.value.reasons}
    with pytest.raises(users.AuthenticationFailed):
        world.service.apply_step(case.number, "not_a_complaint", manager,
                                   {"screening_rationale": "咨询"}, reason="咨询类来电",
                                   password="wrong password")
    done = world.service.apply_step(case.number, "not_a_complaint", manager,
                                      {"screening_rationale": "咨询"}, reason="咨询类来电",
                                      password=PASSWORD)
    assert done.state == "not_a_complaint"
    signed = world.service.read_case(case.number).signatures
    assert [(s.signer_id, s.signer_name, s.meaning) for s in signed] == [
        (world.user("sales"), "Sales User", "authored"),
        (world.user("quality"), "Quality User", "approved"),
        (manager, "Quality_Manager User", "reviewed")]
    assert len(signed[2].record_hash) == 64 and signed[2].invalidated_at is None
    assert signed[2].row_version == done.row_version


def test_the_inbox_merges_a_users_queues_soonest_due_first_and_filters_the_overdue(
        world: World) -> None:
    waiting = open_complaint(world).number  # registered: the 4-hour response clock runs
    first = to_investigation(world)
    world.clock.advance(days=1)
    second = to_investigation(world)
    with world.database.sessions.begin() as session:
        users.add(session, world.definition, "two.roles", "Two Roles",
                  ["quality", "quality_manager"], PASSWORD, world.clock(), hasher=CHEAP)
    shown = world.service.list_cases("two.roles")
    assert [r.number for r in shown.rows][:3] == [waiting, first, second]
    assert shown.total == len(shown.rows) == len({r.number for r in shown.rows})
    world.clock.advance(days=30)
    late = world.service.list_cases("two.roles", Filters(overdue=True))
    assert [r.number for r in late.rows] == [waiting, first, second]


def test_escalating_a_late_case_acts_once_and_is_recorded_as_the_sweep(world: World) -> None:
    number = to_investigation(world)
    world.clock.advance(days=30)
    first = world.service.escalate_case(number)
    again = world.service.escalate_case(number)
    assert first.events and again.events == ()
    history = world.service.read_case(number)
    assert "overdue" in history.case.flags
    breaches = [e for e in history.events if e.action == "clock_breach"]
    assert breaches and {e.actor_name for e in breaches} == {"qmsflow (deadline sweep)"}
    assert history.case.row_version == first.case.row_version


def test_a_long_list_counts_up_to_the_limit_and_says_there_are_more(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbox, "COUNT_LIMIT", 2)
    for _ in range(3):
        open_complaint(world)
    page = world.service.list_cases(world.user("quality"), per_page=1)
    assert (page.total, page.more, len(page.rows)) == (2, True, 1)
