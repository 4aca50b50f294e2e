"""Electronic signatures stay bound to what was signed (21 CFR 11.70)."""

from __future__ import annotations

from qmsflow.engine.persistence import signatures

from .conftest import World, open_complaint

CLASSIFY = {"category": "malfunction"}


def _classified(world: World, batch: str) -> str:
    number = open_complaint(world).number
    world.service.apply_step(number, "confirm_complaint", world.user("quality"),
                               {"is_complaint": True, "screening_rationale": "设备故障"})
    world.service.apply_step(number, "classify", world.user("quality"),
                               {**CLASSIFY, "batch_number": batch})
    return number


def test_filling_in_new_fields_leaves_a_signature_valid(world: World) -> None:
    number = _classified(world, "B2026-02-031")  # the batch number the intake signed
    [signed] = world.service.read_case(number).signatures
    assert signed.invalidated_at is None


def test_changing_a_signed_value_marks_the_signature_no_longer_valid(world: World) -> None:
    number = _classified(world, "B2026-02-099")
    history = world.service.read_case(number)
    [signed] = history.signatures
    assert signed.invalidated_at == world.clock()
    assert signed.invalidated_by == "batch_number changed by Quality User"
    entry = next(e for e in history.events if e.action == "signature_invalidated")
    assert (entry.field, entry.meaning) == ("register", "authored")
    assert entry.data["changed"] == ["batch_number"]


def test_a_signature_records_the_hash_of_the_case_version_it_signed(world: World) -> None:
    case = open_complaint(world)
    history = world.service.read_case(case.number)
    [signed] = history.signatures
    assert signed.row_version == case.row_version
    assert signed.record_hash == signatures.record_hash(history.definition, case)
    assert signed.signed_values["batch_number"] == "B2026-02-031"
