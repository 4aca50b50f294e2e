"""Report conditions as small predicate trees a database can compute.

A report counts thousands of cases a month, so its ``filter`` and each measure's ``if`` are
computed by the database (GROUP BY in SQL), never by evaluating the expression case by case in
Python. This module is the pure half of that translation: it reads a compiled condition's
syntax tree and returns a neutral :data:`Term` that names case columns or field values and
compares them with constants; :mod:`.persistence.reports` turns the tree into SQL.

Only the part of the expression language a database computes the same way Python does is
accepted: a name compared with a constant (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``), a name
in or not in a list of constants, a constant in a list-valued name (``'reportable' in flags``),
a bare yes/no field, ``x is none``, and ``not`` / ``and`` / ``or`` with parentheses. Anything
else raises :class:`ReportConditionError` saying what is not supported and how to write it.

Empty fields behave as in the expression language, where an empty field reads as None:
``x == 'a'`` is false and ``x != 'a'`` true for an empty ``x``. What the language cannot
evaluate on an empty field (``amount > 5000``, ``'a' in handling``) simply does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from jinja2 import nodes

from .errors import QmsflowError
from .expressions import Expression, syntax_tree
from .model import Process
from .problems import Wordable, did_you_mean

__all__ = [
    "AllOf",
    "Among",
    "AnyOf",
    "Comparison",
    "Contains",
    "Empty",
    "Kind",
    "Not",
    "Operand",
    "ReportConditionError",
    "Term",
    "Truth",
    "condition_term",
    "operand",
]

#: What a name holds, as far as the database is concerned.
Kind = Literal["text", "number", "boolean", "list", "date", "moment"]
Operator = Literal["==", "!=", "<", "<=", ">", ">="]
Constant = str | Decimal | bool

_FIELD_KINDS: dict[str, Kind] = {
    "text": "text", "long_text": "text", "email": "text", "phone": "text", "file": "text",
    "user": "text", "choice": "text", "category": "text",
    "integer": "number", "decimal": "number", "money": "number",
    "yes_no": "boolean", "multi_choice": "list", "date": "date", "datetime": "moment",
}

# Case attributes stored as columns of the cases table: name -> (column, kind).
_COLUMNS: dict[str, tuple[str, Kind]] = {
    "number": ("number", "text"), "process": ("process", "text"), "state": ("state", "text"),
    "priority": ("priority", "text"), "flags": ("flags", "list"),
    "created_at": ("created_at", "moment"), "closed_at": ("closed_at", "moment"),
}

# Attributes the expression language offers that no column holds.
_NOT_STORED = {
    "now": ("'now' changes with the moment the report is run, so a report condition cannot "
            "read it", "the report's period already chooses the time span"),
    "links": ("a report condition cannot read 'links' (the linked cases)",
              "count the linked cases in a report of their own process"),
    "clocks": ("a report condition cannot read 'clocks'",
               "record what the report needs in a yes/no field at closure, e.g. on_time, and "
               "count that"),
}

_OPERATORS: dict[str, Operator] = {
    "eq": "==", "ne": "!=", "lt": "<", "lteq": "<=", "gt": ">", "gteq": ">=",
}
_MIRRORED: dict[Operator, Operator] = {
    "==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=",
}
_HOW = "write a name compared with a constant, e.g. state == 'closed' or amount > 5000"


class ReportConditionError(QmsflowError, ValueError):
    """A condition that the database cannot compute; ``message`` says why, ``hint`` how to
    write it instead (English text; ``words`` and ``hint_words`` the same, translatable where
    they are phrases)."""

    def __init__(self, message: Wordable, hint: Wordable | None = None) -> None:
        self.message: str = str(message)
        self.hint: str | None = None if hint is None else str(hint)
        self.words: Wordable = message
        self.hint_words: Wordable | None = hint
        super().__init__(f"{self.message} ({self.hint})" if self.hint else self.message)


@dataclass(frozen=True)
class Operand:
    """A name a condition reads: a column of the cases table, or a field value.

    ``column`` names the column when the name is stored as one (state, priority, flags, the
    category...), None for a field kept in the case's JSON ``values``; ``kind`` says how the
    database compares it.
    """

    name: str
    column: str | None
    kind: Kind


@dataclass(frozen=True)
class Comparison:
    """``operand op value``: texts and yes/no compare with == and != only, numbers with all."""

    operand: Operand
    op: Operator
    value: Constant


@dataclass(frozen=True)
class Among:
    """``operand in [values]``: the operand equals one of the constants (none: never holds)."""

    operand: Operand
    values: tuple[Constant, ...]


@dataclass(frozen=True)
class Contains:
    """``'value' in operand``: a list-valued operand (flags, multi-choice) holds the value."""

    operand: Operand
    value: str


@dataclass(frozen=True)
class Truth:
    """A bare yes/no field: it is yes (an empty field is not)."""

    operand: Operand


@dataclass(frozen=True)
class Empty:
    """``operand is none``: the field is empty."""

    operand: Operand


@dataclass(frozen=True)
class Not:
    """The term does not hold."""

    term: Term


@dataclass(frozen=True)
class AllOf:
    """Every term holds (``and``)."""

    terms: tuple[Term, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one term holds (``or``)."""

    terms: tuple[Term, ...]


Term = Comparison | Among | Contains | Truth | Empty | Not | AllOf | AnyOf


def condition_term(expression: Expression, process: Process) -> Term:
    """The predicate tree of a compiled condition over ``process``'s cases.

    Raises :class:`ReportConditionError` for anything the database cannot compute; the
    expression is expected to be checked already (names known, language respected).
    """
    try:
        tree = syntax_tree(expression.source)
    except Exception as error:  # a source compile_expression accepted always parses
        raise ReportConditionError(f"cannot read the condition: {error}") from error
    return _Translator(process).term(tree)


def operand(process: Process, name: str) -> Operand:
    """The operand a name of ``process`` stands for (a field or a stored case attribute).

    The process's category field is read from the indexed ``category`` column. Raises
    :class:`ReportConditionError` for names no column or field holds.
    """
    if name in _NOT_STORED:
        message, hint = _NOT_STORED[name]
        raise ReportConditionError(message, hint)
    if name == "category_path":
        raise ReportConditionError(
            "'category_path' can only be asked whether it holds a category",
            "write e.g. 'a_category' in category_path")
    if name in _COLUMNS:
        column, kind = _COLUMNS[name]
        return Operand(name, column, kind)
    spec = process.fields.get(name)
    if spec is None:
        known = [*process.fields, *_COLUMNS]
        raise ReportConditionError(f"'{name}' is neither a field of process '{process.id}' nor "
                                   "a case attribute", did_you_mean(name, known))
    if name == process.category_field:
        return Operand(name, "category", "text")
    return Operand(name, None, _FIELD_KINDS.get(spec.type, "text"))


class _Translator:
    """Walks one syntax tree, checking constants against the process's ids as it goes."""

    def __init__(self, process: Process) -> None:
        self.process = process

    def term(self, node: nodes.Node) -> Term:
        if isinstance(node, nodes.And):
            return AllOf(self._flat(node, nodes.And))
        if isinstance(node, nodes.Or):
            return AnyOf(self._flat(node, nodes.Or))
        if isinstance(node, nodes.Not):
            inner = self.term(node.node)
            return inner.term if isinstance(inner, Not) else Not(inner)
        if isinstance(node, nodes.Compare):
            return self._compare(node)
        if isinstance(node, nodes.Name):
            return self._bare(node.name)
        if isinstance(node, nodes.Test):
            return self._test(node)
        raise _unsupported(node)

    def _flat(self, node: nodes.And | nodes.Or, kind: type[nodes.And | nodes.Or]
              ) -> tuple[Term, ...]:
        # a and b and c parses as And(And(a, b), c): one level reads better in SQL.
        parts: list[Term] = []
        for side in (node.left, node.right):
            if isinstance(side, kind):
                parts.extend(self._flat(side, kind))
            else:
                parts.append(self.term(side))
        return tuple(parts)

    def _bare(self, name: str) -> Term:
        target = operand(self.process, name)
        if target.kind == "boolean":
            return Truth(target)
        raise ReportConditionError(
            f"'{name}' alone is only a condition for a yes/no field, and '{name}' is not one",
            f"compare it, e.g. {name} is not none" if target.kind != "list" else
            f"ask what it holds, e.g. 'x' in {name}")

    def _test(self, node: nodes.Test) -> Term:
        if node.name != "none" or node.args or node.kwargs:
            raise ReportConditionError(
                f"the test 'is {node.name}' cannot be computed in a report condition",
                "use 'is none' / 'is not none', or compare with a constant")
        if not isinstance(node.node, nodes.Name):
            raise _unsupported(node.node)
        return Empty(operand(self.process, node.node.name))

    def _compare(self, node: nodes.Compare) -> Term:
        if len(node.ops) != 1:
            raise ReportConditionError(
                "chained comparisons (a < b < c) cannot be computed in a report condition",
                "join two comparisons with and, e.g. amount >= 1000 and amount < 5000")
        left, op, right = node.expr, node.ops[0].op, node.ops[0].expr
        if op in ("in", "notin"):
            found = self._membership(left, right)
            return Not(found) if op == "notin" else found
        if op not in _OPERATORS:  # pragma: no cover - Jinja has no other comparison
            raise ReportConditionError(f"the comparison '{op}' is not supported", _HOW)
        symbol = _OPERATORS[op]
        if isinstance(left, nodes.Name) and not isinstance(right, nodes.Name):
            return self._comparison(left.name, symbol, right)
        if isinstance(right, nodes.Name) and not isinstance(left, nodes.Name):
            return self._comparison(right.name, _MIRRORED[symbol], left)
        if isinstance(left, nodes.Name) and isinstance(right, nodes.Name):
            operand(self.process, left.name)  # 'now' and the like have a better message
            operand(self.process, right.name)
            raise ReportConditionError(
                f"'{left.name}' is compared with '{right.name}'; a report condition compares "
                "a name with a constant", _HOW)
        raise _unsupported(left if not _is_constant(left) else right)

    def _comparison(self, name: str, op: Operator, node: nodes.Node) -> Term:
        target = operand(self.process, name)
        value = _constant(node)
        if value is None:
            if op not in ("==", "!="):
                raise ReportConditionError(f"'{name} {op} none' has no meaning",
                                           f"write {name} is none or {name} is not none")
            return Empty(target) if op == "==" else Not(Empty(target))
        if target.kind == "number":
            return Comparison(target, op, self._number(name, value))
        if target.kind in ("list", "date", "moment"):
            raise ReportConditionError(*_not_comparable(name, target.kind))
        if op not in ("==", "!="):
            raise ReportConditionError(
                f"'{name}' is not a number: a report condition orders numbers only",
                f"compare it with == or !=, or list the values: {name} in ['a', 'b']")
        if target.kind == "boolean":
            if not isinstance(value, bool):
                raise ReportConditionError(f"'{name}' is a yes/no field; compare it with "
                                           "true or false", f"e.g. {name} == false or not {name}")
            return Comparison(target, op, value)
        return Comparison(target, op, self._text(target, value))

    def _membership(self, left: nodes.Node, right: nodes.Node) -> Term:
        if isinstance(right, nodes.Name):
            # 'an_id' in flags, 'a_category' in category_path, 'a_choice' in a multi-choice
            if isinstance(left, nodes.Name):
                raise ReportConditionError(
                    f"'{left.name} in {right.name}' relates two names; a report condition "
                    "looks for a constant", f"e.g. 'an_id' in {right.name}")
            value = _constant(left)
            if not isinstance(value, str):
                raise ReportConditionError(
                    f"only a quoted id can be looked for in '{right.name}'",
                    f"e.g. 'an_id' in {right.name}")
            if right.name == "category_path":
                return self._category_path(value)
            target = operand(self.process, right.name)
            if target.kind != "list":
                raise ReportConditionError(
                    f"'{right.name}' is not a list: a report condition cannot look for text "
                    "inside it", f"compare it instead, e.g. {right.name} == '{value}'")
            return Contains(target, self._listed(target, value))
        if not isinstance(left, nodes.Name):
            raise _unsupported(left)
        if not isinstance(right, nodes.List | nodes.Tuple):
            raise ReportConditionError(
                f"'{left.name} in ...' needs a list of constants",
                f"e.g. {left.name} in ['a', 'b']")
        target = operand(self.process, left.name)
        if target.kind not in ("text", "number"):
            raise ReportConditionError(*_not_comparable(left.name, target.kind))
        values: list[Constant] = []
        for item in right.items:
            value = _constant(item)
            if value is None:
                raise ReportConditionError(
                    f"none cannot be listed among the values of '{left.name}'",
                    f"add 'or {left.name} is none'")
            values.append(self._number(left.name, value) if target.kind == "number"
                          else self._text(target, value))
        return Among(target, tuple(values))

    def _category_path(self, value: str) -> Term:
        categories = self.process.categories
        if value not in categories:
            raise ReportConditionError(
                f"'{value}' is not a category of process '{self.process.id}'",
                did_you_mean(value, categories))
        field = self.process.category_field
        if field is None:  # pragma: no cover - a process with categories names its field
            raise ReportConditionError(f"process '{self.process.id}' has no category field")
        within = tuple(c.id for c in categories.values() if value in c.path)
        return Among(operand(self.process, field), within)

    def _number(self, name: str, value: str | int | float | bool) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ReportConditionError(f"'{name}' is a number; compare it with a number",
                                       f"e.g. {name} > 5000")
        return Decimal(str(value))

    def _text(self, target: Operand, value: str | int | float | bool) -> str:
        if not isinstance(value, str):
            raise ReportConditionError(f"'{target.name}' holds text; compare it with quoted "
                                       "text", f"e.g. {target.name} == '{value}'")
        known = self._ids(target)
        if known is not None and value not in known:
            hint = did_you_mean(value, known) or f"known: {', '.join(known)}"
            raise ReportConditionError(f"'{value}' is not a value '{target.name}' can have",
                                       hint)
        return value

    def _listed(self, target: Operand, value: str) -> str:
        known = list(self.process.flags) if target.name == "flags" else self._ids(target)
        if known is not None and value not in known:
            hint = did_you_mean(value, known) or f"known: {', '.join(known)}"
            raise ReportConditionError(f"'{value}' is not a value '{target.name}' can hold",
                                       hint)
        return value

    def _ids(self, target: Operand) -> list[str] | None:
        """The values a text or list name can hold, when the definition fixes them."""
        process = self.process
        if target.name == "state":
            return list(process.states)
        if target.name == "priority":
            return [p.id for p in process.priorities]
        if target.column == "category":
            return list(process.categories)
        spec = process.fields.get(target.name) if target.column is None else None
        if spec is not None and spec.type in ("choice", "multi_choice"):
            return list(spec.choices)
        if spec is not None and spec.type == "category":
            return list(process.categories)
        return None


def _is_constant(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Const) or (
        isinstance(node, nodes.Neg | nodes.Pos) and isinstance(node.node, nodes.Const))


def _constant(node: nodes.Node) -> str | int | float | bool | None:
    """The constant ``node`` stands for (a signed number included)."""
    if isinstance(node, nodes.Const) and (node.value is None or isinstance(
            node.value, str | int | float | bool)):
        value: str | int | float | bool | None = node.value
        return value
    if isinstance(node, nodes.Neg | nodes.Pos) and isinstance(node.node, nodes.Const):
        inner = node.node.value
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            number: int | float = inner
            return -number if isinstance(node, nodes.Neg) else number
    raise _unsupported(node)


def _not_comparable(name: str, kind: Kind) -> tuple[str, str]:
    if kind == "list":
        return (f"'{name}' is a list; a report condition can only ask what it holds",
                f"e.g. 'an_id' in {name}")
    return (f"'{name}' is a date; a report condition cannot compare dates (the report's "
            "period chooses the time span)", f"use {name} is none or {name} is not none")


def _unsupported(node: nodes.Node) -> ReportConditionError:
    """The error for a construct outside what reports compute, with how to write it."""
    words = {
        nodes.Filter: ("filters (| ...)", "compare the field itself, e.g. amount > 5000"),
        nodes.CondExpr: ("conditional values (a if b else c)", "combine conditions with and/or"),
        nodes.Getattr: ("reading an attribute (a.b)", "name a field of the process directly"),
        nodes.Getitem: ("subscripts (a[...])", "name a field of the process directly"),
        nodes.Concat: ("joining text (~)", _HOW),
        nodes.List: ("a list on its own", "write name in ['a', 'b']"),
        nodes.Tuple: ("a tuple on its own", "write name in ['a', 'b']"),
        nodes.Const: ("a constant on its own", _HOW),
    }
    for kind, (what, hint) in words.items():
        if isinstance(node, kind):
            return ReportConditionError(
                f"{what} cannot be computed by the database in a report condition", hint)
    if isinstance(node, nodes.BinExpr | nodes.UnaryExpr):
        return ReportConditionError(
            f"arithmetic ('{node.operator}') cannot be computed in a report condition",
            "compare a field with a constant worked out beforehand, e.g. quantity > 10")
    return ReportConditionError(
        f"{type(node).__name__} cannot be computed by the database in a report condition", _HOW)
