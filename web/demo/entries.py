"""Demo register entries: a few customers, products, devices, loaners and parts from a data
file beside the definitions (``demo-data/<set id>.yaml``), so the register pages and the fields
that refer to them are not empty in a demo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import registers
from qmsflow.engine.registers import EntryInvalid

from ..runtime import Runtime
from .people import DEMO_BY


def entries_file(definitions: Path, set_id: str) -> Path | None:
    """The demo entries of the set ``set_id``: ``demo-data/<set id>.yaml`` in a folder above
    the set's (the repository keeps them in ``definitions/demo-data/``), or None."""
    for parent in definitions.resolve().parents:
        candidate = parent / "demo-data" / f"{set_id}.yaml"
        if candidate.is_file():
            return candidate
    return None


def read_entries(path: Path, definition: DefinitionSet) -> list[tuple[str, dict[str, Any]]]:
    """(register id, entry values) from the file, in its order; a register the set does not
    declare is left out (a data file may serve a set that dropped one)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    listed = data.get("registers") or {} if isinstance(data, dict) else {}
    return [(register_id, dict(values)) for register_id, items in listed.items()
            if register_id in definition.registers for values in items or []
            if isinstance(values, dict)]


def add_entries(runtime: Runtime, definition: DefinitionSet, at: datetime,
                say: Callable[[str], None]) -> int:
    """Add the set's demo entries to the registers; how many. An entry that does not fit its
    register is skipped and said, never half stored."""
    path = entries_file(runtime.definitions_path, definition.id)
    if path is None:
        return 0
    added = 0
    for register_id, values in read_entries(path, definition):
        try:
            with runtime.sessions.begin() as session:
                registers.create(session, definition, register_id, values, at, DEMO_BY,
                                 "demo")
            added += 1
        except EntryInvalid as invalid:
            say(f"skipped a demo entry of {register_id} ({path.name}): {invalid}")
    return added
