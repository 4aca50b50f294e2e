"""Form classes: one WTForms field per editable field, of the right kind, in the user's language."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import wtforms
from werkzeug.datastructures import MultiDict

from qmsflow.engine.model import DefinitionSet, text
from qmsflow.forms import build_form

from .conftest import PEOPLE, find, steps

EXPECTED = {
    "text": wtforms.StringField,
    "email": wtforms.EmailField,
    "phone": wtforms.TelField,
    "long_text": wtforms.TextAreaField,
    "integer": wtforms.IntegerField,
    "decimal": wtforms.DecimalField,
    "money": wtforms.DecimalField,
    "date": wtforms.DateField,
    "datetime": wtforms.DateTimeLocalField,
    "choice": wtforms.SelectField,
    "category": wtforms.SelectField,
    "user": wtforms.SelectField,
    "multi_choice": wtforms.SelectMultipleField,
    "yes_no": wtforms.RadioField,
    "file": wtforms.FileField,
    "register": wtforms.StringField,
}


def test_each_field_type_of_the_bundled_set_becomes_its_kind_of_input(
        default_set: DefinitionSet) -> None:
    seen = set()
    for process, step in steps(default_set):
        form = build_form(default_set, process, step, "en", people=PEOPLE)()
        for name, spec in form.form_spec.editable.items():
            assert isinstance(form[name], EXPECTED[spec.type]), (step.id, name)
            seen.add(spec.type)
    assert seen == set(EXPECTED)


def test_labels_and_help_are_in_the_users_language(default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: bool(f.help) and len(f.help) > 1)
    for locale in ("zh-CN", "en"):
        form = build_form(default_set, process, step, locale)()
        assert form[spec.id].label.text == text(spec.label, locale)
        assert form[spec.id].description == text(spec.help, locale)
    chinese = build_form(default_set, process, step, "zh-CN")()
    english = build_form(default_set, process, step, "en")()
    assert chinese[spec.id].label.text != english[spec.id].label.text


def test_yes_no_is_a_pair_of_radio_buttons_saying_yes_and_no_in_the_users_language(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "yes_no")
    chinese = build_form(default_set, process, step, "zh-CN")()
    english = build_form(default_set, process, step, "en")()
    assert [choice.label for choice in chinese[spec.id].choices] == ["是", "否"]
    assert [choice.label for choice in english[spec.id].choices] == ["Yes", "No"]
    assert 'type="radio"' in str(english[spec.id])


def test_a_choice_drop_down_starts_with_an_empty_option_then_the_choices_in_order(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "choice")
    form = build_form(default_set, process, step, "zh-CN")()
    options = [(choice.value, choice.label) for choice in form[spec.id].choices]
    assert options[0][0] == ""
    assert options[1:] == [(c.id, text(c.label, "zh-CN")) for c in spec.choices.values()]


def test_multiple_choices_render_as_checkboxes(default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "multi_choice")
    html = str(build_form(default_set, process, step, "en")()[spec.id])
    assert html.count('type="checkbox"') == len(spec.choices)


def test_the_category_picker_shows_the_tree_indented_with_codes_in_the_users_language(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "category")
    form = build_form(default_set, process, step, "en")()
    labels = dict((choice.value, choice.label) for choice in form[spec.id].choices)
    child = next(c for c in process.categories.values() if len(c.path) > 1)
    parent = process.categories[child.path[0]]
    assert labels[parent.id] == f"{parent.code} {text(parent.label, 'en')}"
    assert labels[child.id].endswith(f"{child.code} {text(child.label, 'en')}")
    assert labels[child.id].startswith("\u00a0")
    assert list(labels)[1:] == list(process.categories)


def test_a_user_field_offers_only_the_people_holding_one_of_its_roles(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "user" and bool(f.roles))
    form = build_form(default_set, process, step, "en", people=PEOPLE)(
        formdata=MultiDict({spec.id: "visitor"}))
    offered = [choice.value for choice in form[spec.id].choices if choice.value]
    holders = [p.id for p in PEOPLE if set(spec.roles) & p.roles]
    assert offered == holders and "visitor" not in offered
    assert dict((c.value, c.label) for c in form[spec.id].choices)[holders[0]] == (
        f"{PEOPLE[[p.id for p in PEOPLE].index(holders[0])].name} ({holders[0]})")


def test_a_user_field_without_roles_offers_everyone(default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "user" and not f.roles)
    form = build_form(default_set, process, step, "en", people=PEOPLE)()
    assert [c.value for c in form[spec.id].choices if c.value] == [p.id for p in PEOPLE]


def test_limits_of_a_field_reach_the_browser_as_input_attributes(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "money")
    html = str(build_form(default_set, process, step, "en")()[spec.id])
    assert 'step="0.01"' in html and f'min="{spec.minimum}"' in html
    process, step, spec = find(default_set, lambda p, s, f: f.max_length is not None)
    html = str(build_form(default_set, process, step, "en")()[spec.id])
    assert f'maxlength="{spec.max_length}"' in html


def test_always_required_fields_are_marked_required_for_the_browser(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(
        default_set, lambda p, s, f: f.type == "text" and any(
            i.field == f.id and i.required is True for i in s.inputs))
    form_class = build_form(default_set, process, step, "en")
    assert spec.id in form_class.required_fields
    assert " required" in str(form_class()[spec.id])


def test_a_file_field_accepts_only_the_allowed_extensions(default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "file")
    html = str(build_form(default_set, process, step, "en")()[spec.id])
    assert 'type="file"' in html and ".pdf" in html and ".exe" not in html


def test_a_date_time_field_is_a_local_date_time_input_in_the_organisations_zone(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "datetime")
    form_class = build_form(default_set, process, step, "en")
    field = form_class()[spec.id]
    assert 'type="datetime-local"' in str(field)
    assert str(form_class.form_spec.timezone) == default_set.organisation.timezone


def test_the_form_prefills_from_the_case_in_the_organisations_local_time(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "datetime")
    yes_no = next(n for n, f in build_form(default_set, process, step, "en").form_spec
                  .editable.items() if f.type == "yes_no")
    form_class = build_form(default_set, process, step, "en")
    values = {spec.id: datetime(2026, 3, 2, 2, 0, tzinfo=UTC), yes_no: False}
    form = form_class(data=form_class.initial(values))
    assert 'value="2026-03-02T10:00"' in str(form[spec.id])
    assert form[yes_no].data == "no"


def test_fields_required_by_a_condition_or_a_category_carry_the_browsers_condition(
        default_set: DefinitionSet) -> None:
    complaint = default_set.process("complaint")
    step = complaint.step("register")
    assert step is not None
    register = build_form(default_set, complaint, step, "en")
    assert json.loads(register.required_when["country"]) == {
        "op": "compare", "node": {"op": "name", "name": "market"},
        "rest": [["eq", {"op": "const", "value": "international"}]]}
    assert "complainant_org" not in register.required_when  # always required: a plain mark
    classify = complaint.step("classify")
    assert classify is not None
    demanding = next(c for c in complaint.categories.values() if c.required_fields)
    field = next(f for f in demanding.required_fields
                 if any(i.field == f for i in classify.inputs))
    tree = json.loads(build_form(default_set, complaint, classify, "en").required_when[field])
    assert demanding.id in json.dumps(tree)
def test_a_reader_with_their_own_time_zone_types_and_reads_date_times_in_it(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "datetime")
    form_class = build_form(default_set, process, step, "en", timezone="Europe/Berlin")
    assert str(form_class.form_spec.timezone) == "Europe/Berlin"
    form = form_class(data=form_class.initial({spec.id: datetime(2026, 3, 2, 2, 0,
                                                                 tzinfo=UTC)}))
    assert 'value="2026-03-02T03:00"' in str(form[spec.id])
