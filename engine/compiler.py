"""Compile schema-valid documents into frozen definitions, with the semantic checks.

The schema has already said each document is well-formed; this pass resolves names (states,
fields, roles, categories, departments, clocks, templates...), checks expressions and the rules
that span several places, and builds the immutable objects of :mod:`.model`. Problems are
collected, never raised one by one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .calendar import BusinessCalendar, CalendarSpec, OfficialYear, WorkingWindow
from .expressions import Expression, ExpressionError, compile_expression, unknown_names
from .model import (
    Choice,
    Department,
    Labels,
    Measure,
    Organisation,
    Process,
    Relation,
    Report,
    Role,
    Template,
    frozen_map,
)
from .problems import Problem, Wordable, joined, json_path, noun, phrase, suggest
from .sources import Document
from .yamlsource import mark_of

#: Case attributes every expression may read besides the process's fields.
CASE_ATTRIBUTES = frozenset({
    "number", "process", "state", "priority", "flags", "category_path", "created_at", "now",
    "links", "clocks",
})
NUMERIC_TYPES = frozenset({"integer", "decimal", "money"})
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CompileContext:
    """Where the compiler is: the document being compiled, for locating problems."""

    def __init__(self, doc: Document, problems: list[Problem], locales: tuple[str, ...]) -> None:
        self.doc = doc
        self.problems = problems
        self.locales = locales

    def problem(self, path: Iterable[str | int], code: str, message: Wordable,
                hint: Wordable | None = None) -> None:
        parts = list(path)
        mark = mark_of(self.doc.data, parts)
        self.problems.append(
            Problem.of(mark.file, mark.line, mark.column, code, json_path(parts), message, hint))

    def labels(self, value: Any, path: list[str | int], required: bool = True) -> Labels:
        """Convert a label mapping, reporting locales the organisation declares but it lacks."""
        if value is None:
            return frozen_map()
        missing = [loc for loc in self.locales if loc not in value]
        if missing and required:
            self.problem(path, "E206", phrase("no text for locale {locales}",
                                              locales=joined(missing)),
                         phrase("every text a user sees needs each declared locale"))
        return frozen_map(value)

    def ref(self, name: Any, known: Collection[str], what: str, path: list[str | int]) -> bool:
        """Check that ``name`` names one of ``known``; report with did-you-mean otherwise."""
        if not isinstance(name, str) or name in known:
            return True
        hint = suggest(name, known) or (
            phrase("known {what}s: {names}", what=noun(what), names=joined(sorted(known)))
            if known else phrase("declare the {what} first", what=noun(what)))
        self.problem(path, "E201", phrase("unknown {what} '{name}'", what=noun(what), name=name),
                     hint)
        return False

    def unique(self, items: list[Any], path: list[str | int], what: str) -> None:
        seen: set[str] = set()
        for index, item in enumerate(items or []):
            ident = item.get("id") if isinstance(item, dict) else None
            if ident in seen:
                self.problem([*path, index, "id"], "E202",
                             phrase("duplicate {what} id '{ident}'", what=noun(what),
                                    ident=ident), phrase("ids must be unique"))
            if isinstance(ident, str):
                seen.add(ident)

    def expression(self, source: Any, path: list[str | int],
                   names: Collection[str]) -> Expression | None:
        if source is None:
            return None
        try:
            expr = compile_expression(str(source))
        except ExpressionError as error:
            self.problem(path, "X301", phrase("expression {source!r}: {detail}", source=source,
                                              detail=error.words), error.hint_words)
            return None
        for name, suggestion in unknown_names(expr, names):
            hint = (phrase("did you mean '{name}'?", name=suggestion) if suggestion else
                    phrase("expressions may read field ids and {names}",
                           names=joined(sorted(CASE_ATTRIBUTES))))
            self.problem(path, "X302", phrase("expression {source!r} reads '{name}', which is "
                                              "not a field or case attribute", source=source,
                                              name=name), hint)
        return expr


def _check_timezone(ctx: CompileContext, name: str) -> bool:
    """Whether ``name`` is a known IANA time zone; reports it otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        ctx.problem(["timezone"], "E213", phrase("unknown time zone {name!r}", name=name),
                    phrase("use an IANA name such as Asia/Shanghai"))
        return False
    return True


def compile_organisation(doc: Document, problems: list[Problem]) -> Organisation:
    """Compile the organisation document (locales come from it, so it goes first)."""
    data = doc.data
    locales = tuple(data["locales"])
    ctx = CompileContext(doc, problems, locales)
    _check_timezone(ctx, data["timezone"])
    ctx.unique(data.get("departments", []), ["departments"], "department")
    ctx.unique(data["roles"], ["roles"], "role")
    departments = {d["id"]: Department(d["id"], ctx.labels(d.get("label"), ["departments", i,
                                                                           "label"]))
                   for i, d in enumerate(data.get("departments", []))}
    roles: dict[str, Role] = {}
    for index, role in enumerate(data["roles"]):
        here: list[str | int] = ["roles", index]
        ctx.ref(role.get("department"), departments, "department", [*here, "department"])
        roles[role["id"]] = Role(role["id"], ctx.labels(role.get("label"), [*here, "label"]),
                                 role.get("department"))
    for key in ("void_roles", "admin_roles"):
        for index, role_id in enumerate(data.get(key, [])):
            ctx.ref(role_id, roles, "role", [key, index])
    return Organisation(locales, data["timezone"], data["calendar"], frozen_map(roles),
                        frozen_map(departments), tuple(data.get("void_roles", [])),
                        tuple(data.get("admin_roles", [])), frozen_map({
                            m["id"]: Choice(m["id"], ctx.labels(m["label"], [
                                "signature_meanings", i, "label"]))
                            for i, m in enumerate(data.get("signature_meanings", []))}),
                        frozen_map(_relations(ctx, data.get("relations", []))))


def _relations(ctx: CompileContext, items: list[Any]) -> dict[str, Relation]:
    """The relations linked cases may have, named both ways in every locale."""
    ctx.unique(items, ["relations"], "relation")
    return {item["id"]: Relation(item["id"],
                                 ctx.labels(item["label"], ["relations", i, "label"]),
                                 ctx.labels(item["reverse"], ["relations", i, "reverse"]),
                                 bool(item.get("blocks_close", False)))
            for i, item in enumerate(items)}


def _time(text: str) -> time:
    if text == "24:00":
        return time.max
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _date(ctx: CompileContext, text: str, path: list[str | int]) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        ctx.problem(path, "E212", phrase("{text!r} is not a real date", text=text),
                    phrase("write YYYY-MM-DD"))
        return None


def compile_calendar(doc: Document, problems: list[Problem],
                     locales: tuple[str, ...]) -> BusinessCalendar | None:
    """Compile one business calendar."""
    data = doc.data
    ctx = CompileContext(doc, problems, locales)
    ctx.labels(data.get("label"), ["label"], required="label" in data)
    ok = _check_timezone(ctx, data["timezone"])
    windows: list[WorkingWindow] = []
    for index, window in enumerate(data["working_hours"]):
        start, end = _time(window["from"]), _time(window["to"])
        if end <= start or (windows and start < windows[-1].end):
            ctx.problem(["working_hours", index], "E209",
                        phrase("working windows must run forward and follow each other without "
                               "overlapping"),
                        phrase("list them in order, e.g. 08:30-12:00 then 13:00-17:30"))
            ok = False
        windows.append(WorkingWindow(start, end))

    def days(key: str) -> frozenset[date]:
        found = set()
        for index, item in enumerate(data.get(key, [])):
            day = _date(ctx, item["date"], [key, index, "date"])
            if day:
                found.add(day)
        return frozenset(found)

    closures, extra = days("closures"), days("extra_working_days")
    for clash in sorted(closures & extra):
        index = next(i for i, item in enumerate(data["extra_working_days"])
                     if item["date"] == clash.isoformat())
        ctx.problem(["extra_working_days", index, "date"], "E209",
                    phrase("{day} is both a company closure and an extra working day",
                           day=clash), phrase("keep it in one list only"))
        ok = False
    official: dict[int, OfficialYear] = {}
    for index, year in enumerate(data.get("official_years", [])):
        here: list[str | int] = ["official_years", index]
        dates: dict[str, set[date]] = {"holidays": set(), "working_days": set()}
        for key in dates:
            for j, text in enumerate(year.get(key, [])):
                day = _date(ctx, text, [*here, key, j])
                if day is None:
                    continue
                if day.year != year["year"]:
                    ctx.problem([*here, key, j], "E209",
                                phrase("{day} is not in year {year}", day=text,
                                       year=year["year"]), phrase("move it to its own year"))
                dates[key].add(day)
        if year["year"] in official:
            ctx.problem([*here, "year"], "E202", phrase("year {year} is declared twice",
                                                       year=year["year"]))
        official[year["year"]] = OfficialYear(year["year"], frozenset(dates["holidays"]),
                                              frozenset(dates["working_days"]))
    if not ok:
        return None
    spec = CalendarSpec(
        id=data["id"], timezone=data["timezone"], country=data.get("country"),
        working_week=frozenset(WEEKDAYS.index(d) for d in data["working_week"]),
        windows=tuple(windows), closures=closures, extra_working_days=extra,
        official_years=frozen_map(official),
        require_official_data=bool(data.get("require_official_data", True)),
    )
    try:
        return BusinessCalendar(spec)
    except (KeyError, NotImplementedError, ValueError) as error:
        ctx.problem(["country"], "E213", phrase("calendar cannot be built: {error}", error=error),
                    phrase("use an ISO 3166 country code the holidays package supports, e.g. CN"))
        return None


#: Names a notification template may read besides the fields of the processes: the case, the
#: clock that warned or breached, the person it goes to, and the customer's link to a survey.
TEMPLATE_NAMES = frozenset({"case", "clock", "recipient", "survey_url"})


def compile_templates(doc: Document, problems: list[Problem], locales: tuple[str, ...],
                      field_ids: Collection[str]) -> dict[str, Template]:
    """Compile notification templates, checking their syntax and the names they read."""
    env = ImmutableSandboxedEnvironment(autoescape=False)
    ctx = CompileContext(doc, problems, locales)
    ctx.unique(doc.data["templates"], ["templates"], "template")
    result: dict[str, Template] = {}
    for index, item in enumerate(doc.data["templates"]):
        here: list[str | int] = ["templates", index]
        for key in ("subject", "body"):
            for locale, source in item[key].items():
                try:
                    parsed = env.parse(source)
                except TemplateSyntaxError as error:
                    ctx.problem([*here, key, locale], "X303",
                                phrase("template syntax: {detail} (template line {line})",
                                       detail=error.message, line=error.lineno))
                    continue
                known = set(field_ids) | TEMPLATE_NAMES
                for name in sorted(meta.find_undeclared_variables(parsed) - known):
                    ctx.problem([*here, key, locale], "X302",
                                phrase("template reads '{name}', which is no field of any "
                                       "process", name=name),
                                suggest(name, known) or
                                phrase("templates read field ids, case, clock, recipient and "
                                       "survey_url"))
        result[item["id"]] = Template(
            item["id"], ctx.labels(item.get("label"), [*here, "label"]),
            ctx.labels(item["subject"], [*here, "subject"]),
            ctx.labels(item["body"], [*here, "body"]), item.get("channel", "email"))
    return result


def compile_reports(doc: Document, problems: list[Problem], locales: tuple[str, ...],
                    processes: Mapping[str, Process]) -> dict[str, Report]:
    """Compile report definitions against the processes they count.

    Reports are computed by the database, so each condition must translate to SQL
    (:mod:`.report_terms`): one that cannot is reported here (X304), at load time, rather than
    when someone first opens the report.
    """
    from .report_terms import ReportConditionError, condition_term  # only reports need it

    ctx = CompileContext(doc, problems, locales)
    ctx.unique(doc.data["reports"], ["reports"], "report")
    result: dict[str, Report] = {}
    attributes = {"created_at", "closed_at", "state", "priority", "category", "assignee"}
    moments = {"created_at", "closed_at"}

    def condition(source: Any, path: list[str | int], process: Process,
                  names: Collection[str]) -> Expression | None:
        expr = ctx.expression(source, path, names)
        if expr is None or unknown_names(expr, names):
            return expr  # already reported (X301, X302)
        try:
            condition_term(expr, process)
        except ReportConditionError as error:
            ctx.problem(path, "X304", phrase("expression {source!r} cannot be computed by the "
                                             "database for a report: {detail}", source=source,
                                             detail=error.words), error.hint_words)
        return expr

    for index, item in enumerate(doc.data["reports"]):
        here: list[str | int] = ["reports", index]
        process = processes.get(item["process"])
        if not ctx.ref(item["process"], processes, "process", [*here, "process"]) or not process:
            continue
        known = set(process.fields) | attributes
        names = set(process.fields) | CASE_ATTRIBUTES
        period = item.get("period", {})
        if period and ctx.ref(period["field"], known, "field", [*here, "period", "field"]):
            spec = process.fields.get(period["field"])
            if period["field"] not in moments and (
                    spec is None or spec.type not in ("date", "datetime")):
                ctx.problem([*here, "period", "field"], "E207",
                            phrase("the period cannot be taken on '{name}': it is not a date",
                                   name=period["field"]),
                            phrase("use closed_at, created_at or a date or datetime field"))
        dims = []
        dim_labels: dict[str, Labels] = {}
        for j, dim in enumerate(item.get("dimensions", [])):
            if dim.get("label"):
                dim_labels[dim["id"]] = ctx.labels(dim["label"], [*here, "dimensions", j,
                                                                  "label"])
            where_dim: list[str | int] = [*here, "dimensions", j, "field"]
            if ctx.ref(dim["field"], known, "field", where_dim):
                spec = process.fields.get(dim["field"])
                grouped = spec.type if spec is not None and dim["field"] not in attributes \
                    else None
                if dim["field"] in moments or grouped in (
                        "multi_choice", "long_text", "file", "date", "datetime"):
                    ctx.problem(where_dim, "E207",
                                phrase("cases cannot be grouped by '{name}' ({kind})",
                                       name=dim["field"], kind=grouped or phrase("a time")),
                                phrase("group by a choice, category, yes/no, user or short "
                                       "text field"))
            dims.append((dim["id"], dim["field"]))
        measures = []
        for j, measure in enumerate(item["measures"]):
            where: list[str | int] = [*here, "measures", j]
            if measure["aggregate"] in ("sum", "avg", "min", "max"):
                if "field" not in measure:
                    ctx.problem(where, "E207", phrase("aggregate {aggregate} needs a 'field'",
                                                      aggregate=measure["aggregate"]))
                elif ctx.ref(measure["field"], process.fields, "field", [*where, "field"]) and (
                        process.fields[measure["field"]].type not in NUMERIC_TYPES):
                    ctx.problem([*where, "field"], "E207",
                                phrase("field '{name}' is not a number",
                                       name=measure["field"]))
            if measure["aggregate"] == "rate" and "if" not in measure:
                ctx.problem(where, "E207",
                            phrase("a rate needs 'if': the share of cases where it holds"))
            target = measure.get("target", {})
            measures.append(Measure(
                measure["id"], ctx.labels(measure.get("label"), [*where, "label"]),
                measure["aggregate"], measure.get("field"),
                condition(measure.get("if"), [*where, "if"], process, names),
                Decimal(str(target["min"])) if "min" in target else None,
                Decimal(str(target["max"])) if "max" in target else None,
                measure.get("format", "number")))
        result[item["id"]] = Report(
            item["id"], ctx.labels(item["label"], [*here, "label"]), item["process"],
            period.get("field"), period.get("every"), period.get("due_day"),
            condition(item.get("filter"), [*here, "filter"], process, names), tuple(dims),
            tuple(measures), frozen_map(dim_labels))
    return result
