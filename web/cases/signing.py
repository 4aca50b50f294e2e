"""What a signer signs: the sign page shows it before the password is asked (21 CFR 11.50).

A signature covers every value the case holds when it is given (persistence/signatures.py).
Signing blind is signing anything: the step form of a signed step shows the values the signature
covers, for an approval under an authority matrix the amount and why it needs this tier, and
what changed since the case was last signed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from qmsflow.engine import machine
from qmsflow.engine import values as value_ops
from qmsflow.engine.cases import Case
from qmsflow.engine.model import Process, Step
from qmsflow.engine.persistence import SignatureRecord

from ..i18n import gettext as _
from ..i18n import label, role_label
from . import views


@dataclass(frozen=True)
class ChangeSinceSigned:
    """A value changed since the last signature: the field's label, before and after."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class SignPreview:
    """What the sign page shows above the password box."""

    #: (label, text) of every value the signature covers, in the order of the process's fields.
    values: tuple[tuple[str, str], ...]
    #: Why the step needs the signer's tier ('' for a step without an authority matrix).
    authority: str
    #: The last valid signature this one follows: who and what it meant ('' for none).
    last_signed: str
    changes: tuple[ChangeSinceSigned, ...]


def preview(process: Process, step: Step, case: Case, signatures: Iterable[SignatureRecord],
            hidden: frozenset[str] = frozenset()) -> SignPreview:
    """What signing ``step`` on ``case`` covers, as the signer reads it; values of ``hidden``
    fields (personal data the reader may not see) show a placeholder."""
    current = value_ops.values_to_json(process, case.values)
    defaults = value_ops.values_to_json(process, process.defaults())
    covered = tuple(
        (label(spec.label), views.hidden_text() if name in hidden
         else views.value_text(process, name, case.values.get(name)))
        for name, spec in process.fields.items()
        if name in current and not value_ops.is_empty(current[name])
        and current[name] != defaults.get(name))
    # Signatures come in the order they were given (two may share a time).
    valid = [s for s in signatures if s.invalidated_at is None]
    last = valid[-1] if valid else None
    changes: tuple[ChangeSinceSigned, ...] = ()
    last_signed = ""
    if last is not None:
        last_signed = _("%(name)s, %(step)s", name=last.signer_name,
                        step=_step_label(process, last.step))
        changes = tuple(
            ChangeSinceSigned(label(process.fields[name].label),
                   *((views.hidden_text(),) * 2 if name in hidden else (
                       _shown(process, name, last.signed_values.get(name)),
                       _shown(process, name, current.get(name)))))
            for name in process.fields
            if _differs(last.signed_values.get(name), current.get(name), defaults.get(name)))
    return SignPreview(covered, _authority(process, step, case), last_signed, changes)


def _step_label(process: Process, step_id: str) -> str:
    found = process.step(step_id)
    return label(found.label) if found else step_id


def _differs(signed: Any, now: Any, default: Any) -> bool:
    # A signature records no empty value and no untouched default: those read as unset.
    def unset(value: Any) -> bool:
        return value_ops.is_empty(value) or value == default
    if unset(signed) and unset(now):
        return False
    return bool(signed != now)


def _shown(process: Process, name: str, stored: Any) -> str:
    if value_ops.is_empty(stored):
        return ""
    try:
        return views.value_text(process, name, value_ops.from_json(process.fields[name], stored,
                                                                    process))
    except (ValueError, TypeError, KeyError):
        return str(stored)


def _authority(process: Process, step: Step, case: Case) -> str:
    """Which tier the step needs and why: the amount against the tiers' limits."""
    if not step.authority:
        return ""
    matrix = process.authorities[step.authority]
    need = machine.tier_needed(matrix, case.values)
    tier = need.tier
    who = label(tier.label) or role_label(tier.role)
    if need.field is None or need.amount is None:
        return _("No amount is given, so %(tier)s decides (%(matrix)s).", tier=who,
                 matrix=label(matrix.label))
    amount = views.value_text(process, need.field, need.amount)
    field = label(process.fields[need.field].label)
    rank = matrix.tiers.index(tier)
    if tier.limit is None:
        limit = _("no limit")
    else:
        limit = views.value_text(process, need.field, tier.limit)
    if rank == 0:
        return _("%(field)s is %(amount)s: %(tier)s decides up to %(limit)s (%(matrix)s).",
                 field=field, amount=amount, tier=who, limit=limit,
                 matrix=label(matrix.label))
    below = matrix.tiers[rank - 1]
    below_limit = views.value_text(process, need.field, below.limit) if below.limit else ""
    return _("%(field)s is %(amount)s, above %(lower)s's limit of %(lower_limit)s: it needs "
             "%(tier)s (up to %(limit)s, %(matrix)s).", field=field, amount=amount,
             lower=label(below.label) or role_label(below.role), lower_limit=below_limit,
             tier=who, limit=limit, matrix=label(matrix.label))
