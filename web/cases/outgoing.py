"""What a step would send to a customer, shown before it is sent.

A step whose effects e-mail an address typed into the case (``to: field:...``: a complainant,
a hospital contact) speaks for the company. Its form first offers "Preview the message": the
engine takes the step on a copy of the case with what was typed (nothing is saved), and the
page shows each message exactly as the outbox would write it, to whom, or why it cannot go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qmsflow.engine import machine
from qmsflow.engine.cases import Actor, Case, Signature
from qmsflow.engine.model import DefinitionSet, Step
from qmsflow.engine.notifications import (
    Recipient,
    RenderFailed,
    context,
    reads,
    render,
)
from qmsflow.engine.persistence import outbox

from ..i18n import gettext as _


@dataclass(frozen=True)
class Outgoing:
    """One message to a customer as it would be sent: address, subject and body, or why not."""

    to: str
    subject: str
    body: str
    problem: str = ""


def speaks_to_customers(step: Step) -> bool:
    """Whether ``step`` may e-mail an address typed into the case (under any condition)."""
    return any(effect.kind == "notify" and any(
        Recipient.parse(target).kind == "field" for target in effect.spec["to"])
        for effect in step.effects)


def preview(definition: DefinitionSet, case: Case, step: Step, actor: Actor,
            inputs: Mapping[str, Any], now: datetime, linked: Mapping[str, bool],
            names: Mapping[str, str]) -> list[Outgoing]:
    """The customer messages taking ``step`` with ``inputs`` would send (none: the effects'
    conditions send nothing with these entries). Raises :class:`machine.Refused` when the step
    would be refused, as taking it would (a signature counts as given: it is asked on sending).
    """
    signature = Signature(actor.id, step.signature or "", True) if step.signature else None
    outcome = machine.apply(definition, case, step.id, actor, inputs, now, signature,
                            reason="(preview)", linked=linked)
    result = []
    for event in outcome.events:
        if event.kind != "notify":
            continue
        template = definition.templates[str(event.data["template"])]
        customers = [target for target in event.data["to"]
                     if Recipient.parse(target).kind == "field"]
        # The outbox's own addressing (which address, which language), so the preview cannot
        # drift from what is sent; staff need no one's account here, so no people are given.
        for address in outbox.addresses(definition, outcome.case, customers, template.channel,
                                        outbox.NOBODY):
            if address.problem is not None:
                result.append(Outgoing("", "", "", _(
                    "Not sent: the e-mail field is empty, so there is no address.")))
                continue
            try:
                rendered = render(template, address.locale, context(
                    definition, outcome.case, address.locale, names=reads(template),
                    people=names))
            except RenderFailed as failed:
                result.append(Outgoing(address.recipient, "", "", str(failed)))
                continue
            result.append(Outgoing(address.recipient, rendered.subject, rendered.body))
    return result
