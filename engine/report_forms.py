"""Regulators' report forms filled from cases: the NMPA adverse-event form, FDA 3500A, EU MIR.

A ``kind: report_form`` file lists a form's sections and fields in the regulator's order, each
field with the case field that fills it (``from``). Compiling it checks every mapping against
the process and reports each *mandatory* field left unmapped, located at the field, so that
``qmsflow validate`` shows what a form still lacks before anyone has to file one.

At run time :func:`fill` gives a case's form: every field with its value, and the mandatory
ones still empty. A step with ``complete_forms: true`` (recording the submission) is refused
while any is empty: missing data is a task on the case, never a blank on the authority's form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .compiler import CASE_ATTRIBUTES, CompileContext
from .expressions import EvaluationError
from .model import FormItem, FormPart, Labels, Process, ReportForm, frozen_map
from .problems import Problem, joined, phrase
from .sources import Document
from .values import is_empty

__all__ = ["Coverage", "FilledForm", "compile_report_form", "coverage", "fill", "forms_for"]


def compile_report_form(doc: Document, problems: list[Problem], locales: tuple[str, ...],
                        processes: Mapping[str, Process]) -> ReportForm | None:
    """The compiled form of ``doc``; problems (unknown process or field, mandatory field not
    mapped, language not declared) go to ``problems``."""
    ctx = CompileContext(doc, problems, locales)
    data = doc.data
    process = processes.get(data["process"])
    if not ctx.ref(data["process"], processes, "process", ["process"]) or process is None:
        return None
    if data["language"] not in locales:
        ctx.problem(["language"], "E201", phrase("the form is printed in '{language}', which "
                                                 "the organisation does not declare",
                                                 language=data["language"]),
                    phrase("use one of: {kinds}", kinds=joined(locales)))
    condition = ctx.expression(data.get("if"), ["if"], _names(process))
    ctx.unique(data["sections"], ["sections"], "section")
    parts = []
    seen: set[str] = set()
    for i, section in enumerate(data["sections"]):
        items = []
        for j, entry in enumerate(section["fields"]):
            here: list[str | int] = ["sections", i, "fields", j]
            if entry["id"] in seen:
                ctx.problem([*here, "id"], "E202",
                            phrase("duplicate form field id '{ident}'", ident=entry["id"]),
                            phrase("ids must be unique across the whole form"))
            seen.add(entry["id"])
            source = entry.get("from")
            if source is not None:
                ctx.ref(source, process.fields, "field", [*here, "from"])
            elif entry.get("mandatory", False):
                ctx.problem([*here, "id"], "E261",
                            phrase("mandatory field '{ident}' of form '{form}' is not filled "
                                   "from any case field", ident=entry["id"], form=doc.key),
                            phrase("add 'from: <field id>' naming the field of process "
                                   "'{process}' that holds it; add the field to the process "
                                   "first if its cases do not record it yet",
                                   process=process.id))
            items.append(FormItem(entry["id"], ctx.labels(entry["label"], [*here, "label"]),
                                  bool(entry.get("mandatory", False)), source))
        parts.append(FormPart(section["id"],
                              ctx.labels(section["label"], ["sections", i, "label"]),
                              tuple(items)))
    keep = _keep(ctx, data.get("keep"), process)
    return ReportForm(
        id=doc.key, label=ctx.labels(data["label"], ["label"]), process=process.id,
        condition=condition, language=data["language"],
        authority=ctx.labels(data.get("authority"), ["authority"]),
        standard=ctx.labels(data.get("standard"), ["standard"]), parts=tuple(parts),
        keep=keep)


def _keep(ctx: CompileContext, spec: Mapping[str, str] | None,
          process: Process) -> tuple[str, str] | None:
    """The (step, file field) that records a generated PDF; problems when the step does not
    take that field as a file."""
    if spec is None:
        return None
    step = process.step(spec["step"])
    if not ctx.ref(spec["step"], [s.id for s in process.every_step()], "step",
                   ["keep", "step"]) or step is None:
        return None
    field = process.fields.get(spec["field"])
    if field is None or field.type != "file" or spec["field"] not in {
            i.field for i in step.inputs}:
        ctx.problem(["keep", "field"], "E262",
                    phrase("step '{step}' takes no file field '{name}' to keep the generated "
                           "form in", step=step.id, name=spec["field"]),
                    phrase("name a field of type file that the step lists in its inputs"))
        return None
    return step.id, field.id


def _names(process: Process) -> set[str]:
    return set(process.fields) | set(CASE_ATTRIBUTES)


def forms_for(forms: Mapping[str, ReportForm], process: Process,
              context: Mapping[str, Any]) -> list[ReportForm]:
    """The forms that apply to a case of ``process`` whose expression names are ``context``
    (a condition that cannot be evaluated counts as applying: better a form too many than a
    report never filed)."""
    found = []
    for form in forms.values():
        if form.process != process.id:
            continue
        try:
            applies = form.condition is None or form.condition.test(context)
        except EvaluationError:
            applies = True
        if applies:
            found.append(form)
    return found


@dataclass(frozen=True)
class FilledForm:
    """A form as a case fills it: each field's value (None: empty) and the mandatory fields
    still empty, in the form's order."""

    form: ReportForm
    values: Mapping[str, Any]
    missing: tuple[FormItem, ...]

    @property
    def complete(self) -> bool:
        """Whether every mandatory field has a value (the report may be submitted)."""
        return not self.missing


def fill(form: ReportForm, values: Mapping[str, Any]) -> FilledForm:
    """``form`` filled from a case's ``values``."""
    filled = {item.id: (values.get(item.source) if item.source else None)
              for item in form.items()}
    missing = tuple(item for item in form.items()
                    if item.mandatory and is_empty(filled[item.id]))
    return FilledForm(form, frozen_map(filled), missing)


@dataclass(frozen=True)
class Coverage:
    """How much of a form the definitions fill: for the note a reviewer reads, and for
    ``qmsflow report-forms``."""

    form: str
    label: Labels
    fields: int
    mandatory: int
    mapped: int
    mandatory_mapped: int
    unmapped_mandatory: tuple[str, ...]


def coverage(form: ReportForm) -> Coverage:
    """Mapped and unmapped fields of ``form``."""
    items = form.items()
    mandatory = [item for item in items if item.mandatory]
    return Coverage(form.id, form.label, len(items), len(mandatory),
                    sum(1 for item in items if item.source),
                    sum(1 for item in mandatory if item.source),
                    tuple(item.id for item in mandatory if not item.source))
