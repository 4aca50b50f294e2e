"""The registers' API: list and search, read, create, change at the row version; the same
rules as the pages, and a document generated from the definitions."""

from __future__ import annotations

import jsonschema
import pytest
from flask.testing import FlaskClient

from ..persistence.conftest import World
from ..persistence.test_registers import CUSTOMER, DEVICE, PRODUCT
from .test_api import API, Api
from .test_registers import _seed

DEVICES = f"{API}/registers/installed_device/entries"


@pytest.fixture
def api(client: FlaskClient, world: World) -> Api:
    return Api(client, world)


def test_an_integration_registers_a_device_and_reads_it_back(api: Api, world: World) -> None:
    _seed(world)
    created = api.post(DEVICES, {"values": DEVICE}, "service_desk")
    read = api.get(created.headers["Location"], "engineer")
    found = api.get(DEVICES, "sales", q="sn-0001")
    assert created.status_code == 201, created.json
    assert read.json["values"]["acceptance_date"] == "2026-01-15"  # type: ignore[index]
    assert read.json["row_version"] == 1  # type: ignore[index]
    assert [e["key"] for e in found.json["entries"]] == ["SN-0001"]  # type: ignore[index]


def test_a_change_needs_the_version_read_and_a_stale_one_is_refused(api: Api,
                                                                     world: World) -> None:
    _seed(world, device=True)
    entry = f"{DEVICES}/SN-0001"
    changed = api.post(entry, {"values": {"contract_no": "HT-A"}, "expected_version": 1,
                               "reason": "补签合同"}, "engineer")
    stale = api.post(entry, {"values": {"contract_no": "HT-B"}, "expected_version": 1},
                     "engineer")
    missing = api.post(entry, {"values": {"contract_no": "HT-C"}}, "engineer")
    assert changed.status_code == 200 and changed.json["row_version"] == 2  # type: ignore[index]
    assert stale.status_code == 409
    assert missing.status_code == 400
    assert api.get(entry, "engineer").json["values"]["contract_no"] == "HT-A"  # type: ignore[index]


def test_bad_values_are_refused_one_error_per_field(api: Api, world: World) -> None:
    _seed(world)
    refused = api.post(DEVICES, {"values": {**DEVICE, "serial": "SN 1", "colour": "red",
                                            "product": "MX-999"}}, "service_desk")
    fields = {e["field"] for e in refused.json["errors"]}  # type: ignore[index]
    assert refused.status_code == 422
    assert fields == {"serial", "colour"}  # the reference is checked once the values fit


def test_readers_read_editors_change_and_others_find_nothing(api: Api, world: World) -> None:
    _seed(world, device=True)
    assert api.get(f"{DEVICES}/SN-0001", "sales").status_code == 200
    assert api.post(DEVICES, {"values": {**DEVICE, "serial": "SN-2"}}, "sales").status_code \
        == 403
    assert api.get(DEVICES, "gm").status_code == 404
    assert api.get(f"{DEVICES}/SN-0001", None).status_code == 401


def test_the_document_describes_each_register_and_its_values(api: Api, world: World) -> None:
    document = api.get(f"{API}/openapi.json", role=None).json
    paths = document["paths"]  # type: ignore[index]
    schemas = document["components"]["schemas"]  # type: ignore[index]
    for register in world.definition.registers:
        assert f"/registers/{register}/entries" in paths
        assert f"/registers/{register}/entries/{{key}}" in paths
    product = schemas["register.product.Input"]
    assert product["properties"]["risk_class"]["enum"][:3] == ["class_1", "class_2", "class_3"]
    validator = jsonschema.Draft202012Validator(
        {**product, "components": {"schemas": schemas}})
    assert validator.is_valid({**PRODUCT, "life_support": True})
    assert not validator.is_valid({**PRODUCT, "life_support": "maybe"})
    assert "customer" in schemas["register.installed_device.Input"]["properties"]
    assert CUSTOMER["customer_no"] == "C-0001"
