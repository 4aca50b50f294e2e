"""The read rules as a test oracle: what a user should see of a case, decided by the engine's
pure ``can_read`` from the case's full audit trail (never by the SQL the service runs)."""

from __future__ import annotations

from qmsflow.engine.access import CaseFacts, Reader, Visibility, can_read
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import CaseService


def expected(service: CaseService, definition: DefinitionSet, user_id: str,
             number: str) -> Visibility:
    """What ``user_id`` should see of case ``number`` by ``definition``'s read rules."""
    user = service.user(user_id)
    assert user is not None, user_id
    found = service.read_case(number)
    case = found.case
    registrar = service.user(case.steps[0].actor) if case.steps else None
    facts = CaseFacts.of(case, {e.actor_id for e in found.events if e.actor_id},
                         registrar.departments if registrar else ())
    reader = Reader(user.id, frozenset(user.roles), frozenset(user.departments))
    return can_read(definition.process(case.process), reader, facts)
