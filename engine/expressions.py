"""The one expression language for every condition in the definitions.

Quality administrators write conditions such as ``amount > 5000 and case.state == 'open'`` in
YAML. Each condition is parsed and checked when the definition is loaded, so a bad or unsafe
expression is refused with a message and a hint long before a case reaches it. The language is
Jinja2's expression syntax run in Jinja2's immutable sandbox, narrowed further by an allowlist
walk over the parsed tree: expressions read case data, compare and compute; they never call
functions, never reach private attributes and never see Jinja's template helpers.
"""

from __future__ import annotations

import decimal
import difflib
import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, NoReturn

from jinja2 import ChainableUndefined, TemplateSyntaxError, nodes
from jinja2.environment import Template
from jinja2.exceptions import SecurityError
from jinja2.meta import find_undeclared_variables
from jinja2.parser import Parser
from jinja2.runtime import Context, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .calendar import add_months
from .errors import QmsflowError
from .problems import Phrase, Wordable, joined, phrase

__all__ = [
    "ALLOWED_FILTERS",
    "ALLOWED_TESTS",
    "MAX_LENGTH",
    "EvaluationError",
    "Expression",
    "ExpressionError",
    "compile_expression",
    "syntax_tree",
    "unknown_names",
]

#: Longest accepted source; conditions are one-liners, and a cap bounds parser work.
MAX_LENGTH = 1000

#: Filters an expression may use (``x | length``). Anything that takes a callable, an attribute
#: name path or renders markup (``attr``, ``map``, ``select``, ``format`` ...) is left out.
ALLOWED_FILTERS: frozenset[str] = frozenset(
    {
        "length",
        "lower",
        "upper",
        "abs",
        "round",
        "int",
        "float",
        "default",
        "first",
        "last",
        "min",
        "max",
        "sum",
        "join",
        "trim",
        # Dates: a warranty's end from its start (acceptance_date | add_months(12) | add_days(-1)).
        "add_days",
        "add_months",
    }
)

#: Tests an expression may use (``x is none``).
ALLOWED_TESTS: frozenset[str] = frozenset(
    {
        "defined",
        "none",
        "number",
        "string",
        "in",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "true",
        "false",
        "divisibleby",
        "even",
        "odd",
    }
)

# Attribute names that lead from data to interpreter internals in one Python version or another.
# Names starting with "_" are refused separately.
_FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "mro",
        "globals",
        "func_globals",
        "gi_frame",
        "f_locals",
        "f_globals",
        "co_code",
        "im_func",
        "func_code",
        "subclasses",
        "builtins",
        "import",
    }
)

# Names Jinja itself gives meaning to: its default globals (cleared below, but refusing them
# keeps a definition from silently reading None where the author meant a helper) and the
# special template names; `self` would otherwise evaluate to a TemplateReference object.
_JINJA_NAMES = frozenset(
    {"range", "dict", "lipsum", "cycler", "joiner", "namespace", "self", "loop", "caller"}
)

# Template delimiters: an expression is the inside of `{{ }}`, never a template.
_TEMPLATE_MARKERS = ("{{", "}}", "{%", "%}", "{#", "#}")

# Node types the language consists of. Everything else (Call, Dict, Pow, ...) is refused;
# an allowlist means a construct added to a future Jinja is refused until someone looks at it.
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Const,
    nodes.Name,
    nodes.List,
    nodes.Tuple,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.Add,
    nodes.Sub,
    nodes.Mul,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Mod,
    nodes.Concat,
    nodes.CondExpr,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Filter,
    nodes.Test,
)

_DATA_ONLY = phrase("expressions may only read case data")


class ExpressionError(QmsflowError):
    """An expression that cannot be used: syntax error or forbidden construct, found at load time.

    ``message`` says what is wrong; ``hint`` says how to fix it where one helps (English text;
    ``words`` and ``hint_words`` keep them translatable). The definition loader turns both into
    a located problem report.
    """

    def __init__(self, message: Wordable, hint: Wordable | None = None,
                 source: str | None = None) -> None:
        self.message: str = str(message)
        self.hint: str | None = None if hint is None else str(hint)
        self.words: Wordable = message
        self.hint_words: Wordable | None = hint
        self.source: str | None = source
        super().__init__(f"{self.message} ({self.hint})" if self.hint else self.message)


class EvaluationError(QmsflowError):
    """An expression failed at run time (e.g. comparing an empty field with a number).

    The message names the expression and the cause in plain words; ``source`` and ``reason``
    carry the two parts separately for callers that format their own report.
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source: str = source
        self.reason: str = reason
        super().__init__(f"cannot evaluate {source!r}: {reason}")


class _CaseDataEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, narrowed so that reading a mapping only ever reads its entries."""

    # Sequence repetition ('a' * 10**9) and %-formatting ('%999999999d' % 1) can exhaust memory
    # from a short expression; intercepting them lets call_binop refuse them at run time. The
    # sandbox also stops constant-folding intercepted operators at compile time because of this.
    intercepted_binops: frozenset[str] = frozenset({"*", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # `case.items` on a mapping without an "items" key would otherwise return the bound
        # dict method; for mappings, attribute access means "the entry of that name", nothing else.
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        # Same reason as getattr: x['keys'] must not fall back to the mapping's methods.
        if isinstance(obj, Mapping):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and (_is_sequence(left) or _is_sequence(right)):
            raise SecurityError("repeating text or lists with '*' is not allowed")
        if operator == "%" and isinstance(left, str | bytes):
            raise SecurityError("formatting text with '%' is not allowed")
        return super().call_binop(context, operator, left, right)


def _is_sequence(value: object) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def _default(value: object, default_value: object = "", boolean: bool = False) -> object:
    """Jinja's ``default`` filter, treating None as missing too.

    Missing names are passed as None (an empty field and an absent one mean the same thing to an
    administrator), so Jinja's own filter, which only replaces undefined values, would never fire
    for ``note | default('none given')``.
    """
    if value is None or isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


def _add_days(value: object, days: object) -> object:
    """A date (or date and time) ``days`` later (earlier when negative); empty stays empty."""
    if value is None or isinstance(value, Undefined):
        return None
    if not isinstance(value, date) or isinstance(days, bool) or not isinstance(days, int):
        raise TypeError("add_days needs a date and a whole number of days")
    return value + timedelta(days=days)


def _add_months(value: object, months: object) -> object:
    """The same day ``months`` later (earlier when negative), or the month's last day when
    it is shorter (31 January + 1 month is 28 or 29 February); empty stays empty."""
    if value is None or isinstance(value, Undefined):
        return None
    if not isinstance(value, date) or isinstance(months, bool) or not isinstance(months, int):
        raise TypeError("add_months needs a date and a whole number of months")
    return add_months(value, months)


def _make_environment() -> _CaseDataEnvironment:
    # ChainableUndefined: `case.closed_on.year` on a case without closed_on reads as undefined
    # (and evaluates to None) instead of failing half-way, and `case.closed_on is defined` works.
    env = _CaseDataEnvironment(undefined=ChainableUndefined, autoescape=False)
    # No globals at all: range, lipsum, cycler, joiner, namespace and dict are helpers for
    # templates, and an expression has no business reaching them.
    env.globals.clear()
    # Defence in depth: even if the compile-time walk missed a filter or test, the environment
    # would not know it.
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS if name in env.filters}
    env.tests = {name: env.tests[name] for name in ALLOWED_TESTS}
    env.filters["default"] = _default
    env.filters["add_days"] = _add_days
    env.filters["add_months"] = _add_months
    return env


# One environment for the process: it is immutable after set-up and safe to share.
_ENV = _make_environment()


@dataclass(frozen=True)
class Expression:
    """A checked, compiled condition from a definition, ready to evaluate against case data.

    ``source`` is the text as written; ``names`` the free variable names it reads, which the
    definition loader checks against the fields it knows (see :func:`unknown_names`).
    """

    source: str
    names: frozenset[str]
    _compiled: Template = field(repr=False, compare=False)
    # The same tree as one Python function of the values (see _python), for the expressions
    # whose every node it translates; None runs the Jinja template.
    _python: Callable[[dict[str, object]], object] | None = field(
        default=None, repr=False, compare=False)

    def evaluate(self, context: Mapping[str, object]) -> object:
        """The value of the expression for ``context``; names missing from it are None.

        Raises EvaluationError, naming the expression, if evaluation fails for any reason.
        """
        # Only the names the expression reads are passed, each defaulting to None: an empty
        # field and an absent one mean the same thing to an administrator.
        read = context.get
        values = {name: read(name) for name in self.names}
        python = self._python
        if python is not None:
            try:
                result = python(values)
            except Exception as exc:
                raise EvaluationError(self.source, _explain(exc)) from exc
            return None if isinstance(result, Undefined) else result
        template = self._compiled
        try:
            # What jinja2's TemplateExpression.__call__ (3.1) does, less its work per call
            # that an expression never needs: it copies ``values`` (here they are ours
            # already; the template only reads them) and merges in the globals, of which
            # there are none (see _compile), a set built from a ChainMap on every call. The
            # context is the one Template.new_context(values, shared=True) would make, with
            # no globals. The template's one statement assigns the value to ``result``.
            run = template.environment.context_class(
                template.environment, values, template.name, template.blocks)
            for _ in template.root_render_func(run):
                pass
            result = run.vars["result"]
        except Exception as exc:
            raise EvaluationError(self.source, _explain(exc)) from exc
        # undefined_to_none: an undefined result (a missing attribute) reads None.
        return None if isinstance(result, Undefined) else result

    def test(self, context: Mapping[str, object]) -> bool:
        """Whether the condition holds for ``context`` (truthiness of :meth:`evaluate`)."""
        value = self.evaluate(context)
        try:
            return bool(value)
        except Exception as exc:  # a value whose __bool__ fails, e.g. an undefined from a filter
            raise EvaluationError(self.source, _explain(exc)) from exc


def _explain(exc: BaseException) -> str:
    """The cause of a run-time failure in words an administrator can act on."""
    if isinstance(exc, ZeroDivisionError):
        # decimal.DivisionByZero prints as "[<class 'decimal.DivisionByZero'>]".
        return "division by zero"
    if isinstance(exc, decimal.InvalidOperation):
        return "invalid decimal operation"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TypeError):
        text = text.replace("between instances of ", "between ")
        if "NoneType" in text:
            text += " (is a field empty?)"
    return text


@functools.lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Parse, check and compile one condition; raises ExpressionError if it cannot be used.

    Cached by source, since definitions repeat the same conditions across states and rules.
    """
    if not source.strip():
        raise ExpressionError(phrase("expression is empty"),
                              phrase("write a condition such as amount > 5000"))
    if len(source) > MAX_LENGTH:
        raise ExpressionError(
            phrase("expression is {length} characters long; the limit is {limit}",
                   length=len(source), limit=MAX_LENGTH),
            phrase("split the condition into smaller rules"),
            source,
        )
    if any(marker in source for marker in _TEMPLATE_MARKERS):
        raise ExpressionError(
            phrase("template syntax ({markers}) is not allowed", markers="{{ }}, {% %}, {# #}"),
            phrase("write only the expression, e.g. amount > 5000"),
            source,
        )
    try:
        tree = _parse(source)
        _check(tree, source)
        # Translated before Jinja compiles the tree (the name finder too): its optimizer
        # folds constants in place.
        python = _python(tree)
        template = nodes.Template([nodes.Output([tree])])
        template.set_environment(_ENV)  # the name finder compiles, so it needs one
        names = frozenset(find_undeclared_variables(template))
        compiled = _compile(tree)
    except TemplateSyntaxError as exc:
        message = exc.message or "syntax error"
        # Jinja speaks of templates; administrators write expressions.
        message = message.replace("'end of template'", "end of expression")
        message = message.replace("end of template", "end of expression")
        raise ExpressionError(message, _syntax_hint(message), source) from exc
    except (RecursionError, SyntaxError) as exc:
        # Deep nesting exhausts Jinja's recursive parser, or Python's own limit of 200 nested
        # brackets in the code Jinja generates (every binary operator adds a pair).
        raise ExpressionError(
            phrase("expression is nested too deeply"),
            phrase("split it into smaller conditions"), source
        ) from exc
    return Expression(source=source, names=names, _compiled=compiled, _python=python)


def _parse(source: str) -> nodes.Expr:
    # The parse Environment.compile_expression does. env.parse would parse a template, in which
    # `}}` could end the expression early. This is the only parser of the language: the
    # browser's and the database's translations read its trees through syntax_tree().
    parser = Parser(_ENV, source, state="variable")
    tree = parser.parse_expression()
    if not parser.stream.eos:
        token = parser.stream.current
        raise TemplateSyntaxError(
            f"unexpected {token.value!r} after the expression", token.lineno, None, None
        )
    tree.set_environment(_ENV)
    return tree


def _compile(tree: nodes.Expr) -> Template:
    """The evaluator of ``tree``, the very tree :func:`_check` passed.

    The second half of Jinja's ``Environment.compile_expression`` (jinja2 3.1), which would
    otherwise parse the source a second time: the result is assigned to ``result`` in a
    one-statement template, which :meth:`Expression.evaluate` runs (None standing in for an
    undefined result, as ``TemplateExpression(template, undefined_to_none=True)`` would).
    """
    body = [nodes.Assign(nodes.Name("result", "store"), tree, lineno=1)]
    template = _ENV.from_string(nodes.Template(body, lineno=1))
    # evaluate() gives the template its values as they are, without the globals: there must
    # be none (the environment's are cleared), or expressions would no longer see them.
    if template.globals:
        raise RuntimeError("the expression environment must have no globals")
    return template


# The operators Jinja's code generator (3.1) writes as the Python operator itself.
_COMPARISONS = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=",
                "in": "in", "notin": "not in"}
_BINARY: dict[type[nodes.Node], str] = {
    nodes.Add: "+", nodes.Sub: "-", nodes.Div: "/", nodes.FloorDiv: "//", nodes.Mul: "*",
    nodes.Mod: "%", nodes.And: "and", nodes.Or: "or"}
_UNARY: dict[type[nodes.Node], str] = {nodes.Not: "not ", nodes.Neg: "-", nodes.Pos: "+"}


class _Untranslated(QmsflowError):
    """A node :func:`_python` leaves to Jinja."""


def _python(tree: nodes.Expr) -> Callable[[dict[str, object]], object] | None:
    """The expression as one plain Python function of its values, or None.

    Running the Jinja template costs a context object and a generator on every evaluation;
    a condition is evaluated several times per step. The function is the very Python that
    Jinja's code generator writes for each node (``environment.getattr`` and ``getitem`` for
    attributes and subscripts, ``call_binop`` for the operators the sandbox intercepts, the
    operator itself for the others, the filter or test function for those that need no
    context), so it computes the same values and raises the same errors; a tree with a node
    outside that set (``~``, slices, an ``if`` without ``else``, a filter with keyword
    arguments or one that takes the environment) returns None and keeps the template.
    tests/engine/test_expression_python.py compares both over every condition of the bundled
    definitions.
    """
    try:
        body = _python_source(tree)
    except _Untranslated:
        return None
    # The text is built from the checked tree alone: names and attributes as string literals,
    # constants as their repr; no builtins are reachable from it.
    code = compile(f"lambda v: {body}", "<expression>", "eval")
    function: Callable[[dict[str, object]], object] = eval(
        code, {"__builtins__": {}, "getattr_": _ENV.getattr, "getitem_": _ENV.getitem,
               "binop_": _ENV.call_binop, "filters_": _ENV.filters, "tests_": _ENV.tests})
    return function


def _python_source(node: nodes.Node) -> str:
    # Every value is parenthesised, as Jinja writes them: precedence is the tree's.
    kind = type(node)
    if kind is nodes.Const:
        value = node.value  # type: ignore[attr-defined]
        if value is None or isinstance(value, bool | int | float | str):
            return f"({value!r})" if not isinstance(value, float) else f"({value!s})"
        raise _Untranslated
    if kind is nodes.Name:
        return f"v[{node.name!r}]"  # type: ignore[attr-defined]
    if kind is nodes.List or kind is nodes.Tuple:
        items = "".join(f"{_python_source(item)}, " for item in node.items)  # type: ignore
        return f"[{items}]" if kind is nodes.List else f"({items})"
    if kind is nodes.Compare:
        text = _python_source(node.expr)  # type: ignore[attr-defined]
        for operand in node.ops:  # type: ignore[attr-defined]
            text += f" {_COMPARISONS[operand.op]} {_python_source(operand.expr)}"
        return f"({text})"
    if kind in _BINARY:
        left = _python_source(node.left)  # type: ignore[attr-defined]
        right = _python_source(node.right)  # type: ignore[attr-defined]
        operator = _BINARY[kind]
        if operator in _ENV.intercepted_binops:
            return f"binop_(None, {operator!r}, {left}, {right})"
        return f"({left} {operator} {right})"
    if kind in _UNARY:
        return f"({_UNARY[kind]}{_python_source(node.node)})"  # type: ignore[attr-defined]
    if kind is nodes.Getattr:
        return f"getattr_({_python_source(node.node)}, {node.attr!r})"  # type: ignore
    if kind is nodes.Getitem and not isinstance(node.arg, nodes.Slice):  # type: ignore
        return f"getitem_({_python_source(node.node)}, {_python_source(node.arg)})"  # type: ignore
    if kind is nodes.Filter or kind is nodes.Test:
        # As Jinja calls a filter or test that takes no context, environment or evaluation
        # context: the function itself, on the value and the positional arguments.
        table = _ENV.filters if kind is nodes.Filter else _ENV.tests
        function = table.get(node.name)  # type: ignore[attr-defined]
        if (function is None or getattr(function, "jinja_pass_arg", None) is not None
                or node.kwargs or node.dyn_args or node.dyn_kwargs  # type: ignore
                or node.node is None):  # type: ignore[attr-defined]
            raise _Untranslated
        arguments = "".join(f", {_python_source(a)}" for a in node.args)  # type: ignore
        where = "filters_" if kind is nodes.Filter else "tests_"
        return f"{where}[{node.name!r}]({_python_source(node.node)}{arguments})"  # type: ignore
    if kind is nodes.CondExpr and node.expr2 is not None:  # type: ignore[attr-defined]
        return (f"({_python_source(node.expr1)} if {_python_source(node.test)} "  # type: ignore
                f"else {_python_source(node.expr2)})")  # type: ignore[attr-defined]
    raise _Untranslated


def _syntax_hint(message: str) -> Phrase | None:
    """A fix for the common mistakes behind a Jinja syntax error, when one is recognisable."""
    if "'='" in message:
        return phrase("use == to compare")
    if "'&'" in message or "'|'" in message:
        return phrase("use `and` / `or` to combine conditions")
    if "'!'" in message:
        return phrase("use `not` to negate, and != to compare")
    if '"\'"' in message or "'\"'" in message:
        return phrase("close the quoted text with the same quote it starts with")
    if "end of expression" in message:
        return phrase("the expression stops too early: check for a missing value or closing "
                      "bracket")
    return None


def _refuse(source: str, message: Wordable, hint: Wordable | None = None) -> NoReturn:
    raise ExpressionError(message, hint, source)


def _check(tree: nodes.Node, source: str) -> None:
    """Refuse everything outside the language; raises ExpressionError at the first problem."""
    # An explicit stack rather than recursion: a 1000-character source can nest deeply.
    stack: list[nodes.Node] = [tree]
    while stack:
        node = stack.pop()
        _check_node(node, source)
        stack.extend(reversed(list(node.iter_child_nodes())))


def _check_node(node: nodes.Node, source: str) -> None:
    if isinstance(node, nodes.Call):
        _refuse(
            source,
            phrase("calling {what} is not allowed: expressions read data, they never call",
                   what=_describe(node.node)),
            phrase("use a filter such as `| length`"),
        )
    if isinstance(node, nodes.Pow):
        _refuse(source, phrase("'**' is not allowed"), phrase("multiply explicitly, e.g. x * x"))
    if isinstance(node, nodes.Dict):
        _refuse(source, phrase("mapping literals {{...}} are not allowed"),
                phrase("compare fields one by one"))
    if not isinstance(node, _ALLOWED_NODES):
        _refuse(source, phrase("{construct} is not allowed in an expression",
                               construct=type(node).__name__))
    if isinstance(node, nodes.Name):
        if node.name.startswith("_"):
            _refuse(source, phrase("name '{name}' is not allowed: names may not start with '_'",
                                   name=node.name))
        if node.name in _JINJA_NAMES:
            _refuse(
                source,
                phrase("'{name}' is a Jinja template helper, not case data", name=node.name),
                phrase("use a field name from the definition"),
            )
    elif isinstance(node, nodes.Getattr):
        _check_attribute(node.attr, source)
    elif isinstance(node, nodes.Getitem):
        _check_subscript(node.arg, source)
    elif isinstance(node, nodes.Filter | nodes.Test):
        _check_filter_or_test(node, source)


def _check_attribute(name: str, source: str) -> None:
    if name.startswith("_") or name in _FORBIDDEN_ATTRIBUTES:
        _refuse(source, phrase("attribute '{name}' is not allowed: {why}", name=name,
                               why=_DATA_ONLY))


def _check_subscript(arg: nodes.Node, source: str) -> None:
    if isinstance(arg, nodes.Slice):
        for part in (arg.start, arg.stop, arg.step):
            if part is not None and not _is_number(part):
                _refuse(source, phrase("slice bounds must be constant numbers"),
                        phrase("e.g. x[0:3]"))
        return
    if _is_number(arg):
        return
    if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
        _check_attribute(arg.value, source)
        return
    _refuse(source, phrase("subscripts must be constants"),
            phrase("use a constant such as x['name'] or x[0]"))


def _is_number(node: nodes.Node) -> bool:
    # Parsed `-1` is Neg(Const(1)), so a negative index is a sign around a constant.
    if isinstance(node, nodes.Neg | nodes.Pos):
        return _is_number(node.node)
    return (
        isinstance(node, nodes.Const)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    )


def _check_filter_or_test(node: nodes.Filter | nodes.Test, source: str) -> None:
    kind = "filter" if isinstance(node, nodes.Filter) else "test"
    kind_words = phrase("filter") if kind == "filter" else phrase("test")
    kinds_words = phrase("filters") if kind == "filter" else phrase("tests")
    allowed = ALLOWED_FILTERS if kind == "filter" else ALLOWED_TESTS
    if node.name not in allowed:
        suggestion = difflib.get_close_matches(node.name, sorted(allowed), n=1, cutoff=0.6)
        _refuse(
            source,
            phrase("{kind} '{name}' is not allowed; allowed {kinds}: {allowed}", kind=kind_words,
                   name=node.name, kinds=kinds_words, allowed=joined(sorted(allowed))),
            phrase("did you mean '{name}'?", name=suggestion[0]) if suggestion else None,
        )
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        _refuse(source, phrase("*args and **kwargs are not allowed in {kind} '{name}'",
                               kind=kind_words, name=node.name))
    for keyword in node.kwargs:
        # min, max, sum and join take attribute="a.b" and walk it on each item; the sandbox
        # would stop a private name there too, but refusing it here reports it at load time.
        if keyword.key == "attribute":
            value = keyword.value
            if not (isinstance(value, nodes.Const) and isinstance(value.value, str | int)):
                _refuse(source, phrase("attribute= must be a constant"))
            for part in str(value.value).split("."):
                _check_attribute(part, source)


def _describe(node: nodes.Node) -> Wordable:
    if isinstance(node, nodes.Name):
        return f"'{node.name}'"
    if isinstance(node, nodes.Getattr):
        return f"'{node.attr}'"
    return phrase("a function")


def unknown_names(expression: Expression, known: Collection[str]) -> list[tuple[str, str | None]]:
    """The names ``expression`` reads that are not in ``known``, each with a close match or None.

    Used by the definition loader to report a misspelt field with a did-you-mean suggestion.
    Sorted by name so reports are stable.
    """
    candidates = sorted(known)
    result: list[tuple[str, str | None]] = []
    for name in sorted(expression.names):
        if name in known:
            continue
        matches = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        result.append((name, matches[0] if matches else None))
    return result


def syntax_tree(source: str) -> nodes.Expr:
    """The parsed tree of a condition, for tools that translate conditions (the browser's
    ``show_if`` trees, report SQL), so that the language has one parser.

    Parsed exactly as :func:`compile_expression` parses it; call that first, since only a
    checked source is guaranteed to stay inside the language. Raises Jinja's
    TemplateSyntaxError for a source that does not parse. Each call returns a new tree:
    Jinja's nodes are mutable, so none is shared.
    """
    return _parse(source)
