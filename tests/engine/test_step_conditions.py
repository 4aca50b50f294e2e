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
from qmsflow.engine.wording import condition_sentence, describe


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
        "Closing needs the customer's acceptance and the reportability decided for China, the "
        "US and the EU."]
    generated = replace(default_set.process("complaint").steps["close"], condition_message={})
    assert condition_sentence(generated, default_set.process("complaint"), "en") == (
        "Needs: 'Customer accepts' is Yes and 'China adverse-event report' is not Assessment "
        "required and 'US MDR report' is not Assessment required and 'EU vigilance report' is "
        "not Assessment required")


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
    ("is_complaint != false", "Needs: 'Is it a complaint' is not No",
     "需要：'是否属于投诉' 不为 否"),
    ("customer_accepts", "'Customer accepts' must be yes", "'客户是否接受' 必须为 是"),
    ("not customer_accepts", "'Customer accepts' must be no", "'客户是否接受' 必须为 否"),
    ("patient_harm in ['death', 'serious_injury']",
     "Needs: 'Harm to the patient' is one of Death, Serious injury",
     "需要：'对患者的影响' 为 死亡、严重伤害 之一"),
    ("not (is_complaint and established)",
     "Needs: 'Is it a complaint' is No or 'Complaint established' is No",
     "需要：'是否属于投诉' 为 否，或 '投诉是否成立' 为 否"),
    ("investigated is not none", "Needs: 'Investigated' is filled in",
     "需要：'是否进行调查' 已填写"),
    ("'reportable' not in flags", "Needs: the case is not flagged 'Reportable to the regulator'",
     "需要：案件没有标记 '须向监管部门报告'"),
    ("clocks.closure.late", "Needs the step's condition on clocks to hold",
     "需要满足本步骤关于 clocks 的条件"),
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
