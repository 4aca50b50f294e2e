"""The pure state machine: steps, refusals with reasons, authority, clocks, save and reload."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from qmsflow.engine import cases
from qmsflow.engine.cases import Actor, Case, Signature
from qmsflow.engine.decisions import DecisionError, decide
from qmsflow.engine.escalation import escalate
from qmsflow.engine.events import Outcome
from qmsflow.engine.expressions import compile_expression
from qmsflow.engine.machine import (
    CaseView,
    Refused,
    apply,
    available,
    case_number,
    context,
    required_fields,
    start,
)
from qmsflow.engine.model import (
    DefinitionSet,
    Input,
    PriorityRule,
    PriorityTable,
    Process,
    ValueTest,
)

SALES = Actor("wang.fang", "王芳", frozenset({"sales"}))
QUALITY = Actor("li.qiang", "李强", frozenset({"quality"}))
MANAGER = Actor("zhao.min", "赵敏", frozenset({"quality_manager"}))
GM_OFFICE = Actor("chen.jie", "陈洁", frozenset({"gm_office"}))
TECHNICAL = Actor("sun.hao", "孙浩", frozenset({"technical"}))
SALES_MANAGER = Actor("zhou.lei", "周磊", frozenset({"sales_manager"}))
DEPUTY = Actor("wu.gang", "吴刚", frozenset({"deputy_gm"}))
GM = Actor("qian.yu", "钱宇", frozenset({"gm"}))

INTAKE: dict[str, Any] = {
    "channel": "phone", "received_at": "2026-03-02T09:00:00+08:00",
    "complainant_name": "刘医生", "complainant_org": "市第一人民医院",
    "complainant_phone": "021-5555-0100", "market": "domestic", "product_model": "XR-200",
    "batch_number": "B1", "description": "输液泵在使用中两次报警后停止输液。",
    "patient_involved": "no",
}


def sign(actor: Actor, meaning: str) -> Signature:
    return Signature(actor.id, meaning, True)


def register(definition: DefinitionSet, now: datetime, **changes: Any) -> Case:
    outcome = start(definition, "complaint", "register", SALES, {**INTAKE, **changes}, now,
                    "KS-2026-03-0001", sign(SALES, "authored"))
    return outcome.case


def to_approval(definition: DefinitionSet, now: datetime, amount: str) -> Case:
    """A complaint walked to the approval step with ``amount`` of compensation."""
    steps: list[tuple[str, Actor, dict[str, Any], Signature | None]] = [
        ("confirm_complaint", QUALITY, {"is_complaint": "yes", "screening_rationale": "故障"},
         None),
        ("classify", QUALITY, {"category": "malfunction"}, None),
        ("decide_reportability", QUALITY, {"report_cn": "not_reportable",
                                           "report_us": "not_reportable",
                                           "report_eu": "not_reportable",
                                           "reportability_rationale": "无伤害"},
         sign(QUALITY, "approved")),
        ("accept", GM_OFFICE, {}, None),
        ("report_investigation", QUALITY, {"investigated": True, "findings": "参数偏低",
                                           "root_cause": "作业指导书过期",
                                           "recall_needed": False},
         sign(QUALITY, "authored")),
        ("gm_instruct", GM, {"gm_instructions": "同意"}, sign(GM, "approved")),
        ("judge_responsibility", QUALITY, {"established": True, "cause": "production",
                                           "responsible_department": "production",
                                           "improvement_tracked": False}, None),
        ("propose_plan", TECHNICAL, {"countermeasure": "校准", "handling": ["compensate"],
                                     "compensation_amount": amount}, None),
    ]
    case = register(definition, now)
    for action, actor, inputs, signature in steps:
        case = apply(definition, case, action, actor, inputs, now, signature).case
    return case


def test_opening_a_case_records_who_did_it_and_routes_it_to_the_owner_of_the_first_state(
        default_set: DefinitionSet, now: datetime) -> None:
    outcome = start(default_set, "complaint", "register", SALES, INTAKE, now,
                    "KS-2026-03-0001", sign(SALES, "authored"))
    case = outcome.case
    assert (case.state, case.assignee_role, case.priority) == ("registered", "quality", "medium")
    assert case.values["patient_involved"] is False
    assert case.values["report_cn"] == "assessment_required"  # default: must be assessed
    created = outcome.events[0]
    assert created.kind == "created" and created.actor == "wang.fang"
    assert created.data["signature"] == "authored" and created.data["signer"] == "王芳"
    notified = [e.data["template"] for e in outcome.events if e.kind == "notify"]
    assert notified == ["acknowledgement", "assignment"]


def test_a_refusal_names_the_step_the_state_and_every_unmet_rule(
        default_set: DefinitionSet, now: datetime) -> None:
    case = register(default_set, now)
    with pytest.raises(Refused) as raised:
        apply(default_set, case, "not_a_complaint", QUALITY, {"colour": "red"}, now)
    refusal = raised.value
    assert (refusal.step, refusal.state) == ("not_a_complaint", "registered")
    # ... including the unsigned reportability decision (condition).
    assert {r.code for r in refusal.reasons} == {
        "role", "unexpected", "missing", "signature", "reason", "condition"}
    assert "needs one of the roles quality_manager; 李强 has quality" in str(refusal)


def test_a_value_outside_its_choices_is_refused_and_nothing_changes(
        default_set: DefinitionSet, now: datetime) -> None:
    case = register(default_set, now)
    with pytest.raises(Refused) as raised:
        apply(default_set, case, "confirm_complaint", QUALITY,
              {"is_complaint": "perhaps", "screening_rationale": "?"}, now)
    assert [r.code for r in raised.value.reasons] == ["invalid"]
    assert raised.value.reasons[0].field == "is_complaint"
    assert case.state == "registered" and "is_complaint" not in case.values


def test_a_step_from_another_state_is_refused(default_set: DefinitionSet,
                                              now: datetime) -> None:
    case = register(default_set, now)
    with pytest.raises(Refused) as raised:
        apply(default_set, case, "accept", GM_OFFICE, {}, now)
    assert [r.code for r in raised.value.reasons] == ["state"]


def test_an_unknown_action_suggests_the_closest_step(default_set: DefinitionSet,
                                                     now: datetime) -> None:
    case = register(default_set, now)
    with pytest.raises(Refused) as raised:
        apply(default_set, case, "confirm_complain", QUALITY, {}, now)
    assert "did you mean 'confirm_complaint'?" in str(raised.value)


def test_a_case_on_another_definition_version_is_refused(default_set: DefinitionSet,
                                                         now: datetime) -> None:
    case = replace(register(default_set, now), version="0" * 64)
    with pytest.raises(Refused) as raised:
        apply(default_set, case, "confirm_complaint", QUALITY, {}, now)
    assert [r.code for r in raised.value.reasons] == ["version"]


def test_the_engine_refuses_a_clock_without_a_time_zone(default_set: DefinitionSet) -> None:
    with pytest.raises(ValueError) as raised:
        register(default_set, datetime(2026, 3, 2, 10, 0))
    assert "aware datetime" in str(raised.value)


@pytest.mark.parametrize(("amount", "routed_to", "allowed"), [
    ("5000", "sales_manager", {"zhou.lei", "wu.gang"}),
    ("5000.01", "deputy_gm", {"wu.gang"}),
    ("50000", "deputy_gm", {"wu.gang"}),
    ("50000.01", "gm", set()),
])
def test_a_decision_goes_to_the_lowest_tier_whose_limit_covers_the_amount_and_never_below(
        default_set: DefinitionSet, now: datetime, amount: str, routed_to: str,
        allowed: set[str]) -> None:
    case = to_approval(default_set, now, amount)
    assert case.assignee_role == routed_to
    taken = set()
    for actor in (SALES_MANAGER, DEPUTY):
        try:
            apply(default_set, case, "approve_plan", actor, {}, now, sign(actor, "approved"))
            taken.add(actor.id)
        except Refused as refused:
            assert [r.code for r in refused.reasons] == ["authority"]
    assert taken == allowed


def test_the_actions_a_user_may_take_are_listed_with_the_reasons_for_the_others(
        default_set: DefinitionSet, now: datetime) -> None:
    case = to_approval(default_set, now, "80000")
    choices = available(default_set, case, SALES_MANAGER, now)
    assert choices["return_plan"] == ()
    (reason,) = choices["approve_plan"]
    assert reason.message == "needs gm: amount 80,000 above your limit 5,000 (Compensation amount)"


def test_the_same_person_cannot_register_and_approve_a_case(default_set: DefinitionSet,
                                                            now: datetime) -> None:
    both = Actor("he.ping", "何平", frozenset({"sales", "sales_manager"}))
    case = to_approval(default_set, now, "100")
    case = replace(case, steps=tuple(replace(s, actor="he.ping") if s.step == "register" else s
                                     for s in case.steps))
    with pytest.raises(Refused) as raised:
        apply(default_set, case, "approve_plan", both, {}, now, sign(both, "approved"))
    assert [r.code for r in raised.value.reasons] == ["separation"]


def test_a_signature_must_be_the_actors_own_with_the_meaning_the_step_asks_for(
        default_set: DefinitionSet, now: datetime) -> None:
    case = to_approval(default_set, now, "100")
    for signature in (None, sign(SALES_MANAGER, "reviewed"), sign(DEPUTY, "approved"),
                      Signature(SALES_MANAGER.id, "approved", False)):
        with pytest.raises(Refused) as raised:
            apply(default_set, case, "approve_plan", SALES_MANAGER, {}, now, signature)
        assert [r.code for r in raised.value.reasons] == ["signature"]


def test_changing_a_field_that_needs_a_reason_is_refused_without_one(
        default_set: DefinitionSet, now: datetime) -> None:
    case = to_approval(default_set, now, "100")
    case = apply(default_set, case, "return_plan", SALES_MANAGER, {}, now,
                 reason="金额需核实").case
    inputs = {"countermeasure": "校准", "handling": ["compensate"], "compensation_amount": "90"}
    with pytest.raises(Refused) as raised:
        apply(default_set, case, "propose_plan", TECHNICAL, inputs, now)
    assert raised.value.reasons[0].message == "changing compensation_amount needs a reason"
    outcome = apply(default_set, case, "propose_plan", TECHNICAL, inputs, now,
                    reason="客户同意按实际损失补偿")
    change = next(e for e in outcome.events if e.kind == "field_changed"
                  and e.data["field"] == "compensation_amount")
    assert (change.data["old"], change.data["new"]) == (Decimal("100"), Decimal("90"))


def test_patient_harm_raises_priority_and_flags_the_case_reportable(
        default_set: DefinitionSet, now: datetime) -> None:
    case = register(default_set, now, patient_involved=True, patient_harm="death")
    assert (case.priority, case.flags) == ("high", frozenset({"reportable"}))
    assert case.clocks["regulatory_report"].variant == "death"
    # Seven days from awareness (received_at, 09:00 in Shanghai), not from keying the case.
    aware = datetime.fromisoformat(INTAKE["received_at"])
    assert case.clocks["regulatory_report"].due_at == aware + timedelta(days=7)


def test_a_unique_decision_table_refuses_to_pick_between_two_matching_rules(
        default_set: DefinitionSet) -> None:
    process = default_set.processes["complaint"]
    rules = (PriorityRule("a", (ValueTest("market", ("domestic",)),), None, "high", frozenset()),
             PriorityRule("b", (), compile_expression("defective_quantity > 1"), "low",
                          frozenset()))
    unique = replace(process, priority_table=PriorityTable("UNIQUE", rules))
    with pytest.raises(DecisionError) as raised:
        decide(unique, {"market": "domestic", "defective_quantity": 3})
    assert "rules 'a', 'b' all match" in str(raised.value)
    collect = replace(process, priority_table=PriorityTable("COLLECT", rules))
    assert decide(collect, {"market": "domestic", "defective_quantity": 3}).rules == ("a", "b")


def test_warning_and_breach_actions_run_exactly_once(default_set: DefinitionSet,
                                                     now: datetime) -> None:
    case = to_approval(default_set, now, "100")
    due = case.clocks["closure"].due_at
    warned = escalate(default_set, case, due - timedelta(minutes=1))
    assert [e.kind for e in warned.events][:1] == ["clock_warning"]
    assert escalate(default_set, warned.case, due - timedelta(seconds=30)).events == ()
    breached = escalate(default_set, warned.case, due + timedelta(hours=1))
    assert "overdue" in breached.case.flags and breached.case.priority == "high"
    kinds = [e.kind for e in breached.events]
    assert kinds.count("clock_breach") == 1 and "clock_warning" not in kinds
    assert escalate(default_set, breached.case, due + timedelta(days=3)).events == ()


def test_a_case_saved_and_reloaded_mid_flow_continues_exactly_as_before(
        default_set: DefinitionSet, now: datetime) -> None:
    case = to_approval(default_set, now, "3000")
    stored = json.loads(json.dumps(cases.to_dict(default_set, case), ensure_ascii=False))
    reloaded = cases.from_dict(default_set, stored)
    assert reloaded == case
    later = now + timedelta(hours=2)
    direct = apply(default_set, case, "approve_plan", SALES_MANAGER, {}, later,
                   sign(SALES_MANAGER, "approved"))
    again: Outcome = apply(default_set, reloaded, "approve_plan", SALES_MANAGER, {}, later,
                           sign(SALES_MANAGER, "approved"))
    assert again == direct


def test_case_numbers_follow_the_definition_format(default_set: DefinitionSet) -> None:
    process = default_set.processes["complaint"]
    assert case_number(process, datetime(2026, 11, 5), 42) == "KS-2026-11-0042"


def test_a_date_and_time_without_a_time_zone_is_refused_with_how_to_fix_it(
        default_set: DefinitionSet, now: datetime) -> None:
    with pytest.raises(Refused) as raised:
        register(default_set, now, received_at="2026-03-02T09:00")
    (reason,) = raised.value.reasons
    assert reason.field == "received_at"
    assert reason.message == ("received_at: '2026-03-02T09:00' has no time zone: add the offset, "
                              "e.g. +08:00")


def test_expressions_see_a_late_clock_even_before_the_sweep_flags_it(
        default_set: DefinitionSet, now: datetime) -> None:
    process = default_set.processes["complaint"]
    case = to_approval(default_set, now, "100")
    due = case.clocks["closure"].due_at
    late = compile_expression("clocks.closure.late")
    assert late.test(context(process, case.values, case, now=due - timedelta(minutes=1))) is False
    assert late.test(context(process, case.values, case, now=due + timedelta(minutes=1))) is True
    assert "overdue" not in case.flags
    assert compile_expression("clocks.unknown.late").test(context(process, {}, case)) is False


def test_the_case_view_reads_what_the_context_holds_in_any_order_of_reads(
        default_set: DefinitionSet, now: datetime) -> None:
    process = default_set.processes["complaint"]
    case = to_approval(default_set, now, "100")
    expected = context(process, case.values, case, now=now, flags={"b", "a"})
    assert case.values["category"] == "malfunction"
    for order in (list(expected), list(reversed(expected))):
        view = CaseView(process, case.values, case, now=now, flags={"b", "a"})
        # get() and [] alike, each name read twice: attributes are kept after the first read.
        assert {name: view.get(name) for name in order} == expected
        assert {name: view[name] for name in order} == expected
    view = CaseView(process, case.values, case, now=now, flags={"b", "a"})
    assert list(view.items()) == list(expected.items())
    assert len(view) == len(expected)
    assert "category_path" in view and "category" in view and "no_such_name" not in view
    assert view.get("no_such_name", "default") == "default"
    with pytest.raises(KeyError):
        view["no_such_name"]


# --- which inputs a step requires -----------------------------------------------------------


def classify_requires(process: Process, **values: Any) -> frozenset[str]:
    """The inputs the complaint's classify step requires for ``values``."""
    return required_fields(process, process.steps["classify"],
                           context(process, values))


def test_a_category_requires_the_fields_it_and_each_of_its_ancestors_list(
        default_set: DefinitionSet) -> None:
    complaint = default_set.process("complaint")
    # 'malfunction' lists nothing itself; its parent 'quality' asks for the batch number.
    assert complaint.categories["malfunction"].path == ("quality", "malfunction")
    assert complaint.categories["malfunction"].required_fields == ()
    assert "batch_number" in complaint.categories["quality"].required_fields
    assert "batch_number" in classify_requires(complaint, category="malfunction")
    assert "batch_number" not in classify_requires(complaint, category="performance")
    assert "batch_number" not in classify_requires(complaint)


def test_an_input_required_by_condition_is_required_only_while_the_condition_holds(
        default_set: DefinitionSet) -> None:
    complaint = default_set.process("complaint")
    assert "patient_harm" in classify_requires(complaint, patient_involved=True)
    assert "patient_harm" not in classify_requires(complaint, patient_involved=False)


def test_a_required_condition_that_cannot_be_evaluated_still_requires_the_field(
        default_set: DefinitionSet) -> None:
    complaint = default_set.process("complaint")
    step = replace(complaint.steps["classify"], inputs=(
        Input("findings", compile_expression("compensation_amount > 5000")),))
    # An empty amount cannot be compared with a number: no waiver for the field.
    assert required_fields(complaint, step, context(complaint, {})) == {"findings"}
    amount = {"compensation_amount": Decimal(100)}
    assert required_fields(complaint, step, context(complaint, amount)) == frozenset()


def test_a_step_refuses_an_input_its_unevaluable_condition_requires(
        default_set: DefinitionSet, now: datetime) -> None:
    complaint = default_set.process("complaint")
    screened = apply(default_set, register(default_set, now), "confirm_complaint", QUALITY,
                     {"is_complaint": "yes", "screening_rationale": "故障"}, now).case
    classify = complaint.steps["classify"]
    step = replace(classify, inputs=(
        *classify.inputs, Input("findings", compile_expression("compensation_amount > 5000"))))
    changed = replace(default_set, processes={
        **default_set.processes,
        "complaint": replace(complaint, steps={**complaint.steps, "classify": step})})
    with pytest.raises(Refused) as refused:
        apply(changed, screened, "classify", QUALITY, {"category": "performance"}, now)
    assert [(r.code, r.field) for r in refused.value.reasons] == [("missing", "findings")]
