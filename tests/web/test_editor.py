"""Definitions edited in the browser: drafts, live validation, publishing, activation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from qmsflow.engine.persistence import drafts, users, versions
from qmsflow.engine.persistence.models import AuditEvent

from ..persistence.conftest import CHEAP, PASSWORD, World
from .conftest import Auth, make_app, text_of

COMPLAINT = "processes/complaint.yaml"
OLD_LABEL = "label: {zh-CN: 客户投诉, en: Customer complaint}"
NEW_LABEL = "label: {zh-CN: 客户投诉, en: Customer complaint or recall}"
REVIEWER = "second.admin"


@pytest.fixture
def reviewer(world: World) -> str:
    """A second administrator, who reviews what the first one wrote."""
    with world.database.sessions.begin() as session:
        users.add(session, world.definition, REVIEWER, "Second Admin", ["quality_manager"],
                  PASSWORD, world.clock(), hasher=CHEAP)
    return REVIEWER


def _start(client: FlaskClient, title: str = "New recall label") -> int:
    response = client.post("/admin/drafts", data={"title": title})
    assert response.status_code == 302
    found = re.search(r"/admin/drafts/(\d+)", response.headers["Location"])
    assert found is not None
    return int(found.group(1))


def _draft(world: World, draft_id: int) -> drafts.DraftRecord:
    with world.database.sessions() as session:
        return drafts.get(session, draft_id)


def _relabelled(world: World, draft_id: int) -> str:
    text = _draft(world, draft_id).files[COMPLAINT]
    assert OLD_LABEL in text
    return text.replace(OLD_LABEL, NEW_LABEL)


def _as_reviewer(client: FlaskClient, auth: Auth) -> None:
    auth.logout()
    client.post("/language", data={"locale": "en", "next": "/login"})
    client.post("/login", data={"user_id": REVIEWER, "password": PASSWORD})


def test_an_admin_starts_a_draft_of_the_served_version_and_saves_a_file(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager")
    draft_id = _start(client)
    page = text_of(client.get(f"/admin/drafts/{draft_id}"))
    assert "processes/complaint.yaml" in page and "Valid." in page
    response = client.post(f"/admin/drafts/{draft_id}/save", data={
        "file": COMPLAINT, "text": _relabelled(world, draft_id), "title": "Recalls"})
    assert response.status_code == 302
    assert f"Saved {COMPLAINT}." in text_of(client.get(response.headers["Location"]))
    saved = _draft(world, draft_id)
    assert NEW_LABEL in saved.files[COMPLAINT] and saved.title == "Recalls"
    with world.database.sessions() as session:
        actions = session.execute(select(AuditEvent.action).where(
            AuditEvent.entity == "definition")).scalars().all()
    assert {"draft_started", "draft_saved"} <= set(actions)


def test_live_validation_locates_a_typed_error_with_a_chinese_summary(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager", locale="zh-CN")
    draft_id = _start(client)
    text = _draft(world, draft_id).files["set.yaml"].replace("\nlabel:", "\nlabelz:", 1)
    answer = client.post(f"/admin/drafts/{draft_id}/check",
                         json={"file": "set.yaml", "text": text}).get_json()
    assert answer["valid"] is False
    unknown = next(p for p in answer["problems"] if p["code"] == "S002")
    line = text.splitlines().index("labelz:") + 1
    assert (unknown["file"], unknown["line"], unknown["column"]) == ("set.yaml", line, 1)
    assert "labelz" in unknown["message"] and unknown["hint"] == "是否想写 'label'？"
    assert unknown["summary"] == "未知的键"
    fixed = client.post(f"/admin/drafts/{draft_id}/check",
                        json={"file": "set.yaml", "text": text.replace("labelz", "label")})
    assert fixed.get_json()["valid"] is True


def test_a_draft_file_that_is_not_yaml_text_is_refused_clearly(
        client: FlaskClient, auth: Auth) -> None:
    auth.login("quality_manager")
    draft_id = _start(client)
    response = client.post(f"/admin/drafts/{draft_id}/check", json={"file": "nope.yaml",
                                                                     "text": ""})
    assert response.status_code == 400
    assert "The draft has no file nope.yaml." in text_of(response)
    added = client.post(f"/admin/drafts/{draft_id}/files",
                        data={"name": "../escape.yaml", "action": "add"},
                        follow_redirects=True)
    assert "is not a file name for the set" in text_of(added)


def test_the_author_cannot_publish_their_own_draft(
        client: FlaskClient, auth: Auth, world: World, reviewer: str) -> None:
    auth.login("quality_manager")
    draft_id = _start(client)
    assert "another administrator reviews it" in text_of(client.get(f"/admin/drafts/{draft_id}"))
    response = client.post(f"/admin/drafts/{draft_id}/publish", data={
        "change_request": "CR-7", "password": PASSWORD}, follow_redirects=True)
    assert "You wrote this draft" in text_of(response)
    assert _draft(world, draft_id).published_version is None


def test_a_wrong_password_publishes_nothing(client: FlaskClient, auth: Auth, world: World,
                                            reviewer: str) -> None:
    auth.login("quality_manager")
    draft_id = _start(client)
    client.post(f"/admin/drafts/{draft_id}/save",
                data={"file": COMPLAINT, "text": _relabelled(world, draft_id)})
    _as_reviewer(client, auth)
    response = client.post(f"/admin/drafts/{draft_id}/publish", data={
        "change_request": "CR-7", "password": "wrong password"}, follow_redirects=True)
    assert "The password is not right: nothing was published." in text_of(response)
    assert _draft(world, draft_id).published_version is None
    with world.database.sessions() as session:
        assert len(versions.listed(session)) == 1


def test_another_admin_publishes_a_draft_by_signing_it_with_the_change_request(
        client: FlaskClient, auth: Auth, world: World, reviewer: str) -> None:
    auth.login("quality_manager")
    draft_id = _start(client)
    client.post(f"/admin/drafts/{draft_id}/save",
                data={"file": COMPLAINT, "text": _relabelled(world, draft_id)})
    _as_reviewer(client, auth)
    response = client.post(f"/admin/drafts/{draft_id}/publish", data={
        "change_request": "CR-7", "password": PASSWORD}, follow_redirects=True)
    assert "approved by Second Admin" in text_of(response)
    version = _draft(world, draft_id).published_version
    assert version is not None and version != world.definition.version
    with world.database.sessions() as session:
        stored = versions.find(session, version)
        signed = session.execute(select(AuditEvent).where(
            AuditEvent.action == "signed")).scalar_one()
    assert (stored.published_by, stored.note) == (REVIEWER, "CR-7: New recall label")
    assert (signed.actor_id, signed.meaning, signed.reason, signed.version) == (
        REVIEWER, "approved", "CR-7", version)
    assert signed.data["author"] == world.user("quality_manager")


def test_an_activation_is_served_by_another_worker_on_its_next_request(
        client: FlaskClient, auth: Auth, world: World, reviewer: str,
        tmp_path: Path) -> None:
    other: Flask = make_app(world, tmp_path)  # a second worker process: its own memory
    try:
        other_client = other.test_client()
        Auth(other_client, world).login("quality_manager")
        other_client.get("/admin/")
        before = other.extensions["qmsflow"].definition.version
        auth.login("quality_manager")
        draft_id = _start(client)
        client.post(f"/admin/drafts/{draft_id}/save",
                    data={"file": COMPLAINT, "text": _relabelled(world, draft_id)})
        _as_reviewer(client, auth)
        client.post(f"/admin/drafts/{draft_id}/publish",
                    data={"change_request": "CR-7", "password": PASSWORD})
        version = _draft(world, draft_id).published_version
        assert version is not None and version != before
        refused = client.post("/admin/activate", data={
            "version": version, "reason": "CR-7", "password": "wrong password"},
            follow_redirects=True)
        assert "nothing was activated" in text_of(refused)
        assert other_client.get("/admin/") and (
            other.extensions["qmsflow"].definition.version == before)
        done = client.post("/admin/activate", data={
            "version": version, "reason": "CR-7", "password": PASSWORD},
            follow_redirects=True)
        assert f"Version {version[:12]}" in text_of(done) and "is active" in text_of(done)
        page = text_of(other_client.get("/admin/"))
        assert other.extensions["qmsflow"].definition.version == version
        assert "Customer complaint or recall" in page
    finally:
        other.extensions["qmsflow"].close()



def test_the_preview_shows_every_form_and_diagram_of_the_draft_or_its_problems(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager")
    draft_id = _start(client)
    client.post(f"/admin/drafts/{draft_id}/save",
                data={"file": COMPLAINT, "text": _relabelled(world, draft_id)})
    response = client.get(f"/admin/drafts/{draft_id}/preview")
    assert response.status_code == 200
    source = response.get_data(as_text=True)
    assert "Customer complaint or recall" in text_of(response)
    assert source.count("data-diagram ") == len(world.definition.processes)
    assert "data-preview" in source
    broken = _draft(world, draft_id).files[COMPLAINT].replace("kind: process", "kind: proces")
    client.post(f"/admin/drafts/{draft_id}/save", data={"file": COMPLAINT, "text": broken})
    response = client.get(f"/admin/drafts/{draft_id}/preview")
    assert response.status_code == 422
    assert f"{COMPLAINT}:4:" in text_of(response)


def test_a_file_is_added_to_the_draft_and_removed_again_but_never_its_manifest(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager")
    draft_id = _start(client)
    added = client.post(f"/admin/drafts/{draft_id}/files",
                        data={"name": "processes/recall.yaml", "action": "add"},
                        follow_redirects=True)
    assert "Added processes/recall.yaml." in text_of(added)
    assert _draft(world, draft_id).files["processes/recall.yaml"] == "kind: process\n"
    # The new file is checked with the rest: a process needs its id.
    assert "processes/recall.yaml:1:1 E102" in text_of(added)
    removed = client.post(f"/admin/drafts/{draft_id}/files",
                          data={"name": "processes/recall.yaml", "action": "remove"},
                          follow_redirects=True)
    assert "Removed processes/recall.yaml." in text_of(removed)
    assert "processes/recall.yaml" not in _draft(world, draft_id).files
    kept = client.post(f"/admin/drafts/{draft_id}/files",
                       data={"name": "set.yaml", "action": "remove"}, follow_redirects=True)
    assert "set.yaml cannot be removed." in text_of(kept)
    assert "set.yaml" in _draft(world, draft_id).files


def test_a_text_too_long_for_a_draft_is_refused_before_it_is_compiled(
        client: FlaskClient, auth: Auth, world: World) -> None:
    auth.login("quality_manager")
    draft_id = _start(client)
    huge = "# " + "x" * drafts.MAX_CHARS
    response = client.post(f"/admin/drafts/{draft_id}/check",
                           json={"file": "set.yaml", "text": huge})
    assert response.status_code == 400
    assert "at most 2000000 characters" in text_of(response)
    assert client.post(f"/admin/drafts/{draft_id}/save",
                       data={"file": "set.yaml", "text": huge}).status_code == 400
    assert "xxxx" not in _draft(world, draft_id).files["set.yaml"]
