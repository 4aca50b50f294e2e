"""A corpus of direct database edits, each the way an insider with database access would make
it (append-only triggers switched off where they stand in the way): for every one,
``qmsflow audit verify`` exits 1 and names the record that was touched, on both backends."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import audit, users
from qmsflow.engine.persistence.models import (
    AuditEvent,
    AuditHead,
    AuditSeal,
    CaseRow,
    DefinitionVersion,
    RegisterEntryRow,
    SignatureRow,
    User,
)

from .conftest import CHEAP, PASSWORD, World, decided, open_complaint, unguard
from .test_cli import Cli
from .test_registers import register_device


@dataclass
class Scene:
    """A worked database: a complaint with two signatures (registering, the reportability
    decision), a second, unsigned complaint, and a temporary password an administrator set
    for finance."""

    world: World
    signed: str  # the complaint with signatures
    plain: str  # another complaint


@pytest.fixture
def scene(world: World) -> Scene:
    signed = open_complaint(world).number
    decided(world, signed)
    plain = open_complaint(world, complainant_name="李雷").number
    world.service.apply_step(plain, "confirm_complaint", world.user("quality"),
                             {"is_complaint": True, "screening_rationale": "设备故障"})
    with world.database.sessions.begin() as session:
        users.set_password(session, world.user("finance"), "amber kettle orbit", world.clock(),
                           hasher=CHEAP, temporary=True)
    register_device(world)
    world.service.seal_audit()  # as the worker does within a second
    return Scene(world, signed, plain)


def _edit(scene: Scene, change: Callable[[Session], object]) -> None:
    unguard(scene.world.database, "audit_events", "audit_seals", "definition_versions")
    with scene.world.database.sessions.begin() as session:
        change(session)


def _case(session: Session, number: str) -> CaseRow:
    return session.execute(select(CaseRow).where(CaseRow.number == number)).scalar_one()


def _signature(session: Session, scene: Scene, step: str) -> SignatureRow:
    case_id = _case(session, scene.signed).id
    return session.execute(select(SignatureRow).where(
        SignatureRow.case_id == case_id, SignatureRow.step == step)).scalar_one()


def changed_value(scene: Scene, session: Session) -> str:
    row = _case(session, scene.plain)
    row.values = {**row.values, "complainant_name": "张三"}
    return f"case {scene.plain}: value 'complainant_name'"


def changed_state(scene: Scene, session: Session) -> str:
    _case(session, scene.plain).state = "closed"
    return f"case {scene.plain}: state is 'closed' in the table"


def changed_priority(scene: Scene, session: Session) -> str:
    _case(session, scene.plain).priority = "low"
    return f"case {scene.plain}: priority"


def changed_flags(scene: Scene, session: Session) -> str:
    _case(session, scene.plain).flags = ["overdue"]
    return f"case {scene.plain}: flags"


def changed_queue(scene: Scene, session: Session) -> str:
    _case(session, scene.plain).assignee_role = "gm"
    return f"case {scene.plain}: assignee_role"


def voided_quietly(scene: Scene, session: Session) -> str:
    row = _case(session, scene.plain)
    row.voided_at, row.void_reason = row.updated_at, "duplicate"
    return f"case {scene.plain}: voided"


def forged_signature(scene: Scene, session: Session) -> str:
    original = _signature(session, scene, "decide_reportability")
    session.add(SignatureRow(
        case_id=original.case_id, step="approve_plan", signer_id=scene.world.user("gm"),
        signer_name="Gm User", meaning="approval", signed_at=original.signed_at,
        row_version=original.row_version, record_hash=original.record_hash,
        signed_values=original.signed_values))
    return f"case {scene.signed}: signature of step 'approve_plan'"


def deleted_signature(scene: Scene, session: Session) -> str:
    session.delete(_signature(session, scene, "decide_reportability"))
    return f"case {scene.signed}: the signature of step 'decide_reportability'"


def signature_given_to_another(scene: Scene, session: Session) -> str:
    _signature(session, scene, "decide_reportability").signer_id = scene.world.user("gm")
    return f"case {scene.signed}: signature of step 'decide_reportability' by gm.user"


def signed_values_changed(scene: Scene, session: Session) -> str:
    signature = _signature(session, scene, "decide_reportability")
    signature.signed_values = {**signature.signed_values, "report_cn": "reportable"}
    return f"case {scene.signed}: signature of step 'decide_reportability'"


def role_granted(scene: Scene, session: Session) -> str:
    user = session.get_one(User, scene.world.user("sales"))
    user.roles = [*user.roles, "gm"]
    return f"user '{user.id}': roles"


def account_forged(scene: Scene, session: Session) -> str:
    session.add(User(id="mallory", name="Mallory", roles=["gm"], departments=[],
                     locale="en", email=None, password_hash=CHEAP.hash(PASSWORD),
                     password_changed_at=None, failed_logins=0, locked_until=None,
                     disabled=False, created_at=scene.world.clock()))
    return "user 'mallory' has no 'user_added' audit entry"


def account_disabled_quietly(scene: Scene, session: Session) -> str:
    session.get_one(User, scene.world.user("quality")).disabled = True
    return f"user '{scene.world.user('quality')}': disabled"


def temporary_password_made_permanent(scene: Scene, session: Session) -> str:
    """An administrator's password for someone else, to be replaced at the first sign-in,
    quietly made the holder's own."""
    user = session.get_one(User, scene.world.user("finance"))
    assert user.password_temporary
    user.password_temporary = False
    return f"user '{user.id}': password_temporary"


def password_aged_back(scene: Scene, session: Session) -> str:
    """A password's age moved, so the ageing rule never asks for a new one."""
    user = session.get_one(User, scene.world.user("sales"))
    user.password_changed_at = scene.world.clock() + timedelta(days=3650)
    return f"user '{user.id}': password_changed_at"


def definition_edited(scene: Scene, session: Session) -> str:
    stored = session.execute(select(DefinitionVersion)).scalar_one()
    name = next(name for name in stored.files if name.endswith("set.yaml"))
    stored.files = {**stored.files, name: stored.files[name] + "\n# edited\n"}
    return f"definition version {stored.hash[:12]}"


def audit_value_rewritten(scene: Scene, session: Session) -> str:
    entry = session.execute(select(AuditEvent).where(
        AuditEvent.case_number == scene.plain, AuditEvent.field == "complainant_name")
    ).scalar_one()
    entry.new = "张三"
    return f"event {entry.id} (case {scene.plain}): its content does not match its seal"


def audit_entry_deleted(scene: Scene, session: Session) -> str:
    entry = session.execute(select(AuditEvent).where(
        AuditEvent.case_number == scene.plain, AuditEvent.field == "complainant_org")
    ).scalar_one()
    session.delete(entry)
    return f"(case {scene.plain}): the case's chain breaks here"


def audit_entries_reordered(scene: Scene, session: Session) -> str:
    first, second = session.execute(select(AuditEvent).where(
        AuditEvent.case_number == scene.plain).order_by(AuditEvent.id).limit(2)).scalars()
    low, high = first.id, second.id
    session.execute(text(f"UPDATE audit_events SET id = -1 WHERE id = {low}"))
    session.execute(text(f"UPDATE audit_events SET id = {low} WHERE id = {high}"))
    session.execute(text(f"UPDATE audit_events SET id = {high} WHERE id = -1"))
    return f"event {low} (case {scene.plain})"


def _recompute(session: Session, seal: Callable[[dict[str, object]], tuple[str | None, str]],
               keys: audit.Keys) -> None:
    """Rewrite every entry's chain links and seals with ``seal`` (key id, seal of content),
    then the seals over them with ``keys`` and the heads, as an insider who knows the
    project's hash function would."""
    cases: dict[int, str] = {}
    for entry in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        if entry.case_id is not None:
            entry.case_prev_hash = cases.get(entry.case_id, audit.GENESIS)
        entry.key_id, entry.hash = seal(
            {name: getattr(entry, name) for name in audit.HASHED_CHAINED})
        if entry.case_id is not None:
            cases[entry.case_id] = entry.hash
        session.flush()
    for case_id, last in cases.items():
        session.get_one(CaseRow, case_id).audit_hash = last
    session.execute(delete(AuditSeal))
    head = session.get_one(AuditHead, 1)
    head.last_id, head.last_hash, head.seal_seq = 0, audit.GENESIS, 0
    session.flush()
    session.info[audit.KEYS_INFO] = keys
    while audit.seal_pending(session, datetime.now(UTC)).count:
        pass


def _renamed_in_trail_too(scene: Scene, session: Session) -> AuditEvent:
    """The plain complaint's complainant renamed in its row and in its audit entry; the entry."""
    changed_value(scene, session)
    entry = session.execute(select(AuditEvent).where(
        AuditEvent.case_number == scene.plain, AuditEvent.field == "complainant_name")
    ).scalar_one()
    entry.new = "张三"
    return entry


def recomputed_without_the_key(scene: Scene, session: Session) -> str:
    _renamed_in_trail_too(scene, session)
    _recompute(session, lambda content: (None, audit.entry_hash({**content, "key_id": None})),
               audit.NO_KEYS)
    return "the trail does not end under the current audit key"


def recomputed_with_another_key(scene: Scene, session: Session) -> str:
    _renamed_in_trail_too(scene, session)
    mine = audit.Keys(b"an insider's own key, not the deployment's")
    key_id = mine.current_id

    def seal(content: dict[str, object]) -> tuple[str | None, str]:
        return key_id, audit.entry_hash({**content, "key_id": key_id}, mine)

    _recompute(session, seal, mine)
    return f"sealed with audit key {key_id}, which this deployment does not hold"


def _device(session: Session) -> RegisterEntryRow:
    return session.execute(select(RegisterEntryRow).where(
        RegisterEntryRow.register == "installed_device")).scalar_one()


def register_value_changed(scene: Scene, session: Session) -> str:
    row = _device(session)
    row.values = {**row.values, "warranty_end": "2099-12-31"}
    return "register entry installed_device 'SN-0001': value 'warranty_end'"


def register_entry_forged(scene: Scene, session: Session) -> str:
    device = _device(session)
    session.add(RegisterEntryRow(
        register="installed_device", key="SN-FAKE", title=None, values={"serial": "SN-FAKE"},
        search_text="sn-fake", row_version=1, audit_count=0, audit_hash=audit.GENESIS,
        created_at=device.created_at, updated_at=device.created_at))
    return "register entry installed_device 'SN-FAKE' has no 'entry_created' audit entry"


def register_entry_renamed(scene: Scene, session: Session) -> str:
    _device(session).key = "SN-0002"
    return "register entry installed_device 'SN-0002': its audit trail was written for"


def erased_as_if_disposed(scene: Scene, session: Session) -> str:
    # What a disposal does to the tables, done without the signed 'disposed' entry.
    row = _case(session, scene.plain)
    row.values, row.voided_at, row.void_reason = {}, row.updated_at, "disposed"
    return f"case {scene.plain}: value 'complainant_name'"


TAMPERS = [changed_value, changed_state, changed_priority, changed_flags, changed_queue,
           voided_quietly, forged_signature, deleted_signature, signature_given_to_another,
           signed_values_changed, role_granted, account_forged, account_disabled_quietly,
           temporary_password_made_permanent, password_aged_back, definition_edited,
           audit_value_rewritten, audit_entry_deleted, audit_entries_reordered,
           recomputed_without_the_key, recomputed_with_another_key, register_value_changed,
           register_entry_forged, register_entry_renamed, erased_as_if_disposed]


def test_the_worked_database_verifies_clean_before_any_edit(scene: Scene) -> None:
    code, output = Cli(scene.world.database.url)("audit", "verify")
    assert code == 0, output
    assert "every case, signature, account and definition version is what its trail says" in (
        output)


@pytest.mark.parametrize("tamper", TAMPERS, ids=lambda tamper: tamper.__name__)
def test_audit_verify_exits_1_and_names_the_record_a_direct_database_edit_touched(
        scene: Scene, tamper: Callable[[Scene, Session], str]) -> None:
    named: list[str] = []
    _edit(scene, lambda session: named.append(tamper(scene, session)))
    code, output = Cli(scene.world.database.url)("audit", "verify")
    assert code == 1, output
    assert named[0] in output, output
    assert "altered outside qmsflow" in output


def test_the_anchor_file_catches_a_rewrite_even_by_someone_holding_the_key(
        scene: Scene, tmp_path: Path) -> None:
    cli = Cli(scene.world.database.url)
    anchors = f"{tmp_path}/anchors.txt"
    code, output = cli("audit", "anchor", anchors)
    assert code == 0 and output.startswith("anchored: "), output
    assert cli("audit", "verify", "--anchors", anchors)[0] == 0

    def rewrite_with_the_key(session: Session) -> None:
        entry = _renamed_in_trail_too(scene, session)
        # The registration's signature covered the name: the insider rewrites that too.
        signature = session.execute(select(SignatureRow).where(
            SignatureRow.case_id == entry.case_id)).scalar_one()
        signature.signed_values = {**signature.signed_values, "complainant_name": "张三"}
        keys = audit.keys_of(session)
        _recompute(session, lambda content: (keys.current_id, audit.entry_hash(
            {**content, "key_id": keys.current_id}, keys)), keys)

    _edit(scene, rewrite_with_the_key)
    assert cli("audit", "verify")[0] == 0  # the key holder's rewrite passes the chain...
    code, output = cli("audit", "verify", "--anchors", anchors)
    assert code == 1  # ...but not the anchor kept elsewhere
    assert "anchor line 1 recorded another seal here" in output


def test_a_key_set_on_an_unkeyed_trail_asks_for_a_seal_and_verifies_after_it(
        scene: Scene) -> None:
    cli = Cli(scene.world.database.url)
    rotated = Cli(scene.world.database.url, env={
        "QMSFLOW_AUDIT_KEY": "a new audit key of at least thirty-two bytes",
        "QMSFLOW_AUDIT_KEY_FALLBACKS": json.dumps([cli.env["QMSFLOW_AUDIT_KEY"]])})
    code, output = rotated("audit", "verify")
    assert code == 1 and "run 'qmsflow audit seal'" in output
    assert rotated("audit", "seal")[0] == 0
    assert rotated("audit", "verify")[0] == 0
    # Without the earlier key, the entries it sealed cannot be checked, and verify says so.
    code, output = Cli(scene.world.database.url, env={
        "QMSFLOW_AUDIT_KEY": "a new audit key of at least thirty-two bytes"})("audit", "verify")
    assert code == 1 and "QMSFLOW_AUDIT_KEY_FALLBACKS" in output


def test_the_largest_whole_number_a_field_takes_is_stored_exactly_and_verifies_clean(
        world: World) -> None:
    # JSON columns on SQLite have numeric affinity: a number text beyond 64 bits would come
    # back as a REAL, and the seal would no longer match. Such numbers never get that far.
    largest = 2**63 - 1
    number = open_complaint(world, quantity=largest).number
    with world.database.sessions() as session:
        stored = session.execute(select(AuditEvent.new).where(
            AuditEvent.case_number == number, AuditEvent.field == "quantity")).scalar_one()
        assert stored == largest and type(stored) is int
    assert Cli(world.database.url)("audit", "verify")[0] == 0
    with pytest.raises(Refused) as refused:
        open_complaint(world, quantity=largest + 1)
    assert refused.value.reasons[0].field == "quantity"
