"""Render every notification template at load time, where each process uses it.

A template that reads a field its process lacks (the service request has no
``complainant_name``) is valid Jinja and names a field of *some* process, yet fails every time
it is sent. Here each template is rendered, in every locale of the organisation, with typed
sample values for each process that uses it and in the context of each use (a step, a clock's
warning or breach, a survey's invitation), exactly as the outbox renders it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from .cases import Case, ClockState
from .compiler import CompileContext
from .model import DefinitionSet, Field, Process, frozen_map
from .notifications import RenderFailed, context, render
from .problems import Problem, phrase
from .sources import Document

_MOMENT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def check_templates(definition: DefinitionSet, docs: list[Document]) -> list[Problem]:
    """A problem (X306) at each use of a template that cannot render for its process."""
    problems: list[Problem] = []
    for doc in docs:
        process = definition.processes.get(doc.key)
        if process is None:
            continue
        ctx = CompileContext(doc, problems, definition.organisation.locales)
        seen: set[tuple[str, str | None, bool]] = set()
        for path, template_id, clock, survey in _uses(doc.data):
            template = definition.templates.get(template_id)
            if template is None or (template_id, clock, survey) in seen:
                continue  # unknown templates are reported by the compiler (E201)
            seen.add((template_id, clock, survey))
            case = _sample_case(definition, process, clock)
            for locale in definition.organisation.locales:
                values = context(definition, case, locale, clock=clock, recipient="Sample",
                                 survey_url="https://example.com/s/1" if survey else "")
                try:
                    render(template, locale, values)
                except RenderFailed as failed:
                    where = (phrase("clock '{clock}'", clock=clock) if clock else
                             phrase("a survey invitation") if survey else phrase("a step"))
                    ctx.problem(path, "X306", phrase(
                        "template '{template}' cannot render for process '{process}' ({where}): "
                        "{error}", template=template_id, process=process.id, where=where,
                        error=failed.__cause__ or failed),
                                phrase("a template reads only the fields of every process that "
                                       "uses it: give this process its own template, or read "
                                       "a field it has"))
    return problems


def _uses(data: Any, path: list[str | int] | None = None, clock: str | None = None
          ) -> Iterator[tuple[list[str | int], str, str | None, bool]]:
    """(path, template id, clock or None, whether it is a survey invitation) of each use."""
    path = path or []
    if isinstance(data, list):
        for index, item in enumerate(data):
            yield from _uses(item, [*path, index], clock)
        return
    if not isinstance(data, dict):
        return
    if path[:1] == ["clocks"] and len(path) == 2:
        clock = str(data.get("id"))
    if path[:1] == ["surveys"] and len(path) == 2 and isinstance(data.get("template"), str):
        yield [*path, "template"], data["template"], None, True
    notify = data.get("notify")
    if isinstance(notify, dict) and isinstance(notify.get("template"), str):
        yield [*path, "notify", "template"], notify["template"], clock, False
    for key, value in data.items():
        if key != "notify":
            yield from _uses(value, [*path, key], clock)


def _sample(spec: Field, process: Process) -> Any:
    kind = spec.type
    samples: dict[str, Any] = {
        "integer": 3, "decimal": Decimal("2.5"), "money": Decimal("1000.00"),
        "date": date(2026, 3, 2), "datetime": _MOMENT, "yes_no": True,
        "email": "someone@example.com", "phone": "+86 21 5555 0100",
        "file": "files/sample.pdf", "user": "someone"}
    if kind == "choice":
        return next(iter(spec.choices), None)
    if kind == "multi_choice":
        return list(spec.choices)[:1]
    if kind == "category":
        return next(iter(process.categories), None)
    return samples.get(kind, "sample")


def _sample_case(definition: DefinitionSet, process: Process, clock: str | None) -> Case:
    clocks = {}
    if clock is not None and clock in process.clocks:
        clocks[clock] = ClockState(clock, process.clocks[clock].variants[0].id, "running",
                                   _MOMENT, _MOMENT + timedelta(days=5),
                                   _MOMENT + timedelta(days=4))
    return Case(
        process=process.id, version=definition.version, number="SAMPLE-0001",
        state=next(iter(process.states)),
        values=frozen_map({name: _sample(spec, process) for name, spec in process.fields.items()}),
        priority=process.default_priority, flags=frozenset(), assignee_role=None,
        created_at=_MOMENT, updated_at=_MOMENT, clocks=frozen_map(clocks))
