"""Surveys: the customer's answer to a survey a case sent, applied to the case.

A step's ``survey`` effect invites the customer (a notification whose link the web signs); the
customer answers without an account. :func:`answer` is the pure function for that answer, as
:func:`.machine.apply` is for a step: it returns the new case and its events, or raises
:class:`.machine.Refused` with every reason. The answer is recorded in the case's steps as
``survey:<id>``, so a survey is answered once and the engine needs no storage of its own; the
send time is the time of the step that sent it. An answer sets values and runs the survey's
effects (set, flag, priority, notify, open a linked case); it never changes the state, so it
works on a finished case, and the audit trail shows every value it changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from . import machine
from .cases import Actor, Case, StepRecord
from .decisions import DecisionError, all_rule_flags, decide
from .effects import Draft, EffectFailed, run_effects, survey_expiry
from .events import Event, Outcome, changes
from .expressions import EvaluationError, Expression
from .machine import CaseView, Reason, Refused, check_now, context
from .model import DefinitionSet, Process, Step, Survey, frozen_map
from .problems import did_you_mean

__all__ = ["answer", "as_step", "invitation", "respondent", "sent_at"]


def respondent(survey_id: str) -> Actor:
    """Who answers a survey: the holder of the link, with no account and no role.

    The name says where the answer came from, for the audit trail; it holds no personal data.
    """
    return Actor("", f"customer (survey link: {survey_id})", frozenset())


def as_step(survey: Survey, state: str = "") -> Step:
    """The survey as a step that stays in ``state``: its inputs, form and effects.

    Form builders and the engine's input checks work on steps; a survey's answer is checked
    by exactly the same field rules.
    """
    return Step(
        id=survey.step_id, label=survey.label, sources=(state,), target=state, roles=(),
        condition=None, inputs=survey.inputs, form=survey.form, effects=survey.effects,
        signature=None, not_by=(), authority=None, reason_required=False, start=False)


def sent_at(definition: DefinitionSet, case: Case, survey: Survey,
            now: datetime | None = None) -> datetime | None:
    """When ``case`` last sent ``survey``, or None when it never did.

    A survey is sent by a step whose effects include it: the time is that step's record. A
    ``when`` on the effect is read on the case as it stands (a finished case keeps the values
    it had when the step was taken); one that cannot be evaluated counts as sent, since only
    a sent invitation carries a signed link.
    """
    process = definition.process(case.process)
    senders = {step.id: [effect for effect in step.effects
                         if effect.kind == "survey" and effect.spec == survey.id]
               for step in process.every_step()}
    values = context(process, case.values, case, now=now)
    for record in reversed(case.steps):
        if any(_holds(effect.condition, values) for effect in senders.get(record.step, ())):
            return record.at
    return None


def _holds(condition: Expression | None, values: Mapping[str, Any]) -> bool:
    if condition is None:
        return True
    try:
        return condition.test(values)
    except EvaluationError:
        return True


def invitation(definition: DefinitionSet, case: Case, survey_id: str,
               now: datetime) -> tuple[Survey, datetime, datetime]:
    """Survey ``survey_id`` of ``case`` as it stands open for an answer at ``now``: the
    survey, when the case sent it and until when it may be answered.

    Refused (step ``survey:<id>``) when the process has no such survey (``unknown``), it was
    already answered (``answered``), the case never sent it (``not_sent``) or its time is
    over (``expired``): what an answer is refused for, and why its invitation is not resent.
    """
    step_id = f"survey:{survey_id}"

    def refuse(code: str, message: str) -> Refused:
        return Refused(step_id, case.state, [Reason(code, message)])

    process = definition.process(case.process)
    survey = process.surveys.get(survey_id)
    if survey is None:
        hint = did_you_mean(survey_id, process.surveys)
        raise refuse("unknown", f"no survey '{survey_id}' in process '{process.id}'"
                     + (f" ({hint})" if hint else ""))
    done = [record for record in case.steps if record.step == survey.step_id]
    if done:
        raise refuse("answered", f"survey '{survey.id}' of case {case.number} was already "
                                 f"answered ({done[-1].at:%Y-%m-%d %H:%M} UTC); it is "
                                 "answered once")
    sent = sent_at(definition, case, survey, now)
    if sent is None:
        raise refuse("not_sent", f"case {case.number} never sent survey '{survey.id}'")
    until = survey_expiry(definition, survey, sent)
    if now > until:
        raise refuse("expired", f"survey '{survey.id}' of case {case.number} could be answered "
                                f"until {until:%Y-%m-%d %H:%M} UTC")
    return survey, sent, until


def answer(definition: DefinitionSet, case: Case, survey_id: str, inputs: Mapping[str, Any],
           now: datetime) -> Outcome:
    """Apply the customer's answer to survey ``survey_id`` of ``case``.

    Refused (:class:`.machine.Refused`, step ``survey:<id>``) when the case runs on another
    definition version (``version``), the process has no such survey (``unknown``), it was
    already answered (``answered``), the case never sent it (``not_sent``), its time is over
    (``expired``), or an input breaks a field rule (``missing``, ``invalid``, ``unexpected``,
    per field, as for a step). Otherwise the values are set (an input left out is emptied:
    the answer replaces whatever was recorded for those fields before), the survey's effects
    run, the priority rules are applied again as after any step, and the answer is recorded.
    """
    check_now(now)
    step_id = f"survey:{survey_id}"
    if case.version != definition.version:
        raise Refused(step_id, case.state, [Reason(
            "version", f"case {case.number} runs on definition version "
                       f"{case.version[:12]}, not {definition.version[:12]}")])
    survey, sent, until = invitation(definition, case, survey_id, now)
    process = definition.process(case.process)
    customer = respondent(survey.id)
    # The step evaluator's own input checks: one set of field rules for staff and customers.
    evaluation = machine.StepCheck(definition, process, as_step(survey, case.state), case,
                                   customer, now)
    # The answer is the customer's alone: what staff recorded for the same fields (e.g. on
    # the phone) neither fills a required answer nor survives one left out.
    evaluation.values.update(dict.fromkeys((i.field for i in survey.inputs), None))
    evaluation.check_inputs(inputs)
    if evaluation.reasons:
        raise Refused(step_id, case.state, evaluation.reasons)
    return _apply(definition, process, survey, case, evaluation.values, sent, until, now)


def _apply(definition: DefinitionSet, process: Process, survey: Survey, case: Case,
           values: dict[str, Any], sent: datetime, until: datetime, now: datetime) -> Outcome:
    # The queue and the clocks stay as they are: an answer is no step of the workflow.
    draft = Draft(values, set(case.flags), case.priority_override, case.assignee_role,
                  dict(case.clocks))

    def ctx() -> CaseView:
        return CaseView(process, draft.values, case, now=now, flags=draft.flags,
                        clocks=draft.clocks)

    try:
        # A notification the answer sends carries "step", never "survey": it is no invitation.
        run_effects(definition, process, case, survey.effects, draft, ctx, now, None,
                    {"step": survey.step_id})
        decision = decide(process, ctx())
    except EffectFailed as failed:
        raise Refused(survey.step_id, case.state, [Reason("effect", str(failed),
                                                          failed.name)]) from failed
    except DecisionError as error:
        raise Refused(survey.step_id, case.state, [Reason("decision", str(error))]) from error
    # As after a step: rule flags follow the values, flags set by effects stay.
    flags = (draft.flags - all_rule_flags(process)) | set(decision.flags)
    priority = process.higher_priority(decision.priority or process.default_priority,
                                       draft.override)
    new_case = replace(
        case, values=frozen_map(draft.values), priority=priority, flags=frozenset(flags),
        priority_override=draft.override,
        steps=(*case.steps, StepRecord(survey.step_id, "", now)), updated_at=now,
        row_version=case.row_version + 1)
    head = Event("survey_answered", now, None, frozen_map({
        "survey": survey.id, "sent_at": sent, "valid_until": until}))
    events = [head, *changes(case, new_case, now, None, decision.rules, clocks=False),
              *draft.opened, *draft.notifications]
    return Outcome(new_case, tuple(events))
