"""Electronic signatures bound to what was signed (21 CFR 11.50, 11.70).

A signature records the signer's id and printed name, the UTC time, the meaning, the case
version it signed with a SHA-256 of that version, and the field values it covered (every value
the case held then). When a later change alters one of those values, the signature is marked no
longer valid (with when and what changed): the record shows it and asks for a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cases import Actor, Case, to_dict
from ..model import DefinitionSet
from ..values import is_empty, values_to_json
from .audit import canonical
from .models import SignatureRow


def record_hash(definition: DefinitionSet, case: Case) -> str:
    """SHA-256 of a case version as saved: what a signature is bound to."""
    return hashlib.sha256(canonical(to_dict(definition, case))).hexdigest()


def sign(session: Session, definition: DefinitionSet, case_id: int, case: Case, step: str,
         signer: Actor, meaning: str, now: datetime) -> SignatureRow:
    """Record a signature of ``case`` (the version the step produced)."""
    process = definition.process(case.process)
    values = values_to_json(process, case.values)
    # A default nobody has changed yet (e.g. reportability "assessment required") is the
    # system's placeholder, not something the signer stated.
    defaults = values_to_json(process, process.defaults())
    signed = SignatureRow(
        case_id=case_id, step=step, signer_id=signer.id, signer_name=signer.name,
        meaning=meaning, signed_at=now, row_version=case.row_version,
        record_hash=record_hash(definition, case),
        signed_values={k: v for k, v in values.items()
                       if not is_empty(v) and (k not in defaults or defaults[k] != v)},
        invalidated_at=None, invalidated_by=None)
    session.add(signed)
    session.flush()
    return signed


def invalidate(session: Session, definition: DefinitionSet, case_id: int, case: Case, by: str,
               now: datetime) -> Iterator[tuple[SignatureRow, list[str]]]:
    """Mark every valid signature of the case whose signed values ``case`` changed; yields
    each with the names of the fields that changed."""
    current: dict[str, Any] | None = None
    for signed in session.execute(select(SignatureRow).where(
            SignatureRow.case_id == case_id, SignatureRow.invalidated_at.is_(None))).scalars():
        if current is None:
            current = values_to_json(definition.process(case.process), case.values)
        changed = sorted(name for name, value in signed.signed_values.items()
                         if current.get(name) != value)
        if changed:
            signed.invalidated_at = now
            signed.invalidated_by = f"{', '.join(changed)} changed by {by}"
            yield signed, changed
