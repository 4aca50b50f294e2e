"""The priority decision table: which rules match a case and what they decide.

Hit policies follow DMN decision tables:

- ``FIRST``: the first matching rule (in the order written) decides;
- ``UNIQUE``: at most one rule may match; the loader reports rules whose value tests overlap,
  and a double match at run time is an error, never a silent pick;
- ``PRIORITY``: of the matching rules, the one setting the highest priority decides;
- ``COLLECT``: every matching rule counts: the highest priority and all their flags.

A case no rule matches keeps its category's default priority (or the process default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import QmsflowError
from .expressions import EvaluationError
from .frozen import quick_init
from .model import PriorityRule, PriorityTable, Process, ValueTest


class DecisionError(QmsflowError):
    """A decision table that cannot decide (UNIQUE with two matches, or a failing condition)."""


@quick_init
@dataclass(frozen=True)
class Decision:
    """What the table decided and why."""

    priority: str | None
    flags: frozenset[str]
    rules: tuple[str, ...]


def _matches_value(test: ValueTest, value: Any, process: Process) -> bool:
    if test.values is not None:
        wanted = set(test.values)
        if isinstance(value, list | tuple | frozenset | set):
            return bool(wanted & set(value))
        if process.category_field == test.field and value in process.categories:
            # A rule on a category also covers its sub-categories.
            return bool(wanted & set(process.categories[value].path))
        return value in wanted
    if value is None or isinstance(value, bool):
        return False
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return False
    if test.minimum is not None and number < test.minimum:
        return False
    return not (test.maximum is not None and number > test.maximum)


def _matches(rule: PriorityRule, context: Mapping[str, Any], process: Process) -> bool:
    for test in rule.tests:  # a loop rather than all(generator): every rule, every step
        if not _matches_value(test, context.get(test.field), process):
            return False
    if rule.condition is None:
        return True
    try:
        return rule.condition.test(context)
    except EvaluationError as error:
        raise DecisionError(f"priority rule '{rule.id}': {error}") from error


def decide(process: Process, context: Mapping[str, Any]) -> Decision:
    """Apply the process's priority table (and category defaults) to a case's context.

    The flags decided are the chosen rules' and those the case's category and its ancestors
    carry: both are recomputed on every step (see :func:`all_rule_flags`).
    """
    category = process.categories.get(str(context.get(process.category_field or "")))
    base = (category.priority if category and category.priority else None) or (
        process.default_priority)
    by_category = process.category_flags(category.id if category else None)
    table: PriorityTable | None = process.priority_table
    if table is None:
        return Decision(base, by_category, ())
    matched = [rule for rule in table.rules if _matches(rule, context, process)]
    if not matched:
        return Decision(base, by_category, ())
    if table.hit_policy == "UNIQUE" and len(matched) > 1:
        names = ", ".join(f"'{r.id}'" for r in matched)
        raise DecisionError(f"hit policy UNIQUE, but rules {names} all match this case")
    if table.hit_policy in ("FIRST", "UNIQUE"):
        chosen = matched[:1]
    elif table.hit_policy == "PRIORITY":
        ranked = sorted((r for r in matched if r.priority), key=lambda r: process.priority_rank(
            r.priority or ""))
        chosen = ranked[:1] or matched[:1]
    else:
        chosen = matched
    priorities = [r.priority for r in chosen if r.priority]
    priority = min(priorities, key=process.priority_rank) if priorities else base
    # A rule never lowers the category's own priority: safety stays first.
    priority = min(priority, base, key=process.priority_rank)
    flags = frozenset().union(by_category, *(r.flags for r in chosen))
    return Decision(priority, flags, tuple(r.id for r in chosen))


def all_rule_flags(process: Process) -> frozenset[str]:
    """Every flag some rule or category can set (recomputed on each step; flags set by effects
    stay)."""
    return process.rule_flags


def may_overlap(a: PriorityRule, b: PriorityRule) -> bool:
    """Whether two decision rows can match the same case, judged on their value tests.

    Rows with a free ``if`` expression cannot be compared statically; they count as
    overlapping only through their value tests (the engine still refuses a double match).
    """
    by_field = {t.field: t for t in a.tests}
    for test in b.tests:
        other = by_field.get(test.field)
        if other is None:
            continue
        if test.values is not None and other.values is not None:
            if not set(map(str, test.values)) & set(map(str, other.values)):
                return False
        elif test.values is None and other.values is None:
            low = max(x for x in (test.minimum, other.minimum, Decimal("-Infinity"))
                      if x is not None)
            high = min(x for x in (test.maximum, other.maximum, Decimal("Infinity"))
                       if x is not None)
            if low > high:
                return False
    return a.condition is None and b.condition is None
