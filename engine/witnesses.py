"""Whether a step's condition can hold with some valid inputs, before any is typed.

A step whose ``if`` reads a field the step itself asks for ("the customer was told", "the
customer accepts") cannot be judged on the case alone: the answer is on its form. Such a step
is offered when *some* valid inputs make its condition hold, and the condition is decided again
on submit with the inputs given. :func:`search` looks for such inputs (a witness): each input
the condition reads takes every value of a closed domain (yes/no, choices, categories; a
multi-choice: none, each one, all), or, for open domains (numbers, text, dates), the constants
the condition compares with, one either side, and the value the case holds. An input that may
be left empty also tries empty. When no combination holds and every domain was closed, no
inputs can make it hold and the step is refused up front; when an open domain was only sampled,
the step is offered (a wrong offer is refused on submit with the reason; a wrong refusal would
hide a step that can be taken).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import nodes

from .expressions import EvaluationError, syntax_tree
from .model import Field, Process, Step
from .values import ValueProblem, coerce

__all__ = ["MAX_COMBINATIONS", "Verdict", "condition_inputs", "search"]

#: Above this many combinations the search gives up and offers the step.
MAX_COMBINATIONS = 4096

_CLOSED = frozenset({"yes_no", "choice", "category", "multi_choice"})
_NUMERIC = frozenset({"integer", "decimal", "money"})


@dataclass(frozen=True)
class Verdict:
    """The answer of :func:`search`.

    ``possible``: some valid inputs may make the condition hold (the step is offered).
    ``witness``: inputs that do, when one was found (None when the search could not tell, or
    when nothing can).
    """

    possible: bool
    witness: Mapping[str, Any] | None = None


def condition_inputs(process: Process, step: Step) -> tuple[str, ...]:
    """The step's inputs its condition reads, in the step's order (a condition on
    ``category_path`` reads the category field)."""
    if step.condition is None:
        return ()
    names = set(step.condition.names)
    if "category_path" in names and process.category_field:
        names.add(process.category_field)
    return tuple(dict.fromkeys(i.field for i in step.inputs if i.field in names))


def search(process: Process, step: Step, values: Mapping[str, Any],
           context: Callable[[Mapping[str, Any]], Mapping[str, Any]],
           may_be_empty: Callable[[str, Mapping[str, Any]], bool]) -> Verdict:
    """Look for inputs of ``step`` that make its condition hold, on top of the case's
    ``values``.

    ``context(values)`` gives the names the condition reads for those values;
    ``may_be_empty(name, context)`` says whether an input may be left empty there.
    """
    condition = step.condition
    if condition is None:
        return Verdict(True, {})
    names = condition_inputs(process, step)
    constants = _constants(condition.source)
    domains: list[list[Any]] = []
    closed = True
    for name in names:
        spec = process.fields[name]
        domain, whole = _domain(process, spec, constants, values.get(name))
        closed = closed and whole
        domains.append([None, *domain])
    size = 1
    for domain in domains:
        size *= len(domain)
    if size > MAX_COMBINATIONS:
        return Verdict(True)
    for combination in itertools.product(*domains):
        trial = {**values, **dict(zip(names, combination, strict=True))}
        ctx = context(trial)
        if any(value is None and not may_be_empty(name, ctx)
               for name, value in zip(names, combination, strict=True)):
            continue
        try:
            if condition.test(ctx):
                return Verdict(True, dict(zip(names, combination, strict=True)))
        except EvaluationError:
            continue
    return Verdict(not closed)


def _domain(process: Process, spec: Field, constants: list[Any],
            current: Any) -> tuple[list[Any], bool]:
    """The values to try for ``spec`` (None aside), and whether they are all it can take."""
    if spec.type == "yes_no":
        return [True, False], True
    if spec.type == "choice":
        return list(spec.choices), True
    if spec.type == "category":
        return list(process.categories), True
    if spec.type == "multi_choice":
        return [[], *([c] for c in spec.choices), list(spec.choices)], True
    tried: list[Any] = []
    for raw in _around(spec, [*constants, current]):
        try:
            value = coerce(spec, raw, process)
        except (ValueProblem, TypeError, ValueError, ArithmeticError):
            continue
        if value is not None and value not in tried:
            tried.append(value)
    return tried, False


def _around(spec: Field, constants: list[Any]) -> Iterator[Any]:
    for value in constants:
        if value is None:
            continue
        yield value
        if spec.type in _NUMERIC and isinstance(value, int | float | Decimal) and not isinstance(
                value, bool):
            yield value + 1
            yield value - 1


def _constants(source: str) -> list[Any]:
    """Every constant the condition mentions, in order."""
    found: list[Any] = []
    for node in syntax_tree(source).find_all(nodes.Const):
        if node.value not in found:
            found.append(node.value)
    return found
