"""Layouts: what a step's form and the printable case form show."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qmsflow.engine.model import DefinitionSet, Input
from qmsflow.forms import build_form, print_layout, step_layout

from .conftest import PEOPLE, steps


def test_every_step_of_the_bundled_sets_builds_a_form_that_places_every_input(
        default_set: DefinitionSet, example_sets: list[DefinitionSet]) -> None:
    checked = 0
    for definition in [default_set, *example_sets]:
        for process, step in steps(definition):
            for locale in definition.organisation.locales:
                form_class = build_form(definition, process, step, locale, people=PEOPLE)
                form = form_class()
                placed = [item.spec.id for _, item in form_class.layout.placements()
                          if item.editable]
                wanted = [item.field for item in step.inputs]
                assert sorted(placed) == sorted(set(wanted)), (process.id, step.id)
                assert all(name in form for name in wanted)
                checked += 1
    assert checked > 50


def test_a_step_with_a_form_shows_its_sections_with_read_only_parts_not_editable(
        default_set: DefinitionSet) -> None:
    process, step = next((p, s) for p, s in steps(default_set) if s.form and any(
        section.read_only for section in p.forms[s.form].sections))
    layout = step_layout(process, step)
    form = process.forms[step.form or ""]
    assert [section.id for section in layout.sections] == [s.id for s in form.sections]
    read_only = next(s for s in form.sections if s.read_only)
    shown = next(s for s in layout.sections if s.id == read_only.id)
    assert shown.fields and not any(item.editable for item in shown.fields)


def test_a_field_the_step_does_not_take_is_shown_but_not_editable(
        default_set: DefinitionSet) -> None:
    process, step = next((p, s) for p, s in steps(default_set) if s.form and any(
        f.field not in {i.field for i in s.inputs}
        for section in p.forms[s.form].sections for f in section.fields))
    taken = {item.field for item in step.inputs}
    layout = step_layout(process, step)
    shown_only = [item.spec.id for _, item in layout.placements() if not item.editable]
    assert all(item.spec.id in taken for _, item in layout.placements() if item.editable)
    assert any(name not in taken for name in shown_only)


def test_a_step_without_a_form_gets_one_section_of_its_inputs_labelled_like_the_step(
        default_set: DefinitionSet) -> None:
    process, step = next((p, s) for p, s in steps(default_set) if not s.form and s.inputs)
    layout = step_layout(process, step)
    assert len(layout.sections) == 1
    section = layout.sections[0]
    assert section.label == step.label
    assert [item.spec.id for item in section.fields] == [item.field for item in step.inputs]
    assert all(item.editable for item in section.fields)


def test_inputs_the_form_does_not_place_go_into_a_final_section_so_nothing_is_unreachable(
        default_set: DefinitionSet) -> None:
    process, step = next((p, s) for p, s in steps(default_set) if s.form)
    placed = {f.field for s in process.forms[step.form or ""].sections for f in s.fields}
    extra = next(name for name in process.fields if name not in placed)
    widened = replace(step, inputs=(*step.inputs, Input(extra, False)))
    layout = step_layout(process, widened)
    last = layout.sections[-1]
    assert last.id == "more"
    assert last.label == step.label
    assert [(item.spec.id, item.editable) for item in last.fields] == [(extra, True)]


def test_the_print_layout_lists_its_sections_in_order_with_every_field_read_only(
        default_set: DefinitionSet) -> None:
    for process in default_set.processes.values():
        assert process.print_layout is not None
        sections = print_layout(process)
        assert [s.id for s in sections] == list(process.print_layout.sections)
        assert all(not item.editable for section in sections for item in section.fields)
        assert all(section.fields for section in sections)


def test_a_process_without_a_print_layout_prints_nothing(default_set: DefinitionSet) -> None:
    process = next(iter(default_set.processes.values()))
    assert print_layout(replace(process, print_layout=None)) == ()


@pytest.mark.parametrize("name", ["data", "errors", "validate", "layout"])
def test_a_field_whose_id_the_form_itself_uses_is_refused_with_its_name(
        default_set: DefinitionSet, name: str) -> None:
    process, step = next((p, s) for p, s in steps(default_set) if not s.form and s.inputs)
    original = step.inputs[0].field
    fields = {(name if key == original else key): (replace(spec, id=name) if key == original
                                                   else spec)
              for key, spec in process.fields.items()}
    renamed = replace(process, fields=fields)
    clashing = replace(step, inputs=(Input(name, True),))
    with pytest.raises(ValueError, match=name) as raised:
        build_form(default_set, renamed, clashing, "en")
    assert "rename" in str(raised.value)
