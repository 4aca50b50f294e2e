"""Definition problems for the browser: located, said in the user's language.

The engine words a problem in English (what ``qmsflow validate`` prints) and keeps the same
words as a template with named parameters (:class:`~qmsflow.engine.problems.Phrase`); here the
template is looked up in the request's message catalogue, so a reader of Chinese sees the whole
problem in Chinese, with the ids and values the author typed kept as typed. Anything without a
translation stays English. The stable code's kind of problem is translated too (``summary``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.problems import DefinitionError, Problem

from ..i18n import gettext as _
from . import bp


def summary(code: str) -> str:
    """What kind of problem ``code`` is, in the request's language."""
    known = {
        "Y001": _("YAML syntax error"), "Y002": _("Duplicate key"),
        "Y003": _("Empty or incomplete file"), "S001": _("A required key is missing"),
        "S002": _("Unknown key"), "S003": _("Wrong kind of value"),
        "S004": _("Not one of the allowed values"), "S005": _("Wrong form of value"),
        "S006": _("Too many or too few entries"), "S007": _("Value out of range"),
        "E101": _("Unknown kind of file"), "E103": _("Defined twice"),
    }
    if code in known:
        return known[code]
    if code.startswith("Y"):
        return _("YAML problem")
    if code.startswith("S"):
        return _("Does not follow the schema")
    if code.startswith("E1"):
        return _("Problem with the set's files")
    return _("Problem with names, references or expressions")


def _translated(template: str) -> str:
    # No variables: Flask-Babel then returns the catalogue's text without %-formatting it, and
    # the engine's template is filled by str.format (Phrase.render).
    return _(template)


def said(problem: Problem) -> tuple[str, str | None]:
    """The problem's message and hint in the request's language (English where untranslated)."""
    return problem.said(_translated)


@bp.app_template_filter("problem_said")
def as_json(problem: Problem) -> dict[str, Any]:
    """A problem as the editor's JSON and the pages listing problems give it: located, with its
    translated summary, message and hint (the English ones as ``qmsflow validate`` prints them
    kept beside, for searching and for reports to a consultant)."""
    message, hint = said(problem)
    return {**problem.as_dict(), "summary": summary(problem.code), "message": message,
            "hint": hint, "message_en": problem.message, "hint_en": problem.hint}


#: The last few drafts compiled, by a digest of their text: a draft is compiled again only
#: when it changed (a preview reloaded, or asked with other parameters, costs nothing).
_COMPILED: OrderedDict[str, tuple[DefinitionSet | None, tuple[Problem, ...]]] = OrderedDict()
_KEEP = 8


def compiled(files: Mapping[str, str], root: str) -> tuple[DefinitionSet | None,
                                                           tuple[Problem, ...]]:
    """Compile a set held as text (path -> YAML, the set in folder ``root``): the set, or
    None and every problem, named by the paths of ``files`` as ``qmsflow validate`` would
    name them in an exported folder. Compiled sets are immutable, so one may be shared."""
    key = hashlib.sha256(json.dumps([root, sorted(files.items())], ensure_ascii=False)
                         .encode()).hexdigest()
    found = _COMPILED.get(key)
    if found is None:
        found = _compile(files, root)
        _COMPILED[key] = found
        while len(_COMPILED) > _KEEP:
            _COMPILED.popitem(last=False)
    return found


def _compile(files: Mapping[str, str], root: str) -> tuple[DefinitionSet | None,
                                                           tuple[Problem, ...]]:
    with tempfile.TemporaryDirectory(prefix="qmsflow-draft-") as folder:
        for name, content in files.items():
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        try:
            return load(Path(folder) / root), ()
        except DefinitionError as error:
            prefixes = (str(Path(folder).resolve()) + os.sep, str(folder) + os.sep)
            return None, tuple(replace(p, file=_relative(p.file, prefixes))
                               for p in error.problems)


def _relative(name: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name
