"""The state machine: one pure function applies a step to a case.

``apply(definition, case, step_id, actor, inputs, now)`` returns the new case and the events it
produced, or raises :class:`Refused` naming the step, the state and every unmet rule: wrong
role, wrong state, condition false, missing or invalid input, a field the step does not ask
for, above the actor's approval authority, the same person as a step that must be someone
else, a missing signature or reason. No IO and no clock of its own: ``now`` is given.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from . import clocks as clock_ops
from . import references, report_forms, witnesses
from .cases import Actor, Case, ClockState, Link, Signature, StepRecord, assemble
from .decisions import DecisionError, all_rule_flags, decide
from .effects import Draft, EffectFailed, clock_events, run_effects
from .errors import QmsflowError
from .events import Event, Outcome, changes
from .expressions import EvaluationError, Expression
from .model import Authority, DefinitionSet, Process, Step, Tier, frozen_map, text
from .problems import did_you_mean
from .values import ValueProblem, coerce, is_empty
from .wording import condition_sentence

__all__ = ["Event", "Need", "Outcome", "Reason", "Refused", "apply", "available",
           "case_number", "open_linked", "required_fields", "start", "tier_needed"]


@dataclass(frozen=True)
class Reason:
    """One unmet rule: a stable code, a message for the person, and the field it concerns.

    ``details`` are the facts behind the message as (name, text) pairs (e.g. ``needed``,
    ``amount`` and ``limit`` of an authority refusal), so a screen can word it in any language.
    """

    code: str
    message: str
    field: str | None = None
    details: tuple[tuple[str, str], ...] = ()


class Refused(QmsflowError):
    """A step that may not be taken now, with every reason why.

    ``step`` is None when no step may be taken at all, whichever is asked (the user may not
    act, or the served definitions are not published): see :meth:`any_step`.
    """

    def __init__(self, step: str | None, state: str | None, reasons: list[Reason]) -> None:
        self.step = step
        self.state = state
        self.reasons = tuple(reasons)
        where = f" in state '{state}'" if state else ""
        what = step if step is not None else "(any)"
        super().__init__(f"'{what}' refused{where}: " + "; ".join(r.message for r in reasons))

    @classmethod
    def any_step(cls, reasons: list[Reason]) -> Refused:
        """A refusal of every step, whichever is asked, before any case is read."""
        return cls(None, None, reasons)


#: The case attributes an expression reads besides the fields, in the order a context lists
#: them (after the fields). An attribute wins over a field of the same name.
ATTRIBUTES: tuple[str, ...] = ("number", "process", "state", "priority", "flags",
                               "category_path", "created_at", "now", "links", "clocks")
_ATTRIBUTE_SET = frozenset(ATTRIBUTES)


class CaseView(Mapping[str, Any]):
    """The names an expression can read, as a read-only mapping computed on demand.

    The same names, values and order as :func:`context`, which copies every field of the
    process into a dict: a step reads a context several times and an expression only a few
    names, so the engine reads this view instead. A field is looked up in ``values`` when it
    is read (None when empty or absent); the derived attributes (sorted flags, category path,
    links, clocks) are computed at their first read and kept.

    ``values`` is read live: build a new view after changing them. ``flags`` and ``clocks`` are
    taken as they stand when the view is built (a clock effect starts its clocks one by one,
    and their conditions read the clocks as they were before it).
    """

    __slots__ = ("_attributes", "_case", "_clocks", "_fields", "_flags", "_process", "_values")

    def __init__(self, process: Process, values: Mapping[str, Any], case: Case | None = None,
                 *, now: datetime | None = None, state: str | None = None,
                 priority: str | None = None, flags: Collection[str] | None = None,
                 clocks: Mapping[str, ClockState] | None = None) -> None:
        self._fields = process.fields
        self._values = values
        self._case = case
        # Copies: the caller's set and dict may change while the view is still read.
        self._flags: Collection[str] = (frozenset(flags) if flags is not None
                                        else (case.flags if case else ()))
        self._clocks: Mapping[str, ClockState] = (dict(clocks) if clocks is not None
                                                  else (case.clocks if case else {}))
        # The attributes that cost nothing to read are set now; the others at their first read.
        self._attributes: dict[str, Any] = {
            "number": case.number if case else "",
            "process": process.id,
            "state": state if state is not None else (case.state if case else None),
            "priority": priority if priority is not None else (case.priority if case else None),
            "created_at": case.created_at if case else now,
            "now": now,
        }
        self._process = process

    def _attribute(self, name: str) -> Any:
        attributes = self._attributes
        if name in attributes:
            return attributes[name]
        if name == "flags":
            value: Any = sorted(self._flags)
        elif name == "category_path":
            process = self._process
            # The category field's own value (a field, never an attribute of the same name).
            field = process.category_field or ""
            chosen = self._values.get(field) if field in self._fields else None
            category = process.categories.get(str(chosen))
            value = list(category.path) if category else []
        elif name == "links":
            value = [{"relation": x.relation, "process": x.process, "number": x.number}
                     for x in (self._case.links if self._case else ())]
        else:
            value = clock_ops.expression_view(self._clocks, attributes["now"])
        attributes[name] = value
        return value

    def attributes(self) -> dict[str, Any]:
        """Every case attribute (not the fields), in :data:`ATTRIBUTES` order."""
        return {name: self._attribute(name) for name in ATTRIBUTES}

    def __getitem__(self, name: str) -> Any:
        if name in _ATTRIBUTE_SET:
            return self._attribute(name)
        if name in self._fields:
            return self._values.get(name)
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``; ``default`` only for a name that is neither a field nor an
        attribute (an empty field reads None, as in a context)."""
        # Mapping.get goes through __getitem__ and a KeyError: expressions call this one.
        attributes = self._attributes
        if name in attributes:
            return attributes[name]  # the attributes computed so far: no call
        if name in _ATTRIBUTE_SET:
            return self._attribute(name)
        if name in self._fields:
            return self._values.get(name)
        return default

    def __contains__(self, name: object) -> bool:
        return name in _ATTRIBUTE_SET or name in self._fields

    def __iter__(self) -> Iterator[str]:
        # The order of the dict that context() builds: the fields, then the attributes that
        # are not also a field.
        yield from self._fields
        for name in ATTRIBUTES:
            if name not in self._fields:
                yield name

    def __len__(self) -> int:
        return len(self._fields) + sum(1 for name in ATTRIBUTES if name not in self._fields)


def context(process: Process, values: Mapping[str, Any], case: Case | None = None, *,
            now: datetime | None = None, state: str | None = None,
            priority: str | None = None, flags: Collection[str] | None = None,
            clocks: Mapping[str, ClockState] | None = None) -> dict[str, Any]:
    """The names an expression can read: every field (None when empty) and case attributes.

    Attributes come from ``case``; a step passes the state, priority, flags and clocks it is
    about to give the case where those differ. A dict of its own, for callers that change or
    add to it; the engine reads a :class:`CaseView`, which copies nothing.
    """
    ctx = {name: values.get(name) for name in process.fields}
    ctx.update(CaseView(process, values, case, now=now, state=state, priority=priority,
                        flags=flags, clocks=clocks).attributes())
    return ctx


def check_now(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("the engine needs an aware datetime for 'now' (UTC)")


def authority_limit(matrix: Authority, actor: Actor) -> tuple[bool, Decimal | None]:
    """Whether the actor holds a tier of ``matrix``, and their highest limit (None: unlimited)."""
    held = [tier for tier in matrix.tiers if tier.role in actor.roles]
    if not held:
        return False, Decimal(0)
    if any(tier.limit is None for tier in held):
        return True, None
    return True, max(tier.limit for tier in held if tier.limit is not None)


def tier_for(matrix: Authority, amount: Decimal | None) -> Tier:
    """The lowest tier whose limit covers ``amount`` (routing of 核决权限); for no amount, the
    matrix's ``without_amount`` tier (the lowest by default)."""
    if amount is None:
        return matrix.tier(matrix.without_amount)
    for tier in matrix.tiers:
        if tier.limit is None or amount <= tier.limit:
            return tier
    return matrix.tiers[-1]


@dataclass(frozen=True)
class Need:
    """The tier of a matrix a case needs, and the amount field that needs it (None, None when
    no amount is given: then the matrix's ``without_amount`` tier decides)."""

    tier: Tier
    field: str | None
    amount: Decimal | None


def tier_needed(matrix: Authority, values: Mapping[str, Any]) -> Need:
    """The highest tier any of the matrix's amounts needs (routing and the step check).

    Each amount field is judged on its own; an empty one asks for nothing. When none is given
    (or the matrix reads no amount at all), the ``without_amount`` tier is needed.
    """
    need: Need | None = None
    for name in matrix.fields:
        amount = values.get(name)
        if amount is None:
            continue
        tier = tier_for(matrix, amount)
        if need is None or matrix.tiers.index(tier) > matrix.tiers.index(need.tier):
            need = Need(tier, name, amount)
    return need or Need(tier_for(matrix, None), None, None)


def _money(value: Decimal | None) -> str:
    return "unlimited" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


def required_fields(process: Process, step: Step,
                    context: Mapping[str, Any]) -> frozenset[str]:
    """The inputs of ``step`` that must be given, judged on ``context`` (see :func:`context`).

    The one place that decides it: the step check refuses a missing one, and a step form marks
    it missing before the engine is asked. An input is required when its own rule says so
    (always, or by a condition that holds), or when the category chosen in ``context`` or any
    of its ancestors lists the field. Whether the value is given is the caller's to judge (a
    file already stored on the case counts, for instance).
    """
    category = process.categories.get(str(context.get(process.category_field or "")))
    by_category: set[str] = set()
    for ancestor in category.path if category is not None else ():
        by_category |= set(process.categories[ancestor].required_fields)
    return frozenset(item.field for item in step.inputs
                     if item.field in by_category or _requires(item.required, context))


def _requires(rule: bool | Expression, context: Mapping[str, Any]) -> bool:
    if isinstance(rule, bool):
        return rule
    try:
        return rule.test(context)
    except EvaluationError:
        return True  # when in doubt, ask: a condition that cannot be evaluated is not a waiver


@dataclass(frozen=True)
class _Plan:
    """What a step of a process always does, worked out once from the (immutable) definitions
    rather than on every step taken: its fields in order, which are required whatever the
    case, which by a condition, the clocks it triggers."""

    offered: Mapping[str, None]  # the step's fields once each, in its order
    always: frozenset[str]  # required whatever the case holds
    conditional: bool  # some input is required by a condition, or by the chosen category
    reasons: bool  # some input needs a reason when it changes a value already given
    clocks: tuple[str, ...]  # the clocks the step starts, stops, pauses or resumes


# Plans by step object; each entry holds its step, so an id is never reused while kept.
_PLANS: dict[int, tuple[Step, _Plan]] = {}


def _plan(process: Process, step: Step) -> _Plan:
    kept = _PLANS.get(id(step))
    if kept is not None and kept[0] is step:
        return kept[1]
    by_category = any(c.required_fields for c in process.categories.values())
    plan = _Plan(
        offered=dict.fromkeys(item.field for item in step.inputs),
        always=frozenset(item.field for item in step.inputs if item.required is True),
        conditional=by_category or any(not isinstance(item.required, bool)
                                       for item in step.inputs),
        reasons=any(process.fields[item.field].change_reason for item in step.inputs),
        clocks=tuple(clock.id for clock in process.clocks.values()
                     if step.id in clock.triggers))
    if len(_PLANS) >= 4096:
        _PLANS.clear()  # definitions come and go (drafts, versions): keep the cache bounded
    _PLANS[id(step)] = (step, plan)
    return plan


class StepCheck:
    """Evaluates one step for one actor: the reasons it is refused, then its effects."""

    def __init__(self, definition: DefinitionSet, process: Process, step: Step,
                 case: Case | None, actor: Actor, now: datetime,
                 values: Mapping[str, Any] | None = None,
                 linked: Mapping[str, bool] | None = None,
                 entries: Mapping[str, Mapping[str, Any] | None] | None = None) -> None:
        self.definition = definition
        # The register entries the step's references name, read by the caller (see apply).
        self.entries = entries
        # Whether each linked case is finished, by number: the caller reads them (see apply).
        self.linked = linked or {}
        self.process = process
        self.step = step
        self.plan = _plan(process, step)
        self.case = case
        self.actor = actor
        self.now = now
        self.reasons: list[Reason] = []
        # The values the step's rules read: the case's (or, opening one, the given defaults).
        self.values: dict[str, Any] = dict(case.values if case else values or {})
        self._context: CaseView | None = None  # built once; renewed when values change
        # The inputs taken into ``values``: the only values the check changes.
        self.taken: dict[str, None] = {}

    def refuse(self, code: str, message: str, name: str | None = None,
               **details: str) -> None:
        self.reasons.append(Reason(code, message, name, tuple(details.items())))

    def check(self, inputs: Mapping[str, Any], signature: Signature | None,
              reason: str | None, inputs_given: bool = True) -> None:
        step, case, actor = self.step, self.case, self.actor
        if case is not None and case.state not in step.sources:
            here = self.process.states[case.state]
            self.refuse("state", f"'{step.id}' cannot be taken in state "
                        f"'{text(here.label, 'en')}' ({case.state}); it starts from "
                        + ", ".join(step.sources))
        if not set(step.roles) & actor.roles:
            self.refuse("role", f"needs one of the roles {', '.join(step.roles)}; "
                        f"{actor.name} has {', '.join(sorted(actor.roles)) or 'none'}",
                        roles=",".join(step.roles))
        for other in step.not_by:
            if case and any(r.step == other and r.actor == actor.id for r in case.steps):
                label = self.process.step(other)
                shown = text(label.label, "en") if label else other
                self.refuse("separation", f"{actor.name} took '{shown}' ({other}) on this case "
                            "and may not also take this step: someone else must", step=other)
        if inputs_given:
            self.check_inputs(inputs)
        if step.condition is not None:
            self.check_condition(step.condition, inputs_given)
        if step.authority:
            self._authority(self.process.authorities[step.authority])
        if step.signature:
            if signature is None:
                self.refuse("signature", f"needs an electronic signature meaning "
                            f"'{step.signature}': re-enter your password to sign")
            elif signature.meaning != step.signature:
                self.refuse("signature", f"the signature means '{signature.meaning}', this step "
                            f"needs '{step.signature}'")
            elif signature.signer_id != actor.id or not signature.authenticated:
                self.refuse("signature", "the signature must be the actor's own, given after "
                            "re-authentication")
        if case is not None:
            self.check_blocking_clocks(case)
            self.check_blocking_links(case)
        if step.complete_forms:
            self.check_forms()
        changed_needing_reason = [
            name for name in self.changed() if self.process.fields[name].change_reason
            and case is not None and not is_empty(case.values.get(name))
        ] if self.plan.reasons else []  # only the step's own fields can change here
        if (step.reason_required or changed_needing_reason) and is_empty(reason):
            why = (f"changing {', '.join(changed_needing_reason)} needs a reason"
                   if changed_needing_reason else "this step needs a reason")
            self.refuse("reason", why)

    def closes(self, case: Case) -> bool:
        """Whether the step takes ``case`` from an open state into a final one."""
        states = self.process.states
        return states[self.step.lands_in(case.state)].final and not (
            case.state in states and states[case.state].final)

    def check_blocking_clocks(self, case: Case) -> None:
        """Refuse a step into a final state while a ``blocks_close`` clock still runs (or is
        paused), unless the step itself stops that clock."""
        if not case.clocks or not self.closes(case):
            return
        for state in case.clocks.values():
            clock = self.process.clocks.get(state.id)
            if clock is None or not clock.blocks_close or state.status == "stopped":
                continue
            if self.step.id in clock.stop_on or any(
                    effect.kind == "clock" and state.id in effect.spec.get("stop", ())
                    for effect in self.step.effects):
                continue
            self.refuse("clock", f"the deadline '{text(clock.label, 'en')}' is still running: "
                        "the case cannot be closed until it is stopped", None, clock=state.id)

    def check_blocking_links(self, case: Case) -> None:
        """Refuse a step into a final state while a case this one opened through a
        ``blocks_close`` relation (a regulatory report, a CAPA) is unfinished.

        A linked case whose state the caller did not give counts as unfinished: a close is
        never let through on what was not checked.
        """
        if not case.links or not self.closes(case):
            return
        relations = self.definition.organisation.relations
        for link in case.links:
            base, _, reverse = link.relation.partition(":")
            relation = relations.get(base)
            if not reverse or relation is None or not relation.blocks_close:
                continue
            if self.linked.get(link.number) is not True:
                self.refuse("linked", f"the linked case {link.number} "
                            f"({text(relation.reverse, 'en') or base}) is not finished yet: "
                            "this case cannot be closed before it", None,
                            case=link.number, relation=base)

    def check_forms(self) -> None:
        """Refuse while a report form that applies to the case has an empty mandatory field:
        one reason per field, on the case field that fills it."""
        for form in report_forms.forms_for(self.definition.report_forms, self.process,
                                           self.context()):
            for item in report_forms.fill(form, self.values).missing:
                self.refuse("form", f"'{text(form.label, 'en')}' needs "
                            f"'{text(item.label, 'en')}': it is empty", item.source,
                            form=form.id, item=item.id)

    def check_condition(self, condition: Expression, inputs_given: bool) -> None:
        """Refuse when the step's condition does not hold.

        With the inputs given (a submitted step) it is evaluated on them. Before any are
        typed (see :func:`available`), a condition that reads only the case is evaluated on
        the case; one that reads the step's own inputs refuses only when no valid inputs can
        make it hold (see :mod:`.witnesses`): the form asks for them, and the submit decides.
        """
        step = self.step
        # The step, not the expression: a reason reaches people (and API clients that show
        # its facts), who must never see the expression. Its words come from the step.
        facts = {"step": step.id}
        if not inputs_given and witnesses.condition_inputs(self.process, step):
            verdict = witnesses.search(
                self.process, step, self.values, lambda values: CaseView(
                    self.process, values, self.case, now=self.now),
                lambda name, ctx: name not in required_fields(self.process, step, ctx))
            if not verdict.possible:
                self.refuse("condition", condition_sentence(step, self.process, "en"),
                            None, **facts)
            return
        try:
            holds = condition.test(self.context())
        except EvaluationError as error:
            self.refuse("condition", f"{condition_sentence(step, self.process, 'en')} (it "
                        f"could not be evaluated: {error.reason})", None, **facts)
            return
        if not holds:
            # On the one input the condition reads, when there is one: the form shows it there.
            read = witnesses.condition_inputs(self.process, step)
            self.refuse("condition", condition_sentence(step, self.process, "en"),
                        read[0] if inputs_given and len(read) == 1 else None, **facts)

    def check_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Coerce the offered inputs into ``values`` and refuse unknown, invalid or missing
        ones (the field rules every step, and a customer survey, share)."""
        # The step's fields once each, in its order: a new value takes its place in the case
        # in that order, whatever the hash seed (a set here made it vary from run to run).
        plan = self.plan
        offered = plan.offered
        for name in inputs:
            if name not in offered:
                hint = did_you_mean(name, offered)
                self.refuse("unexpected", f"'{self.step.id}' does not take field '{name}'"
                            + (f" ({hint})" if hint else ""), name)
        invalid = set()
        for name in offered:
            if name not in inputs:
                continue
            try:
                self.values[name] = coerce(self.process.fields[name], inputs[name],
                                           self.process)
                self.taken[name] = None
            except ValueProblem as problem:
                invalid.add(name)
                self.refuse("invalid", f"{name}: {problem}", name, **problem.facts)
        if self.entries is not None:
            self._copy_references()
        self._context = None  # the inputs changed the values
        # Only a condition or a category makes it depend on the case (required_fields).
        required = (required_fields(self.process, self.step, self.context())
                    if plan.conditional else plan.always)
        # Each field once, in the step's order, even if the step lists it twice.
        for name in offered:
            if name in required and name not in invalid and is_empty(self.values.get(name)):
                label = text(self.process.fields[name].label, "en")
                self.refuse("missing", f"{name}: '{label}' is required", name)

    def _copy_references(self) -> None:
        """Refuse a reference to no entry; copy what a new reference's entry gives the case
        (an unchanged one copies nothing: the case keeps what it copied when it was set)."""
        old = self.case.values if self.case else {}
        given = [name for name in self.taken if self.values.get(name) != old.get(name)]
        today = self.now.astimezone(ZoneInfo(self.definition.organisation.timezone)).date()
        assert self.entries is not None
        copied, unknown = references.take(self.process, given, self.values, self.entries, today)
        for ref in unknown:
            self.refuse("no_entry", f"{ref.field}: '{ref.key}' is not an entry of the register "
                                    f"'{ref.register}': register it there first, or check the "
                                    "key", ref.field, register=ref.register, key=ref.key)
        for name, raw in copied.items():
            try:
                self.values[name] = coerce(self.process.fields[name], raw, self.process)
                self.taken[name] = None
            except ValueProblem as problem:
                self.refuse("invalid", f"{name}: {problem}", name, **problem.facts)

    def _authority(self, matrix: Authority) -> None:
        need = tier_needed(matrix, self.values)
        needed, amount = need.tier, need.amount
        holds, limit = authority_limit(matrix, self.actor)
        if not holds:
            self.refuse("authority", f"{self.actor.name} holds no tier of "
                        f"'{text(matrix.label, 'en')}'; needs {needed.role}",
                        needed=needed.role)
        elif amount is not None and need.field is not None:
            if limit is not None and amount > limit:
                label = text(self.process.fields[need.field].label, "en")
                self.refuse("authority", f"needs {needed.role}: amount {_money(amount)} above "
                            f"your limit {_money(limit)} ({label})", need.field,
                            needed=needed.role,
                            amount=_money(amount), limit=_money(limit), field=need.field)
        else:
            # No amount to compare with a limit: the tier named for that case (or the lowest)
            # decides, and so does any tier above it.
            rank = matrix.tiers.index(needed)
            if not any(t.role in self.actor.roles for t in matrix.tiers[rank:]):
                self.refuse("authority", f"needs {needed.role}: without an amount, "
                            f"'{text(matrix.label, 'en')}' is decided by "
                            f"'{text(needed.label, 'en') or needed.id}'",
                            needed=needed.role, tier=needed.id)

    def changed(self) -> list[str]:
        """The fields whose value the inputs change, in the order of the case's values."""
        old = self.case.values if self.case else {}
        values = self.values
        # Only an input taken can differ from the case: compare those, not every field.
        changed = [name for name in self.taken if old.get(name) != values[name]]
        if len(changed) > 1:
            # The order a walk over every value would give (the reason's words list them).
            wanted = set(changed)
            changed = [name for name in values if name in wanted]
        return changed

    def context(self) -> CaseView:
        """What the step's rules read: the case with the values as they stand now."""
        if self._context is None:
            self._context = CaseView(self.process, self.values, self.case, now=self.now)
        return self._context


def _find_step(process: Process, step_id: str, state: str | None) -> Step:
    step = process.step(step_id)
    if step is None:
        known = [*process.starts, *process.steps]
        hint = did_you_mean(step_id, known)
        raise Refused(step_id, state, [Reason(
            "unknown", f"no step '{step_id}' in process '{process.id}'"
            + (f" ({hint})" if hint else ""))])
    return step


def available(definition: DefinitionSet, case: Case, actor: Actor, now: datetime,
              linked: Mapping[str, bool] | None = None) -> dict[str, tuple[Reason, ...]]:
    """Every step from the case's state, with the reasons it is refused (empty: allowed).

    Inputs are not judged here (they are typed on the step's form); everything else is, so a
    screen can show the steps a user may take and, for the others, why not. A condition that
    reads the step's own inputs refuses here only when no valid inputs can make it hold; the
    inputs given decide it on submit (:meth:`StepCheck.check_condition`). ``linked`` as for
    :func:`apply`.
    """
    process = definition.process(case.process)
    result: dict[str, tuple[Reason, ...]] = {}
    for step in process.steps.values():
        if case.state not in step.sources:
            continue
        evaluation = StepCheck(definition, process, step, case, actor, now, linked=linked)
        evaluation.check({}, Signature(actor.id, step.signature or "", True), "(checking)",
                         inputs_given=False)
        result[step.id] = tuple(evaluation.reasons)
    return result


def start(definition: DefinitionSet, process_id: str, step_id: str, actor: Actor,
          inputs: Mapping[str, Any], now: datetime, number: str,
          signature: Signature | None = None, reason: str | None = None,
          entries: Mapping[str, Mapping[str, Any] | None] | None = None,
          targets: Mapping[str, Mapping[str, Any] | None] | None = None) -> Outcome:
    """Open a new case through a start step; ``number`` comes from :func:`case_number`.
    ``entries`` and ``targets`` as for :func:`apply`."""
    check_now(now)
    process = definition.process(process_id)
    step = _find_step(process, step_id, None)
    if not step.start:
        raise Refused(step_id, None, [Reason("state", f"'{step_id}' does not open a case")])
    defaults = process.defaults()
    blank = Case(process=process.id, version=definition.version, number=number,
                 state="", values=frozen_map(defaults), priority=process.default_priority,
                 flags=frozenset(), assignee_role=None, created_at=now, updated_at=now,
                 row_version=0)
    evaluation = StepCheck(definition, process, step, None, actor, now, values=defaults,
                           entries=entries)
    evaluation.check(inputs, signature, reason)
    if evaluation.reasons:
        raise Refused(step_id, None, evaluation.reasons)
    return _take(definition, process, step, blank, evaluation, actor, now, signature, reason,
                 targets)


def apply(definition: DefinitionSet, case: Case, step_id: str, actor: Actor,
          inputs: Mapping[str, Any], now: datetime, signature: Signature | None = None,
          reason: str | None = None, linked: Mapping[str, bool] | None = None,
          entries: Mapping[str, Mapping[str, Any] | None] | None = None,
          targets: Mapping[str, Mapping[str, Any] | None] | None = None) -> Outcome:
    """Take the step ``step_id`` on ``case``; the new case and its events, or :class:`Refused`.

    ``linked``: whether each case linked to this one is finished, by number. Only a step
    into a final state reads it, for the links whose relation ``blocks_close``; one missing
    counts as unfinished. ``entries``: the entry each register field given refers to (its
    values, None when there is none), read by the caller: a reference to no entry is refused,
    and a new reference copies its ``copies`` into the case (:mod:`.references`). Without
    ``entries`` references are taken as typed. ``targets``: the entries the step's
    ``update`` effects change, by case field (see :func:`.register_updates.targets`), read
    by the caller, who writes the outcome's ``update_entry`` events; without them no entry
    is changed.
    """
    check_now(now)
    if case.version != definition.version:
        raise Refused(step_id, case.state, [Reason(
            "version", f"case {case.number} runs on definition version {case.version[:12]}, "
                       f"not {definition.version[:12]}: load its own version or migrate it")])
    process = definition.process(case.process)
    step = _find_step(process, step_id, case.state)
    if step.start:
        raise Refused(step_id, case.state, [Reason("state", f"'{step_id}' only opens new cases")])
    if process.states[case.state].final and case.state not in step.sources:
        # Only a step written for the final state (one that stops a deadline running after
        # the close) may be taken on a finished case.
        raise Refused(step_id, case.state, [Reason(
            "final", f"case {case.number} is finished ({case.state}); nothing more can be done")])
    evaluation = StepCheck(definition, process, step, case, actor, now, linked=linked,
                           entries=entries)
    evaluation.check(inputs, signature, reason)
    if evaluation.reasons:
        raise Refused(step_id, case.state, evaluation.reasons)
    return _take(definition, process, step, case, evaluation, actor, now, signature, reason,
                 targets)


def _take(definition: DefinitionSet, process: Process, step: Step, case: Case,
          evaluation: StepCheck, actor: Actor, now: datetime, signature: Signature | None,
          reason: str | None,
          targets: Mapping[str, Mapping[str, Any] | None] | None = None) -> Outcome:
    # A step that stays leaves the case in its state and queue; any other moves it to its
    # target and the target's owner.
    landed = step.lands_in(case.state)
    draft = Draft(evaluation.values, set(case.flags), case.priority_override,
                   case.assignee_role if step.stays else process.states[landed].owner,
                   dict(case.clocks), entries=targets, inputs=evaluation.taken)

    def ctx() -> CaseView:
        return CaseView(process, draft.values, case, now=now, state=landed,
                        flags=draft.flags, clocks=draft.clocks)

    try:
        run_effects(definition, process, case, step.effects, draft, ctx, now, actor.id,
                     {"step": step.id})
    except EffectFailed as failed:
        raise Refused(step.id, case.state or None, [Reason(
            failed.code, str(failed), failed.name, tuple(failed.facts.items()))]) from failed
    try:
        decision = decide(process, ctx())
    except DecisionError as error:
        raise Refused(step.id, case.state or None, [Reason("decision", str(error))]) from error
    rule_flags = all_rule_flags(process)
    # Rule flags are recomputed on every step; flags set by effects (e.g. overdue) stay.
    flags = (draft.flags - rule_flags) | set(decision.flags)
    # An escalation may have raised the priority above what the rules decide; it stays.
    priority = process.higher_priority(decision.priority or process.default_priority,
                                       draft.override)
    draft.flags = flags

    # Clocks started by this step choose their variant on the priority it just decided. The
    # context is built once: from here on only the clocks change, and their view is renewed
    # when a clock's events changed them (a later clock's rule may read an earlier one).
    decided = CaseView(process, draft.values, case, now=now, state=landed,
                       priority=priority, flags=flags, clocks=draft.clocks)
    for cid in evaluation.plan.clocks:  # most clocks do nothing on a given step
        before = dict(draft.clocks)
        clock_events(definition, process, cid, step.id, draft.clocks, decided, now)
        if draft.clocks != before:
            decided = CaseView(process, draft.values, case, now=now, state=landed,
                               priority=priority, flags=flags, clocks=draft.clocks)
    # Clocks follow the step's values: a start_at field given or corrected, a variant that
    # no longer applies. Then a case reaching a final state stops the clocks that end with it.
    moved = clock_ops.follow(definition, process, case.clocks, draft.clocks, case.values,
                             decided, now)
    target = process.states[landed]
    was_final = case.state in process.states and process.states[case.state].final
    if target.final and not was_final:
        clock_ops.close(process, draft.clocks, now)

    assignee_role = draft.assignee_role
    if target.route_by and not step.stays:
        # 核决权限: the case goes to the highest tier any of its amounts needs.
        assignee_role = tier_needed(process.authorities[target.route_by], draft.values).tier.role
    # The person it was with keeps it while it stays in their queue.
    assignee = case.assignee if step.stays and assignee_role == case.assignee_role else None

    # Built from every field by name (dataclasses.replace looks every field up on each step;
    # assemble refuses a field left out).
    new_case = assemble(
        process=case.process, version=case.version, number=case.number, state=landed,
        values=frozen_map(draft.values), priority=priority, flags=frozenset(flags),
        assignee_role=assignee_role, created_at=case.created_at, updated_at=now,
        clocks=frozen_map(draft.clocks), steps=(*case.steps, StepRecord(step.id, actor.id, now)),
        links=case.links, assignee=assignee, priority_override=draft.override,
        # A step on a closed case (it stops a deadline that outlived it) keeps it closed.
        closed_at=(case.closed_at if step.stays or (was_final and target.final)
                   else (now if target.final else None)),
        row_version=case.row_version + 1)

    head = Event("created" if step.start else "transition", now, actor.id, MappingProxyType({
        "step": step.id, "from": case.state or None, "to": landed,
        "signature": signature.meaning if signature and step.signature else None,
        "signer": actor.name if signature and step.signature else None,
        "reason": reason or None}))
    events = [head, *changes(case, new_case, now, actor.id, decision.rules, moved=moved,
                             written=evaluation.taken.keys() | draft.written),
              *draft.opened, *draft.notifications, *draft.updates]
    return Outcome(new_case, tuple(events))


def case_number(process: Process, local_now: datetime, sequence: int) -> str:
    """Format a case number (表单编号) from the process's pattern, e.g. KS-2026-11-0042."""
    return process.case_number_format.format(
        year=f"{local_now.year:04d}", month=f"{local_now.month:02d}",
        day=f"{local_now.day:02d}", seq=sequence)


def open_linked(definition: DefinitionSet, source: Case, event: Event, actor: Actor,
                now: datetime, number: str) -> tuple[Outcome, Case]:
    """Open the case an ``open_case`` event asks for, linked both ways.

    Returns the new case's outcome and the source case with the link added. The new case
    starts where the process's first start step leads, with the copied values; its own rules
    apply from there.
    """
    check_now(now)
    process = definition.process(str(event.data["process"]))
    first = next(iter(process.starts.values()))
    assert first.target is not None  # a start step always names its state (the schema says so)
    relation = str(event.data["relation"])
    # The new case starts from its own defaults (e.g. reportability 'assessment required'),
    # then the copied values.
    values = {**process.defaults(), **event.data["values"]}
    decision = decide(process, CaseView(process, values, now=now))
    priority = decision.priority or process.default_priority
    # The clocks its first start step starts (a report's deadline from the awareness time)
    # run from the moment it is opened, as if that step had been taken; a later clock's rule
    # reads the earlier ones.
    clocks: dict[str, ClockState] = {}
    for clock in process.clocks.values():
        if first.id in clock.triggers:
            clock_events(definition, process, clock.id, first.id, clocks,
                         CaseView(process, values, now=now, state=first.target,
                                  priority=priority, flags=decision.flags, clocks=clocks), now)
    new_case = Case(
        process=process.id, version=definition.version, number=number, state=first.target,
        values=frozen_map(values), priority=priority,
        flags=decision.flags, assignee_role=process.states[first.target].owner,
        clocks=frozen_map(clocks), created_at=now, updated_at=now,
        steps=(StepRecord("open_case", actor.id, now),),
        links=(Link(relation, source.process, source.number),))
    linked_source = replace(source, links=(*source.links, Link(
        f"{relation}:reverse", process.id, number)), row_version=source.row_version + 1,
        updated_at=now)
    created = Event("created", now, actor.id, frozen_map({
        "step": "open_case", "from": None, "to": first.target, "relation": relation,
        "source": source.number}))
    # As for a case opened by a start step: the trail records every value that differs from
    # the process's defaults, so that the case can be rebuilt from its trail alone.
    blank = replace(new_case, state="", values=frozen_map(process.defaults()),
                    priority=process.default_priority, flags=frozenset(), assignee_role=None,
                    clocks=frozen_map())
    return Outcome(new_case, (created, *changes(blank, new_case, now, actor.id,
                                                decision.rules))), linked_source
