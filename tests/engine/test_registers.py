"""Registers: records that are not cases, declared in YAML with the fields of a case."""

from __future__ import annotations

from pathlib import Path

import pytest

from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.values import ValueProblem, coerce

DEFAULT = Path(__file__).parents[2] / "definitions" / "default"


@pytest.fixture(scope="module")
def definitions() -> DefinitionSet:
    return load(DEFAULT)


def test_the_bundled_set_declares_the_after_sales_registers(definitions: DefinitionSet) -> None:
    assert set(definitions.registers) == {
        "customer", "product", "installed_device", "spare_part", "loaner"}
    product = definitions.registers["product"]
    assert {"model", "name", "registration_no", "udi_di", "risk_class", "life_support"} <= set(
        product.fields)
    assert product.fields["registration_no"].label["zh-CN"] == "注册证号"


def test_every_register_and_field_has_a_label_in_each_locale(definitions: DefinitionSet) -> None:
    for register in definitions.registers.values():
        assert set(register.label) >= {"zh-CN", "en"}, register.id
        for spec in register.fields.values():
            assert set(spec.label) >= {"zh-CN", "en"}, (register.id, spec.id)


def test_a_device_refers_to_its_product_and_its_customer(definitions: DefinitionSet) -> None:
    device = definitions.registers["installed_device"]
    assert device.key == "serial"
    assert device.references() == {"product": "product", "customer": "customer"}


def test_the_key_is_always_required_and_always_searched(definitions: DefinitionSet) -> None:
    customer = definitions.registers["customer"]
    assert customer.fields["customer_no"].required is True
    assert customer.search[0] == "customer_no"
    assert customer.columns[0] == "customer_no"


def test_readers_and_editors_come_from_the_definition(definitions: DefinitionSet) -> None:
    loaner = definitions.registers["loaner"]
    assert loaner.may_read(["engineer"]) and not loaner.may_edit(["engineer"])
    assert loaner.may_edit(["service_desk"]) and loaner.may_read(["service_desk"])
    assert not loaner.may_read(["finance"])


def test_register_values_are_checked_like_case_values(definitions: DefinitionSet) -> None:
    device = definitions.registers["installed_device"]
    with pytest.raises(ValueProblem) as bad_serial:
        coerce(device.fields["serial"], "SN 001")
    with pytest.raises(ValueProblem) as bad_date:
        coerce(device.fields["acceptance_date"], "2026-02-30")
    assert bad_serial.value.facts["rule"] == "pattern"
    assert bad_date.value.facts["rule"] == "date"
    assert coerce(device.fields["product"], " M-200 ") == "M-200"
