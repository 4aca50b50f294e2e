"""The inbox: sortable columns, saved lists, the "registered by me" and "watching" lists, and a
search over every case the user may read (never one more), on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from qmsflow.engine.model import DefinitionSet, ReadRule
from qmsflow.engine.persistence import CaseNotFound, CaseService, Filters, Versions
from qmsflow.web.cases import views

from ..persistence.conftest import (
    CHEAP,
    Clock,
    Database,
    World,
    make_world,
    open_complaint,
)
from .conftest import Auth, text_of

NUMBER = re.compile(r'href="/cases/(KS-\d{4}-\d{2}-\d{4})"')


@pytest.fixture
def world(database: Database, default_set: DefinitionSet, clock: Clock) -> World:
    """The web tests' world on each backend (SQLite, PostgreSQL) rather than SQLite alone."""
    return make_world(database, default_set, clock)


def listed(response: TestResponse) -> list[str]:
    """The case numbers a list page shows, in order."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return list(dict.fromkeys(NUMBER.findall(response.get_data(as_text=True))))


def moved_on(world: World, number: str) -> None:
    """Quality confirms the complaint: it leaves the intake state."""
    world.service.apply_step(number, "confirm_complaint", world.user("quality"),
                             {"is_complaint": True, "screening_rationale": "设备故障"})


# -- search ------------------------------------------------------------------------------------

def test_a_search_finds_a_batch_number_and_a_chinese_word_of_the_description_in_any_readable_case(
        world: World, auth: Auth, client: FlaskClient) -> None:
    number = open_complaint(world, batch_number="B2026-02-031",
                           description="监护仪屏幕在使用中间歇性闪烁").number
    other = open_complaint(world, batch_number="C1",
                           description="电池无法充电，更换电源后仍然如此").number
    moved_on(world, number)  # out of the clerk's hands: in no queue of hers
    auth.login("sales")
    assert listed(client.get("/?q=B2026-02-031&scope=all&status=all")) == [number]
    assert listed(client.get("/?q=闪烁&scope=all&status=all")) == [number]
    assert listed(client.get("/?q=b2026-02&scope=all")) == [number]  # any case, any part
    assert listed(client.get("/?q=闪烁+充电&scope=all")) == []
    assert listed(client.get("/?q=充电&scope=all")) == [other]


def test_a_search_of_the_users_queues_says_so_and_offers_every_case_they_may_read(
        world: World, auth: Auth, client: FlaskClient) -> None:
    number = open_complaint(world).number
    moved_on(world, number)
    auth.login("sales")
    scoped = client.get("/?q=B2026-02-031&scope=mine")
    assert listed(scoped) == []
    assert "Only the list “My queues” was searched." in text_of(scoped)
    offered = re.search(r'<a href="([^"]+)">Search all cases you may read</a>',
                        scoped.get_data(as_text=True))
    assert offered is not None
    assert listed(client.get(offered.group(1).replace("&amp;", "&"))) == [number]


def test_a_search_never_shows_a_case_the_user_may_not_read(
        world: World, auth: Auth, client: FlaskClient) -> None:
    number = open_complaint(world, batch_number="B2026-02-031").number
    # Finance reads closed complaints only: this open one is not theirs to read.
    with pytest.raises(CaseNotFound):
        world.service.read_case(number, reader=world.user("finance"))
    auth.login("finance")
    for query in ("B2026-02-031", number, "闪烁", "KS"):
        for scope in ("all", "mine", "by_me", "watching"):
            found = client.get("/", query_string={"q": query, "scope": scope, "status": "all"})
            assert listed(found) == [], (query, scope)


def test_a_personal_data_field_is_searched_only_in_cases_whose_personal_data_the_user_sees(
        world: World) -> None:
    complaint = world.definition.process("complaint")
    assert complaint.fields["complainant_name"].pii
    # Technical staff read every complaint here, without its personal data.
    rules = (*complaint.read, ReadRule(("technical",), frozenset({"all"}), pii=False))
    narrowed = replace(world.definition, processes={
        **world.definition.processes, "complaint": replace(complaint, read=rules)})
    service = CaseService(world.database.sessions, Versions(), narrowed, world.clock, CHEAP)
    number = open_complaint(world, complainant_name="王芳").number
    every = Filters(open=None, mine=False, text_fields=complaint.inbox_search)

    def found(role: str, text: str) -> list[str]:
        return [case.number for case in service.list_cases(
            world.user(role), replace(every, text=text)).rows]

    assert found("technical", "MX-200") == [number]  # the case is theirs to read
    assert found("technical", "王芳") == []  # but not whose name is on it
    assert found("quality", "王芳") == [number]


def test_the_chinese_parser_path_of_postgresql_full_text_search_still_finds_substrings(
        world: World, database: Database) -> None:
    """Without zhparser or pg_jieba the test database has no Chinese configuration; the
    full-text condition is checked with 'simple', which segments Latin words only."""
    if database.backend != "postgresql":
        pytest.skip("full-text search is PostgreSQL's")
    number = open_complaint(world, description="screen flickers during use 屏幕闪烁").number
    every = Filters(open=None, mine=False, text_fields=("description",),
                    search_config="simple")
    user = world.user("quality")
    for query in ("flickers", "flicker", "闪烁", "use screen", "screen flickers"):
        found = world.service.list_cases(user, replace(every, text=query))
        assert [case.number for case in found.rows] == [number], query


# -- sorting -----------------------------------------------------------------------------------

def test_every_column_sorts_both_ways_keeping_the_filters_and_ties_keep_their_order(
        world: World, auth: Auth, client: FlaskClient, default_set: DefinitionSet) -> None:
    opened = [open_complaint(world, complainant_org=org).number
              for org in ("B 医院", "A 医院", "C 医院", "A 医院")]
    moved_on(world, opened[2])
    auth.login("quality_manager")
    by_org = listed(client.get("/?scope=all&sort=complainant_org&dir=asc"))
    assert by_org == [opened[1], opened[3], opened[0], opened[2]]  # the A's in opening order
    backwards = client.get("/?scope=all&sort=complainant_org&dir=desc&process=complaint")
    assert listed(backwards) == [opened[2], opened[0], opened[1], opened[3]]
    page = backwards.get_data(as_text=True)
    assert 'aria-sort="descending"' in page
    # The heading's link turns the order round and keeps the list's filters.
    assert re.search(r'href="/\?[^"]*process=complaint[^"]*sort=complainant_org&amp;dir=asc"',
                     page)
    for column in default_set.process("complaint").inbox_columns:
        for direction in ("asc", "desc"):
            shown = listed(client.get(f"/?scope=all&sort={column}&dir={direction}"))
            assert sorted(shown) == sorted(opened), (column, direction)
    refused = client.get("/?sort=password_hash")
    assert refused.status_code == 400
    assert "cannot be sorted on" in refused.get_data(as_text=True)


def test_states_sort_in_the_definitions_order_and_due_times_soonest_first(
        world: World, auth: Auth, client: FlaskClient) -> None:
    first = open_complaint(world).number
    second = open_complaint(world).number
    moved_on(world, first)
    auth.login("quality_manager")
    states = list(world.definition.process("complaint").states)
    by_state = listed(client.get("/?scope=all&sort=state"))
    shown = [world.service.read_case(n, history=False).case.state for n in by_state]
    assert shown == sorted(shown, key=states.index)
    assert by_state == [second, first]
    # The confirmed one has no deadline running: last whichever way the due time sorts.
    assert listed(client.get("/?scope=all&sort=due")) == [second, first]
    assert listed(client.get("/?scope=all&sort=time_left&dir=desc")) == [second, first]


def test_new_intake_comes_first_by_default(world: World, auth: Auth,
                                           client: FlaskClient) -> None:
    older = open_complaint(world).number
    moved_on(world, older)
    newer = open_complaint(world).number
    auth.login("quality")
    assert listed(client.get("/"))[0] == newer
    assert "New intake first" in text_of(client.get("/"))


# -- saved lists -------------------------------------------------------------------------------

def test_a_saved_list_is_one_click_away_for_its_owner_only_and_can_be_deleted(
        world: World, auth: Auth, client: FlaskClient, app: Flask) -> None:
    number = open_complaint(world, complainant_org="Klinikum Nord").number
    open_complaint(world)
    auth.login("quality")
    saved = client.post("/lists", data={"name": " Nord  hospitals ",
                                        "query": "q=Nord&scope=all&sort=due&evil=1"})
    assert saved.status_code == 302
    page = client.get("/").get_data(as_text=True)
    link = re.search(r'<a href="(/\?[^"]+)">Nord hospitals</a>', page)
    assert link is not None
    assert "evil" not in link.group(1)
    assert listed(client.get(link.group(1).replace("&amp;", "&"))) == [number]
    list_id = re.search(r'action="/lists/(\d+)/delete"', page)
    assert list_id is not None

    other = app.test_client()
    Auth(other, world).login("quality_manager")
    assert "Nord hospitals" not in other.get("/").get_data(as_text=True)
    assert other.post(f"/lists/{list_id.group(1)}/delete").status_code == 404
    assert "Nord hospitals" in client.get("/").get_data(as_text=True)

    assert client.post(f"/lists/{list_id.group(1)}/delete").status_code == 302
    assert "Nord hospitals" not in client.get("/").get_data(as_text=True)


def test_a_list_without_a_name_or_with_an_unknown_order_is_not_saved(
        world: World, auth: Auth, client: FlaskClient) -> None:
    auth.login("quality")
    unnamed = client.post("/lists", data={"name": "  ", "query": "scope=all"},
                          follow_redirects=True)
    assert "Give the list a name of 1 to 100 characters." in text_of(unnamed)
    assert client.post("/lists", data={"name": "x", "query": "sort=nope"}).status_code == 400
    assert 'action="/lists/' not in client.get("/").get_data(as_text=True)


# -- registered by me, watching ------------------------------------------------------------

def test_the_clerk_finds_the_cases_she_registered_after_they_moved_on(
        world: World, auth: Auth, client: FlaskClient) -> None:
    number = open_complaint(world).number
    moved_on(world, number)
    open_complaint(world, complainant_org="其他医院")  # registered by her too
    auth.login("sales")
    mine = listed(client.get("/?scope=by_me"))
    assert number in mine
    assert len(mine) == 2
    auth.logout()
    auth.login("quality")
    assert listed(client.get("/?scope=by_me")) == []


def test_a_user_watches_a_case_from_its_page_and_finds_it_under_watching(
        world: World, auth: Auth, client: FlaskClient, app: Flask) -> None:
    number = open_complaint(world).number
    open_complaint(world)
    auth.login("quality_manager")
    assert listed(client.get("/?scope=watching")) == []
    assert "Watch this case" in text_of(client.get(f"/cases/{number}"))
    client.post(f"/cases/{number}/watch", data={"on": "1"})
    assert "Stop watching" in text_of(client.get(f"/cases/{number}"))
    assert listed(client.get("/?scope=watching")) == [number]
    other = app.test_client()
    Auth(other, world).login("quality")
    assert listed(other.get("/?scope=watching")) == []
    client.post(f"/cases/{number}/watch", data={"on": "0"})
    assert listed(client.get("/?scope=watching")) == []


# -- time left, paused, layout ------------------------------------------------------------

def test_the_time_left_column_counts_working_time_and_a_paused_clock_says_paused(
        world: World, clock: Clock) -> None:
    case = open_complaint(world)
    definition = world.definition
    process = definition.process("complaint")
    # The response clock: 4 working hours from 09:30 Monday (Shanghai), due 14:30.
    first = case.clocks["response"]
    assert first.status == "running"
    # At 10:00 the lunch hour (12:00 to 13:00) is not working time: 3 h 30 left, not 4 h 30.
    assert views.column(process, case, "time_left", clock(), definition) == (
        "3 hours 30 minutes left")
    # The next morning at 09:00: late by 14:30 to 17:30 and 08:30 to 09:00, not the night.
    assert views.column(process, case, "time_left", clock() + timedelta(days=1, hours=-1),
                        definition) == "overdue by 3 hours 30 minutes"
    held = {k: (c if k != first.id else type(c)(**{**c.__dict__, "status": "paused",
                                                   "paused_at": clock() + timedelta(hours=1)}))
            for k, c in case.clocks.items()}
    stopped = {k: type(c)(**{**c.__dict__, "status": "stopped"}) if c.status == "running"
               and k != first.id else c for k, c in held.items()}
    paused_case = type(case)(**{**case.__dict__, "clocks": stopped})
    assert views.paused(paused_case)
    shown = views.column(process, paused_case, "time_left", clock() + timedelta(days=3),
                         definition)
    assert shown.startswith("paused, ")
    assert views.column(process, paused_case, "due", clock(), definition) == "paused"


def test_the_notifications_fold_and_the_table_has_labels_for_phone_cards(
        world: World, auth: Auth, client: FlaskClient) -> None:
    open_complaint(world)
    auth.login("quality")
    page = client.get("/").get_data(as_text=True)
    # The new complaint's notification waits folded above the list: one line, not a panel.
    folded = re.search(r'<details class="notices">\s*<summary>1 new notification</summary>',
                       page)
    assert folded is not None
    assert page.index("<details") < page.index('<table class="striped cards">')
    assert 'data-label="Number"' in page
