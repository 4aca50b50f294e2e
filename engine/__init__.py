"""Pure engine: load, validate and compile definitions; expressions; calendars; the state machine.

No IO besides reading definition files, no clock of its own, no web framework. The public
surface:
"""

from .cases import Actor, Case, Signature
from .loader import check, load
from .machine import Event, Outcome, Reason, Refused, apply, available, escalate, start
from .model import DefinitionSet
from .problems import DefinitionError, Problem

__all__ = [
    "Actor", "Case", "DefinitionError", "DefinitionSet", "Event", "Outcome", "Problem", "Reason",
    "Refused", "Signature", "apply", "available", "check", "escalate", "load", "start",
]
