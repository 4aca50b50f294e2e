"""Architecture rules: the core stays pure, each layer imports only what sits below it, callers
use persistence through its public surface, and no company-specific word lives in code.

The rules read every import statement of a folder, absolute and relative alike: ``from
..persistence import store`` in ``engine/machine.py`` is ``qmsflow.engine.persistence.store``,
the same as if it were spelled out. Imports inside functions and ``TYPE_CHECKING`` blocks count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.util import resolve_name
from pathlib import Path
from typing import get_args

import pytest

from qmsflow.engine import persistence
from qmsflow.engine.loader import load
from qmsflow.engine.model import FieldType
from qmsflow.engine.sources import KINDS

from .conftest import DEFAULT_SET, ROOT

PERSISTENCE = "qmsflow.engine.persistence"
DATABASE = ("sqlalchemy", "alembic", "psycopg")
OUTSIDE_WORLD = ("requests", "socket", "subprocess")  # the core does no IO besides its files
CORE_FORBIDDEN = (PERSISTENCE, *DATABASE, "flask", "wtforms", "click", "qmsflow.forms",
                  "qmsflow.web", "qmsflow.cli", *OUTSIDE_WORLD)
FORMS_FORBIDDEN = ("flask", "qmsflow.web", "qmsflow.cli", PERSISTENCE)


@dataclass(frozen=True)
class Imported:
    """One import statement of a file: the absolute module it names and the names it takes
    from that module (none for ``import module``)."""

    path: Path
    module: str
    names: tuple[str, ...] = ()

    @property
    def targets(self) -> frozenset[str]:
        """Every module the statement may load: the module, and each name taken from it when
        that name is a submodule (``from qmsflow import web`` loads ``qmsflow.web``)."""
        return frozenset({self.module, *(f"{self.module}.{name}" for name in self.names)})

    def reached(self, forbidden: Iterable[str]) -> str | None:
        """The first module of ``forbidden`` (or inside one) the statement loads, if any."""
        names = tuple(forbidden)
        hits = [target for target in self.targets
                if any(target == name or target.startswith(name + ".") for name in names)]
        return min(hits, key=len, default=None)


def module_name(path: Path) -> str:
    """The name a file is imported as: ``engine/x.py`` is ``qmsflow.engine.x`` (``qmsflow/``
    links ``engine``, ``forms`` and ``web`` into the package), ``qmsflow/cli/x.py`` is
    ``qmsflow.cli.x``, a package's ``__init__.py`` the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] != "qmsflow":
        parts.insert(0, "qmsflow")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(source: str, path: Path) -> Iterator[Imported]:
    """The import statements of ``source``, the text of the file at ``path``, with relative
    ones resolved against the file's package."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (Imported(path, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = resolve_name("." * node.level + (node.module or ""), package)
            yield Imported(path, module, tuple(alias.name for alias in node.names))


def imports(*folders: str, skip: str | None = None) -> Iterator[Imported]:
    """Every import statement of the Python files under ``folders`` (files or folders, relative
    to the repository), except under ``skip``."""
    for folder in folders:
        start = ROOT / folder
        for path in sorted([start] if start.is_file() else start.rglob("*.py")):
            if skip is None or not path.is_relative_to(ROOT / skip):
                yield from imports_in(path.read_text(encoding="utf-8"), path)


def violations(found: Iterable[Imported], forbidden: Iterable[str]) -> list[tuple[str, str]]:
    """(file, module) for each statement that loads one of ``forbidden``."""
    names = tuple(forbidden)
    return sorted((str(i.path.relative_to(ROOT)), hit) for i in found
                  if (hit := i.reached(names)) is not None)


# -- the walker ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("file", "source", "expected"), [
    ("engine/machine.py", "from .errors import QmsflowError", "qmsflow.engine.errors"),
    ("engine/machine.py", "from . import errors", "qmsflow.engine.errors"),
    ("engine/persistence/service.py", "from .. import machine", "qmsflow.engine.machine"),
    ("engine/persistence/service.py", "from ..cases import Case", "qmsflow.engine.cases"),
    ("engine/persistence/__init__.py", "from .audit import By", "qmsflow.engine.persistence.audit"),
    ("engine/calendar.py", "from .persistence import store", "qmsflow.engine.persistence.store"),
    ("forms/build.py", "from ..engine.persistence import models",
     "qmsflow.engine.persistence.models"),
    ("web/cases/views.py", "from ..i18n import label", "qmsflow.web.i18n"),
    ("qmsflow/cli/users.py", "from .common import runtime", "qmsflow.cli.common"),
    ("qmsflow/settings.py", "from .web import app", "qmsflow.web.app"),
    ("engine/machine.py", "import qmsflow.engine.errors as errors", "qmsflow.engine.errors"),
])
def test_the_import_walker_resolves_relative_imports_against_the_files_package(
        file: str, source: str, expected: str) -> None:
    (found,) = imports_in(source, ROOT / file)
    assert expected in found.targets


def test_the_walker_finds_the_core_machines_relative_import_of_its_errors() -> None:
    assert "qmsflow.engine.errors" in {i.module for i in imports("engine/machine.py")}


def test_a_relative_import_of_persistence_in_the_core_is_a_violation() -> None:
    sneaky = imports_in("from . import persistence\nfrom .persistence.store import to_case\n",
                        ROOT / "engine" / "calendar.py")
    assert violations(sneaky, CORE_FORBIDDEN) == [
        ("engine/calendar.py", "qmsflow.engine.persistence"),
        ("engine/calendar.py", "qmsflow.engine.persistence.store")]


# -- the rules ----------------------------------------------------------------------------------

def test_the_core_imports_neither_persistence_nor_database_web_or_command_line_libraries(
        ) -> None:
    assert violations(imports("engine", skip="engine/persistence"), CORE_FORBIDDEN) == []


def test_forms_import_neither_flask_the_web_the_command_line_nor_persistence() -> None:
    assert violations(imports("forms"), FORMS_FORBIDDEN) == []


def test_the_web_application_does_not_import_the_command_line() -> None:
    assert violations(imports("web"), ("qmsflow.cli",)) == []


def test_the_settings_loader_imports_neither_flask_nor_sqlalchemy() -> None:
    assert violations(imports("qmsflow/settings.py"), ("flask", "sqlalchemy")) == []


def test_only_the_persistence_package_imports_the_database_libraries() -> None:
    found = imports("engine", "forms", "web", "qmsflow/cli", "qmsflow/settings.py",
                    skip="engine/persistence")
    assert violations(found, DATABASE) == []


def test_the_tables_and_the_case_store_are_not_part_of_the_public_surface() -> None:
    public = set(persistence.__all__)
    assert all(hasattr(persistence, name) for name in public)
    assert not public & {"models", "store", "service", "db", "inbox", "records", "signatures",
                         "report_sql", "User", "CaseRow", "AuditEvent", "to_case"}


def test_the_web_and_the_command_line_use_persistence_through_its_public_names_only() -> None:
    public = set(persistence.__all__)
    bad = [(str(i.path.relative_to(ROOT)), i.module, name)
           for i in imports("web", "qmsflow/cli") if i.reached([PERSISTENCE])
           for name in (i.names or ("(the module)",))
           if i.module != PERSISTENCE or name not in public]
    assert bad == []


# -- words of the bundled definitions -----------------------------------------------------------

def test_no_identifier_of_the_bundled_definitions_appears_in_python_code() -> None:
    definition = load(DEFAULT_SET)
    ids = set(definition.organisation.roles) | set(definition.processes)
    for process in definition.processes.values():
        ids |= set(process.states) | set(process.steps) | set(process.categories)
        ids |= set(process.clocks) | set(process.starts)
    strings = {
        (path.relative_to(ROOT), node.value)
        for folder in ("engine", "forms", "web", "qmsflow/cli")
        for path in (ROOT / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    # Words of the definition language itself (a file's kind, a field's type) are the code's to
    # name, even where a definition happens to use the same word as an id (the start step
    # 'register' and the kind 'register').
    ids -= set(KINDS) | set(get_args(FieldType))
    leaks = sorted((str(path), value) for path, value in strings if value in ids)
    assert leaks == []


# -- one word per concept -----------------------------------------------------------------------

# Names the code once used for a concept it now calls by one word: a step is a step (never an
# action or a transition), a customer survey a survey (never feedback). The YAML key
# 'transitions', the stored audit kind 'transition' and the /feedback/ URLs are data and stay.
RETIRED_WORDS = {"Transition": "Step", "transitions": "steps", "apply_action": "apply_step",
                 "feedback": "surveys"}


def test_the_code_calls_each_concept_by_one_word() -> None:
    found = sorted(
        (str(path.relative_to(ROOT)), name)
        for folder in ("engine", "forms", "web", "qmsflow/cli")
        for path in (ROOT / folder).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for name in _defined_names(node)
        if name in RETIRED_WORDS)
    folders = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "web").rglob("*")
                     if path.is_dir() and path.name in RETIRED_WORDS)
    assert (found, folders) == ([], [])


def _defined_names(node: ast.AST) -> Iterator[str]:
    """The names a node gives to a class, a function, an attribute or a dataclass field."""
    if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        yield node.name
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        yield node.target.id
    elif isinstance(node, ast.keyword) and node.arg:
        yield node.arg
