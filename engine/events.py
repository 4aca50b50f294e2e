"""What happens to a case: events for the audit trail, and a step's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .cases import Case
from .model import frozen_map


@dataclass(frozen=True)
class Event:
    """Something that happened to a case; the persistence layer appends it to the audit trail."""

    kind: str
    at: datetime
    actor: str | None
    data: Mapping[str, Any] = field(default_factory=lambda: frozen_map())


@dataclass(frozen=True)
class Outcome:
    """A step's result: the new case and its events, in order."""

    case: Case
    events: tuple[Event, ...]
