"""Registers to and from Excel workbooks (.xlsx, with openpyxl).

Export writes one sheet: a header row of the fields' labels in the reader's language, then one
row per entry. Import reads the first sheet of a workbook in the same shape (a header may be a
field's id or its label in any locale): a row whose key the register holds changes that entry,
any other row registers a new one; empty rows are skipped. Every row is checked as the form
checks an entry, and each problem is located ("row 7, column 'Serial number': ..."): when any
row is bad, :class:`SheetRefused` lists them all and nothing is imported (the caller's
transaction is rolled back).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from ..model import DefinitionSet, Register, text
from ..problems import did_you_mean
from ..registers import EntryInvalid
from ..values import display
from . import registers
from .audit import SYSTEM, By

#: Most rows one import takes (a register is kept by hand, not bulk-loaded).
MAX_ROWS = 10_000


class SheetRefused(QmsflowError, ValueError):
    """A workbook that cannot be imported: ``problems`` lists each bad row and column."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:50]
        more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"nothing was imported: {len(problems)} problem(s)\n"
                         + "\n".join(shown) + more)


def export(session: Session, definition: DefinitionSet, register_id: str,
           locale: str) -> bytes:
    """Every entry of the register as an .xlsx workbook, headers in ``locale``."""
    register = registers.register_of(definition, register_id)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has its one sheet
    sheet.title = text(register.label, locale)[:31] or register.id
    names = [name for name, spec in register.fields.items() if spec.type != "file"]
    sheet.append([text(register.fields[name].label, locale) or name for name in names])
    offset = 0
    while True:
        found = registers.search(session, definition, register.id, "", registers.PAGE_MAX,
                                 offset)
        for entry in found.entries:
            sheet.append([_cell(register, name, entry.values.get(name), locale)
                          for name in names])
        offset += len(found.entries)
        if not found.entries or offset >= found.total:
            break
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(register: Register, name: str, value: Any, locale: str) -> Any:
    """A value as a spreadsheet holds it: dates as dates, numbers as numbers, choices and
    yes/no by their id (what import reads back), text as text."""
    spec = register.fields[name]
    if value is None:
        return None
    if spec.type == "multi_choice":
        return ", ".join(value)
    if spec.type == "yes_no":
        return display(spec, value, "en")  # yes / no: read back in any language
    if spec.type == "datetime" and isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if spec.type != "money" else str(value)
    return value


@dataclass(frozen=True)
class Imported:
    """What an import did: entries registered and entries changed."""

    created: int
    changed: int


def _columns(register: Register, header: list[Any]) -> tuple[dict[int, str], list[str]]:
    """Column index to field id, from the header's ids or labels; problems for the rest."""
    by_name: dict[str, str] = {}
    for name, spec in register.fields.items():
        by_name[name.casefold()] = name
        for label in spec.label.values():
            by_name[label.strip().casefold()] = name
    columns: dict[int, str] = {}
    problems = []
    for index, title in enumerate(header):
        if title is None or not str(title).strip():
            continue
        found = by_name.get(str(title).strip().casefold())
        if found is None:
            hint = did_you_mean(str(title).strip(), [*register.fields, *(
                label for spec in register.fields.values() for label in spec.label.values())])
            problems.append(f"row 1, column '{title}': not a field of this register"
                            + (f" ({hint})" if hint else ""))
        elif found in columns.values():
            problems.append(f"row 1, column '{title}': a second column for the same field")
        else:
            columns[index] = found
    if register.key not in columns.values():
        problems.append(f"row 1: no column for the key '{register.key}'")
    return columns, problems


def _raw(value: Any) -> Any:
    """A cell's value as engine input (dates as ISO text, whole floats as whole numbers)."""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else (
            value.isoformat())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return int(value) if value.is_integer() else Decimal(str(value))
    if isinstance(value, int | bool):
        return value
    return None if value is None else str(value)


def import_sheet(session: Session, definition: DefinitionSet, register_id: str, data: bytes,
                 now: datetime, by: By = SYSTEM, client: str | None = None) -> Imported:
    """Import the first sheet of the .xlsx ``data`` into the register (see the module's
    docstring); SheetRefused lists every bad row, and the caller rolls back."""
    register = registers.register_of(definition, register_id)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise SheetRefused([f"the file is not an Excel workbook (.xlsx): {error}"]) from None
    sheet = book.worksheets[0] if book.worksheets else None
    rows = list(sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 1)) if sheet else []
    if not rows:
        raise SheetRefused(["row 1: the sheet is empty: its first row names the columns"])
    header = list(rows[0])
    columns, problems = _columns(register, header)
    if problems:
        raise SheetRefused(problems)
    titles = {name: str(header[index]).strip() for index, name in columns.items()}
    created = changed = 0
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        raw = {name: _raw(row[index]) for index, name in columns.items() if index < len(row)}
        if all(value is None or value == "" for value in raw.values()):
            continue
        key = raw.get(register.key)
        key = key.strip() if isinstance(key, str) else key
        if key in seen:
            problems.append(f"row {number}, column '{titles[register.key]}': '{key}' is "
                            f"already in row {seen[key]}")
            continue
        if isinstance(key, str) and key:
            seen[key] = number
        try:
            with session.begin_nested():
                done = _one(session, definition, register, raw, key, now, by, client)
        except EntryInvalid as invalid:
            problems += _located(number, invalid.problems, titles)
            continue
        created, changed = created + (done == "created"), changed + (done == "changed")
    if problems:
        raise SheetRefused(problems)
    return Imported(created, changed)


def _one(session: Session, definition: DefinitionSet, register: Register,
         raw: Mapping[str, Any], key: Any, now: datetime, by: By, client: str | None) -> str:
    if isinstance(key, str):
        try:
            held = registers.get(session, definition, register.id, key)
        except registers.EntryNotFound:
            pass
        else:
            after = registers.update(session, definition, register.id, key, raw,
                                     held.row_version, now, by, "import", client)
            return "changed" if after.row_version != held.row_version else "same"
    registers.create(session, definition, register.id, raw, now, by, client)
    return "created"


def _located(number: int, problems: Mapping[str, str], titles: Mapping[str, str]
             ) -> list[str]:
    return [f"row {number}, column '{titles.get(name, name)}': {message}"
            for name, message in problems.items()]
