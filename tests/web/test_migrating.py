"""The version page told forward, with the open cases a deadline change moves, and the
migrate action: a dry run that changes nothing, then a signed confirm that migrates and
audits."""

from __future__ import annotations

import html

import pytest
from flask.testing import FlaskClient

from qmsflow.engine.cases import Case
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import proof, versions

from ..conftest import EditSet
from ..persistence.conftest import PASSWORD, World, open_complaint
from ..persistence.test_versions import (
    DUE_IN_4_DAYS,
    DUE_IN_5_DAYS,
    RENAMED_STATE,
    SHORTER_CLOSURE,
    accepted_complaint,
    classified_complaint,
    publish,
)
from .conftest import Auth, text_of

ADMIN = "quality_manager"


@pytest.fixture
def shorter(world: World, edited_set: EditSet) -> DefinitionSet:
    """A published version whose domestic closure deadline is 4 working days, not 5."""
    return publish(world, edited_set(SHORTER_CLOSURE))


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(text_of(response))


def test_the_version_page_says_forward_in_chinese_how_many_open_cases_a_deadline_moves(
        client: FlaskClient, auth: Auth, world: World, shorter: DefinitionSet) -> None:
    accepted_complaint(world)  # its closure clock runs: the shorter deadline moves it
    open_complaint(world)  # no closure clock yet: nothing of it moves
    auth.login(ADMIN, locale="zh-CN")
    text = page(client, f"/admin/versions/{shorter.version[:12]}")
    assert f"从版本 {world.definition.version[:12]} 到本版本的变更" in text
    assert "期限“结案期限”：国内 5 个工作日 → 4 个工作日。 1 个未结案件的到期时间将改变" in text
    assert "迁移 2 个未结案件到本版本" in text


def test_the_version_page_in_english_reads_from_the_running_version_to_this_one(
        client: FlaskClient, auth: Auth, world: World, shorter: DefinitionSet) -> None:
    auth.login(ADMIN)
    text = page(client, f"/admin/versions/{shorter.version[:12]}")
    assert ("Deadline 'Closure deadline' (Domestic): 5 working days → 4 working days. "
            "no open case gets a new due time") in text
    assert "working_days" not in text.split("Every difference")[0]


def planned_case(world: World, number: str) -> Case:
    return world.service.read_case(number).case


def test_the_dry_run_lists_what_would_move_and_changes_nothing(
        client: FlaskClient, auth: Auth, world: World, shorter: DefinitionSet) -> None:
    case = accepted_complaint(world)
    auth.login(ADMIN)
    before = world.service.read_case(case.number)
    text = page(client, f"/admin/versions/{shorter.version[:12]}/migrate"
                        f"?from={world.definition.version[:12]}")
    assert case.number in text
    assert "Closure deadline: due 2026-03-09 17:30 → 2026-03-06 17:30" in text
    assert "1 of 1 open case(s) would move" in text
    after = world.service.read_case(case.number)
    assert after.case == before.case and len(after.events) == len(before.events)
    assert after.case.clocks["closure"].due_at == DUE_IN_5_DAYS


def test_a_wrong_password_migrates_nothing(
        client: FlaskClient, auth: Auth, world: World, shorter: DefinitionSet) -> None:
    case = accepted_complaint(world)
    auth.login(ADMIN)
    response = client.post(f"/admin/versions/{shorter.version[:12]}/migrate",
                           data={"from": world.definition.version[:12], "password": "wrong"})
    assert response.status_code == 422
    assert "The password is wrong" in text_of(response)
    assert planned_case(world, case.number).version == world.definition.version


def test_the_signed_confirm_migrates_and_writes_the_trail_as_the_command_does(
        client: FlaskClient, auth: Auth, world: World, shorter: DefinitionSet) -> None:
    case = accepted_complaint(world)
    auth.login(ADMIN)
    response = client.post(f"/admin/versions/{shorter.version[:12]}/migrate",
                           data={"from": world.definition.version[:12], "password": PASSWORD},
                           follow_redirects=True)
    assert "1 open case(s) moved to version" in html.unescape(text_of(response))
    history = world.service.read_case(case.number)
    assert history.case.version == shorter.version
    assert history.case.clocks["closure"].due_at == DUE_IN_4_DAYS
    migrated, changed = history.events[-2:]
    assert (migrated.action, migrated.old, migrated.new) == (
        "migrated", world.definition.version, shorter.version)
    assert (changed.action, changed.field) == ("clock_changed", "closure")
    assert migrated.actor_id == world.user(ADMIN)
    assert migrated.client is not None and migrated.client.startswith("web")


def test_only_administrators_may_migrate(
        client: FlaskClient, auth: Auth, world: World, shorter: DefinitionSet) -> None:
    case = accepted_complaint(world)
    auth.login("quality")
    response = client.post(f"/admin/versions/{shorter.version[:12]}/migrate",
                           data={"from": world.definition.version[:12], "password": PASSWORD})
    assert response.status_code == 403
    assert planned_case(world, case.number).version == world.definition.version


def test_migrating_from_an_unknown_version_is_not_found(
        client: FlaskClient, auth: Auth, shorter: DefinitionSet) -> None:
    auth.login(ADMIN)
    assert client.get(f"/admin/versions/{shorter.version[:12]}/migrate?from=000000000000"
                      ).status_code == 404


def test_a_case_that_cannot_move_is_listed_with_the_reason_in_chinese(
        client: FlaskClient, auth: Auth, world: World, edited_set: EditSet) -> None:
    waiting = classified_complaint(world)  # in gm_acceptance, which the new version renames
    renamed = publish(world, edited_set(*RENAMED_STATE))
    auth.login(ADMIN, locale="zh-CN")
    text = page(client, f"/admin/versions/{renamed.version[:12]}/migrate"
                        f"?from={world.definition.version[:12]}")
    assert waiting.number in text
    assert "新版本中没有该案件的状态“待总经理室受理”" in text
    assert "1 个未结案件中有 0 个可以迁移" in text
    assert "签名并迁移" not in text  # nothing to sign for


def test_previewing_an_unpublished_set_says_what_changes_and_how_many_due_times_move(
        client: FlaskClient, auth: Auth, world: World) -> None:
    case = accepted_complaint(world)
    auth.login(ADMIN, locale="zh-CN")
    text = page(client, "/admin/preview?source=examples/kangning&process=complaint")
    assert "当本定义集取代正在使用的版本时，用户会看到的变化" in text
    assert "期限“结案期限”：国内 5 个工作日 → 4 个工作日。 1 个未结案件的到期时间将改变" in text
    assert "核决权限“处理方案核决权限”：副总经理的限额由 50,000 改为 30,000。" in text
    assert "新增字段“医院等级”（必填）。" in text
    # Nothing was published or moved by looking.
    assert planned_case(world, case.number).version == world.definition.version


def test_a_renamed_state_is_mapped_in_the_browser_then_its_cases_move_when_signed(
        client: FlaskClient, auth: Auth, world: World, edited_set: EditSet) -> None:
    waiting = classified_complaint(world)  # in gm_acceptance, which the new version renames
    renamed = publish(world, edited_set(*RENAMED_STATE))
    auth.login(ADMIN, locale="zh-CN")
    url = (f"/admin/versions/{renamed.version[:12]}/migrate"
           f"?from={world.definition.version[:12]}")
    offered = client.get(url).get_data(as_text=True)
    assert 'name="map.gm_acceptance"' in offered and 'value="gm_intake"' in offered
    mapped = page(client, url + "&map.gm_acceptance=gm_intake")
    assert "1 个未结案件中有 1 个可以迁移" in mapped
    form = client.get(url + "&map.gm_acceptance=gm_intake").get_data(as_text=True)
    assert '<input type="hidden" name="map.gm_acceptance" value="gm_intake">' in form
    assert planned_case(world, waiting.number).state == "gm_acceptance"  # a dry run only
    client.post(f"/admin/versions/{renamed.version[:12]}/migrate", data={
        "from": world.definition.version[:12], "map.gm_acceptance": "gm_intake",
        "password": PASSWORD})
    moved = planned_case(world, waiting.number)
    assert (moved.version, moved.state) == (renamed.version, "gm_intake")
    with world.database.sessions() as session:  # the trail says so: audit verify agrees
        assert proof.check(session, versions.Versions()) == []


def test_a_mapping_to_a_state_the_new_version_lacks_is_refused_in_words(
        client: FlaskClient, auth: Auth, world: World, edited_set: EditSet) -> None:
    waiting = classified_complaint(world)
    renamed = publish(world, edited_set(*RENAMED_STATE))
    auth.login(ADMIN)
    response = client.post(f"/admin/versions/{renamed.version[:12]}/migrate", data={
        "from": world.definition.version[:12], "map.gm_acceptance": "nowhere",
        "map.closed": "gm_intake", "password": PASSWORD})
    assert response.status_code == 422
    said = html.unescape(text_of(response))
    assert "'nowhere' is not a state the cases in" in said and "pick one from the list" in said
    assert "No open case is in a state 'closed' that the new version lacks" in said
    assert planned_case(world, waiting.number).version == world.definition.version
