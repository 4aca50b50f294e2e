"""What a screen shows: the sections and fields of a step's form, or of the printable case form.

A layout is derived from the compiled definitions alone (no locale, no request), so the web can
render it, the form builder can make fields from it, and the validator can decide what is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from qmsflow.engine.expressions import Expression
from qmsflow.engine.model import Field, Labels, Process, Section, Step

#: Id of the extra section that holds step inputs the step's form does not place.
MORE_SECTION = "more"


@dataclass(frozen=True)
class LayoutField:
    """A field placed in a section; ``editable`` when the step takes it as input here."""

    spec: Field
    editable: bool
    show_if: Expression | None


@dataclass(frozen=True)
class LayoutSection:
    """A section of a layout: a labelled group of fields in ``columns`` columns."""

    id: str
    label: Labels
    columns: int
    show_if: Expression | None
    fields: tuple[LayoutField, ...]


@dataclass(frozen=True)
class Layout:
    """What a step's form shows, section by section."""

    id: str
    label: Labels
    sections: tuple[LayoutSection, ...]

    def placements(self) -> Iterator[tuple[LayoutSection, LayoutField]]:
        """Every placed field with its section, in screen order."""
        for section in self.sections:
            for item in section.fields:
                yield section, item

    def editable(self) -> dict[str, tuple[LayoutSection, LayoutField]]:
        """The editable placement of each field the form lets the user change, by field id."""
        return {item.spec.id: (section, item) for section, item in self.placements()
                if item.editable}


def step_layout(process: Process, step: Step) -> Layout:
    """The layout of ``step``'s form: its form's sections, or one section of its inputs.

    A field is editable when the step takes it as input and neither the field nor its section
    is read-only. Inputs the form does not place editably go into a final section labelled
    with the step, so nothing the step needs is out of reach.
    """
    wanted = list(dict.fromkeys(item.field for item in step.inputs))
    form = process.forms.get(step.form) if step.form else None
    if form is None:
        fields = tuple(LayoutField(process.fields[name], True, None) for name in wanted)
        return Layout(step.id, step.label, (LayoutSection(step.id, step.label, 1, None, fields),))
    placed: set[str] = set()
    sections = [_section(process, section, wanted, placed) for section in form.sections]
    missing = [name for name in wanted if name not in placed]
    if missing:
        taken = {section.id for section in sections}
        extra_id = MORE_SECTION
        while extra_id in taken:
            extra_id += "_"
        sections.append(LayoutSection(
            extra_id, step.label, 1, None,
            tuple(LayoutField(process.fields[name], True, None) for name in missing)))
    return Layout(form.id, form.label, tuple(sections))


def _section(process: Process, section: Section, wanted: list[str],
             placed: set[str]) -> LayoutSection:
    fields = []
    for item in section.fields:
        # A field placed twice is edited in its first editable place and shown in the others:
        # one input per name, so a post never carries two values for one field.
        editable = (item.field in wanted and item.field not in placed
                    and not (section.read_only or item.read_only))
        if editable:
            placed.add(item.field)
        fields.append(LayoutField(process.fields[item.field], editable, item.show_if))
    return LayoutSection(section.id, section.label, section.columns, section.show_if,
                         tuple(fields))


def print_layout(process: Process) -> tuple[LayoutSection, ...]:
    """The sections of the printable case form, in print order, every field read-only."""
    if process.print_layout is None:
        return ()
    # Section ids are looked up across all the process's forms; the first form defining an
    # id wins, as in the compiler's check of the print layout.
    known: dict[str, Section] = {}
    for form in process.forms.values():
        for candidate in form.sections:
            known.setdefault(candidate.id, candidate)
    result = []
    for section_id in process.print_layout.sections:
        section = known.get(section_id)
        if section is None:
            continue
        fields = tuple(LayoutField(process.fields[item.field], False, item.show_if)
                       for item in section.fields)
        result.append(LayoutSection(section.id, section.label, section.columns,
                                    section.show_if, fields))
    return tuple(result)
