"""Step conditions: offered when some valid inputs meet them, decided on submit, said in words."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import pytest

from qmsflow.engine.cases import Actor, Case, Signature
from qmsflow.engine.expressions import compile_expression
from qmsflow.engine.machine import Refused, apply, available, context, required_fields
from qmsflow.engine.model import DefinitionSet, frozen_map
from qmsflow.engine.witnesses import condition_inputs, search
from qmsflow.engine.wording import condition_clause, condition_sentence, describe


def everyone(definition: DefinitionSet) -> Actor:
    return Actor("all.roles", "All Roles", frozenset(definition.organisation.roles))


def case_in(definition: DefinitionSet, process_id: str, state: str, now: datetime,
            **values: Any) -> Case:
    process = definition.process(process_id)
    return Case(process=process_id, version=definition.version, number="T-1", state=state,
                values=frozen_map({**process.defaults(), **values}),
                priority=process.default_priority, flags=frozenset(), assignee_role=None,
                created_at=now, updated_at=now, row_version=1)


def test_a_step_whose_condition_reads_its_own_inputs_is_offered_and_decided_on_submit(
        default_set: DefinitionSet, now: datetime) -> None:
    actor = everyone(default_set)
    case = case_in(default_set, "service_request", "dispatch", now)
    assert available(default_set, case, actor, now)["dispatch_engineer"] == ()
    with pytest.raises(Refused) as refused:
        apply(default_set, case, "dispatch_engineer", actor,
              {"assigned_engineer": "x", "planned_arrival": "2026-03-03T09:00:00+08:00",
               "customer_informed": False}, now)
    unmet = [r for r in refused.value.reasons if r.code == "condition"]
    # The definition's own message (without one: "'Customer told ...' must be yes").
    assert [r.message for r in unmet] == [
        "Tell the customer who comes and when before dispatching."]
    assert unmet[0].field == "customer_informed"
    assert dict(unmet[0].details)["step"] == "dispatch_engineer"


def test_a_condition_on_the_case_alone_is_still_decided_up_front(
        default_set: DefinitionSet, now: datetime) -> None:
    case = case_in(default_set, "complaint", "closing", now, customer_accepts=False)
    reasons = available(default_set, case, everyone(default_set), now)["close"]
    assert [r.message for r in reasons if r.code == "condition"] == [
        "Closing needs the customer's acceptance, the signed reportability decision for China, "
        "the US and the EU, and no petition awaiting a decision (a report that is due must "
        "be submitted first)."]
    generated = replace(default_set.process("complaint").steps["close"], condition_message={})
    assert condition_sentence(generated, default_set.process("complaint"), "en") == (
        "Possible only when the case is not flagged 'Petition awaiting decision' and 'Customer "
        "accepts' is Yes and 'Reportability decided at' is filled in.")


STATES = [("complaint", state) for state in ("registered", "classification", "closing")] + [
    ("service_request", state) for state in ("remote_support", "dispatch", "on_site",
                                             "workshop_repair", "follow_up")]


@pytest.mark.parametrize(("process_id", "state"), STATES)
def test_a_step_is_offered_exactly_when_some_valid_inputs_meet_its_condition(
        default_set: DefinitionSet, now: datetime, process_id: str, state: str) -> None:
    """Every offered step has inputs that pass its condition; every step refused for its
    condition is refused by apply whatever the inputs its condition reads."""
    actor = everyone(default_set)
    process = default_set.process(process_id)
    case = case_in(default_set, process_id, state, now)
    for step_id, reasons in available(default_set, case, actor, now).items():
        step = process.steps[step_id]
        read = condition_inputs(process, step)
        if step.condition is None:
            continue
        verdict = search(process, step, case.values,
                         lambda values: context(process, values, case, now=now),
                         lambda name, ctx, s=step: name not in required_fields(process, s, ctx))
        tries: list[dict[str, Any]]
        if not any(r.code == "condition" for r in reasons):
            assert verdict.witness is not None, step_id
            tries = [dict(verdict.witness)]
        else:
            spec = {name: process.fields[name] for name in read}
            tries = [{name: value for name in read} for value in (True, False)] if all(
                s.type == "yes_no" for s in spec.values()) else [{}]
        for inputs in tries:
            try:
                apply(default_set, case, step_id, actor, inputs, now,
                      Signature(actor.id, step.signature or "", True), "checked")
            except Refused as refused:
                failed = any(r.code == "condition" for r in refused.reasons)
            else:
                failed = False
            assert failed == any(r.code == "condition" for r in reasons), (step_id, inputs)


def test_a_condition_no_input_can_meet_is_refused_up_front(
        default_set: DefinitionSet, now: datetime) -> None:
    process = default_set.process("service_request")
    step = replace(process.steps["dispatch_engineer"],
                   condition=compile_expression("customer_informed and not customer_informed"))
    verdict = search(process, step, {}, lambda values: context(process, values, now=now),
                     lambda name, ctx: False)
    assert not verdict.possible


def test_a_condition_on_an_open_domain_is_offered_when_no_sample_proves_it(
        default_set: DefinitionSet, now: datetime) -> None:
    process = default_set.process("service_request")
    step = replace(process.steps["dispatch_engineer"],
                   condition=compile_expression("dispatch_note == 'on its way'"))
    verdict = search(process, step, {}, lambda values: context(process, values, now=now),
                     lambda name, ctx: True)
    assert verdict.possible and verdict.witness == {"dispatch_note": "on its way"}


@pytest.mark.parametrize(("source", "english", "chinese"), [
    # A comparison, and a yes/no field compared with a constant.
    ("is_complaint != false", "Possible only when 'Is it a complaint' is not No.",
     "仅当“是否属于投诉”不为“否”时才能办理。"),
    ("compensation_amount >= 5000", "Possible only when 'Compensation amount' is at least 5000.",
     "仅当“补偿金额”不小于5000时才能办理。"),
    ("5000 < compensation_amount",
     "Possible only when 'Compensation amount' is more than 5000.",
     "仅当“补偿金额”大于5000时才能办理。"),
    # A bare yes/no field reads as an instruction.
    ("customer_accepts", "'Customer accepts' must be Yes.", "“客户是否接受”须为“是”。"),
    ("not customer_accepts", "'Customer accepts' must be No.", "“客户是否接受”须为“否”。"),
    # Choices, one or several, and a multi-choice holding one.
    ("patient_harm == 'death'", "Possible only when 'Harm to the patient' is Death.",
     "仅当“对患者的影响”为“死亡”时才能办理。"),
    ("patient_harm in ['death', 'serious_injury']",
     "Possible only when 'Harm to the patient' is one of Death, Serious injury.",
     "仅当“对患者的影响”为“死亡”、“严重伤害”之一时才能办理。"),
    ("'compensate' not in handling", "Possible only when 'Handling' does not include "
     "Compensate.", "仅当“处理方式”不包含“补偿”时才能办理。"),
    # and / or, negated by De Morgan; a group in a group is spelled out, not bracketed twice.
    ("not (is_complaint and established)",
     "Possible only when 'Is it a complaint' is No or 'Complaint established' is No.",
     "仅当“是否属于投诉”为“否”，或“投诉是否成立”为“否”时才能办理。"),
    ("is_complaint and (established or (customer_accepts and investigated))",
     "Possible only when 'Is it a complaint' is Yes and ('Complaint established' is Yes or "
     "both 'Customer accepts' is Yes and 'Investigated' is Yes).",
     "仅当“是否属于投诉”为“是”，且（“投诉是否成立”为“是”，或同时满足“客户是否接受”为“是”和"
     "“是否进行调查”为“是”）时才能办理。"),
    # Empty and filled in.
    ("investigated is not none", "Possible only when 'Investigated' is filled in.",
     "仅当“是否进行调查”已填写时才能办理。"),
    ("description is none", "Possible only when 'What happened' is empty.",
     "仅当“投诉内容”未填写时才能办理。"),
    ("description", "Possible only when 'What happened' is filled in.",
     "仅当“投诉内容”已填写时才能办理。"),
    # Case attributes.
    ("'reportable' not in flags",
     "Possible only when the case is not flagged 'Reportable to the regulator'.",
     "仅当案件没有“须向监管部门报告”标记时才能办理。"),
    ("state == 'closing'", "Possible only when 'State' is Ready to close.",
     "仅当“状态”为“待结案”时才能办理。"),
    # Too technical to word: the fields it reads, by their names for people.
    ("clocks.closure.late", "Possible only when the step's condition on 'Deadlines' holds.",
     "仅当本步骤关于“期限”的条件成立时才能办理。"),
])
def test_a_condition_is_worded_from_its_fields_labels_in_the_users_language(
        default_set: DefinitionSet, source: str, english: str, chinese: str) -> None:
    process = default_set.process("complaint")
    expression = compile_expression(source)
    assert describe(expression, process, "en") == english
    assert describe(expression, process, "zh-CN") == chinese


def test_a_step_says_its_own_message_when_it_has_one(default_set: DefinitionSet) -> None:
    process = default_set.process("complaint")
    step = replace(process.steps["confirm_complaint"],
                   condition_message={"zh-CN": "不属于投诉", "en": "Not a complaint"})
    assert condition_sentence(step, process, "zh-CN") == "不属于投诉"
    assert condition_sentence(step, process, "en") == "Not a complaint"


@pytest.mark.parametrize(("source", "english", "chinese"), [
    ("customer_accepts", "'Customer accepts' is Yes", "“客户是否接受”为“是”"),
    ("is_complaint != false and established",
     "'Is it a complaint' is not No and 'Complaint established' is Yes",
     "“是否属于投诉”不为“否”，且“投诉是否成立”为“是”"),
])
def test_a_condition_is_worded_as_a_bare_clause_for_a_sentence_around_it(
        default_set: DefinitionSet, source: str, english: str, chinese: str) -> None:
    process = default_set.process("complaint")
    step = replace(process.steps["confirm_complaint"], condition=compile_expression(source),
                   condition_message={"en": "Own message"})
    # The clause never carries a sentence's frame ("Possible only when", "才能办理", "Needs:").
    assert condition_clause(step, process, "en") == english
    assert condition_clause(step, process, "zh-CN") == chinese


def _verdict(definition: DefinitionSet, source: str, now: datetime, **values: Any) -> Any:
    """The search for the complaint's plan step with the condition ``source`` instead of its
    own, on a case holding ``values``."""
    process = definition.process("complaint")
    step = replace(process.steps["propose_plan"], condition=compile_expression(source))
    case = case_in(definition, "complaint", "countermeasure", now, **values)
    return search(process, step, case.values,
                  lambda trial: context(process, trial, case, now=now),
                  lambda name, ctx: name not in required_fields(process, step, ctx))


def test_a_condition_needing_two_particular_choices_of_a_multi_choice_is_offered(
        default_set: DefinitionSet, now: datetime) -> None:
    verdict = _verdict(default_set, "'repair' in handling and 'replace' in handling "
                                    "and 'recall' not in handling", now)
    assert verdict.possible and verdict.witness == {"handling": ["repair", "replace"]}


def test_a_multi_choice_condition_no_subset_meets_is_refused_up_front(
        default_set: DefinitionSet, now: datetime) -> None:
    verdict = _verdict(default_set, "handling | length > 6", now)
    assert not verdict.possible


def test_a_multi_choice_with_too_many_subsets_is_sampled_and_never_refused(
        default_set: DefinitionSet, now: datetime) -> None:
    process = default_set.process("complaint")
    many = {f"c{i}": {"en": f"C{i}"} for i in range(12)}
    spec = replace(process.fields["handling"], choices=frozen_map(many))
    wide = replace(process, fields=frozen_map({**process.fields, "handling": spec}))
    step = replace(process.steps["propose_plan"],
                   condition=compile_expression("handling | length == 7"))
    verdict = search(wide, step, {}, lambda trial: context(wide, trial, now=now),
                     lambda name, ctx: True)
    assert verdict.possible  # 4096 subsets: sampled, so no subset of 7 tried, yet offered


def test_a_number_between_two_constants_is_found(default_set: DefinitionSet,
                                                  now: datetime) -> None:
    verdict = _verdict(default_set, "compensation_amount > 100 and compensation_amount < 101",
                       now)
    assert verdict.witness is not None
    assert 100 < verdict.witness["compensation_amount"] < 101


def test_a_date_after_another_date_of_the_case_is_found(default_set: DefinitionSet,
                                                         now: datetime) -> None:
    verdict = _verdict(default_set, "plan_due is not none and plan_due > event_date", now,
                       event_date=date(2026, 2, 20))
    assert verdict.witness == {"plan_due": date(2026, 2, 21)}


def test_choosing_nothing_does_not_meet_a_condition_on_a_required_multi_choice(
        default_set: DefinitionSet, now: datetime) -> None:
    # 'Handling' is required: an empty choice is refused on submit, so it is no witness.
    assert not _verdict(default_set, "not handling", now).possible
