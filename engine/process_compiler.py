"""Compile one process document: its fields, categories, states, steps, rules, clocks and forms.

Part of the compile pass (see :mod:`.compiler`): names are resolved against the organisation,
the calendars, the templates and the other processes; problems are collected on the way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, Literal, cast

from .access import default_rules
from .compiler import CASE_ATTRIBUTES, NUMERIC_TYPES, CompileContext
from .decisions import all_rule_flags, may_overlap
from .expressions import Expression
from .model import (
    Authority,
    Category,
    Choice,
    Clock,
    ClockVariant,
    Duration,
    DurationUnit,
    Effect,
    Field,
    FieldType,
    Form,
    FormField,
    HitPolicy,
    Input,
    Labels,
    Organisation,
    PrintLayout,
    PriorityRule,
    PriorityTable,
    Process,
    ReadRule,
    ReadScope,
    Section,
    State,
    Step,
    Survey,
    Tier,
    ValueTest,
    frozen_map,
)
from .problems import Phrase, Problem, a_field, joined, phrase, suggest
from .sources import Document

_SEARCHABLE = ("text", "long_text", "email", "phone")
#: Field types a survey link never shows nor asks for: the customer sees no staff member's
#: identity and uploads nothing (the link is not an account).
_NOT_FOR_CUSTOMERS = ("user", "file")
_PUBLIC_HINT = phrase("a survey link is no login: show only what anyone holding it may read")
#: Effects that may not appear where: a deadline cannot send a survey (a step records when it
#: was sent), and a customer's answer never moves, routes or times the case, nor sends another.
_EffectPlace = Literal["step", "clock", "survey"]
_NOT_HERE: Mapping[str, Mapping[str, Phrase]] = {
    "clock": {"survey": phrase("a deadline's warning or breach cannot send a survey"),
              "update": phrase("a deadline's warning or breach cannot change a register "
                               "entry")},
    "survey": {"survey": phrase("a survey answer cannot send another survey"),
               "update": phrase("a survey answer cannot change a register entry"),
               "assign": phrase("a survey answer cannot route the case to a queue"),
               "clock": phrase("a survey answer cannot start, stop, pause or resume a deadline")},
}

class ProcessCompiler:
    """Compiles one process document against the organisation, calendars and templates."""

    def __init__(self, doc: Document, problems: list[Problem], org: Organisation,
                 calendars: Collection[str], templates: Collection[str],
                 processes: Mapping[str, Collection[str]]) -> None:
        self.data = doc.data
        self.ctx = CompileContext(doc, problems, org.locales)
        self.org = org
        self.calendars = calendars
        self.templates = templates
        self.processes = processes  # process id -> its field ids, for linked cases

    # -- small helpers -------------------------------------------------------------------------

    def _labels(self, item: Mapping[str, Any], path: list[str | int],
                key: str = "label") -> Labels:
        return self.ctx.labels(item.get(key), [*path, key])

    def _roles(self, names: Iterable[str], path: list[str | int]) -> tuple[str, ...]:
        for index, name in enumerate(names):
            self.ctx.ref(name, self.org.roles, "role", [*path, index])
        return tuple(names)

    def _expr(self, source: Any, path: list[str | int]) -> Expression | None:
        return self.ctx.expression(source, path, self.names)

    def compile_fields(self, names: Collection[str]) -> dict[str, Field]:
        """The document's fields (a process's, or a register's: the same types and checks),
        ``names`` being what their ``required`` conditions may read."""
        self.names = set(names)
        return self._fields()

    # -- the passes ----------------------------------------------------------------------------

    def compile(self) -> Process | None:
        data = self.data
        ctx = self.ctx
        for key, what in (("fields", "field"), ("states", "state"), ("transitions", "transition"),
                          ("start", "start step"), ("priorities", "priority"), ("flags", "flag"),
                          ("authority", "authority matrix"), ("clocks", "clock"),
                          ("forms", "form"), ("surveys", "survey")):
            ctx.unique(data.get(key, []), [key], what)
        self.field_ids = {f["id"] for f in data["fields"]}
        self.names = self.field_ids | CASE_ATTRIBUTES
        self.state_ids = {s["id"] for s in data["states"]}
        self.priority_ids = [p["id"] for p in data["priorities"]]
        self.flag_ids = {f["id"] for f in data.get("flags", [])}
        self.clock_ids = {c["id"] for c in data.get("clocks", [])}
        self.form_ids = {f["id"] for f in data.get("forms", [])}
        self.authority_ids = {a["id"] for a in data.get("authority", [])}
        self.survey_ids = {s["id"] for s in data.get("surveys", [])}
        step_ids = [t["id"] for t in [*data["start"], *data["transitions"]]]
        self.step_ids = set(step_ids)
        for clash in sorted({s for s in step_ids if step_ids.count(s) > 1}):
            ctx.problem(["transitions"], "E202",
                        phrase("step id '{ident}' is used twice", ident=clash),
                        phrase("start steps and transitions share one namespace"))

        fields = self._fields()
        categories = self._categories()
        category_field = data.get("category_field")
        if (category_field is not None
                and ctx.ref(category_field, self.field_ids, "field", ["category_field"])
                and fields[category_field].type != "category"):
            ctx.problem(["category_field"], "E207",
                        phrase("field '{name}' must have type 'category'", name=category_field))
        default_priority = data.get("default_priority", self.priority_ids[-1])
        ctx.ref(default_priority, self.priority_ids, "priority", ["default_priority"])
        states = self._states()
        starts = {t["id"]: self._transition(t, ["start", i], True, fields, states)
                  for i, t in enumerate(data["start"])}
        transitions = {t["id"]: self._transition(t, ["transitions", i], False, fields, states)
                       for i, t in enumerate(data["transitions"])}
        self._graph_checks(states, starts, transitions)
        self._final_checks(states, transitions)
        forms = self._forms(starts, transitions)
        process = Process(
            id=data["id"], label=self._labels(data, []),
            case_number_format=data["case_number"]["format"],
            case_number_reset=data["case_number"].get("reset", "yearly"),
            priorities=tuple(Choice(p["id"], self._labels(p, ["priorities", i]))
                             for i, p in enumerate(data["priorities"])),
            default_priority=default_priority,
            flags=frozen_map({f["id"]: Choice(f["id"], self._labels(f, ["flags", i]))
                              for i, f in enumerate(data.get("flags", []))}),
            fields=frozen_map(fields), categories=frozen_map(categories),
            category_field=category_field, priority_table=self._priority_table(fields),
            states=frozen_map(states), starts=frozen_map(starts),
            steps=frozen_map(transitions), authorities=frozen_map(self._authorities(fields)),
            clocks=frozen_map(self._clocks(fields, states, {**starts, **transitions})),
            forms=frozen_map(forms),
            inbox_columns=self._inbox(), print_layout=self._print(),
            inbox_search=self._search(), surveys=frozen_map(self._surveys(fields, forms)),
        )
        if "read" in data:
            process = replace(process, read=self._read(), read_declared=True)
        else:
            process = replace(process, read=default_rules(process))
        self._recomputed_flags(process)
        return process

    def _recomputed_flags(self, process: Process) -> None:
        """An effect may not add or remove a flag that categories or rules decide: the next
        step recomputes those, and the effect's change would silently be undone."""
        decided = all_rule_flags(process)
        places: list[tuple[list[str | int], list[Any]]] = []
        for group in ("start", "transitions"):
            for i, item in enumerate(self.data.get(group, [])):
                places.append(([group, i, "effects"], item.get("effects", [])))
        for i, item in enumerate(self.data.get("clocks", [])):
            for key in ("on_warning", "on_breach"):
                places.append((["clocks", i, key], item.get(key, [])))
        for i, item in enumerate(self.data.get("surveys", [])):
            places.append((["surveys", i, "effects"], item.get("effects", [])))
        for path, effects in places:
            for j, effect in enumerate(effects):
                spec = effect.get("flag") if isinstance(effect, Mapping) else None
                if not isinstance(spec, Mapping):
                    continue
                for key in ("add", "remove"):
                    for k, name in enumerate(spec.get(key, [])):
                        if name in decided:
                            self.ctx.problem(
                                [*path, j, "flag", key, k], "E243",
                                phrase("flag '{name}' is decided by the case's category or the "
                                       "priority rules, so this effect's {key} is undone on the "
                                       "next step", name=name, key=key),
                                phrase("use a flag of its own for the effect, or let the "
                                       "category or rule alone decide it"))

    def _fields(self) -> dict[str, Field]:
        result: dict[str, Field] = {}
        for index, item in enumerate(self.data["fields"]):
            here: list[str | int] = ["fields", index]
            kind = cast(FieldType, item["type"])
            choices = {c["id"]: Choice(c["id"], self._labels(c, [*here, "choices", j]))
                       for j, c in enumerate(item.get("choices", []))}
            self.ctx.unique(item.get("choices", []), [*here, "choices"], "choice")
            if kind in ("choice", "multi_choice") and not choices:
                self.ctx.problem(here, "E207", phrase("{kind} field '{ident}' has no choices",
                                                      kind=kind, ident=item["id"]),
                                 phrase("add 'choices: [{{id: ..., label: ...}}]'"))
            if choices and kind not in ("choice", "multi_choice"):
                self.ctx.problem([*here, "choices"], "E207",
                                 phrase("choices only apply to choice fields, not {kind}",
                                        kind=kind))
            pattern = item.get("pattern")
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as error:
                    self.ctx.problem([*here, "pattern"], "E207",
                                     phrase("pattern is not a valid regular expression: "
                                            "{error}", error=error))
            minimum, maximum = self._bound(item, "min", kind, here), self._bound(
                item, "max", kind, here)
            if minimum is not None and maximum is not None and minimum > maximum:  # type: ignore[operator]
                self.ctx.problem([*here, "min"], "E207", phrase(
                    "min {minimum} is above max {maximum}", minimum=minimum, maximum=maximum))
            required = item.get("required", False)
            if "roles" in item:
                self._roles(item["roles"], [*here, "roles"])
            result[item["id"]] = Field(
                id=item["id"], type=kind, label=self._labels(item, here),
                help=self.ctx.labels(item.get("help"), [*here, "help"]),
                required=required if isinstance(required, bool) else (
                    self._expr(required, [*here, "required"]) or True),
                minimum=minimum, maximum=maximum, min_length=item.get("min_length"),
                max_length=item.get("max_length"), pattern=pattern,
                choices=frozen_map(choices), currency=item.get("currency"),
                pii=bool(item.get("pii", False)), change_reason=bool(item.get("change_reason")),
                roles=tuple(item.get("roles", [])), default=item.get("default"),
            )
        return result

    def _bound(self, item: Mapping[str, Any], key: str, kind: str,
               here: list[str | int]) -> Decimal | str | None:
        value = item.get(key)
        if value is None:
            return None
        if kind in ("date", "datetime"):
            try:
                if not isinstance(value, str):
                    raise ValueError
                date.fromisoformat(value)
            except ValueError:
                example = "1900-01-01" if key == "min" else "2100-12-31"
                self.ctx.problem([*here, key], "E207",
                                 phrase("{key} of a {kind} field must be a date written "
                                        "YYYY-MM-DD, not {value!r}", key=key, kind=kind,
                                        value=value),
                                 phrase("write e.g. {example}",
                                        example=key + ": '" + example + "'"))
                return None
            return value
        if isinstance(value, str | bool) or (isinstance(value, float) and not math.isfinite(
                value)):
            self.ctx.problem([*here, key], "E207",
                             phrase("{key} of {field} must be a number", key=key,
                                    field=a_field(kind)))
            return None
        return Decimal(str(value))

    def _categories(self) -> dict[str, Category]:
        result: dict[str, Category] = {}

        def walk(items: list[Any], path: list[str | int], parents: tuple[str, ...]) -> None:
            for index, item in enumerate(items):
                here = [*path, index]
                if item["id"] in result:
                    self.ctx.problem([*here, "id"], "E202",
                                     phrase("duplicate category id '{ident}'", ident=item["id"]),
                                     phrase("category ids are unique across the whole tree"))
                self.ctx.ref(item.get("priority"), self.priority_ids, "priority",
                             [*here, "priority"])
                self.ctx.ref(item.get("department"), self.org.departments, "department",
                             [*here, "department"])
                for j, name in enumerate(item.get("required_fields", [])):
                    self.ctx.ref(name, self.field_ids, "field", [*here, "required_fields", j])
                for j, name in enumerate(item.get("flags", [])):
                    self.ctx.ref(name, self.flag_ids, "flag", [*here, "flags", j])
                result[item["id"]] = Category(
                    id=item["id"], code=item.get("code", item["id"]),
                    label=self._labels(item, here), path=(*parents, item["id"]),
                    priority=item.get("priority"), department=item.get("department"),
                    required_fields=tuple(item.get("required_fields", [])),
                    quality_related=item.get("quality_related"),
                    flags=frozenset(item.get("flags", [])))
                walk(item.get("children", []), [*here, "children"], (*parents, item["id"]))

        walk(self.data.get("categories", []), ["categories"], ())
        has_category_field = any(f["type"] == "category" for f in self.data["fields"])
        if has_category_field and not result:
            self.ctx.problem(["fields"], "E207",
                             phrase("a category field needs a 'categories' tree"))
        return result

    def _states(self) -> dict[str, State]:
        result: dict[str, State] = {}
        for index, item in enumerate(self.data["states"]):
            here: list[str | int] = ["states", index]
            if "owner" in item:
                self.ctx.ref(item["owner"], self.org.roles, "role", [*here, "owner"])
            if "route_by" in item:
                self.ctx.ref(item["route_by"], self.authority_ids, "authority matrix",
                             [*here, "route_by"])
            result[item["id"]] = State(item["id"], self._labels(item, here), item.get("owner"),
                                       bool(item.get("final", False)), item.get("route_by"))
        return result

    def _transition(self, item: Mapping[str, Any], here: list[str | int], start: bool,
                    fields: Mapping[str, Field], states: Mapping[str, State]) -> Step:
        ctx = self.ctx
        written = item.get("from", [])
        keyword = written if written in ("any", "all") else None
        if keyword is not None:
            # 'any': offered in every state a case can still be in; 'all': on finished cases
            # too (a step that stays, recording what a deadline outliving the case waits for).
            sources = tuple(state.id for state in states.values()
                            if keyword == "all" or not state.final)
        else:
            sources = tuple(written)
            for index, state_id in enumerate(sources):
                ctx.ref(state_id, self.state_ids, "state", [*here, "from", index])
        target = item.get("to")
        if target is not None:
            ctx.ref(target, self.state_ids, "state", [*here, "to"])
        if (target is None) == (not item.get("stay")):
            # The schema allows both keys and neither (one schema for two shapes); say which.
            ctx.problem([*here, "stay" if target is not None else "id"], "E241",
                        phrase("step '{ident}' has both 'to' and 'stay'", ident=item["id"])
                        if target is not None else
                        phrase("step '{ident}' says neither where it leads ('to') nor that it "
                               "stays ('stay')", ident=item["id"]),
                        phrase("give 'to: <state>' to move the case, or 'stay: true' to leave it "
                               "in the state it is in"))
        inputs = self._inputs(item.get("inputs", []), [*here, "inputs"], fields)
        for index, name in enumerate(item.get("not_by", [])):
            ctx.ref(name, self.step_ids, "step", [*here, "not_by", index])
        ctx.ref(item.get("form"), self.form_ids, "form", [*here, "form"])
        ctx.ref(item.get("authority"), self.authority_ids, "authority matrix",
                [*here, "authority"])
        # 'if' is a condition, or {expr: condition, message: {locale: text}}.
        condition = item.get("if")
        message: Labels = frozen_map()
        if isinstance(condition, Mapping):
            message = self._labels(condition, [*here, "if"], "message")
            condition, where = condition.get("expr"), [*here, "if", "expr"]
        else:
            where = [*here, "if"]
        return Step(
            id=item["id"], label=self._labels(item, here), sources=sources, target=target,
            roles=self._roles(item["roles"], [*here, "roles"]),
            condition=self._expr(condition, where), inputs=inputs,
            form=item.get("form"),
            effects=self._effects(item.get("effects", []), [*here, "effects"]),
            signature=item.get("signature"), not_by=tuple(item.get("not_by", [])),
            authority=item.get("authority"), reason_required=bool(item.get("reason_required")),
            start=start, condition_message=message, from_keyword=keyword,
            complete_forms=bool(item.get("complete_forms", False)),
        )

    def _inputs(self, entries: list[Any], path: list[str | int],
                fields: Mapping[str, Field]) -> tuple[Input, ...]:
        inputs: list[Input] = []
        for index, entry in enumerate(entries):
            name = entry if isinstance(entry, str) else entry["id"]
            here = [*path, index]
            self.ctx.ref(name, self.field_ids, "field", here)
            required = True if isinstance(entry, str) else entry.get("required", True)
            if not isinstance(required, bool):
                required = self._expr(required, [*here, "required"]) or True
            elif isinstance(entry, str) and name in fields:
                # A bare id takes the field's own rule: required always, or by condition.
                required = fields[name].required
            inputs.append(Input(name, required))
        return tuple(inputs)

    def _effects(self, items: list[Any], path: list[str | int],
                 place: _EffectPlace = "step") -> tuple[Effect, ...]:
        ctx = self.ctx
        effects: list[Effect] = []
        for index, item in enumerate(items):
            actions = [key for key in item if key != "when"]
            if len(actions) != 1:
                ctx.problem([*path, index], "E207",
                            phrase("an effect does one thing: found {found}",
                                   found=joined(actions, " and ") if actions
                                   else phrase("only 'when'")),
                            phrase("write each action as its own list item"))
                continue
            kind = actions[0]
            spec = item[kind]
            here = [*path, index, kind]
            refused = _NOT_HERE.get(place, {}).get(kind)
            if refused is not None:
                ctx.problem(here, "E216", refused,
                            phrase("send surveys from a step's effects") if place == "clock" else
                            phrase("an answer sets values, flags, priority, notifies and opens "
                                   "cases; a step staff take afterwards does the rest"))
                continue
            condition = self._expr(item.get("when"), [*path, index, "when"])
            exprs: dict[str, Expression] = {}
            if kind == "set":
                for name, source in spec.items():
                    ctx.ref(name, self.field_ids, "field", [*here, name])
                    expr = self._expr(source, [*here, name])
                    if expr is not None:
                        exprs[name] = expr
            elif kind == "notify":
                ctx.ref(spec["template"], self.templates, "notification template",
                        [*here, "template"])
                for j, target in enumerate(spec["to"]):
                    prefix, _, name = target.partition(":")
                    if prefix == "role":
                        ctx.ref(name, self.org.roles, "role", [*here, "to", j])
                    elif prefix == "field":
                        ctx.ref(name, self.field_ids, "field", [*here, "to", j])
            elif kind == "assign":
                ctx.ref(spec["role"], self.org.roles, "role", [*here, "role"])
            elif kind == "priority":
                ctx.ref(spec, self.priority_ids, "priority", here)
            elif kind == "flag":
                for key in ("add", "remove"):
                    for j, name in enumerate(spec.get(key, [])):
                        ctx.ref(name, self.flag_ids, "flag", [*here, key, j])
            elif kind == "clock":
                for key, names in spec.items():
                    for j, name in enumerate(names):
                        ctx.ref(name, self.clock_ids, "clock", [*here, key, j])
            elif kind == "survey":
                ctx.ref(spec, self.survey_ids, "survey", here)
            elif kind == "update":
                # The register side (which register, which of its fields) is checked once the
                # registers are compiled (register_updates.link_updates); here the case side.
                ctx.ref(spec["entry"], self.field_ids, "field", [*here, "entry"])
                reads = {*self.names, "entry"}
                for name, source in spec["set"].items():
                    expr = self.ctx.expression(source, [*here, "set", name], reads)
                    if expr is not None:
                        exprs[name] = expr
                require = spec.get("require")
                message: Labels = frozen_map()
                where: list[str | int] = [*here, "require"]
                if isinstance(require, Mapping):
                    message = self._labels(require, where, "message")
                    require, where = require.get("expr"), [*where, "expr"]
                spec = {**spec, "require": self.ctx.expression(require, where, reads),
                        "message": message}
            elif kind == "open_case":
                target = self.processes.get(spec["process"], ())
                ctx.ref(spec["process"], self.processes, "process", [*here, "process"])
                relation = spec["relation"]
                if relation not in self.org.relations:
                    # Both cases name the link by the relation's labels: it must have them.
                    ctx.problem([*here, "relation"], "E242",
                                phrase("relation '{name}' is not declared", name=relation),
                                suggest(relation, self.org.relations)
                                or phrase("declare it in the organisation's 'relations' with a "
                                          "label and a reverse label in every locale"))
                for j, name in enumerate(spec.get("copy", [])):
                    if ctx.ref(name, self.field_ids, "field", [*here, "copy", j]) and target:
                        ctx.ref(name, target, f"field of process '{spec['process']}'",
                                [*here, "copy", j])
                for goal, source in spec.get("map", {}).items():
                    ctx.ref(source, self.field_ids, "field", [*here, "map", goal])
                    if target:
                        ctx.ref(goal, target, f"field of process '{spec['process']}'",
                                [*here, "map", goal])
                for goal in spec.get("values", {}):
                    if target:
                        ctx.ref(goal, target, f"field of process '{spec['process']}'",
                                [*here, "values", goal])
            effects.append(Effect(kind, frozen_map(spec) if isinstance(spec, dict) else spec,
                                  frozen_map(exprs), condition))
        return tuple(effects)

    def _graph_checks(self, states: Mapping[str, State], starts: Mapping[str, Step],
                      transitions: Mapping[str, Step]) -> None:
        # A step that stays reaches no other state and is no way out of one.
        reachable = {t.target for t in starts.values() if t.target is not None}
        frontier = list(reachable)
        while frontier:
            state = frontier.pop()
            for t in transitions.values():
                if state in t.sources and t.target is not None and t.target not in reachable:
                    reachable.add(t.target)
                    frontier.append(t.target)
        for index, item in enumerate(self.data["states"]):
            sid = item["id"]
            if sid not in reachable:
                self.ctx.problem(["states", index, "id"], "E203",
                                 phrase("state '{ident}' cannot be reached from any start step",
                                        ident=sid),
                                 phrase("add a transition into it, or remove it"))
            leaves = any(sid in t.sources and t.target is not None
                         for t in transitions.values())
            if not leaves and not states[sid].final:
                self.ctx.problem(["states", index, "id"], "E204",
                                 phrase("state '{ident}' has no way out and is not final",
                                        ident=sid),
                                 phrase("add a transition from it, or mark it 'final: true'"))

    def _priority_table(self, fields: Mapping[str, Field]) -> PriorityTable | None:
        table = self.data.get("priority_rules")
        if table is None:
            return None
        ctx = self.ctx
        ctx.unique(table["rules"], ["priority_rules", "rules"], "rule")
        rules: list[PriorityRule] = []
        for index, item in enumerate(table["rules"]):
            here: list[str | int] = ["priority_rules", "rules", index]
            tests: list[ValueTest] = []
            for name, wanted in item.get("when", {}).items():
                if not ctx.ref(name, self.field_ids | {"category_path"}, "field",
                               [*here, "when", name]):
                    continue
                if isinstance(wanted, dict):
                    tests.append(ValueTest(
                        name, None,
                        Decimal(str(wanted["min"])) if "min" in wanted else None,
                        Decimal(str(wanted["max"])) if "max" in wanted else None))
                else:
                    values = tuple(wanted) if isinstance(wanted, list) else (wanted,)
                    self._check_values(fields.get(name), values, [*here, "when", name])
                    tests.append(ValueTest(name, values))
            ctx.ref(item.get("priority"), self.priority_ids, "priority", [*here, "priority"])
            for j, flag in enumerate(item.get("flags", [])):
                ctx.ref(flag, self.flag_ids, "flag", [*here, "flags", j])
            rules.append(PriorityRule(item["id"], tuple(tests),
                                      self._expr(item.get("if"), [*here, "if"]),
                                      item.get("priority"), frozenset(item.get("flags", []))))
        policy = cast(HitPolicy, table["hit_policy"])
        if policy == "UNIQUE":
            for i, first in enumerate(rules):
                for j in range(i + 1, len(rules)):
                    if may_overlap(first, rules[j]):
                        ctx.problem(["priority_rules", "rules", j], "E208",
                                    phrase("rules '{first}' and '{second}' can both match, "
                                           "which hit policy UNIQUE forbids", first=first.id,
                                           second=rules[j].id),
                                    phrase("make their conditions exclusive, or use FIRST or "
                                           "PRIORITY"))
        return PriorityTable(policy, tuple(rules))

    def _check_values(self, spec: Field | None, values: tuple[Any, ...],
                      path: list[str | int]) -> None:
        if spec is None:
            return
        known: Collection[str] = ()
        if spec.type in ("choice", "multi_choice"):
            known = spec.choices
        elif spec.type == "category":
            known = {c["id"] for c in _walk_categories(self.data.get("categories", []))}
        if known:
            for value in values:
                self.ctx.ref(value, known, f"choice of '{spec.id}'", path)

    def _authorities(self, fields: Mapping[str, Field]) -> dict[str, Authority]:
        result: dict[str, Authority] = {}
        for index, item in enumerate(self.data.get("authority", [])):
            here: list[str | int] = ["authority", index]
            self.ctx.unique(item["tiers"], [*here, "tiers"], "tier")
            if "field" in item and "fields" in item:
                self.ctx.problem([*here, "fields"], "E240",
                                 phrase("authority '{ident}' gives both 'field' and 'fields'",
                                        ident=item["id"]),
                                 phrase("list every amount under 'fields' and remove 'field'"))
            key = "fields" if "fields" in item else "field"
            names = [item[key]] if key == "field" and key in item else list(item.get(key, []))
            for j, name in enumerate(names):
                where_field: list[str | int] = [*here, key] + ([j] if key == "fields" else [])
                if (self.ctx.ref(name, self.field_ids, "field", where_field)
                        and fields[name].type not in NUMERIC_TYPES):
                    self.ctx.problem(where_field, "E207",
                                     phrase("authority field '{name}' is a {kind} field; an "
                                            "amount must be money, decimal or integer", name=name,
                                            kind=fields[name].type),
                                     phrase("name a money, decimal or integer field"))
            tiers: list[Tier] = []
            for j, tier in enumerate(item["tiers"]):
                where: list[str | int] = [*here, "tiers", j]
                self.ctx.ref(tier["role"], self.org.roles, "role", [*where, "role"])
                limit = Decimal(str(tier["limit"])) if "limit" in tier else None
                # Without an amount to read, tiers are ranks: limits need not rise.
                if names and tiers and (tiers[-1].limit is None or (
                        limit is not None and limit <= tiers[-1].limit)):
                    shown = phrase("unlimited") if limit is None else limit
                    below = phrase("unlimited") if tiers[-1].limit is None else tiers[-1].limit
                    self.ctx.problem([*where, "limit"], "E205",
                                     phrase("tier '{tier}' limit {shown} does not rise above "
                                            "tier '{lower}' ({below})", tier=tier["id"],
                                            shown=shown, lower=tiers[-1].id, below=below),
                                     phrase("list tiers from the lowest limit to the highest; "
                                            "only the last may be unlimited"))
                tiers.append(Tier(tier["id"], tier["role"], limit,
                                  self.ctx.labels(tier.get("label"), [*where, "label"])))
            without = item.get("without_amount")
            self.ctx.ref(without, [t["id"] for t in item["tiers"]],
                         f"tier of authority '{item['id']}'", [*here, "without_amount"])
            result[item["id"]] = Authority(item["id"], self._labels(item, here), tuple(names),
                                           tuple(tiers), without)
        return result

    def _final_checks(self, states: Mapping[str, State],
                      transitions: Mapping[str, Step]) -> None:
        """A step taken on a finished case (to stop a deadline that outlives it) must leave
        the case in that final state: ``to`` the same state, or ``stay: true``."""
        for index, item in enumerate(self.data["transitions"]):
            step = transitions.get(item["id"])
            if step is None or step.target is None:
                continue
            for j, source in enumerate(step.sources):
                if source in states and states[source].final and step.target != source:
                    where: list[str | int] = ["transitions", index, "from"]
                    if not step.from_keyword:
                        where.append(j)
                    self.ctx.problem(where, "E230",
                                     phrase("step '{step}' leaves the final state '{source}' "
                                            "for '{target}': a finished case stays finished",
                                            step=step.id, source=source, target=step.target),
                                     phrase("write 'to: {source}' or 'stay: true' for a step on "
                                            "a closed case, such as one that stops a deadline",
                                            source=source))
                    break

    def _clock_start(self, item: Mapping[str, Any], here: list[str | int],
                     fields: Mapping[str, Field]) -> str | None:
        """The date or datetime field a clock counts from (``start_at``), checked."""
        name = cast("str | None", item.get("start_at"))
        if not item.get("start_on") and name is None:
            self.ctx.problem(here, "E232", phrase("clock '{ident}' never starts: it has "
                                                  "neither 'start_on' nor 'start_at'",
                                                  ident=item["id"]),
                             phrase("give 'start_on: [<step>]', or 'start_at: <date or datetime "
                                    "field>' to count from the time held in a field"))
        if name is None or not self.ctx.ref(name, self.field_ids, "field", [*here, "start_at"]):
            return name
        if fields[name].type not in ("date", "datetime"):
            self.ctx.problem([*here, "start_at"], "E231",
                             phrase("clock '{ident}' starts at field '{name}', {field}; a "
                                    "clock counts from a date or datetime field",
                                    ident=item["id"], name=name,
                                    field=a_field(fields[name].type)),
                             phrase("name a date or datetime field"))
        return name

    def _clock_close(self, item: Mapping[str, Any], here: list[str | int],
                     states: Mapping[str, State], steps: Mapping[str, Step]) -> None:
        """``runs_after_close`` and ``blocks_close`` exclude each other, and a clock that
        outlives the case needs a stop step that can be taken on a finished case."""
        after = bool(item.get("runs_after_close"))
        if after and item.get("blocks_close"):
            self.ctx.problem([*here, "blocks_close"], "E233",
                             phrase("clock '{ident}' both runs after the case is closed and "
                                    "keeps it from closing", ident=item["id"]),
                             phrase("keep one of 'runs_after_close' and 'blocks_close'"))
        if not after:
            return
        finals = {sid for sid, state in states.items() if state.final}
        if not any(finals & set(steps[name].sources)
                   for name in item.get("stop_on", []) if name in steps):
            self.ctx.problem([*here, "runs_after_close"], "E234",
                             phrase("clock '{ident}' runs after the case is closed, but none "
                                    "of its stop steps can be taken on a closed case",
                                    ident=item["id"]),
                             phrase("list in its 'stop_on' a step from the final state that "
                                    "stays there: 'stay: true', or 'to' that same state"))

    def _clocks(self, fields: Mapping[str, Field], states: Mapping[str, State],
                steps: Mapping[str, Step]) -> dict[str, Clock]:
        result: dict[str, Clock] = {}
        for index, item in enumerate(self.data.get("clocks", [])):
            here: list[str | int] = ["clocks", index]
            start_at = self._clock_start(item, here, fields)
            self._clock_close(item, here, states, steps)
            for key in ("start_on", "stop_on", "pause_on", "resume_on"):
                for j, name in enumerate(item.get(key, [])):
                    self.ctx.ref(name, self.step_ids, "step", [*here, key, j])
            if bool(item.get("pause_on")) != bool(item.get("resume_on")):
                self.ctx.problem(here, "E207", phrase("clock '{ident}' can pause but never "
                                                      "resume", ident=item["id"])
                                 if item.get("pause_on") else
                                 phrase("clock '{ident}' can resume but never pause",
                                        ident=item["id"]),
                                 phrase("give both 'pause_on' and 'resume_on'"))
            self.ctx.unique(item["variants"], [*here, "variants"], "variant")
            variants: list[ClockVariant] = []
            for j, variant in enumerate(item["variants"]):
                where: list[str | int] = [*here, "variants", j]
                if variants and variants[-1].condition is None:
                    self.ctx.problem(where, "E214",
                                     phrase("variant '{ident}' can never apply: the variant "
                                            "before it has no 'if' and always wins",
                                            ident=variant["id"]),
                                     phrase("put the fallback variant (without 'if') last"))
                calendar = variant.get("calendar", self.org.calendar)
                if "calendar" in variant:  # the organisation's own is checked once, there
                    self.ctx.ref(calendar, self.calendars, "calendar", [*where, "calendar"])
                variants.append(ClockVariant(
                    variant["id"], self.ctx.labels(variant.get("label"), [*where, "label"],
                                                   required="label" in variant),
                    self._expr(variant.get("if"), [*where, "if"]),
                    _duration(variant["duration"]), calendar,
                    _duration(variant["warn_before"]) if "warn_before" in variant else None))
            result[item["id"]] = Clock(
                item["id"], self._labels(item, here), tuple(item.get("start_on", [])),
                tuple(item["stop_on"]), tuple(item.get("pause_on", [])),
                tuple(item.get("resume_on", [])), tuple(variants),
                self._effects(item.get("on_warning", []), [*here, "on_warning"], "clock"),
                self._effects(item.get("on_breach", []), [*here, "on_breach"], "clock"),
                start_at, bool(item.get("runs_after_close")), bool(item.get("blocks_close")))
        return result

    def _forms(self, starts: Mapping[str, Step],
               transitions: Mapping[str, Step]) -> dict[str, Form]:
        result: dict[str, Form] = {}
        for index, item in enumerate(self.data.get("forms", [])):
            here: list[str | int] = ["forms", index]
            self.ctx.unique(item["sections"], [*here, "sections"], "section")
            sections: list[Section] = []
            for j, section in enumerate(item["sections"]):
                where: list[str | int] = [*here, "sections", j]
                placed: list[FormField] = []
                for k, entry in enumerate(section["fields"]):
                    name = entry if isinstance(entry, str) else entry["field"]
                    self.ctx.ref(name, self.field_ids, "field", [*where, "fields", k])
                    show_if = None if isinstance(entry, str) else self._expr(
                        entry.get("show_if"), [*where, "fields", k, "show_if"])
                    placed.append(FormField(name, not isinstance(entry, str) and bool(
                        entry.get("read_only")), show_if))
                sections.append(Section(
                    section["id"], self.ctx.labels(section.get("label"), [*where, "label"]),
                    section.get("columns", 1), bool(section.get("read_only")),
                    self._expr(section.get("show_if"), [*where, "show_if"]), tuple(placed)))
            result[item["id"]] = Form(item["id"], self._labels(item, here), tuple(sections))
        # A step's form must offer every input the step asks for.
        for group, steps in (("start", starts), ("transitions", transitions)):
            for index, step in enumerate(steps.values()):
                form = result.get(step.form or "")
                if form is None:
                    continue
                offered = {f.field for s in form.sections if not s.read_only
                           for f in s.fields if not f.read_only}
                for name in [i.field for i in step.inputs if i.field not in offered]:
                    self.ctx.problem([group, index, "form"], "E210",
                                     phrase("form '{form}' does not offer input '{name}' of "
                                            "step '{step}'", form=form.id, name=name,
                                            step=step.id),
                                     phrase("add '{name}' to an editable section", name=name))
        return result

    def _surveys(self, fields: Mapping[str, Field], forms: Mapping[str, Form]
                 ) -> dict[str, Survey]:
        ctx = self.ctx
        result: dict[str, Survey] = {}
        for index, item in enumerate(self.data.get("surveys", [])):
            here: list[str | int] = ["surveys", index]
            inputs = self._inputs(item["inputs"], [*here, "inputs"], fields)
            for j, entry in enumerate(inputs):
                spec = fields.get(entry.field)
                if spec is not None and spec.type in _NOT_FOR_CUSTOMERS:
                    ctx.problem([*here, "inputs", j], "E215",
                                phrase("survey '{survey}' asks the customer for '{name}', a "
                                       "{kind} field", survey=item["id"], name=spec.id,
                                       kind=spec.type),
                                phrase("a survey link asks for no person and no upload: let "
                                       "staff record it in a step"))
            recipient = item["to"].partition(":")[2]
            if (ctx.ref(recipient, self.field_ids, "field", [*here, "to"])
                    and fields[recipient].type != "email"):
                ctx.problem([*here, "to"], "E207",
                            phrase("survey recipient '{name}' is {field}; the link goes by "
                                   "e-mail", name=recipient, field=a_field(fields[recipient].type)),
                            phrase("name an e-mail field"))
            ctx.ref(item["template"], self.templates, "notification template",
                    [*here, "template"])
            calendar = item.get("calendar", self.org.calendar)
            if "calendar" in item:  # the organisation's own is checked once, there
                ctx.ref(calendar, self.calendars, "calendar", [*here, "calendar"])
            valid_for = _duration(item["valid_for"])
            if valid_for.amount <= 0:
                ctx.problem([*here, "valid_for"], "E207",
                            phrase("survey '{survey}' is valid for no time: no one could "
                                   "answer it", survey=item["id"]),
                            phrase("give a positive duration, e.g. {{calendar_days: 14}}"))
            if ctx.ref(item["form"], self.form_ids, "form", [*here, "form"]):
                self._survey_form(item["id"], forms[item["form"]], inputs, fields,
                                  [*here, "form"])
            result[item["id"]] = Survey(
                id=item["id"], label=self._labels(item, here), form=item["form"],
                inputs=inputs, to=item["to"], template=item["template"], valid_for=valid_for,
                calendar=calendar,
                effects=self._effects(item.get("effects", []), [*here, "effects"], "survey"),
                description=self.ctx.labels(item.get("description"), [*here, "description"]))
        return result

    def _survey_form(self, survey: str, form: Form, inputs: tuple[Input, ...],
                     fields: Mapping[str, Field], path: list[str | int]) -> None:
        """A survey's form offers every input and shows nothing a stranger may not read.

        Anyone holding the link sees the form: fields that are not inputs are shown with their
        values, and the browser receives the values its show/hide conditions read.
        """
        offered = {f.field for s in form.sections if not s.read_only
                   for f in s.fields if not f.read_only}
        for name in [i.field for i in inputs if i.field not in offered]:
            self.ctx.problem(path, "E210", phrase("form '{form}' does not offer input '{name}' "
                                                  "of survey '{survey}'", form=form.id,
                                                  name=name, survey=survey),
                             phrase("add '{name}' to an editable section", name=name))
        where: list[str | int] = ["forms", next(
            i for i, f in enumerate(self.data.get("forms", [])) if f["id"] == form.id)]
        asked = {i.field for i in inputs}
        private = {name: phrase("personal data (pii)") if spec.pii else a_field(spec.type)
                   for name, spec in fields.items()
                   if spec.pii or spec.type in _NOT_FOR_CUSTOMERS}
        for j, section in enumerate(form.sections):
            here: list[str | int] = [*where, "sections", j]
            conditions = [(section.show_if, [*here, "show_if"])]
            for k, placed in enumerate(section.fields):
                if placed.field in private and placed.field not in asked:
                    self.ctx.problem([*here, "fields", k], "E215",
                                     phrase("survey '{survey}' shows the customer '{name}', "
                                            "{what}", survey=survey, name=placed.field,
                                            what=private[placed.field]), _PUBLIC_HINT)
                conditions.append((placed.show_if, [*here, "fields", k, "show_if"]))
            for condition, at in conditions:
                for name in sorted(condition.names & set(private) if condition else ()):
                    self.ctx.problem(at, "E215", phrase("survey '{survey}' would send the "
                                                        "customer's browser '{name}', {what}: "
                                                        "this condition reads it",
                                                        survey=survey, name=name,
                                                        what=private[name]), _PUBLIC_HINT)

    def _inbox(self) -> tuple[str, ...]:
        inbox = self.data.get("inbox")
        if inbox is None:
            return ("number", "state", "priority", "due")
        known = self.field_ids | {"number", "state", "priority", "assignee", "due", "created_at",
                                  "flags", "time_left"}
        for index, column in enumerate(inbox["columns"]):
            self.ctx.ref(column, known, "column", ["inbox", "columns", index])
        return tuple(inbox["columns"])

    def _search(self) -> tuple[str, ...]:
        names = (self.data.get("inbox") or {}).get("search", [])
        for index, name in enumerate(names):
            if self.ctx.ref(name, self.field_ids, "field", ["inbox", "search", index]):
                kind = next(f.get("type") for f in self.data["fields"] if f["id"] == name)
                if kind not in _SEARCHABLE:
                    self.ctx.problem(["inbox", "search", index], "E211",
                                     phrase("search field '{name}' is {field}; the inbox "
                                            "searches text", name=name, field=a_field(kind)),
                                     phrase("name a text, e-mail or phone field"))
        return tuple(names)

    def _read(self) -> tuple[ReadRule, ...]:
        rules = []
        for index, item in enumerate(self.data["read"]):
            here: list[str | int] = ["read", index]
            cases = item["cases"]
            scopes = cast(list[ReadScope], [cases] if isinstance(cases, str) else list(cases))
            for j, state in enumerate(item.get("states", [])):
                self.ctx.ref(state, self.state_ids, "state", [*here, "states", j])
            rules.append(ReadRule(self._roles(item["roles"], [*here, "roles"]),
                                  frozenset(scopes), bool(item.get("pii", True)),
                                  frozenset(item.get("states", []))))
        return tuple(rules)

    def _print(self) -> PrintLayout | None:
        layout = self.data.get("print")
        if layout is None:
            return None
        sections = {s["id"] for f in self.data.get("forms", []) for s in f["sections"]}
        for index, name in enumerate(layout.get("sections", [])):
            self.ctx.ref(name, sections, "form section", ["print", "sections", index])
        return PrintLayout(
            self.ctx.labels(layout["title"], ["print", "title"]),
            tuple(layout.get("sections", [])),
            tuple(Choice(c["id"], self.ctx.labels(c["label"], ["print", "copies", i, "label"]))
                  for i, c in enumerate(layout.get("copies", []))),
            self.ctx.labels(layout.get("note"), ["print", "note"]))


def _walk_categories(items: list[Any]) -> Iterable[Mapping[str, Any]]:
    for item in items:
        yield item
        yield from _walk_categories(item.get("children", []))


def _duration(spec: Mapping[str, Any]) -> Duration:
    (unit, amount), = spec.items()
    return Duration(cast(DurationUnit, unit), Decimal(str(amount)))
