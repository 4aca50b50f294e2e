"""Conditions in words: what a refused step's ``if`` asks, as a sentence a person reads.

A step refused by its condition must not show the user ``is_complaint != false``. A step's
``if`` may carry its own message per locale; without one, the condition is worded from the
labels of the fields it reads. Two forms: :func:`clause` is the bare requirement ("'Is it a
complaint' is not No", "“是否属于投诉”不为“否”"), for a sentence around it (the step form's
"This step can be taken only when ..."); :func:`describe` and :func:`condition_sentence` make
it a whole sentence for a refusal ("Possible only when ...", "仅当……时才能办理。"). Each
language holds its own sentence frames, so no frame is wrapped in another ("…才能办理：需要：…").

The tree comes from :func:`.expressions.syntax_tree`, the language's one parser. Comparisons,
``and``/``or``/``not``, ``in`` lists, bare names and the ``none``/``defined``/``true``/``false``
tests are worded; anything else (arithmetic, filters, clocks) falls back to a clause naming the
fields the condition reads. A group inside a group is spelled out ("both ... and ...", "同时满足
……和……") instead of nesting brackets. Pure: no IO, the words for each locale are held here, like
the yes/no words of :func:`.values.display`.

Deadlines are worded here too (:func:`clock_rule`): "自“总经理室受理”起，国内 5 个工作日".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from jinja2 import nodes

from .errors import QmsflowError
from .expressions import Expression, syntax_tree
from .model import Clock, ClockVariant, Duration, Field, Process, Step, text

__all__ = ["Words", "clause", "clock_rule", "condition_clause", "condition_sentence",
           "describe", "duration_text", "words_for"]


@dataclass(frozen=True)
class Words:
    """The words of one language: sentence frames around a clause, and clause frames.

    ``{field}`` is a quoted label, ``{value}`` a shown value, ``{clause}`` a clause.
    """

    only_when: str  # a refusal, around a clause
    must_yes: str  # a refusal on one yes/no field
    must_no: str
    yes: str
    no: str
    label: str  # a choice, state, priority, category or yes/no word compared with
    eq: str
    ne: str
    lt: str
    le: str
    gt: str
    ge: str
    one_of: str
    none_of: str
    includes: str
    excludes: str
    any_is: str
    none_is: str
    empty: str
    filled: str
    within: str
    not_within: str
    flagged: str
    not_flagged: str
    both: str
    either: str
    both_spelled: str  # and/or inside a group, without a second pair of brackets
    either_spelled: str
    group: str
    comma: str
    quote: str
    text: str
    fallback: str
    fallback_plain: str  # the same, when it reads no field or attribute a person knows
    state: str
    priority: str
    category: str
    #: Other case attributes, named only by the fallback clause (too technical to compare).
    others: Mapping[str, str]


ENGLISH = Words(
    only_when="Possible only when {clause}.", must_yes="{field} must be Yes.",
    must_no="{field} must be No.", yes="Yes", no="No", label="{value}",
    eq="{field} is {value}", ne="{field} is not {value}",
    lt="{field} is less than {value}", le="{field} is at most {value}",
    gt="{field} is more than {value}", ge="{field} is at least {value}",
    one_of="{field} is one of {value}", none_of="{field} is none of {value}",
    includes="{field} includes {value}", excludes="{field} does not include {value}",
    any_is="one of {field} is {value}", none_is="none of {field} is {value}",
    empty="{field} is empty", filled="{field} is filled in",
    within="{field} is {value} or under it", not_within="{field} is not under {value}",
    flagged="the case is flagged {value}", not_flagged="the case is not flagged {value}",
    both="{left} and {right}", either="{left} or {right}",
    both_spelled="both {left} and {right}", either_spelled="either {left} or {right}",
    group="({clause})", comma=", ", quote="'{label}'", text='"{value}"',
    fallback="the step's condition on {field} holds",
    fallback_plain="the step's condition holds",
    state="State", priority="Priority", category="Category",
    others={"clocks": "Deadlines", "now": "Current time", "created_at": "Opened",
            "links": "Linked cases", "number": "Case number", "flags": "Flags",
            "process": "Process"})

CHINESE = Words(
    only_when="仅当{clause}时才能办理。", must_yes="{field}须为“是”。", must_no="{field}须为“否”。",
    yes="是", no="否", label="“{value}”",
    eq="{field}为{value}", ne="{field}不为{value}",
    lt="{field}小于{value}", le="{field}不大于{value}",
    gt="{field}大于{value}", ge="{field}不小于{value}",
    one_of="{field}为{value}之一", none_of="{field}不为{value}中的任何一项",
    includes="{field}包含{value}", excludes="{field}不包含{value}",
    any_is="{field}中有一项为{value}", none_is="{field}均不为{value}",
    empty="{field}未填写", filled="{field}已填写",
    within="{field}属于{value}", not_within="{field}不属于{value}",
    flagged="案件带有{value}标记", not_flagged="案件没有{value}标记",
    both="{left}，且{right}", either="{left}，或{right}",
    both_spelled="同时满足{left}和{right}", either_spelled="满足{left}或{right}之一",
    group="（{clause}）", comma="、", quote="“{label}”", text="“{value}”",
    fallback="本步骤关于{field}的条件成立", fallback_plain="本步骤的条件成立",
    state="状态", priority="优先级", category="类别",
    others={"clocks": "期限", "now": "当前时间", "created_at": "立案时间", "links": "关联案件",
            "number": "案件编号", "flags": "标记", "process": "流程"})

_WORDS = {"en": ENGLISH, "zh-CN": CHINESE}

# Each comparison, and the one that holds exactly when it does not.
_NEGATED = {"eq": "ne", "ne": "eq", "lt": "gteq", "gteq": "lt", "gt": "lteq", "lteq": "gt",
            "in": "notin", "notin": "in"}
# The same comparison with its two sides swapped (5 < x is x > 5).
_SWAPPED = {"eq": "eq", "ne": "ne", "lt": "gt", "gt": "lt", "lteq": "gteq", "gteq": "lteq"}


def words_for(locale: str) -> Words:
    """The words of ``locale``, of its language (zh-TW: Chinese), else English."""
    if locale in _WORDS:
        return _WORDS[locale]
    language = locale.split("-")[0]
    return next((words for tag, words in _WORDS.items() if tag.split("-")[0] == language),
                ENGLISH)


def condition_sentence(step: Step, process: Process, locale: str) -> str:
    """What a person is told when ``step``'s condition does not hold: the step's own message
    in ``locale``, or a sentence generated from the condition ('' for a step without one)."""
    if step.condition_message:
        return text(step.condition_message, locale)
    if step.condition is None:
        return ""
    return describe(step.condition, process, locale)


def condition_clause(step: Step, process: Process, locale: str) -> str:
    """``step``'s condition as a bare clause, to be set in a sentence ('' without one).

    Generated from the condition even when the step has its own message: the message is a
    whole sentence of its own, not a clause."""
    return "" if step.condition is None else clause(step.condition, process, locale)


def describe(expression: Expression, process: Process, locale: str) -> str:
    """The condition ``expression`` as a refusal sentence in ``locale``, from its fields'
    labels."""
    speaker = _Speaker(process, locale)
    try:
        return speaker.sentence(syntax_tree(expression.source))
    except _TooComplex:
        return speaker.words.only_when.format(clause=speaker.fallback(expression))


def clause(expression: Expression, process: Process, locale: str) -> str:
    """The condition ``expression`` as a bare clause in ``locale`` (no sentence around it)."""
    speaker = _Speaker(process, locale)
    try:
        return speaker.clause(syntax_tree(expression.source), False)
    except _TooComplex:
        return speaker.fallback(expression)


class _TooComplex(QmsflowError):
    """A form the sentence generator does not word; the generic sentence is used."""


@dataclass(frozen=True)
class _Operand:
    """One side of a comparison: a field (or case attribute) or a constant value."""

    name: str | None = None
    value: Any = None
    names: tuple[str, ...] = ()  # a list of names: [rating_a, rating_b]
    values: tuple[Any, ...] | None = None  # a list of constants: ['a', 'b']


class _Speaker:
    def __init__(self, process: Process, locale: str) -> None:
        self.process = process
        self.locale = locale
        self.words = words_for(locale)

    # -- the sentence ------------------------------------------------------------------------

    def sentence(self, tree: nodes.Node) -> str:
        negated = False
        node = tree
        if isinstance(node, nodes.Not):
            negated, node = True, node.node
        if isinstance(node, nodes.Name) and self._type(node.name) == "yes_no":
            # The plainest case reads as an instruction: 'Customer informed' must be yes.
            template = self.words.must_no if negated else self.words.must_yes
            return template.format(field=self.field(node.name))
        return self.words.only_when.format(clause=self.clause(tree, False))

    def clause(self, node: nodes.Node, negated: bool, grouped: bool = False,
               spelled: bool = False) -> str:
        """``node`` as a clause; ``grouped``: inside brackets already; ``spelled``: an and/or
        that would need a second pair of brackets, worded "both ... and ..." instead."""
        words = self.words
        if isinstance(node, nodes.Not):
            return self.clause(node.node, not negated, grouped, spelled)
        if isinstance(node, nodes.And | nodes.Or):
            # De Morgan: not (a and b) is (not a) or (not b).
            both = isinstance(node, nodes.And) != negated
            template = (words.both_spelled if both else words.either_spelled) if spelled else (
                words.both if both else words.either)
            return template.format(left=self.part(node.left, negated, both, grouped),
                                   right=self.part(node.right, negated, both, grouped))
        if isinstance(node, nodes.Compare):
            return self.compare(node, negated)
        if isinstance(node, nodes.Test):
            return self.test(node, negated)
        operand = self.operand(node)
        if operand.name is not None:
            return self.truth(operand.name, negated)
        raise _TooComplex

    def part(self, node: nodes.Node, negated: bool, both: bool, grouped: bool) -> str:
        """One side of and/or: in brackets when it is the other one of the two (spelled out
        when already inside brackets)."""
        inner = node
        flip = negated
        while isinstance(inner, nodes.Not):
            inner, flip = inner.node, not flip
        other = isinstance(inner, nodes.And | nodes.Or) and (
            isinstance(inner, nodes.And) != flip) != both
        if not other:
            return self.clause(node, negated, grouped)
        if grouped:
            return self.clause(node, negated, grouped, spelled=True)
        return self.words.group.format(clause=self.clause(node, negated, grouped=True))

    def truth(self, name: str, negated: bool) -> str:
        """A bare name: a yes/no field is yes (or no); anything else is filled in (or empty)."""
        words = self.words
        if self._type(name) == "yes_no":
            return words.eq.format(field=self.field(name), value=words.label.format(
                value=words.no if negated else words.yes))
        return (words.empty if negated else words.filled).format(field=self.field(name))

    def test(self, node: nodes.Test, negated: bool) -> str:
        words = self.words
        operand = self.operand(node.node)
        if operand.name is None or node.args:
            raise _TooComplex
        if node.name in ("none", "defined"):
            empty = (node.name == "none") != negated
            return (words.empty if empty else words.filled).format(field=self.field(operand.name))
        if node.name in ("true", "false"):
            return self.truth(operand.name, (node.name == "false") != negated)
        raise _TooComplex

    def compare(self, node: nodes.Compare, negated: bool) -> str:
        if len(node.ops) != 1:
            raise _TooComplex  # a < b < c
        op = node.ops[0].op
        op = _NEGATED.get(op, op) if negated else op
        left, right = self.operand(node.expr), self.operand(node.ops[0].expr)
        words = self.words
        if op in ("in", "notin"):
            return self.membership(left, right, op == "in")
        if left.name is None and right.name is not None:
            left, right, op = right, left, _SWAPPED[op]
        if left.name is None or right.names or right.values is not None:
            raise _TooComplex
        field = self.field(left.name)
        if right.name is None and right.value is None and op in ("eq", "ne"):
            return (words.empty if op == "eq" else words.filled).format(field=field)
        template = {"eq": words.eq, "ne": words.ne, "lt": words.lt, "lteq": words.le,
                    "gt": words.gt, "gteq": words.ge}[op]
        return template.format(field=field, value=self.value(left.name, right))

    def membership(self, left: _Operand, right: _Operand, inside: bool) -> str:
        words = self.words
        if left.name is not None and right.values is not None:  # x in ['a', 'b']
            shown = words.comma.join(self.value(left.name, _Operand(value=v))
                                     for v in right.values)
            return (words.one_of if inside else words.none_of).format(
                field=self.field(left.name), value=shown)
        if left.name is None and left.values is None and right.names:  # 'a' in [x, y]
            fields = words.comma.join(self.field(n) for n in right.names)
            return (words.any_is if inside else words.none_is).format(
                field=fields, value=self.value(right.names[0], left))
        if left.name is None and left.values is None and right.name is not None:  # 'a' in x
            if right.name == "flags":
                flag = self.process.flags.get(str(left.value))
                shown = text(flag.label, self.locale) if flag else str(left.value)
                return (words.flagged if inside else words.not_flagged).format(
                    value=words.quote.format(label=shown))
            if right.name == "category_path":
                category = self.process.categories.get(str(left.value))
                shown = text(category.label, self.locale) if category else str(left.value)
                return (words.within if inside else words.not_within).format(
                    field=self.field("category_path"), value=words.label.format(value=shown))
            return (words.includes if inside else words.excludes).format(
                field=self.field(right.name), value=self.value(right.name, left))
        raise _TooComplex

    # -- operands and their words ------------------------------------------------------------

    def operand(self, node: nodes.Node) -> _Operand:
        if isinstance(node, nodes.Name):
            return _Operand(name=node.name)
        if isinstance(node, nodes.Const):
            return _Operand(value=node.value)
        if isinstance(node, nodes.List | nodes.Tuple):
            items = [self.operand(item) for item in node.items]
            if items and all(i.name is not None for i in items):
                return _Operand(names=tuple(str(i.name) for i in items))
            if all(i.name is None and not i.names and i.values is None for i in items):
                return _Operand(values=tuple(i.value for i in items))
            raise _TooComplex
        if isinstance(node, nodes.Neg) and isinstance(node.node, nodes.Const) and isinstance(
                node.node.value, int | float):
            return _Operand(value=-node.node.value)
        # `handling or []` and `x | default(...)` read as the field itself.
        if isinstance(node, nodes.Or) and isinstance(node.left, nodes.Name) and isinstance(
                node.right, nodes.List | nodes.Const):
            return _Operand(name=node.left.name)
        if isinstance(node, nodes.Filter) and node.name == "default" and isinstance(
                node.node, nodes.Name):
            return _Operand(name=node.node.name)
        raise _TooComplex

    def _spec(self, name: str) -> Field | None:
        return self.process.fields.get(name)

    def _type(self, name: str) -> str | None:
        spec = self._spec(name)
        return spec.type if spec else None

    def field(self, name: str) -> str:
        """A field's (or case attribute's) label, quoted."""
        spec = self._spec(name)
        words = self.words
        if spec is not None:
            shown = text(spec.label, self.locale)
        elif name == "category_path":
            category = self._spec(self.process.category_field or "")
            shown = text(category.label, self.locale) if category else words.category
        elif name in ("state", "priority"):
            shown = words.state if name == "state" else words.priority
        else:
            raise _TooComplex  # clocks, links, now: too technical to word
        return words.quote.format(label=shown)

    def value(self, name: str, operand: _Operand) -> str:
        """A constant compared with field ``name``, as that field shows it."""
        if operand.name is not None:
            return self.field(operand.name)
        value = operand.value
        words = self.words
        if isinstance(value, bool):
            return words.label.format(value=words.yes if value else words.no)
        if isinstance(value, str):
            shown = self._label_of(name, value)
            return words.text.format(value=value) if shown is None else words.label.format(
                value=shown)
        if isinstance(value, int | float):
            return str(value)
        raise _TooComplex

    def _label_of(self, name: str, value: str) -> str | None:
        """The label of a choice, category, state or priority ``value`` of ``name``."""
        spec = self._spec(name)
        if spec is not None and value in spec.choices:
            return text(spec.choices[value].label, self.locale)
        if spec is not None and spec.type == "category" and value in self.process.categories:
            return text(self.process.categories[value].label, self.locale)
        if name == "state" and value in self.process.states:
            return text(self.process.states[value].label, self.locale)
        if name == "priority":
            found = [p for p in self.process.priorities if p.id == value]
            if found:
                return text(found[0].label, self.locale)
        return None

    def fallback(self, expression: Expression) -> str:
        """The generic clause: the condition on the fields it reads holds."""
        shown = []
        for name in self.process.fields:
            if name in expression.names:
                shown.append(self.field(name))
        for name in sorted(expression.names - set(self.process.fields)):
            try:
                shown.append(self.field(name))
            except _TooComplex:
                if name in self.words.others:
                    shown.append(self.words.quote.format(label=self.words.others[name]))
        if not shown:
            return self.words.fallback_plain
        return self.words.fallback.format(field=self.words.comma.join(shown))


# -- deadlines in words ------------------------------------------------------------------------

# How each language counts a duration, by unit ({n}: the amount as written in the definition).
_DURATIONS: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "en": {"working_days": ("{n} working day", "{n} working days"),
           "working_hours": ("{n} working hour", "{n} working hours"),
           "calendar_days": ("{n} calendar day", "{n} calendar days"),
           "hours": ("{n} hour", "{n} hours")},
    "zh": {"working_days": ("{n} 个工作日", "{n} 个工作日"),
           "working_hours": ("{n} 个工作小时", "{n} 个工作小时"),
           "calendar_days": ("{n} 个自然日", "{n} 个自然日"), "hours": ("{n} 小时", "{n} 小时")},
}

_Entry = TypeVar("_Entry")

# The rule of a deadline: where it counts from, and how long it runs.
_RULES: Mapping[str, Mapping[str, str]] = {
    "en": {"from": "{duration} from {start}", "or": " or ", "quote": "'{label}'"},
    "zh": {"from": "自{start}起 {duration}", "or": "或", "quote": "“{label}”"},
}


def _language(table: Mapping[str, _Entry], locale: str) -> _Entry:
    """The entry of ``locale``'s language, else English."""
    return table.get(locale.split("-")[0], table["en"])


def duration_text(duration: Duration, locale: str) -> str:
    """A duration as people say it: "5 working days", "5 个工作日", "7 个自然日", "24 小时"
    (the clock rules of the case page and the version diff both word it so)."""
    one, many = _language(_DURATIONS, locale)[duration.unit]
    amount = duration.amount
    written = f"{amount:f}".rstrip("0").rstrip(".") if "." in f"{amount:f}" else f"{amount:f}"
    return (one if amount == 1 else many).format(n=written)


def clock_rule(process: Process, clock: Clock, variant: ClockVariant, locale: str) -> str:
    """The rule a deadline runs by under ``variant``, in ``locale``: where it counts from and
    for how long: "自“总经理室受理”起 5 个工作日", "4 working hours from 'Received at'".

    A clock that counts from a field's time names the field; one started by steps names them
    (any of them starts it). The variant's own name is not repeated (screens show it beside
    the rule). Generated from the definition, so the text cannot drift from the rule.
    """
    words = _language(_RULES, locale)
    quoted = words["quote"]
    if clock.start_at is not None and clock.start_at in process.fields:
        start = quoted.format(label=text(process.fields[clock.start_at].label, locale))
    else:
        start = words["or"].join(
            quoted.format(label=text(process.steps[s].label, locale) if s in process.steps
                          else s) for s in clock.start_on)
    return words["from"].format(start=start, duration=duration_text(variant.duration, locale))
