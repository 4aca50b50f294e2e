"""Conditions as JSON trees for the browser, which shows and hides sections as the user types.

Only the part of the expression language that ``show_if`` conditions really use is translated;
``web/static/js/forms.js`` evaluates it with Python's semantics (``none == none``, ``'x' in
list``, empty list is false, comparing text with a number fails). For anything else the
translation is None: the browser then always shows the element and the server decides.

Tree nodes are objects with an ``op``:

* ``{"op": "const", "value": v}``, ``{"op": "name", "name": n}``
* ``{"op": "list", "items": [...]}``, with ``"tuple": true`` for ``(a, b)``
* ``{"op": "attr", "node": <name>, "name": a}`` (one level: ``case.state``)
* ``{"op": "compare", "node": x, "rest": [["eq", y], ["lt", z]]}`` (chained like Python; the
  operators are eq, ne, lt, lteq, gt, gteq, in, notin)
* ``{"op": "and" | "or" | "add" | "sub" | "mul" | "div", "left": x, "right": y}``
* ``{"op": "not" | "neg" | "pos", "node": x}``
* ``{"op": "test", "test": "none" | "defined", "node": x}``
"""

from __future__ import annotations

from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.expressions import Expression, syntax_tree

_COMPARISONS = frozenset({"eq", "ne", "lt", "lteq", "gt", "gteq", "in", "notin"})
_BINARY: dict[type[nodes.Node], str] = {
    nodes.And: "and", nodes.Or: "or", nodes.Add: "add", nodes.Sub: "sub", nodes.Mul: "mul",
    nodes.Div: "div",
}
_UNARY: dict[type[nodes.Node], str] = {nodes.Not: "not", nodes.Neg: "neg", nodes.Pos: "pos"}
_TESTS = frozenset({"none", "defined"})


class _Unsupported(QmsflowError):
    """A construct the browser evaluator does not know."""


def client_condition(expression: Expression) -> dict[str, Any] | None:
    """The JSON tree of ``expression`` for the browser; None if it uses more than trees have."""
    try:
        # The engine's own parse, the tree it checked and compiled: one parser for the language.
        return _node(syntax_tree(expression.source))
    except (_Unsupported, TemplateSyntaxError, RecursionError):
        return None


def _node(node: nodes.Node) -> dict[str, Any]:
    if isinstance(node, nodes.Const):
        value = node.value
        if value is not None and not isinstance(value, bool | int | float | str):
            raise _Unsupported
        return {"op": "const", "value": value}
    if isinstance(node, nodes.Name):
        return {"op": "name", "name": node.name}
    if isinstance(node, nodes.List):
        return {"op": "list", "items": [_node(item) for item in node.items]}
    if isinstance(node, nodes.Tuple):
        # Python never finds a tuple equal to a list; the browser must not either.
        return {"op": "list", "items": [_node(item) for item in node.items], "tuple": True}
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return {"op": "attr", "node": _node(node.node), "name": node.attr}
    if isinstance(node, nodes.Compare):
        rest = []
        for operand in node.ops:
            if operand.op not in _COMPARISONS:
                raise _Unsupported
            rest.append([operand.op, _node(operand.expr)])
        return {"op": "compare", "node": _node(node.expr), "rest": rest}
    if type(node) in _BINARY:
        assert isinstance(node, nodes.BinExpr)
        return {"op": _BINARY[type(node)], "left": _node(node.left), "right": _node(node.right)}
    if type(node) in _UNARY:
        assert isinstance(node, nodes.UnaryExpr)
        return {"op": _UNARY[type(node)], "node": _node(node.node)}
    if (isinstance(node, nodes.Test) and node.name in _TESTS and not node.args
            and not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None):
        return {"op": "test", "test": node.name, "node": _node(node.node)}
    raise _Unsupported
