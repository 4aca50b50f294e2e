"""A faster constructor for the frozen dataclasses the engine makes on every step.

A frozen dataclass's generated ``__init__`` gets past its own ``__setattr__`` with one
``object.__setattr__`` call per field. The engine makes a case, its step record, clocks,
decisions and events on every step (and the sweep on every case it escalates), and those
calls were a tenth of a step's time. :func:`quick_init` gives a frozen dataclass an
``__init__`` with the same signature, defaults and default factories that sets every field in
one update of the instance's dict: the object is the same, equal and hashed the same, as frozen.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

_T = TypeVar("_T")


def quick_init(cls: type[_T]) -> type[_T]:
    """``cls`` (a frozen dataclass: put this above ``@dataclass(frozen=True)``) with the
    one-update ``__init__``. Refuses a class it cannot serve as the dataclass would: one with
    ``__post_init__``, keyword-only fields or fields left out of ``__init__``."""
    if not is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}: quick_init is for frozen dataclasses")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__}: quick_init does not call __post_init__")
    namespace: dict[str, Any] = {"_FACTORY": object()}
    parameters: list[str] = []
    assignments: list[str] = []
    for item in fields(cls):
        name = item.name
        if not item.init or item.kw_only:
            raise TypeError(f"{cls.__name__}.{name}: quick_init needs every field positional")
        if item.default is not MISSING:
            namespace[f"_default_{name}"] = item.default
            parameters.append(f"{name}=_default_{name}")
            assignments.append(f"{name}={name}")
        elif item.default_factory is not MISSING:
            # As the dataclass does: a marker default, and the factory called when it is seen.
            namespace[f"_factory_{name}"] = item.default_factory
            parameters.append(f"{name}=_FACTORY")
            assignments.append(f"{name}=_factory_{name}() if {name} is _FACTORY else {name}")
        else:
            parameters.append(name)
            assignments.append(f"{name}={name}")
    source = (f"def __init__(self, {', '.join(parameters)}):\n"
              f"    self.__dict__.update({', '.join(assignments)})\n")
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def evolve(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for a :func:`quick_init` class, without its walk over every
    field: a copy of ``obj`` with ``changes``; an unknown field is a TypeError, as there."""
    return type(obj)(**{**obj.__dict__, **changes})
