"""Retention in the database: records past retention listed, held, and disposed of only by a
signed decision, with ``audit verify`` clean after it and a forged disposal found."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qmsflow.engine.machine import Refused
from qmsflow.engine.persistence import audit, registers, retention, users
from qmsflow.engine.persistence.models import (
    AuditEvent,
    CaseRow,
    RegisterEntryRow,
    SignatureRow,
)
from qmsflow.engine.persistence.retention import RecordState, RetentionRefused

from .conftest import PASSWORD, World, unguard
from .report_cases import closed_service_request
from .test_cli import Cli
from .test_registers import CUSTOMER, DEVICE, PRODUCT, _create

#: Closed on Monday 3 June 2019 at 10:00 in Shanghai: with no registered device, a service
#: request is kept 5 years, until 3 June 2024.
CLOSED = datetime(2019, 6, 3, 2, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)  # the fixed clock's day


@dataclass
class Kept:
    """A database with an old request past retention, a recent one, and an old device file."""

    world: World
    old: str
    recent: str


@pytest.fixture
def kept(world: World) -> Kept:
    now = world.clock.now
    old = closed_service_request(world, CLOSED)
    recent = closed_service_request(world, datetime(2026, 2, 25, 2, 0, tzinfo=UTC))
    world.clock.now = now
    _create(world, "product", {**PRODUCT, "service_life_years": 8}, "quality_manager")
    _create(world, "customer", CUSTOMER)
    # Accepted 15 Jan 2010: 8 years of service life, then 2 years: kept until 15 Jan 2020.
    _create(world, "installed_device", {**DEVICE, "acceptance_date": "2010-01-15",
                                        "warranty_end": "2011-01-14"})
    _create(world, "installed_device", {**DEVICE, "serial": "SN-0002"})
    return Kept(world, old, recent)


def _listed(world: World) -> dict[str, RecordState]:
    with world.database.sessions() as session:
        return {found.ref: found for found in retention.states(session, world.definition,
                                                               TODAY)}


def _act(world: World, action: str, kind: str, ref: str, role: str = "quality_manager",
         reason: str = "保存期满，经质量管理部评审。", password: str | None = PASSWORD
         ) -> RecordState:
    return retention.act(world.service, action, kind, ref, world.user(role), reason,
                         password=password if action == "dispose" else None)


def _verify(world: World) -> str:
    world.service.seal_audit()
    code, output = Cli(world.database.url)("audit", "verify")
    assert code == 0, output
    return output


def test_records_past_retention_are_listed_with_their_rule_and_the_day_it_ended(
        kept: Kept) -> None:
    listed = _listed(kept.world)
    assert set(listed) == {kept.old, "SN-0001"}
    request = listed[kept.old]
    assert request.kind == "case" and request.owner == "service_request"
    assert request.kept_until == date(2024, 6, 3)
    assert "installed_device.product.service_life_years unknown" in request.how
    device = listed["SN-0001"]
    assert device.kind == "installed_device" and device.kept_until == date(2020, 1, 15)
    assert "service_life_years 8 years" in device.how
    assert request.disposable and not request.held


def test_disposal_needs_a_signature_and_a_wrong_password_changes_nothing(kept: Kept) -> None:
    with pytest.raises(RetentionRefused) as unsigned:
        _act(kept.world, "dispose", "case", kept.old, password=None)
    with pytest.raises(users.AuthenticationFailed):
        _act(kept.world, "dispose", "case", kept.old, password="not my password")
    assert unsigned.value.code == "signature"
    assert "electronic signature" in str(unsigned.value)
    assert _listed(kept.world)[kept.old].disposed is False


def test_a_record_not_past_retention_is_not_disposed_of(kept: Kept) -> None:
    with pytest.raises(RetentionRefused) as recent:
        _act(kept.world, "dispose", "case", kept.recent)
    with pytest.raises(RetentionRefused) as device:
        _act(kept.world, "dispose", "installed_device", "SN-0002")
    assert recent.value.code == "not_past"
    assert "kept until 2031-02-25" in str(recent.value)
    assert device.value.code == "not_past"


def test_only_a_role_the_rule_names_may_hold_or_dispose_and_always_with_a_reason(
        kept: Kept) -> None:
    with pytest.raises(RetentionRefused) as engineer:
        _act(kept.world, "dispose", "case", kept.old, role="engineer")
    with pytest.raises(RetentionRefused) as no_reason:
        _act(kept.world, "hold", "case", kept.old, reason="  ")
    assert engineer.value.code == "role"
    assert "needs one of the roles quality_manager" in str(engineer.value)
    assert no_reason.value.code == "reason"


def test_a_record_may_be_held_before_its_retention_ends_and_is_kept_held_after_it(
        kept: Kept) -> None:
    held = _act(kept.world, "hold", "installed_device", "SN-0002", reason="召回调查")
    assert held.held and held.kept_until == date(2036, 1, 15)
    with pytest.raises(RetentionRefused) as twice:
        _act(kept.world, "hold", "installed_device", "SN-0002")
    assert twice.value.code == "already_held" and "召回调查" in str(twice.value)
    with kept.world.database.sessions() as session:
        later = retention.state(session, kept.world.definition, "installed_device", "SN-0002",
                                date(2040, 1, 1))
    assert later.past(date(2040, 1, 1)) and later.held and not later.disposable


def test_a_held_record_is_listed_as_held_and_disposed_of_only_after_its_release(
        kept: Kept) -> None:
    held = _act(kept.world, "hold", "case", kept.old, reason="产品责任诉讼，法务要求保全。")
    assert held.held and not held.disposable
    assert _listed(kept.world)[kept.old].hold_reason == "产品责任诉讼，法务要求保全。"
    with pytest.raises(RetentionRefused) as refused:
        _act(kept.world, "dispose", "case", kept.old)
    assert refused.value.code == "held"
    assert "release the hold first" in str(refused.value)
    released = _act(kept.world, "release", "case", kept.old, reason="诉讼已结案。")
    assert not released.held
    disposed = _act(kept.world, "dispose", "case", kept.old)
    assert disposed.disposed
    _verify(kept.world)


def test_a_disposed_case_keeps_its_trail_loses_its_values_and_verifies_clean(
        kept: Kept) -> None:
    _act(kept.world, "dispose", "case", kept.old)
    with kept.world.database.sessions() as session:
        row = session.execute(select(CaseRow).where(CaseRow.number == kept.old)).scalar_one()
        assert row.values == {}
        assert row.voided_at is not None
        signatures = session.execute(select(SignatureRow.signed_values).where(
            SignatureRow.case_id == row.id)).scalars().all()
        assert signatures and all(values == {} for values in signatures)
        last = session.execute(select(AuditEvent).where(AuditEvent.case_id == row.id)
                               .order_by(AuditEvent.case_seq.desc()).limit(1)).scalar_one()
    assert (last.action, last.meaning, last.actor_id) == (
        "disposed", "disposed", kept.world.user("quality_manager"))
    assert last.reason == "保存期满，经质量管理部评审。"
    assert last.data["kept_until"] == "2024-06-03"
    with pytest.raises(RetentionRefused) as again:
        _act(kept.world, "dispose", "case", kept.old)
    assert again.value.code == "disposed"
    _verify(kept.world)


def test_a_disposed_device_file_loses_its_values_and_verifies_clean(kept: Kept) -> None:
    _act(kept.world, "dispose", "installed_device", "SN-0001")
    with kept.world.database.sessions() as session:
        row = session.execute(select(RegisterEntryRow).where(
            RegisterEntryRow.key == "SN-0001")).scalar_one()
    assert (row.values, row.title, row.search_text) == ({}, None, "")
    assert _listed(kept.world)["SN-0001"].disposed
    _verify(kept.world)


def _disposed_scene(kept: Kept) -> None:
    _act(kept.world, "dispose", "case", kept.old)
    _act(kept.world, "dispose", "installed_device", "SN-0001")
    kept.world.service.seal_audit()


def _values_back(kept: Kept, session: Session) -> str:
    row = session.execute(select(CaseRow).where(CaseRow.number == kept.old)).scalar_one()
    row.values = {"customer_org": "市第一人民医院"}
    return f"case {kept.old}: value 'customer_org'"


def _signed_values_back(kept: Kept, session: Session) -> str:
    row = session.execute(select(CaseRow).where(CaseRow.number == kept.old)).scalar_one()
    signature = session.execute(select(SignatureRow).where(
        SignatureRow.case_id == row.id)).scalars().first()
    assert signature is not None
    signature.signed_values = {"service_type": "free"}
    return "the values it covers are not the case's values when it was signed"


def _entry_values_back(kept: Kept, session: Session) -> str:
    row = session.execute(select(RegisterEntryRow).where(
        RegisterEntryRow.key == "SN-0001")).scalar_one()
    row.values = {"serial": "SN-0001"}
    return "register entry installed_device 'SN-0001': value 'serial'"


def _erased_without_disposal(kept: Kept, session: Session) -> str:
    row = session.execute(select(CaseRow).where(CaseRow.number == kept.recent)).scalar_one()
    row.values, row.voided_at, row.void_reason = {}, row.updated_at, "disposed"
    return f"case {kept.recent}: value"


def _forged_disposal_entry(kept: Kept, session: Session) -> str:
    # Someone with database access but not the audit key writes the disposal qmsflow would:
    # a 'disposed' entry chained to the device's trail, and erases its values.
    row = session.execute(select(RegisterEntryRow).where(
        RegisterEntryRow.key == "SN-0002")).scalar_one()
    about = {"register": "installed_device", "key": "SN-0002"}
    batch = audit.chain(session, [audit.Entry(
        "disposed", "register_entry", datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        "quality.manager.user", "Quality_Manager User", field="disposed", old=False, new=True,
        reason="forged", meaning="disposed", data=about)],
        audit.CaseChain(None, row.audit_count, row.audit_hash))
    for written in batch.rows:
        written["key_id"], written["hash"] = None, audit.entry_hash({**written, "key_id": None})
    audit.write(session, batch, register_entry_id=row.id)
    row.values, row.title, row.search_text = {}, None, ""
    row.audit_count += 1
    row.audit_hash = batch.rows[-1]["hash"]
    return "it has no audit key"


@pytest.mark.slow
@pytest.mark.parametrize("tamper", [_values_back, _signed_values_back, _entry_values_back,
                                    _erased_without_disposal, _forged_disposal_entry],
                         ids=lambda tamper: tamper.__name__.strip("_"))
def test_retention_tampering_around_a_disposal_is_found_by_audit_verify(
        kept: Kept, tamper: Callable[[Kept, Session], str]) -> None:
    _disposed_scene(kept)
    unguard(kept.world.database, "audit_events", "audit_seals")
    named: list[str] = []
    with kept.world.database.sessions.begin() as session:
        named.append(tamper(kept, session))
    code, output = Cli(kept.world.database.url)("audit", "verify")
    assert code == 1, output
    assert named[0] in output, output


@pytest.mark.slow
def test_the_command_lists_holds_and_disposes_with_a_password(kept: Kept) -> None:
    cli = Cli(kept.world.database.url)
    code, listed = cli("retention", "list", "--format", "json")
    assert code == 0, listed
    found = {item["ref"]: item for item in json.loads(listed)}
    assert found[kept.old]["kept_until"] == "2024-06-03"
    assert found[kept.old]["status"] == "disposable"
    assert found["SN-0001"]["of"] == "installed_device"
    manager = kept.world.user("quality_manager")
    code, output = cli("retention", "hold", "case", kept.old, "--by", manager,
                       "--reason", "诉讼保全")
    assert code == 0, output
    code, output = cli("retention", "list")
    assert f"case {kept.old} (service_request): kept until 2024-06-03, held: 诉讼保全" in output
    code, output = cli("retention", "dispose", "case", kept.old, "--by", manager,
                       "--reason", "保存期满", "--password-stdin", input=PASSWORD + "\n")
    assert code == 1
    assert "under legal hold (诉讼保全): release the hold first" in output
    code, output = cli("retention", "dispose", "installed_device", "SN-0001", "--by", manager,
                       "--reason", "保存期满", "--password-stdin", input="wrong\n")
    assert code == 1 and "password" in output.lower(), output
    code, output = cli("retention", "dispose", "installed_device", "SN-0001", "--by", manager,
                       "--reason", "保存期满", input=PASSWORD + "\n")
    assert code == 0, output
    assert "disposed of (kept until 2020-01-15)" in output
    code, output = cli("retention", "list", "--on", "2019-01-01")
    assert code == 0 and "no record is past retention on 2019-01-01" in output
    code, output = cli("retention", "dispose", "lorry", "X", "--by", manager, "--reason", "x",
                       "--password-stdin", input=PASSWORD + "\n")
    assert code == 1 and "'lorry' is neither 'case' nor a register" in output
    _verify(kept.world)


def test_nothing_is_added_to_a_disposed_record(kept: Kept) -> None:
    _act(kept.world, "dispose", "case", kept.old)
    _act(kept.world, "dispose", "installed_device", "SN-0001")
    with pytest.raises(Refused) as comment:
        kept.world.service.comment(kept.old, kept.world.user("quality_manager"), "补充说明")
    with kept.world.database.sessions.begin() as session, pytest.raises(
            registers.EntryConflict) as edit:
        registers.update(session, kept.world.definition, "installed_device", "SN-0001",
                         {"contract_no": "HT-9"}, 2, kept.world.clock(), audit.SYSTEM)
    assert "disposed of" in str(comment.value)
    assert "disposed of at the end of its retention" in str(edit.value)
    _verify(kept.world)
