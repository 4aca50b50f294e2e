"""Read access in the database: lists, searches, cases, files and notifications hold only the
cases a user may read, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qmsflow.engine.model import ReadRule
from qmsflow.engine.persistence import CaseNotFound, Filters, users

from .conftest import CHEAP, COMPLAINT, PASSWORD, World, open_complaint, to_investigation

EVERY_CASE = Filters(open=None, mine=False)


def add_user(world: World, user_id: str, roles: list[str],
             departments: list[str] | None = None) -> str:
    with world.database.sessions.begin() as session:
        users.add(session, world.definition, user_id, user_id.title(), roles, PASSWORD,
                  world.clock(), departments=departments or [], hasher=CHEAP)
    return user_id


def numbers(world: World, user: str, filters: Filters = EVERY_CASE) -> set[str]:
    return {case.number for case in world.service.list_cases(user, filters).rows}


def test_a_list_of_every_case_holds_only_the_readable_ones_and_counts_them(
        world: World) -> None:
    mine = open_complaint(world).number
    other = add_user(world, "other.sales", ["sales"])
    theirs = world.service.create_case("complaint", "register", other,
                                       dict(COMPLAINT), password=PASSWORD).number
    assert numbers(world, world.user("sales")) == {mine}
    assert world.service.list_cases(world.user("sales"), EVERY_CASE).total == 1
    assert numbers(world, other) == {theirs}
    assert numbers(world, world.user("quality")) == {mine, theirs}
    assert world.service.list_cases(world.user("finance"), EVERY_CASE).total == 0


def test_a_search_finds_nothing_the_user_may_not_read(world: World) -> None:
    open_complaint(world, complainant_org="Riverside Clinic")
    search = Filters(open=None, mine=False, text="Riverside",
                     text_fields=("complainant_org",))
    assert world.service.list_cases(world.user("quality_manager"), search).total == 1
    assert world.service.list_cases(world.user("engineer"), search).total == 0


def test_whoever_did_a_step_on_a_case_reads_it_after_it_left_their_queue(world: World) -> None:
    number = to_investigation(world)
    assert number in numbers(world, world.user("gm_office"))
    technical = world.user("technical")
    assert number not in numbers(world, technical)


def test_a_sales_manager_reads_the_complaints_registered_in_their_department(
        world: World) -> None:
    seller = add_user(world, "dept.seller", ["sales"], ["sales"])
    number = world.service.create_case("complaint", "register", seller,
                                       dict(COMPLAINT), password=PASSWORD).number
    manager = add_user(world, "dept.manager", ["sales_manager"], ["sales"])
    outsider = add_user(world, "far.manager", ["sales_manager"], ["finance"])
    assert numbers(world, manager) == {number}
    assert numbers(world, outsider) == set()


def test_a_case_nobody_may_read_is_not_found_like_a_missing_one(world: World) -> None:
    number = open_complaint(world).number
    with pytest.raises(CaseNotFound) as hidden:
        world.service.read_case(number, reader=world.user("engineer"))
    with pytest.raises(CaseNotFound) as missing:
        world.service.read_case("KS-1999-01-0001", reader=world.user("engineer"))
    assert str(hidden.value).replace(number, "N") == str(missing.value).replace(
        "KS-1999-01-0001", "N")


def test_finance_does_not_read_an_open_complaint_and_quality_reads_it_whole(
        world: World) -> None:
    number = open_complaint(world).number
    with pytest.raises(CaseNotFound):
        world.service.read_case(number, reader=world.user("finance"))
    seen = world.service.read_case(number, reader=world.user("quality"))
    assert seen.visibility.pii and seen.case.values["complainant_name"] == "王芳"


def test_personal_data_is_left_out_of_values_history_and_lists_when_hidden(
        world: World) -> None:
    number = open_complaint(world).number
    # The current set's rules decide: finance reads every complaint, personal data hidden.
    complaint = world.definition.process("complaint")
    wide = replace(complaint, read=(ReadRule(("finance",), frozenset({"all"}), False),))
    world.service.current = replace(world.definition,
                                    processes={**world.definition.processes, "complaint": wide})
    seen = world.service.read_case(number, reader=world.user("finance"))
    assert not seen.visibility.pii
    assert "complainant_name" not in seen.case.values
    assert seen.case.values["complainant_org"] == "市第一人民医院"
    assert all(e.old is None and e.new is None for e in seen.events
               if e.field == "complainant_name")
    page = world.service.list_cases(world.user("finance"), EVERY_CASE)
    assert page.hidden == {number}
    assert "complainant_name" not in page.rows[0].values


def test_a_file_is_downloadable_only_by_a_reader_of_a_case_holding_it(world: World) -> None:
    reference = "a" * 64 + "/photo.jpg"
    number = open_complaint(world, evidence=reference).number
    assert number
    assert world.service.can_read_file(world.user("quality"), reference)
    assert world.service.can_read_file(world.user("sales"), reference)
    assert not world.service.can_read_file(world.user("engineer"), reference)
    assert not world.service.can_read_file(world.user("quality"), "b" * 64 + "/photo.jpg")


def test_a_file_with_a_chinese_name_is_found_on_both_databases(world: World) -> None:
    reference = "c" * 64 + "/客户来函_扫描件.pdf"
    open_complaint(world, evidence=reference)
    assert world.service.can_read_file(world.user("quality"), reference)
    assert not world.service.can_read_file(world.user("quality"), "c" * 64 + "/别的名字.pdf")


def test_notifications_about_a_case_the_user_may_not_read_are_not_shown(world: World) -> None:
    to_investigation(world)
    for role in world.definition.organisation.roles:
        shown, unread = world.service.notifications(world.user(role))
        assert len(shown) <= unread
        for notice in shown:
            if notice.case_number:
                world.service.read_case(notice.case_number, history=False,
                                        reader=world.user(role))


def test_a_rule_for_the_cases_one_opened_gives_exactly_those(world: World) -> None:
    complaint = world.definition.process("complaint")
    own = replace(complaint, read=(ReadRule(("sales",), frozenset({"opened"})),))
    world.service.current = replace(world.definition,
                                    processes={**world.definition.processes, "complaint": own})
    mine = open_complaint(world).number
    other = add_user(world, "second.sales", ["sales"])
    world.service.create_case("complaint", "register", other, dict(COMPLAINT),
                              password=PASSWORD)
    assert numbers(world, world.user("sales")) == {mine}
    assert world.service.read_case(mine, reader=world.user("sales")).visibility.visible
