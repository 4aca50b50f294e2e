"""Registers to and from Excel: an export reads back as the same entries, and an import with
any bad row names each one and imports nothing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from qmsflow.engine.persistence import register_sheets, registers

from .conftest import World
from .test_cli import Cli
from .test_registers import register_device


def _book(*rows: list[Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _import(world: World, register: str, data: bytes) -> register_sheets.Imported:
    with world.database.sessions.begin() as session:
        return register_sheets.import_sheet(session, world.definition, register, data,
                                            world.clock())


def _count(world: World, register: str) -> int:
    with world.database.sessions() as session:
        return registers.search(session, world.definition, register).total


def test_an_export_has_the_labels_as_headers_and_one_row_per_entry(world: World) -> None:
    register_device(world)
    with world.database.sessions() as session:
        data = register_sheets.export(session, world.definition, "installed_device", "zh-CN")
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("序列号", "产品型号", "客户")
    assert rows[1][:3] == ("SN-0001", "MX-200", "C-0001")
    assert len(rows) == 2


def test_an_exported_register_imports_back_as_changes_of_the_same_entries(
        world: World) -> None:
    register_device(world)
    with world.database.sessions() as session:
        data = register_sheets.export(session, world.definition, "product", "en")
    done = _import(world, "product", data)
    assert (done.created, done.changed) == (0, 0)  # nothing differs, nothing is written
    assert _count(world, "product") == 1


def test_an_import_registers_new_entries_by_label_or_id_headers(world: World) -> None:
    done = _import(world, "product", _book(
        ["Model", "产品名称", "risk_class", "Life-support device"],
        ["MX-300", "输液泵", "class_3", "yes"],
        [None, None, None, None],
        ["MX-400", "监护仪", "class_2", "no"]))
    assert (done.created, done.changed) == (2, 0)
    with world.database.sessions() as session:
        pump = registers.get(session, world.definition, "product", "MX-300")
    assert pump.values["life_support"] is True


def test_any_bad_row_is_named_by_row_and_column_and_nothing_is_imported(world: World) -> None:
    with pytest.raises(register_sheets.SheetRefused) as refused:
        _import(world, "product", _book(
            ["Model", "Product name", "Risk class"],
            ["MX-300", "输液泵", "class_3"],
            ["MX-301", "", "class_2"],
            ["MX-302", "监护仪", "class_7"],
            ["MX-300", "again", "class_1"]))
    problems = refused.value.problems
    assert problems[0] == "row 3, column 'Product name': this field is required"
    assert problems[1].startswith("row 4, column 'Risk class': 'class_7' is not one of")
    assert problems[2] == "row 5, column 'Model': 'MX-300' is already in row 2"
    assert _count(world, "product") == 0


def test_a_header_that_names_no_field_is_refused_with_the_closest_one(world: World) -> None:
    with pytest.raises(register_sheets.SheetRefused) as refused:
        _import(world, "product", _book(["Model", "Risk clas"], ["MX-1", "class_1"]))
    assert refused.value.problems == [
        "row 1, column 'Risk clas': not a field of this register (did you mean 'Risk class'?)"]


def test_a_file_that_is_no_workbook_is_refused_in_words(world: World) -> None:
    with pytest.raises(register_sheets.SheetRefused) as refused:
        _import(world, "product", b"serial,name\nSN-1,x\n")
    assert "not an Excel workbook" in str(refused.value)


def test_the_cli_exports_and_imports_and_exits_1_naming_each_bad_row(
        world: World, tmp_path: Path) -> None:
    register_device(world)
    cli = Cli(world.database.url)
    exported = tmp_path / "devices.xlsx"
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(_book(["serial", "product", "customer"], ["SN-9", "MX-999", "C-0001"]))
    code, output = cli("registers", "export", "installed_device", exported)
    again = cli("registers", "import", "installed_device", exported)
    refused = cli("registers", "import", "installed_device", bad)
    assert code == 0 and exported.stat().st_size > 0, output
    assert again == (0, "0 registered, 0 changed\n")
    assert refused[0] == 1
    assert "row 2, column 'product': 'MX-999' is not an entry of Products" in refused[1]
