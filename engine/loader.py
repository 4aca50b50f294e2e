"""Load a definition set in passes: YAML with positions, JSON Schema, compile, freeze.

``load(path)`` returns a frozen :class:`~.model.DefinitionSet` or raises
:class:`~.problems.DefinitionError` carrying every problem, sorted, one line each.
``check(path)`` returns the problems without raising (what ``qmsflow validate`` prints).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .calendar import BusinessCalendar
from .compiler import compile_calendar, compile_organisation, compile_reports, compile_templates
from .field_checks import check_process
from .model import DefinitionSet, Organisation, Process, Register, Template, frozen_map
from .problems import DefinitionError, Problem, noun, phrase, suggest
from .process_compiler import ProcessCompiler
from .references import link_process
from .register_updates import link_updates
from .registers import compile_register
from .report_forms import compile_report_form
from .retention import CASE_DATES, ENTRY_DATES, compile_retention
from .schedules import compile_schedule
from .schemas import validate
from .sources import MANIFEST, SetSources, collect, display_name
from .template_checks import check_templates


def check(path: Path | str, bases: Mapping[str, Path] | None = None) -> list[Problem]:
    """Every problem of the definition set at ``path`` (empty when it is valid).

    ``bases``: for a set from outside the server, the server's sets it may extend, by name
    (see :func:`~.sources.collect`).
    """
    _, problems = _load(Path(path), bases)
    return problems


def load(path: Path | str, bases: Mapping[str, Path] | None = None) -> DefinitionSet:
    """The compiled definition set at ``path``; raises DefinitionError listing every problem.

    ``bases`` as for :func:`check`.
    """
    definition, problems = _load(Path(path), bases)
    if problems or definition is None:
        raise DefinitionError(problems)
    return definition


def content_hash(data: Any) -> str:
    """The definition version: SHA-256 of the merged documents in canonical JSON."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _load(root: Path, bases: Mapping[str, Path] | None = None
          ) -> tuple[DefinitionSet | None, list[Problem]]:
    if root.is_file() and root.name == MANIFEST:
        root = root.parent
    sources = collect(root, bases)
    problems = list(sources.problems)
    for doc in sources.documents.values():
        problems.extend(validate(doc.kind, doc.data))
    if problems:
        # Compiling documents the schema rejected would only repeat the same errors in
        # worse words; fix the shape first.
        return None, sorted(set(problems))
    definition = _compile(sources, problems)
    return (definition if not problems else None), sorted(set(problems))


def _compile(sources: SetSources, problems: list[Problem]) -> DefinitionSet | None:
    manifest = sources.documents[("definition-set", "definition-set")]
    org_doc = sources.documents.get(("organisation", "organisation"))
    if org_doc is None:
        problems.append(Problem.of(display_name(sources.root / MANIFEST), 1, 1, "E105", "$",
                                   phrase("the set has no organisation file"),
                                   phrase("add organisation.yaml with 'kind: organisation'")))
        return None
    org = compile_organisation(org_doc, problems)
    calendars: dict[str, BusinessCalendar] = {}
    for doc in sources.of_kind("calendar"):
        calendar = compile_calendar(doc, problems, org.locales)
        if calendar is not None:
            calendars[doc.key] = calendar
    calendar_ids = {doc.key for doc in sources.of_kind("calendar")}
    if org.calendar not in calendar_ids:
        mark = org_doc.data.value_marks["calendar"]
        problems.append(Problem.of(mark.file, mark.line, mark.column, "E201", "$.calendar",
                                   phrase("unknown {what} '{name}'", what=noun("calendar"),
                                          name=org.calendar),
                                   suggest(org.calendar, calendar_ids)
                                   or phrase("add a file with 'kind: calendar' and this id")))
    process_fields = {doc.key: frozenset(f["id"] for f in doc.data["fields"])
                      for doc in sources.of_kind("process")}
    templates: dict[str, Template] = {}
    all_fields = frozenset().union(*process_fields.values())
    for doc in sources.of_kind("notifications"):
        templates.update(compile_templates(doc, problems, org.locales, all_fields))
    processes: dict[str, Process] = {}
    for doc in sources.of_kind("process"):
        check_process(doc, problems, org.locales)
        process = ProcessCompiler(doc, problems, org, calendar_ids, templates,
                                  process_fields).compile()
        if process is not None:
            processes[doc.key] = process
    reports = {}
    for doc in sources.of_kind("reports"):
        reports.update(compile_reports(doc, problems, org.locales, processes))
    report_forms = {}
    for doc in sources.of_kind("report-form"):
        form = compile_report_form(doc, problems, org.locales, processes)
        if form is not None:
            report_forms[doc.key] = form
    register_ids = {doc.key for doc in sources.of_kind("register")}
    registers = {}
    for doc in sources.of_kind("register"):
        register = compile_register(doc, problems, org, register_ids)
        if register is not None:
            registers[doc.key] = register
    # A process's register fields name a register and copy its entries' fields: resolved once
    # every register is compiled (registers never refer to processes).
    for doc in sources.of_kind("process"):
        if doc.key in processes:
            processes[doc.key] = link_process(doc, processes[doc.key], problems, org, registers)
            link_updates(doc, processes[doc.key], problems, org, registers)
    _retention(sources, problems, org, processes, registers)
    schedules = {}
    for doc in sources.of_kind("schedule"):
        schedule = compile_schedule(doc, problems, org, processes, registers)
        if schedule is not None:
            schedules[doc.key] = schedule
    merged: dict[str, Any] = {
        f"{kind}:{key}": doc.data for (kind, key), doc in sorted(sources.documents.items())
        if kind != "definition-set"}
    merged["set"] = {"id": manifest.data["id"]}
    definition = DefinitionSet(
        id=manifest.data["id"], label=frozen_map(manifest.data["label"]),
        version=content_hash(merged), organisation=org, calendars=frozen_map(calendars),
        processes=frozen_map(processes), templates=frozen_map(templates),
        reports=frozen_map(reports), source=frozen_map(merged),
        report_forms=frozen_map(report_forms), registers=frozen_map(registers),
        schedules=frozen_map(schedules),
    )
    if not problems:  # rendering needs a set whose names all resolve
        problems.extend(check_templates(definition, list(sources.of_kind("process"))))
    return definition


def _retention(sources: SetSources, problems: list[Problem], org: Organisation,
               processes: dict[str, Process], registers: dict[str, Register]) -> None:
    """Each process's and register's ``retention``, whose paths go through every register's
    fields: compiled once all registers are."""
    for doc in sources.of_kind("register"):
        if doc.key in registers:
            rule = compile_retention(doc, problems, org, registers[doc.key].fields, registers,
                                     ENTRY_DATES)
            registers[doc.key] = replace(registers[doc.key], retention=rule)
    for doc in sources.of_kind("process"):
        if doc.key in processes:
            rule = compile_retention(doc, problems, org, processes[doc.key].fields, registers,
                                     CASE_DATES)
            processes[doc.key] = replace(processes[doc.key], retention=rule)
