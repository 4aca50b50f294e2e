"""Drafts edited in the browser and the activated definition version."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from qmsflow.engine.persistence import DraftError, UnknownVersion, audit, drafts, proof, versions
from qmsflow.engine.persistence.audit import By
from qmsflow.engine.persistence.models import AuditEvent, DefinitionActivation

from .conftest import World, unguard

AUTHOR = By("qa.user", "QA User")


def _started(world: World) -> drafts.DraftRecord:
    with world.database.sessions.begin() as session:
        stored = versions.find(session, world.definition.version)
        return drafts.start(session, "Shorter closure", stored.files, stored.root,
                            stored.hash, AUTHOR, world.clock())


def test_a_draft_starts_as_a_copy_of_a_stored_version_with_its_author(world: World) -> None:
    draft = _started(world)
    with world.database.sessions() as session:
        stored = versions.find(session, world.definition.version)
        again = drafts.get(session, draft.id)
    assert dict(again.files) == dict(stored.files)
    assert (again.author_id, again.title, again.base_version) == (
        "qa.user", "Shorter closure", stored.hash)
    assert again.set_files() and all(name in stored.files for name in again.set_files())


def test_saving_a_draft_replaces_its_files_and_audits_what_changed(world: World) -> None:
    draft = _started(world)
    name = draft.set_files()[0]
    files = {**draft.files, name: draft.files[name] + "\n# edited\n"}
    files.pop(draft.set_files()[-1])
    files["processes/extra.yaml"] = "kind: process\n"
    world.clock.advance(minutes=5)
    with world.database.sessions.begin() as session:
        saved = drafts.save(session, draft.id, files, AUTHOR, world.clock())
    assert saved.files[name].endswith("# edited\n")
    assert saved.updated_at > saved.created_at
    with world.database.sessions() as session:
        entry = session.execute(select(AuditEvent).where(
            AuditEvent.action == "draft_saved")).scalar_one()
    assert entry.actor_id == "qa.user"
    assert entry.data["changed"] == [name]
    assert entry.data["added"] == ["processes/extra.yaml"]
    assert entry.data["removed"] == [draft.set_files()[-1]]


@pytest.mark.parametrize("name", ["/etc/passwd.yaml", "../outside.yaml", "notes.txt",
                                  ".hidden/x.yaml", "C:/x.yaml"])
def test_a_draft_refuses_file_names_outside_the_set_or_not_yaml(world: World,
                                                                 name: str) -> None:
    draft = _started(world)
    with world.database.sessions.begin() as session, pytest.raises(DraftError) as refused:
        drafts.save(session, draft.id, {**draft.files, name: "x: 1\n"}, AUTHOR, world.clock())
    assert "relative .yaml file" in str(refused.value)


def test_a_published_draft_is_no_longer_edited(world: World) -> None:
    draft = _started(world)
    with world.database.sessions.begin() as session:
        drafts.mark_published(session, draft.id, world.definition.version)
    with world.database.sessions.begin() as session, pytest.raises(DraftError) as refused:
        drafts.save(session, draft.id, dict(draft.files), AUTHOR, world.clock())
    assert "published already" in str(refused.value)


def test_without_an_activation_nothing_is_active(world: World) -> None:
    assert drafts.read_active_marker(world.database.engine) is None
    with world.database.sessions() as session:
        assert drafts.active(session) is None


def test_the_newest_activation_is_the_active_version_and_is_audited(world: World) -> None:
    version = world.definition.version
    with world.database.sessions.begin() as session:
        first = drafts.activate(session, version, AUTHOR, world.clock(), "CR-1")
        second = drafts.activate(session, version, AUTHOR, world.clock(), "CR-2")
    assert drafts.read_active_marker(world.database.engine) == (second.id, version)
    assert second.id > first.id
    with world.database.sessions() as session:
        active = drafts.active(session)
        entries = session.execute(select(AuditEvent).where(
            AuditEvent.action == "activated").order_by(AuditEvent.id)).scalars().all()
    assert active is not None and active.reason == "CR-2"
    assert [(e.old, e.new, e.reason) for e in entries] == [
        (None, version, "CR-1"), (version, version, "CR-2")]


def test_only_a_stored_version_can_be_activated(world: World) -> None:
    with world.database.sessions.begin() as session, pytest.raises(UnknownVersion):
        drafts.activate(session, "0" * 64, AUTHOR, world.clock())


def _published(world: World, draft: drafts.DraftRecord, reviewer: By) -> str:
    files = dict(draft.files)
    files["processes/complaint.yaml"] = files["processes/complaint.yaml"].replace(
        "en: Customer complaint}", "en: Customer complaint or recall}")
    definition = versions.compile_files(files, draft.root)
    with world.database.sessions.begin() as session:
        drafts.save(session, draft.id, files, AUTHOR, world.clock())
        drafts.publish(session, draft.id, definition, reviewer, world.clock(), "CR-7")
    return definition.version


def test_the_author_of_a_draft_cannot_approve_it(world: World) -> None:
    draft = _started(world)
    with pytest.raises(DraftError) as refused:
        _published(world, draft, AUTHOR)
    assert "cannot approve it" in str(refused.value)


def test_a_published_and_activated_draft_leaves_a_trail_that_verifies(world: World) -> None:
    draft = _started(world)
    version = _published(world, draft, By("second.admin", "Second Admin"))
    with world.database.sessions.begin() as session:
        drafts.activate(session, version, By("second.admin", "Second Admin"), world.clock(),
                        "CR-7")
    with world.database.sessions() as session:
        assert audit.verify(session)[1] == []
        assert proof.check(session, versions.Versions()) == []
        stored = versions.find(session, version)
        assert (stored.published_by, stored.note) == ("second.admin", "CR-7: Shorter closure")
        assert drafts.get(session, draft.id).published_version == version


def test_an_activation_cannot_be_changed_or_removed_in_the_database(world: World) -> None:
    with world.database.sessions.begin() as session:
        drafts.activate(session, world.definition.version, AUTHOR, world.clock(), "CR-1")
    for statement in ("UPDATE definition_activations SET reason = 'CR-9'",
                      "DELETE FROM definition_activations"):
        with pytest.raises(DBAPIError) as refused, world.database.engine.begin() as connection:
            connection.execute(text(statement))
        assert "append-only" in str(refused.value)
    assert drafts.read_active_marker(world.database.engine)[1] == world.definition.version


def test_an_activation_written_or_changed_around_qmsflow_is_named_by_the_proof(
        world: World) -> None:
    with world.database.sessions.begin() as session:
        made = drafts.activate(session, world.definition.version, AUTHOR, world.clock(), "CR-1")
        session.add(DefinitionActivation(version=world.definition.version,
                                         activated_at=world.clock(), activated_by="mallory"))
    unguard(world.database, "definition_activations")
    with world.database.engine.begin() as connection:
        connection.execute(text("UPDATE definition_activations SET reason = 'CR-9' "
                                f"WHERE id = {made.id}"))
    with world.database.sessions() as session:
        said = [str(found) for found in proof.check(session, versions.Versions())]
    assert any(f"activation {made.id} " in line and "differ from its 'activated' audit entry"
               in line for line in said), said
    assert any(f"activation {made.id + 1} " in line and "has no 'activated' audit entry"
               in line for line in said), said
