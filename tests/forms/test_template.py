"""The _form.html macro: sections as fieldsets, labelled inputs, help, errors, read-only text."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import wtforms
from jinja2 import Environment, FileSystemLoader

from qmsflow.engine.model import DefinitionSet, Process, text
from qmsflow.engine.values import display
from qmsflow.forms import build_form, validate

from ..conftest import ROOT
from .conftest import PEOPLE, valid_post

Element = tuple[str, dict[str, str]]


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[Element] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def render(form: wtforms.Form, values: dict[str, Any], locale: str) -> Elements:
    env = Environment(loader=FileSystemLoader(ROOT / "web" / "templates"), autoescape=True)
    macro = env.get_template("_form.html").module.render_layout  # type: ignore[attr-defined]
    process = form.form_spec.process

    def shown(name: str) -> str:
        return display(process.fields[name], values.get(name), locale)

    page = Elements()
    page.feed(str(macro(form, values, locale, shown)))
    return page


def form_of(definition: DefinitionSet, process: Process, step_id: str, locale: str,
            **changes: Any) -> wtforms.Form:
    step = process.step(step_id)
    assert step is not None
    form_class = build_form(definition, process, step, locale, people=PEOPLE)
    return form_class(formdata=valid_post(form_class, **changes))


def test_each_section_is_a_fieldset_with_its_legend_in_the_users_language(
        default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    form = form_of(default_set, process, "register", "zh-CN")
    page = render(form, {}, "zh-CN")
    sections = [attrs for tag, attrs in page.found if attrs.get("class") == "qmsflow-section"]
    assert [s["id"] for s in sections] == [f"section-{s.id}" for s in form.layout.sections]
    assert all(text(s.label, "zh-CN") in page.text for s in form.layout.sections)
    grids = [a["class"] for _, a in page.found if "qmsflow-grid" in a.get("class", "")]
    assert [g.split()[-1] for g in grids] == [
        f"qmsflow-columns-{s.columns}" for s in form.layout.sections]


def test_every_input_has_a_label_and_help_is_tied_to_it(default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    form = form_of(default_set, process, "register", "en")
    page = render(form, {}, "en")
    labelled = {a["for"] for tag, a in page.found if tag == "label" and "for" in a}
    inputs = [a for tag, a in page.found if tag in ("input", "select", "textarea")]
    for attrs in inputs:
        if attrs.get("type") in ("radio", "checkbox"):
            continue  # wrapped in their own <label>, grouped under a <legend>
        assert attrs["id"] in labelled
    helped = next(name for name, spec in form.form_spec.editable.items() if spec.help)
    described = next(a for tag, a in page.found if a.get("id") == helped)
    assert f"{helped}-help" in described["aria-describedby"].split()
    assert any(a.get("id") == f"{helped}-help" for tag, a in page.found if tag == "small")


def test_errors_mark_the_input_invalid_and_read_in_the_users_language(
        default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    form = form_of(default_set, process, "register", "zh-CN", complainant_name=None)
    assert not validate(form, {})
    page = render(form, {}, "zh-CN")
    field = next(a for tag, a in page.found if a.get("id") == "complainant_name")
    assert field["aria-invalid"] == "true"
    assert "complainant_name-error" in field["aria-describedby"]
    assert "该字段是必填字段。" in page.text


def test_read_only_fields_show_their_value_as_text(default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    form = form_of(default_set, process, "classify", "zh-CN")
    shown = [item.spec for _, item in form.layout.placements() if not item.editable]
    yes_no = next(spec for spec in shown if spec.type == "yes_no")
    page = render(form, {yes_no.id: True}, "zh-CN")
    assert "是" in page.text
    assert not any(a.get("name") == yes_no.id for _, a in page.found)


def test_sections_and_fields_with_conditions_carry_them_for_the_browser(
        default_set: DefinitionSet) -> None:
    process = default_set.process("service_request")
    form = form_of(default_set, process, "complete_on_site", "en")
    page = render(form, {}, "en")
    conditional = {a["data-field"]: json.loads(a["data-show-if"]) for _, a in page.found
                   if "data-show-if" in a and "data-field" in a}
    expected = {key.split(".", 1)[1]: json.loads(value)
                for key, value in form.client_conditions.items() if "." in key}
    assert conditional == expected and conditional


def test_checkboxes_are_never_each_required_while_required_yes_no_radios_are(
        default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    form = form_of(default_set, process, "propose_plan", "en")
    page = render(form, {}, "en")
    boxes = [a for tag, a in page.found if a.get("type") == "checkbox"]
    assert boxes and not any("required" in a for a in boxes)
    form = form_of(default_set, process, "register", "en")
    page = render(form, {}, "en")
    radios = [a for tag, a in page.found if a.get("type") == "radio"]
    assert radios and all("required" in a for a in radios)


def test_the_form_tells_the_browser_the_values_its_conditions_read_besides_the_inputs(
        default_set: DefinitionSet) -> None:
    process = default_set.process("service_request")
    form = form_of(default_set, process, "complete_on_site", "en")
    values = json.loads(form.client_values({"state": "on_site", "parts_used": "filter"}))
    assert values["state"] == "on_site"
    # Editable fields are read from their inputs, not from the stored values.
    assert "service_type" not in values and "parts_used" not in values
