"""Refusals in the user's language.

The engine refuses with reasons that carry a stable code, an English message and, for some
codes, the facts behind them (``Reason.details``). Screens show the reason in the user's
language when the code and facts allow it, and the engine's own message otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from qmsflow.engine import wording
from qmsflow.engine.machine import Reason
from qmsflow.engine.model import Process

from .i18n import definition as served
from .i18n import gettext as _
from .i18n import label, locale, role_label


def reason(process: Process | None, why: Reason) -> str:
    """One refusal reason as a sentence in the request's language."""
    facts = dict(why.details)
    field = process.fields.get(why.field) if process is not None and why.field else None
    name = label(field.label) if field is not None else (why.field or "")
    role_names = ", ".join(role_label(r) for r in facts.get("roles", "").split(",") if r)
    if why.code == "missing" and field is not None:
        return _("%(field)s is required.", field=name)
    if why.code == "role" and role_names:
        return _("Needs the role %(roles)s.", roles=role_names)
    if why.code == "authority" and "needed" in facts:
        needed = role_label(facts["needed"])
        if facts.get("limit") and field is not None:
            # A matrix may read several amounts: say which one needs the higher tier.
            return _("Needs %(needed)s: %(field)s %(amount)s above your limit %(limit)s.",
                     needed=needed, field=name, amount=facts.get("amount", ""),
                     limit=facts["limit"])
        if facts.get("limit"):
            return _("Needs %(needed)s: amount %(amount)s above your limit %(limit)s.",
                     needed=needed, amount=facts.get("amount", ""), limit=facts["limit"])
        if facts.get("tier"):
            return _("Needs %(needed)s: without an amount, this step is decided at that tier.",
                     needed=needed)
        return _("Needs %(needed)s: you hold no approval tier for this amount.", needed=needed)
    if why.code == "separation" and "step" in facts:
        step = process.step(facts["step"]) if process is not None else None
        return _("You took the step '%(step)s' on this case; someone else must take this one "
                 "(separation of duties).", step=label(step.label) if step else facts["step"])
    if why.code == "condition":
        # The step's own message, or a sentence from its fields' labels: never the expression.
        step = process.step(facts.get("step", "")) if process is not None else None
        if process is not None and step is not None and step.condition is not None:
            return wording.condition_sentence(step, process, locale())
        return _("The case does not meet this step's condition.")
    if why.code == "signature":
        return _("Needs your electronic signature: enter your password again.")
    if why.code == "reason":
        return _("Needs a reason.")
    if why.code == "clock" and "clock" in facts:
        clock = process.clocks.get(facts["clock"]) if process is not None else None
        return _("The deadline '%(clock)s' is still running: the case cannot be closed until "
                 "it is stopped.", clock=label(clock.label) if clock else facts["clock"])
    if why.code == "linked" and "case" in facts:
        relation = served().organisation.relations.get(facts.get("relation", ""))
        return _("The linked case %(number)s (%(relation)s) is not finished yet: this case "
                 "cannot be closed before it.", number=facts["case"],
                 relation=label(relation.reverse) if relation else facts.get("relation", ""))
    if why.code == "form" and "item" in facts:
        form = served().report_forms.get(facts.get("form", ""))
        item = next((i for i in form.items() if i.id == facts["item"]), None) if form else None
        if form is not None and item is not None:
            return _("%(form)s: %(field)s is required before the report is submitted.",
                     form=label(form.label), field=label(item.label))
    if why.code == "no_entry" and "key" in facts:
        register = served().registers.get(facts.get("register", ""))
        return _("%(field)s: %(key)s is not in %(register)s. Register it there first, or check "
                 "what you typed.", field=name, key=facts["key"],
                 register=label(register.label) if register else facts.get("register", ""))
    if why.code == "entry" and "key" in facts:
        return _entry(facts)
    if why.code == "final":
        return _("The case is finished; nothing more can be done.")
    if why.code == "voided":
        return _("The case was voided.")
    return why.message


def _entry(facts: dict[str, str]) -> str:
    """A register entry a step's update cannot change, in the reader's language."""
    own = facts.get(f"message_{locale()}")
    if own:
        return own  # the definition's own words for its condition
    register = served().registers.get(facts.get("register", ""))
    spec = register.fields.get(facts.get("field", "")) if register is not None else None
    words = {"entry": label(register.entry_label) if register else facts.get("register", ""),
             "key": facts["key"], "field": label(spec.label) if spec else facts.get("field", ""),
             "value": facts.get("value", "")}
    rule = facts.get("rule")
    if rule == "minimum":
        return _("%(entry)s %(key)s: %(field)s would fall to %(value)s, below its minimum "
                 "%(minimum)s. Nothing was saved.", minimum=facts.get("min", ""), **words)
    if rule == "maximum":
        return _("%(entry)s %(key)s: %(field)s would rise to %(value)s, above its maximum "
                 "%(maximum)s. Nothing was saved.", maximum=facts.get("max", ""), **words)
    if rule == "required":
        return _("%(entry)s %(key)s needs %(field)s, which this case does not give. Nothing "
                 "was saved.", **words)
    if words["field"]:
        return _("%(entry)s %(key)s cannot take this change to %(field)s. Nothing was saved.",
                 **words)
    return _("%(entry)s %(key)s does not allow this step. Nothing was saved.", **words)


def reasons(process: Process | None, why: Iterable[Reason]) -> list[str]:
    """Every reason as a sentence, without repeats."""
    return list(dict.fromkeys(reason(process, item) for item in why))

