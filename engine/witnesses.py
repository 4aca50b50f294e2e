"""Whether a step's condition can hold with some valid inputs, before any is typed.

A step whose ``if`` reads a field the step itself asks for ("the customer was told", "the
customer accepts") cannot be judged on the case alone: the answer is on its form. Such a step
is offered when *some* valid inputs make its condition hold, and the condition is decided again
on submit with the inputs given. :func:`search` looks for such inputs (a witness).

Each input the condition reads takes values from a domain. A closed domain is tried whole:
yes/no, choices, categories, and a multi-choice's every subset while there are at most
:data:`MAX_SUBSETS` of them. An open domain is sampled: numbers at the constants the condition
compares with, one either side and between them, the field's bounds and the case's value;
dates and times at the constants, the case's own dates and times (``now``, when it was
opened, other date fields) and a day (or a minute) either side; text at its constants; a
multi-choice with too many subsets at every subset of the choices the condition names, with
none, one or all of the others. An input that may be left empty also tries empty.

A refusal must be proven: the step is refused up front only when no combination holds and
every domain was tried whole. When a domain was only sampled, or there are more than
:data:`MAX_COMBINATIONS` combinations, the step is offered: a wrong offer is refused on submit
with the reason, a wrong refusal would hide a step that can be taken.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from jinja2 import nodes

from .expressions import EvaluationError, syntax_tree
from .model import Field, Process, Step
from .values import ValueProblem, coerce

__all__ = ["MAX_COMBINATIONS", "MAX_SUBSETS", "Verdict", "condition_inputs", "search"]

#: Above this many combinations the search gives up and offers the step.
MAX_COMBINATIONS = 4096

#: A multi-choice with at most this many subsets (ten choices) is tried whole; one with more is
#: sampled (see the module's description).
MAX_SUBSETS = 1024

_NUMERIC = frozenset({"integer", "decimal", "money"})
_STEPS: Mapping[str, Decimal] = {"integer": Decimal(1), "decimal": Decimal("0.01"),
                                 "money": Decimal("0.01")}


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


@dataclass
class _Domain:
    """The values tried for one input (None first: left empty), and whether they are all it
    can take; ``sampled`` is the smaller set used when the whole one makes too many
    combinations."""

    values: list[Any]
    whole: bool
    sampled: list[Any] | None = None


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
    moments = _moments(context(values))
    domains = [_domain(process, process.fields[name], constants, values.get(name), moments)
               for name in names]
    # Too many combinations: sample the big multi-choices first, and give up only after that.
    for domain in sorted(domains, key=lambda d: -len(d.values)):
        if _size(domains) <= MAX_COMBINATIONS:
            break
        if domain.sampled is not None:
            domain.values, domain.whole = [None, *domain.sampled], False
    if _size(domains) > MAX_COMBINATIONS:
        return Verdict(True)
    for combination in itertools.product(*(d.values for d in domains)):
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
    return Verdict(not all(d.whole for d in domains))


def _size(domains: Sequence[_Domain]) -> int:
    size = 1
    for domain in domains:
        size *= len(domain.values)
    return size


def _domain(process: Process, spec: Field, constants: list[Any], current: Any,
            moments: list[datetime | date]) -> _Domain:
    """The values to try for ``spec``, None (empty) first."""
    if spec.type == "yes_no":
        return _Domain([None, True, False], True)
    if spec.type == "choice":
        return _Domain([None, *spec.choices], True)
    if spec.type == "category":
        return _Domain([None, *process.categories], True)
    if spec.type == "multi_choice":
        choices = list(spec.choices)
        named = [c for c in choices if c in constants]
        sampled = _some_subsets(choices, named)
        if 2 ** len(choices) <= MAX_SUBSETS:
            return _Domain([None, *_subsets(choices)], True, sampled)
        return _Domain([None, *sampled], False)
    tried: list[Any] = []
    for raw in _around(spec, [*constants, current], moments):
        try:
            value = coerce(spec, raw, process)
        except (ValueProblem, TypeError, ValueError, ArithmeticError, OverflowError):
            continue
        if value is not None and value not in tried:
            tried.append(value)
    return _Domain([None, *tried], False)


def _subsets(choices: list[str]) -> list[list[str]]:
    """Every subset of ``choices`` but the empty one (None stands for it: an empty list is
    stored as empty), the smaller first, each in the choices' order."""
    return [list(subset) for size in range(1, len(choices) + 1)
            for subset in itertools.combinations(choices, size)]


def _some_subsets(choices: list[str], named: list[str]) -> list[list[str]]:
    """Subsets worth trying when there are too many: every subset of the choices the
    condition names (while few), each with none, one or all of the other choices; and each
    choice alone, and all of them."""
    others = [c for c in choices if c not in named]
    fillers = [[], *([c] for c in others[:1]), others]
    chosen = _subsets(named) if 2 ** len(named) <= MAX_SUBSETS else [[], named]
    found: list[list[str]] = []
    for candidate in [*([*subset, *more] for subset in chosen for more in fillers),
                      *([c] for c in choices), choices]:
        ordered = [c for c in choices if c in candidate]
        if ordered and ordered not in found:
            found.append(ordered)
    return sorted(found, key=len)


def _around(spec: Field, constants: list[Any],
            moments: list[datetime | date]) -> Iterator[Any]:
    """Raw values to try for an open domain."""
    if spec.type in _NUMERIC:
        numbers = sorted({Decimal(str(v)) for v in [*constants, spec.minimum, spec.maximum]
                          if isinstance(v, int | float | Decimal) and not isinstance(v, bool)})
        step = _STEPS[spec.type]
        yield from numbers
        for value in numbers:
            yield value + step
            yield value - step
            yield value + 1
            yield value - 1
        for low, high in itertools.pairwise(numbers):
            yield (low + high) / 2
            yield (low + high) // 2
        yield Decimal(0)
        return
    if spec.type in ("date", "datetime"):
        texts = [c for c in [*constants, spec.minimum, spec.maximum] if isinstance(c, str)]
        for moment in [*texts, *moments]:
            day = _moment(spec.type, moment)
            if day is None:
                continue
            yield day
            for delta in ((timedelta(days=1),) if spec.type == "date" else
                          (timedelta(minutes=1), timedelta(days=1))):
                yield day + delta
                yield day - delta
        return
    for value in constants:
        if value is not None:
            yield value


def _moment(kind: str, raw: object) -> date | None:
    """``raw`` (ISO text, a date or a date and time) as a value of a ``kind`` field."""
    value = raw
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw) if kind == "datetime" else date.fromisoformat(raw)
        except ValueError:
            return None
    if kind == "date" and isinstance(value, datetime):
        return value.date()
    if kind == "datetime" and not isinstance(value, datetime):
        return None
    return value if isinstance(value, date) else None


def _moments(context: Mapping[str, Any]) -> list[datetime | date]:
    """The dates and times a condition could compare an input with: every one in the
    context (now, when the case was opened, date fields), in order."""
    found: list[datetime | date] = []
    for value in context.values():
        if isinstance(value, date) and value not in found:
            found.append(value)
    return found


def _constants(source: str) -> list[Any]:
    """Every constant the condition mentions, in order."""
    found: list[Any] = []
    for node in syntax_tree(source).find_all(nodes.Const):
        if node.value not in found:
            found.append(node.value)
    return found
