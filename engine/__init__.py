"""Pure engine: load, validate and compile definitions; expressions; calendars; the state machine.

No IO besides reading definition files, no clock of its own, no web framework. The public
surface:
"""

from .cases import Actor, Case, Signature
from .escalation import escalate
from .events import Event, Outcome
from .loader import check, load
from .machine import Reason, Refused, apply, available, start
from .model import DefinitionSet
from .problems import DefinitionError, Problem

__all__ = [
    "Actor", "Case", "DefinitionError", "DefinitionSet", "Event", "Outcome", "Problem", "Reason",
    "Refused", "Signature", "apply", "available", "check", "escalate", "load", "start",
]
