"""Regulatory reports as records: opened by the signed decision, timed from awareness,
submitted only complete, and holding their complaint open until they are submitted."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from qmsflow.engine.cases import Actor, Case, Link, Signature
from qmsflow.engine.machine import Refused, apply, available, context, open_linked
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.report_forms import coverage, fill, forms_for

from .test_step_conditions import case_in, everyone

DECISION = {"report_cn": "reportable", "report_us": "reportable", "report_eu": "not_reportable",
            "reportability_rationale": "死亡，不能排除与器械有关。"}


def decided(definition: DefinitionSet, now: datetime, **values: object) -> Case:
    """A registered death, decided reportable in China and the US."""
    case = case_in(definition, "complaint", "registered", now, patient_involved=True,
                   patient_harm="death", market="domestic", received_at=now - timedelta(hours=5),
                   complainant_org="市第二人民医院", description="输液泵超速输注，患者死亡。",
                   **values)
    actor = everyone(definition)
    return apply(definition, case, "decide_reportability", actor, DECISION, now,
                 Signature(actor.id, "approved", True)).case


def test_the_bundled_forms_fill_every_mandatory_field_of_the_nmpa_fda_and_eu_forms(
        default_set: DefinitionSet) -> None:
    forms = default_set.report_forms
    assert sorted(forms) == ["eu_mir", "fda_3500a", "nmpa_adverse_event"]
    for form in forms.values():
        figures = coverage(form)
        assert figures.unmapped_mandatory == (), form.id
        assert figures.mandatory_mapped == figures.mandatory > 10


@pytest.mark.parametrize(("jurisdiction", "form"), [
    ("cn", "nmpa_adverse_event"), ("us", "fda_3500a"), ("eu", "eu_mir")])
def test_each_report_is_filled_on_its_own_authoritys_form(
        default_set: DefinitionSet, now: datetime, jurisdiction: str, form: str) -> None:
    process = default_set.process("regulatory_report")
    report = case_in(default_set, "regulatory_report", "drafting", now,
                     jurisdiction=jurisdiction)
    found = forms_for(default_set.report_forms, process, context(process, report.values, report))
    assert [f.id for f in found] == [form]


def test_deciding_reportable_opens_one_report_per_authority_and_deciding_again_opens_none(
        default_set: DefinitionSet, now: datetime) -> None:
    actor = everyone(default_set)
    case = case_in(default_set, "complaint", "registered", now, patient_involved=True,
                   patient_harm="death", market="domestic", received_at=now)
    first = apply(default_set, case, "decide_reportability", actor, DECISION, now,
                  Signature(actor.id, "approved", True))
    opened = [e for e in first.events if e.kind == "open_case"]
    assert [(e.data["relation"], e.data["values"]["jurisdiction"]) for e in opened] == [
        ("report_of", "cn"), ("report_of", "us")]
    again = apply(default_set, first.case, "decide_reportability", actor,
                  {**DECISION, "reportability_rationale": "复核：结论不变。"}, now,
                  Signature(actor.id, "approved", True), reason="患者病历到达，复核。")
    assert not [e for e in again.events if e.kind == "open_case"]


def test_a_report_runs_its_deadline_from_the_awareness_time_not_from_its_opening(
        default_set: DefinitionSet, now: datetime) -> None:
    complaint = decided(default_set, now)
    actor = everyone(default_set)
    later = now + timedelta(days=2)
    event = next(e for e in apply(default_set, replace(complaint, flags=frozenset()),
                                  "decide_reportability", actor, DECISION, later,
                                  Signature(actor.id, "approved", True)).events
                 if e.kind == "open_case")
    outcome, source = open_linked(default_set, complaint, event, actor, later, "RR-1")
    report = outcome.case
    assert report.values["awareness_at"] == now - timedelta(hours=5)
    assert report.clocks["report_due"].variant == "cn_death"
    assert report.clocks["report_due"].due_at == now - timedelta(hours=5) + timedelta(days=7)
    assert Link("report_of:reverse", "regulatory_report", "RR-1") in source.links
    assert "clock_running" in {e.kind for e in outcome.events}


def closing(definition: DefinitionSet, now: datetime, relation: str) -> Case:
    case = case_in(definition, "complaint", "closing", now, customer_accepts=True,
                   reportability_decided_at=now, report_cn="reportable",
                   report_us="not_reportable", report_eu="not_reportable")
    return replace(case, links=(Link(relation, "regulatory_report", "RR-1"),))


def test_a_complaint_cannot_close_while_its_report_is_unfinished_or_unknown(
        default_set: DefinitionSet, now: datetime) -> None:
    case = closing(default_set, now, "report_of:reverse")
    actor = everyone(default_set)
    for linked in ({}, {"RR-1": False}):
        reasons = available(default_set, case, actor, now, linked)["close"]
        assert [(r.code, dict(r.details)) for r in reasons if r.code == "linked"] == [
            ("linked", {"case": "RR-1", "relation": "report_of"})]
    assert not [r for r in available(default_set, case, actor, now, {"RR-1": True})["close"]
                if r.code == "linked"]


def test_only_a_relation_that_blocks_close_holds_the_case_and_only_on_the_opening_side(
        default_set: DefinitionSet, now: datetime) -> None:
    actor = everyone(default_set)
    for relation in ("raised_from:reverse", "report_of"):
        case = closing(default_set, now, relation)
        assert not [r for r in available(default_set, case, actor, now)["close"]
                    if r.code == "linked"], relation


def test_a_report_is_submitted_only_when_its_form_has_every_mandatory_field(
        default_set: DefinitionSet, now: datetime) -> None:
    actor: Actor = everyone(default_set)
    report = case_in(default_set, "regulatory_report", "drafting", now, jurisdiction="cn",
                     report_kind="initial", awareness_at=now, patient_harm="death")
    submission = {"submitted_at": now, "submission_channel": "nmpa_system",
                  "authority_report_number": "CN-AE-2026-000123",
                  "submitted_file": "0" * 64 + "/report.pdf"}
    with pytest.raises(Refused) as refused:
        apply(default_set, report, "submit_report", actor, submission, now,
              Signature(actor.id, "approved", True))
    form = default_set.report_forms["nmpa_adverse_event"]
    missing = fill(form, report.values).missing
    assert [(r.field, dict(r.details)["item"]) for r in refused.value.reasons] == [
        (item.source, item.id) for item in missing]
    assert "registration_number" in {item.source for item in missing}
    complete = replace(report, values={**report.values, **{
        item.source: "2026-05-31" if item.source == "event_date" else
        "class_iii" if item.source == "device_class" else
        "related" if item.source == "relatedness" else "已填写"
        for item in missing if item.source}})
    submitted = apply(default_set, complete, "submit_report", actor, submission, now,
                      Signature(actor.id, "approved", True)).case
    assert submitted.state == "submitted" and submitted.closed_at == now
