"""The Chinese catalog: every UI string translated, and the compiled file in step with it."""

from __future__ import annotations

from string import Formatter

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from ..conftest import ROOT

CATALOG = ROOT / "web" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]


def _ui_strings() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for folder in ("web", "forms"):
        for _file, _line, message, _comments, _context in extract_from_dir(
                ROOT / folder, METHODS):
            found.add(message)
    return found


def test_every_string_of_the_screens_has_a_chinese_translation() -> None:
    with (CATALOG / "messages.po").open("rb") as source:
        catalog = read_po(source)
    translated = {m.id for m in catalog if m.id and m.string and all(m.string if isinstance(
        m.string, tuple) else [m.string])}
    missing = sorted(str(m) for m in _ui_strings() - translated)
    assert missing == [], "run 'make translations' and translate these in messages.po"


def _frozen(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def test_the_compiled_catalog_says_what_its_source_says() -> None:
    def pairs(messages: Catalog) -> dict[object, object]:
        return {_frozen(m.id): _frozen(m.string) for m in messages if m.id}

    with (CATALOG / "messages.po").open("rb") as source:
        wanted = pairs(read_po(source))
    with (CATALOG / "messages.mo").open("rb") as compiled:
        found = pairs(read_mo(compiled))
    assert found == wanted, "run 'make translations' to compile messages.po"


def _engine_templates() -> set[str]:
    """The templates the engine words definition problems with (marked with ``phrase``)."""
    return {message for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "engine", [("**.py", "python")], keywords={"phrase": None})
        if isinstance(message, str)}


def _fields(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conversion in Formatter().parse(text)
            if name is not None}


def test_every_definition_problem_the_engine_words_has_a_chinese_translation() -> None:
    with (CATALOG / "messages.po").open("rb") as source:
        catalog = read_po(source)
    templates = _engine_templates()
    assert "unknown {what} '{name}'" in templates and "state" in templates
    missing = sorted(t for t in templates if not (catalog.get(t) and catalog.get(t).string))
    assert missing == [], "run 'make translations' and translate these in messages.po"
    # A translation may leave a parameter out ('an' has no Chinese), never invent one.
    invented = sorted(t for t in templates if not _fields(catalog[t].string) <= _fields(t))
    assert invented == []
