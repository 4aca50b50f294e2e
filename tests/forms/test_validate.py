"""Validation of posted step forms, the inputs they give the engine, and the engine's refusals."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import wtforms
from flask import Flask
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage

from qmsflow.engine.cases import Actor, Signature
from qmsflow.engine.loader import load
from qmsflow.engine.machine import Reason, Refused, start
from qmsflow.engine.model import DefinitionSet, Field, Process
from qmsflow.forms import (
    FileLimits,
    attach_reasons,
    build_form,
    files,
    inputs,
    unexpected,
    validate,
)

from ..conftest import EditSet
from .conftest import PEOPLE, errors_of, find, steps, valid_post

REQUIRED_EN = "This field is required."
REQUIRED_ZH = "该字段是必填字段。"


@pytest.fixture
def complaint(default_set: DefinitionSet) -> Process:
    return default_set.process("complaint")


@pytest.fixture
def service(default_set: DefinitionSet) -> Process:
    return default_set.process("service_request")


def post(definition: DefinitionSet, process: Process, step_id: str, locale: str = "en",
         case: dict[str, object] | None = None, **changes: object,
         ) -> tuple[wtforms.Form, bool]:
    """A validated form of ``step_id`` with valid values and ``changes``; (form, valid)."""
    step = process.step(step_id)
    assert step is not None
    form_class = build_form(definition, process, step, locale, people=PEOPLE)
    form = form_class(formdata=valid_post(form_class, **changes))
    return form, validate(form, case or {})


# --- every step ------------------------------------------------------------------------------

def test_valid_values_make_a_valid_form_for_every_step_of_the_bundled_sets(
        default_set: DefinitionSet, example_sets: list[DefinitionSet]) -> None:
    for definition in [default_set, *example_sets]:
        for process, step in steps(definition):
            form_class = build_form(definition, process, step, "en", people=PEOPLE)
            form = form_class(formdata=valid_post(form_class))
            assert validate(form, {}), (process.id, step.id, errors_of(form))


def test_the_engine_accepts_what_a_valid_form_gives_for_every_start_step(
        default_set: DefinitionSet, now: datetime) -> None:
    for process in default_set.processes.values():
        for step in process.starts.values():
            form_class = build_form(default_set, process, step, "en", people=PEOPLE)
            form = form_class(formdata=valid_post(form_class))
            assert validate(form, {}), errors_of(form)
            given = inputs(form, {})
            # The web stores each upload and passes its reference.
            given.update({name: f"uploads/{upload.filename}"
                          for name, upload in files(form).items()})
            actor = Actor("zhang", "Zhang San", frozenset(step.roles))
            signature = Signature(actor.id, step.signature, True) if step.signature else None
            outcome = start(default_set, process.id, step.id, actor, given, now, "N-1",
                            signature=signature)
            assert outcome.case.state == step.target


# --- required ----------------------------------------------------------------------------------

def test_an_empty_required_field_is_refused_in_the_users_language(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", complainant_name=None)
    assert not valid and form["complainant_name"].errors == [REQUIRED_EN]
    form, valid = post(default_set, complaint, "register", "zh-CN", complainant_name="   ")
    assert not valid and form["complainant_name"].errors == [REQUIRED_ZH]


def test_a_field_required_by_condition_is_required_only_when_the_condition_holds(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", market="international",
                       country=None)
    assert not valid and form["country"].errors == [REQUIRED_EN]
    form, valid = post(default_set, complaint, "register", market="domestic", country=None)
    assert valid, errors_of(form)
    assert inputs(form, {})["country"] is None


def test_a_field_required_when_another_is_empty_follows_the_other(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", complainant_email=None,
                       complainant_phone=None)
    assert not valid and form["complainant_phone"].errors == [REQUIRED_EN]
    form, valid = post(default_set, complaint, "register", complainant_phone=None)
    assert valid, errors_of(form)


def test_a_field_whose_condition_cannot_be_evaluated_is_shown_and_required_like_the_engine_does(
        edited_set: EditSet) -> None:
    # "'compensate' in handling" fails while nothing is ticked: when in doubt, ask.
    guarded = "'compensate' in (handling or [])"
    folder = edited_set(*[("processes/complaint.yaml", guarded, "'compensate' in handling")] * 2)
    definition = load(folder)
    form, valid = post(definition, definition.process("complaint"), "propose_plan",
                       handling=None, compensation_amount=None)
    assert not valid
    assert form["handling"].errors == [REQUIRED_EN]
    assert form["compensation_amount"].errors == [REQUIRED_EN]


def test_a_category_that_requires_a_field_makes_it_required(
        default_set: DefinitionSet, complaint: Process) -> None:
    demanding = next(c for c in complaint.categories.values() if c.required_fields)
    lenient = next(c for c in complaint.categories.values() if not c.required_fields
                   and not any(complaint.categories[a].required_fields for a in c.path))
    needed = demanding.required_fields[0]
    form, valid = post(default_set, complaint, "classify", category=demanding.id,
                       **{needed: None})
    assert not valid and form[needed].errors == [REQUIRED_EN]
    form, valid = post(default_set, complaint, "classify", category=lenient.id,
                       **{needed: None})
    assert valid, errors_of(form)


# --- rules of a field --------------------------------------------------------------------------

def test_numbers_outside_their_range_are_refused_in_the_users_language(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", quantity="0")
    assert not valid and form["quantity"].errors == ["Number must be at least 1."]
    form, valid = post(default_set, complaint, "register", "zh-CN", quantity="0")
    assert not valid and form["quantity"].errors == ["数值必须大于 1。"]


def test_text_too_long_or_too_short_is_refused(default_set: DefinitionSet,
                                               complaint: Process) -> None:
    limit = complaint.fields["complainant_name"].max_length or 0
    form, valid = post(default_set, complaint, "register", complainant_name="x" * (limit + 1))
    assert not valid and str(limit) in form["complainant_name"].errors[0]
    form, valid = post(default_set, complaint, "register", "zh-CN", description="short")
    assert not valid and "字段长度" in form["description"].errors[0]


def test_text_not_matching_the_fields_pattern_is_refused(default_set: DefinitionSet,
                                                         complaint: Process) -> None:
    patterned = replace(complaint.fields["udi"], pattern=r"\(01\)[0-9]{14}")
    process = replace(complaint, fields={**complaint.fields, "udi": patterned})
    form, valid = post(default_set, process, "register", udi="(01)0123456789012x")
    assert not valid and form["udi"].errors == ["Enter a value in the expected format."]
    form, valid = post(default_set, process, "register", udi="(01)01234567890128")
    assert valid, errors_of(form)


def test_a_value_outside_the_choices_is_refused_clearly_in_the_users_language(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", channel="fax")
    assert not valid and form["channel"].errors == ["Not a valid choice."]
    form, valid = post(default_set, complaint, "register", "zh-CN", channel="fax")
    assert not valid and form["channel"].errors == ["不是有效的选择。"]


def test_several_choices_are_submitted_as_a_list_in_the_order_of_the_choices(
        default_set: DefinitionSet, complaint: Process) -> None:
    order = list(complaint.fields["handling"].choices)
    form, valid = post(default_set, complaint, "propose_plan", handling=[order[2], order[0]])
    assert valid, errors_of(form)
    assert inputs(form, {})["handling"] == [order[0], order[2]]
    form, valid = post(default_set, complaint, "propose_plan", "zh-CN",
                       handling=[order[0], "bribe"])
    assert not valid and form["handling"].errors == ["不是有效的选择。"]


def test_yes_and_no_become_true_and_false_and_anything_else_is_refused(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", patient_involved="no")
    assert valid and inputs(form, {})["patient_involved"] is False
    form, valid = post(default_set, complaint, "register", patient_involved="yes")
    assert valid and inputs(form, {})["patient_involved"] is True
    form, valid = post(default_set, complaint, "register", patient_involved="maybe")
    assert not valid and form["patient_involved"].errors == ["Not a valid choice."]


def test_dates_are_checked_and_given_as_dates(default_set: DefinitionSet,
                                             complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", event_date="2026-02-30")
    assert not valid and form["event_date"].errors == ["Not a valid date value."]
    form, valid = post(default_set, complaint, "register", event_date="2026-02-28")
    assert valid and inputs(form, {})["event_date"] == date(2026, 2, 28)


def test_a_date_before_the_fields_minimum_is_refused_naming_the_minimum(
        default_set: DefinitionSet, complaint: Process) -> None:
    bounded = replace(complaint.fields["event_date"], minimum="2020-01-01")
    process = replace(complaint, fields={**complaint.fields, "event_date": bounded})
    form, valid = post(default_set, process, "register", event_date="2019-12-31")
    assert not valid and form["event_date"].errors == ["Enter a date on or after 2020-01-01."]


def test_a_local_date_and_time_is_read_in_the_organisations_time_zone(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", received_at="2026-03-02T10:00")
    assert valid
    received = inputs(form, {})["received_at"]
    assert received.utcoffset() is not None
    assert received.astimezone(UTC) == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_an_unchanged_date_and_time_keeps_its_seconds(default_set: DefinitionSet,
                                                      complaint: Process) -> None:
    stored = datetime(2026, 3, 2, 2, 0, 42, tzinfo=UTC)
    form, valid = post(default_set, complaint, "register", received_at="2026-03-02T10:00")
    assert valid and inputs(form, {"received_at": stored})["received_at"] == stored


def test_an_amount_with_more_than_two_decimals_or_not_a_number_is_refused(
        default_set: DefinitionSet, complaint: Process) -> None:
    chosen = ["compensate"]
    form, valid = post(default_set, complaint, "propose_plan", handling=chosen,
                       compensation_amount="10.005")
    assert not valid
    assert form["compensation_amount"].errors == [
        "Enter an amount with at most 2 decimal places."]
    form, valid = post(default_set, complaint, "propose_plan", "zh-CN", handling=chosen,
                       compensation_amount="NaN")
    assert not valid and form["compensation_amount"].errors == ["不是有效的小数。"]
    form, valid = post(default_set, complaint, "propose_plan", handling=chosen,
                       compensation_amount="1234.50")
    assert valid and inputs(form, {})["compensation_amount"] == Decimal("1234.50")


def test_e_mail_addresses_and_phone_numbers_follow_the_engines_rules(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", complainant_email="not-an-address",
                       complainant_phone="call me")
    assert not valid
    assert form["complainant_email"].errors == [
        "Enter one e-mail address, e.g. name@example.com (no list, no name)."]
    assert form["complainant_phone"].errors == ["Enter a valid phone number."]


def test_only_people_holding_the_fields_roles_can_be_picked(
        default_set: DefinitionSet, complaint: Process) -> None:
    spec = complaint.fields["no_investigation_decider"]
    outsider = next(p for p in PEOPLE if not set(spec.roles) & p.roles)
    holder = next(p for p in PEOPLE if set(spec.roles) & p.roles)
    form, valid = post(default_set, complaint, "report_investigation", investigated="no",
                       no_investigation_decider=outsider.id)
    assert not valid and form[spec.id].errors == ["Not a valid choice."]
    form, valid = post(default_set, complaint, "report_investigation", investigated="no",
                       no_investigation_decider=holder.id)
    assert valid and inputs(form, {})[spec.id] == holder.id


def test_wtforms_messages_follow_the_locale(default_set: DefinitionSet,
                                            complaint: Process) -> None:
    english, _ = post(default_set, complaint, "register", "en", quantity="many")
    chinese, _ = post(default_set, complaint, "register", "zh-CN", quantity="many")
    assert english["quantity"].errors == ["Not a valid integer value."]
    assert chinese["quantity"].errors == ["不是有效的整数。"]


def test_the_packages_own_messages_go_through_the_gettext_it_is_given(
        default_set: DefinitionSet, complaint: Process) -> None:
    step = complaint.step("register")
    assert step is not None
    form_class = build_form(default_set, complaint, step, "zh-CN",
                            gettext=lambda message: f"[zh] {message}")
    form = form_class(formdata=valid_post(form_class, complainant_email="nobody"))
    assert not validate(form, {})
    assert form["complainant_email"].errors == [
        "[zh] Enter one e-mail address, e.g. name@example.com (no list, no name)."]


def test_flask_wtf_forms_keep_the_locale_the_form_was_built_for(
        default_set: DefinitionSet, complaint: Process) -> None:
    app = Flask(__name__)
    app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="test")
    step = complaint.step("register")
    assert step is not None
    with app.test_request_context(method="POST"):
        form_class = build_form(default_set, complaint, step, "zh-CN", base=FlaskForm)
        form = form_class(formdata=valid_post(form_class, complainant_name=None))
        assert not validate(form, {})
        assert form["complainant_name"].errors == [REQUIRED_ZH]
        assert isinstance(form, FlaskForm)


# --- shown and hidden --------------------------------------------------------------------------

def test_a_hidden_section_is_neither_validated_nor_submitted(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", patient_involved="no",
                       patient_harm="nonsense")
    assert valid, errors_of(form)
    assert "patient_harm" not in inputs(form, {})
    form, valid = post(default_set, complaint, "register", patient_involved="yes",
                       patient_harm=None)
    assert not valid and form["patient_harm"].errors == [REQUIRED_EN]


def test_a_hidden_field_is_neither_validated_nor_submitted(
        default_set: DefinitionSet, service: Process) -> None:
    form, valid = post(default_set, service, "resolve_remotely", service_type="free",
                       service_fee="-5")
    assert valid, errors_of(form)
    assert "service_fee" not in inputs(form, {})
    form, valid = post(default_set, service, "resolve_remotely", service_type="paid",
                       service_fee="-5")
    assert not valid and form["service_fee"].errors


def test_a_condition_on_the_cases_state_reads_the_state_the_web_passes(
        default_set: DefinitionSet, service: Process) -> None:
    step = service.step("complete_on_site")
    assert step is not None
    form_class = build_form(default_set, service, step, "en", people=PEOPLE)
    on_site = {"state": step.sources[0]}
    form = form_class(formdata=valid_post(form_class, serial_verified=None))
    assert not validate(form, on_site)
    assert form["serial_verified"].errors == [REQUIRED_EN]
    form = form_class(formdata=valid_post(form_class, serial_verified=None))
    assert validate(form, {"state": "elsewhere"})
    assert "serial_verified" not in inputs(form, {"state": "elsewhere"})


def test_an_emptied_optional_field_is_submitted_as_none_so_the_engine_clears_it(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", batch_number=None)
    assert valid and inputs(form, {"batch_number": "B-1"})["batch_number"] is None


def test_inputs_hold_only_the_fields_the_step_takes(default_set: DefinitionSet,
                                                    complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register")
    step = complaint.step("register")
    assert valid and step is not None
    assert set(inputs(form, {})) <= {item.field for item in step.inputs}


# --- files -------------------------------------------------------------------------------------

def upload(name: str, size: int) -> FileStorage:
    return FileStorage(io.BytesIO(b"x" * size), filename=name)


def test_uploads_are_handed_over_apart_from_the_inputs(default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "file")
    form_class = build_form(default_set, process, step, "en", people=PEOPLE)
    form = form_class(formdata=valid_post(form_class, **{spec.id: upload("photo.png", 10)}))
    assert validate(form, {}), errors_of(form)
    assert spec.id not in inputs(form, {})
    assert files(form)[spec.id].filename == "photo.png"


def test_too_large_files_and_files_of_other_types_are_refused(
        default_set: DefinitionSet) -> None:
    process, step, spec = find(default_set, lambda p, s, f: f.type == "file")
    limits = FileLimits(max_bytes=100, extensions=frozenset({"pdf"}))
    form_class = build_form(default_set, process, step, "en", people=PEOPLE, uploads=limits)
    form = form_class(formdata=valid_post(form_class, **{spec.id: upload("scan.pdf", 101)}))
    assert not validate(form, {})
    assert form[spec.id].errors == ["The file is larger than 100 bytes."]
    form = form_class(formdata=valid_post(form_class, **{spec.id: upload("tool.exe", 1)}))
    assert not validate(form, {})
    assert form[spec.id].errors == ["Files of this type are not accepted; allowed: pdf."]


def test_a_required_file_already_on_the_case_need_not_be_uploaded_again(
        default_set: DefinitionSet) -> None:
    def wanted(process: Process, step: object, spec: Field) -> bool:
        return spec.type == "file" and any(
            i.field == spec.id and i.required is True for i in step.inputs)  # type: ignore[attr-defined]

    process, step, spec = find(default_set, wanted)
    form_class = build_form(default_set, process, step, "en", people=PEOPLE)
    form = form_class(formdata=valid_post(form_class, **{spec.id: upload("", 0)}))
    assert not validate(form, {})
    assert form[spec.id].errors == [REQUIRED_EN]
    form = form_class(formdata=valid_post(form_class, **{spec.id: upload("", 0)}))
    assert validate(form, {spec.id: "uploads/earlier.pdf"}), errors_of(form)
    assert files(form) == {}


# --- what the server refuses -------------------------------------------------------------------

def test_posted_names_the_form_does_not_have_are_reported_once_each(
        default_set: DefinitionSet, complaint: Process) -> None:
    step = complaint.step("classify")
    assert step is not None
    form_class = build_form(default_set, complaint, step, "en")
    read_only = next(item.spec.id for _, item in form_class.layout.placements()
                     if not item.editable)
    posted = ["category", "csrf_token", "priority", read_only, "priority", "submit"]
    assert unexpected(form_class, posted, allowed=["csrf_token", "submit"]) == [
        "priority", read_only]


def test_fields_of_the_base_form_class_are_expected(default_set: DefinitionSet,
                                                    complaint: Process) -> None:
    class Base(wtforms.Form):
        row_version = wtforms.HiddenField()

    step = complaint.step("classify")
    assert step is not None
    form_class = build_form(default_set, complaint, step, "en", base=Base)
    assert issubclass(form_class, Base)
    assert unexpected(form_class, ["row_version", "category"]) == []


def test_the_engines_reasons_about_fields_land_on_those_fields_and_the_rest_is_returned(
        default_set: DefinitionSet, complaint: Process, now: datetime) -> None:
    step = complaint.step("register")
    assert step is not None
    form_class = build_form(default_set, complaint, step, "zh-CN", people=PEOPLE)
    form = form_class(formdata=valid_post(form_class))
    assert validate(form, {})
    given = {**inputs(form, {}), "description": None, "quantity": 0}
    outsider = Actor("visitor", "Guest", frozenset())
    with pytest.raises(Refused) as refused:
        start(default_set, complaint.id, step.id, outsider, given, now, "N-1")
    rest = attach_reasons(form, refused.value.reasons)
    assert form["description"].errors == [REQUIRED_ZH]
    assert form["quantity"].errors and not form["quantity"].errors[0].startswith("quantity:")
    assert {reason.code for reason in rest} >= {"role", "signature"}
    assert all(reason.field is None for reason in rest)


def test_a_reason_about_a_field_the_form_does_not_show_goes_to_the_top(
        default_set: DefinitionSet, complaint: Process) -> None:
    form, valid = post(default_set, complaint, "register", patient_involved="no")
    assert valid
    reasons = [Reason("missing", "patient_harm: required", "patient_harm"),
               Reason("invalid", "category: not a category", "category")]
    assert attach_reasons(form, reasons) == reasons
    assert form["patient_harm"].errors == []
