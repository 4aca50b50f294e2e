"""Architecture rules: the engine stays pure and no company-specific word lives in code."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from qmsflow.engine.loader import load

from .conftest import DEFAULT_SET, ROOT

FORBIDDEN = {
    "engine": ("flask", "wtforms", "click", "qmsflow.forms", "qmsflow.web", "requests",
               "socket", "subprocess"),
    "forms": ("flask", "qmsflow.web"),
}


def imports(folder: Path) -> Iterator[tuple[Path, str]]:
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from ((path, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_never_imports_what_sits_above_it(layer: str) -> None:
    bad = [(path.name, name) for path, name in imports(ROOT / layer)
           if name.split(".")[0] in FORBIDDEN[layer] or name.startswith(FORBIDDEN[layer])]
    assert bad == []


@pytest.mark.parametrize("library", ["sqlalchemy", "alembic", "psycopg"])
def test_only_the_persistence_package_may_import_database_libraries(library: str) -> None:
    bad = [str(path.relative_to(ROOT)) for folder in ("engine", "forms", "web")
           for path, name in imports(ROOT / folder)
           if name.split(".")[0] == library and "persistence" not in path.parts]
    assert bad == []


def test_no_identifier_of_the_bundled_definitions_appears_in_python_code() -> None:
    definition = load(DEFAULT_SET)
    ids = set(definition.organisation.roles) | set(definition.processes)
    for process in definition.processes.values():
        ids |= set(process.states) | set(process.transitions) | set(process.categories)
        ids |= set(process.clocks) | set(process.starts)
    strings = {
        (path.relative_to(ROOT), node.value)
        for folder in ("engine", "forms", "web")
        for path in (ROOT / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    leaks = sorted((str(path), value) for path, value in strings if value in ids)
    assert leaks == []
