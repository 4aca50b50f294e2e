"""What changed between two compiled definition sets, in words a quality administrator reads.

``diff(old, new)`` lists every difference, one sentence each, sorted by area, process and
subject; identical sets give an empty list. ``deadline_changes(old, new)`` names the clocks whose
due times could move, for deciding which running cases need their deadlines recomputed.

Pure: it reads two compiled sets, never a file or a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from operator import attrgetter
from typing import Any

from .access import by_role
from .calendar import WorkingWindow
from .expressions import Expression
from .model import (
    ClockVariant,
    DefinitionSet,
    Duration,
    FormItem,
    PriorityRule,
    Process,
    ReportForm,
    Step,
    text,
)

__all__ = ["AREAS", "Change", "deadline_changes", "diff"]

#: The areas of a change, in the order a report lists them.
AREAS = ("process", "state", "transition", "field", "category", "rule", "deadline", "authority",
         "calendar", "form", "access", "organisation", "template", "report", "report form")


@dataclass(frozen=True)
class Change:
    """One difference between two definition versions."""

    area: str  # one of AREAS
    process: str | None  # the process it concerns; None for set-wide things
    kind: str  # "added" | "removed" | "changed"
    subject: str  # the id(s), e.g. "investigate" or "closure/domestic"
    words: str  # one sentence in English


Compare = Callable[[str, Any, Any], list[str]]  # (what, old value, new value) -> phrases
Aspect = tuple[str, Callable[[Any], Any], Compare]  # what it is called, how to read it, compare

_UNITS = {"working_days": "working day", "working_hours": "working hour",
          "calendar_days": "calendar day", "hours": "hour"}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _number(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def _show(value: object) -> str:
    """A value as the definitions would write it, for a sentence."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, Expression):
        return f'"{value.source}"'
    if isinstance(value, Duration):
        plural = "" if value.amount == 1 else "s"
        return f"{_number(value.amount)} {_UNITS[value.unit]}{plural}"
    if isinstance(value, WorkingWindow):
        end = "24:00" if value.end == time.max else f"{value.end:%H:%M}"
        return f"{value.start:%H:%M}-{end}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return f"'{text(value, 'en')}'"
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(map(_show, value))) or "none"
    if isinstance(value, tuple | list):
        return ", ".join(map(_show, value)) or "none"
    return str(value)


def _required(value: object) -> str:
    if isinstance(value, Expression):
        return f"required when {_show(value)}"
    return "required" if value else "optional"


def _limit(value: object) -> str:
    return "unlimited" if value is None else _show(value)


def _values(show: Callable[[object], str] = _show) -> Compare:
    def compare(what: str, old: Any, new: Any) -> list[str]:
        return [f"{what} changed from {show(old)} to {show(new)}"]
    return compare


_from_to = _values()


def _label(what: str, old: Any, new: Any) -> list[str]:
    locales = [loc for loc in {**old, **new} if old.get(loc) != new.get(loc)]
    loc = "en" if "en" in locales else locales[0]
    where = "" if loc == "en" else f" ({loc})"
    return [f"{what}{where} changed from '{old.get(loc, '')}' to '{new.get(loc, '')}'"]


def _message(what: str, old: Any, new: Any) -> list[str]:
    """A text per locale that may be absent: added, removed, or changed like a label."""
    if not old:
        return [f"{what} added: '{text(new, 'en')}'"]
    if not new:
        return [f"{what} removed: '{text(old, 'en')}'"]
    return _label(what, old, new)


def _ids(value: Any) -> list[str]:
    items = sorted(value) if isinstance(value, frozenset | set) else list(value)
    return [item if isinstance(item, str) else str(item[0]) if isinstance(item, tuple)
            else getattr(item, "id", None) or getattr(item, "field", None) or _show(item)
            for item in items]


def _added_removed(old: Sequence[str], new: Sequence[str]) -> list[str]:
    return [f"{verb} {', '.join(ids)}" for verb, ids in (
        ("added", [i for i in new if i not in old]),
        ("removed", [i for i in old if i not in new])) if ids]


def _members(what: str, old: Any, new: Any) -> list[str]:
    """Added and removed members of a collection (by id), else a reordering or other detail."""
    old_ids, new_ids = _ids(old), _ids(new)
    parts = _added_removed(old_ids, new_ids)
    if not parts:
        return [f"{what} reordered from {', '.join(old_ids)} to {', '.join(new_ids)}"
                if old_ids != new_ids else f"{what}: same ones, details changed"]
    return [f"{what}: {'; '.join(parts)}"]


def _effects(what: str, old: Any, new: Any) -> list[str]:
    """Effects summarised by their kinds: how many of each were added or removed, or changed."""
    parts: list[str] = []
    for kind in dict.fromkeys(e.kind for e in (*old, *new)):
        before, after = [e for e in old if e.kind == kind], [e for e in new if e.kind == kind]
        more = len(after) - len(before)
        times = f" (x{abs(more)})" if abs(more) > 1 else ""
        if more:
            parts.append(f"{'added' if more > 0 else 'removed'} {kind}{times}")
        elif before != after:
            parts.append(f"{kind} changed")
    return [f"{what} changed: {'; '.join(parts or ['reordered'])}"]


def _inputs(what: str, old: Any, new: Any) -> list[str]:
    before = {i.field: i.required for i in old}
    after = {i.field: i.required for i in new}
    parts = _added_removed(list(before), list(after))
    parts += [f"{f} changed from {_required(before[f])} to {_required(after[f])}"
              for f in after if f in before and before[f] != after[f]]
    return [f"{what}: {'; '.join(parts or ['reordered'])}"]


def _official(what: str, old: Any, new: Any) -> list[str]:
    phrases = [f"{what} for {year} added" for year in sorted(new.keys() - old.keys())]
    phrases += [f"{what} for {year} removed" for year in sorted(old.keys() - new.keys())]
    for year in sorted(old.keys() & new.keys()):
        for attr, words in (("holidays", "public holidays"), ("working_days", "make-up days")):
            before, after = getattr(old[year], attr), getattr(new[year], attr)
            if before != after:
                phrases += _members(f"{what} for {year}: {words}", before, after)
    return phrases


def _changed(what: str, old: Any, new: Any) -> list[str]:
    return [f"{what} changed"]  # for long texts, which a sentence cannot quote


def _asp(attr: str, what: str | None = None, compare: Compare = _from_to) -> Aspect:
    return (what or attr.replace("_", " "), attrgetter(attr), compare)


def _when(rule: PriorityRule) -> str:
    """The condition of a decision-table row in words."""
    parts: list[str] = []
    for test in rule.tests:
        if test.values is not None:
            parts.append(f"{test.field} is {' or '.join(map(_show, test.values))}")
        if test.minimum is not None:
            parts.append(f"{test.field} at least {_show(test.minimum)}")
        if test.maximum is not None:
            parts.append(f"{test.field} at most {_show(test.maximum)}")
    if rule.condition is not None:
        parts.append(_show(rule.condition))
    return " and ".join(parts) or "always"


def _variant(variant: ClockVariant) -> str:
    when = f" when {_show(variant.condition)}" if variant.condition else ""
    return f"{_show(variant.duration)}{when} on calendar {variant.calendar}"


_WHERE = {"any": "any open state", "all": "any state, finished ones too"}


def _route(step: Step) -> str:
    """Where a step is offered and where it leaves the case, in words."""
    where = _WHERE.get(step.from_keyword or "", ", ".join(step.sources)) or "a new case"
    return f"from {where} " + ("staying there" if step.target is None else f"to {step.target}")


def _name(item: Any) -> str:
    return text(getattr(item, "label", {}), "en")


_LABEL = _asp("label", compare=_label)
_PROCESS = (_LABEL, _asp("case_number_format"), _asp("case_number_reset"),
            _asp("priorities", compare=_members), _asp("default_priority"),
            _asp("flags", compare=_members), _asp("category_field"), _asp("inbox_columns"))
_STATE = (_LABEL, _asp("owner"), _asp("final"), _asp("route_by", "routing by authority"))
_TRANSITION = (_LABEL,
               ("from states", lambda t: (t.from_keyword,) if t.from_keyword else t.sources,
                _from_to),
               ("to state", lambda t: t.target or "(stays where it is)", _from_to),
               _asp("roles"),
               _asp("condition"),
               _asp("condition_message", "message when the condition does not hold", _message),
               _asp("inputs", compare=_inputs), _asp("form"),
               _asp("effects", compare=_effects), _asp("signature", "signature meaning"),
               _asp("not_by", "separation of duties (not by)"), _asp("authority"),
               _asp("reason_required"), _asp("start", "opens a case"),
               _asp("complete_forms", "needs complete report forms"))
_FIELD = (_LABEL, _asp("type"), _asp("required", "requirement", _values(_required)),
          _asp("minimum"), _asp("maximum"), _asp("min_length", "minimum length"),
          _asp("max_length", "maximum length"), _asp("pattern"),
          _asp("choices", compare=_members), _asp("currency"),
          _asp("pii", "personal data (pii)"), _asp("change_reason", "reason needed for changes"),
          _asp("roles", "roles who may edit"), _asp("default"), _asp("help", compare=_label))
_CATEGORY = (_LABEL, _asp("code"), _asp("priority", "default priority"),
             _asp("department", "responsible department"),
             _asp("required_fields", compare=_members), _asp("quality_related"),
             _asp("flags", compare=_members))
_RULE = (("condition", _when, _from_to), _asp("priority"), _asp("flags", compare=_members))
_CLOCK = (_LABEL, _asp("start_on", "started by"), _asp("start_at", "counted from field"),
          _asp("runs_after_close", "runs after the case is closed"),
          _asp("blocks_close", "keeps the case from closing"), _asp("stop_on", "stopped by"),
          _asp("pause_on", "paused by"), _asp("resume_on", "resumed by"),
          _asp("on_warning", "warning actions", _effects),
          _asp("on_breach", "breach actions", _effects))
_VARIANT = (_LABEL, _asp("condition"), _asp("duration"), _asp("calendar"),
            _asp("warn_before", "warning before the due time"))
_AUTHORITY = (_LABEL, _asp("fields", "amount fields"),
              _asp("without_amount", "tier deciding without an amount"))
_TIER = (_LABEL, _asp("role"), _asp("limit", compare=_values(_limit)))
_CALENDAR = (_asp("timezone", "time zone"), _asp("country", "public holidays of country"),
             ("working week", lambda s: tuple(_WEEKDAYS[d] for d in sorted(s.working_week)),
              _from_to),
             _asp("windows", "working hours"), _asp("closures", "company closures", _members),
             _asp("extra_working_days", "extra working days", _members),
             _asp("official_years", "official holidays", _official),
             _asp("require_official_data", "official holiday data required"))
_SECTION = (_LABEL, _asp("columns"), _asp("read_only"), _asp("show_if", "shown if"),
            _asp("fields", compare=_members))
_PRINT = (_asp("title", compare=_label), _asp("sections", compare=_members),
          _asp("copies", compare=_members), _asp("note", compare=_changed))
_ORGANISATION = (_asp("locales"), _asp("timezone", "time zone"),
                 _asp("calendar", "default calendar"),
                 ("roles who may void a case", lambda o: o.void_roles, _from_to),
                 ("roles who administer definitions", lambda o: o.admin_roles, _from_to),
                 ("signature meanings", lambda o: tuple(o.signature_meanings), _from_to))
_ROLE = (_LABEL, _asp("department"))
_RELATION = (_LABEL, _asp("reverse", "reverse label", _label),
             _asp("blocks_close", "holds the case that opened it open"))
_TEMPLATE = (_LABEL, _asp("subject", compare=_label), _asp("body", compare=_changed),
             _asp("channel"))
_REPORT = (_LABEL, _asp("process"), _asp("period_field"), _asp("period_every"),
           _asp("due_day"), _asp("filter"), _asp("dimensions", compare=_members),
           _asp("measures", compare=_members))
_REPORT_FORM = (_LABEL, _asp("process"), _asp("condition", "cases it applies to"),
                _asp("language"), _asp("keep", "step and file field keeping the PDF"),
                _asp("standard", "statement of the export's standard", _label))
_FORM_ITEM = (_LABEL, _asp("mandatory"), _asp("source", "case field that fills it"))


class _Report:
    """Collects the changes of one diff."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def add(self, area: str, process: str | None, kind: str, subject: str, head: str,
            phrase: str) -> None:
        if area == "process":  # a process added, removed or changed concerns that process
            process, where = subject, ""
        else:
            where = f" ({process})" if process else ""
        self.changes.append(Change(area, process, kind, subject,
                                   f"{head}{where}{phrase}"))

    def compare(self, area: str, process: str | None, noun: str, subject: str, old: Any,
                new: Any, aspects: Sequence[Aspect], head: str | None = None) -> None:
        for what, read, compare in aspects:
            before, after = read(old), read(new)
            if before != after:
                for phrase in compare(what, before, after):
                    self.add(area, process, "changed", subject, head or f"{noun} '{subject}'",
                             f": {phrase}")

    def items(self, area: str, process: str | None, noun: str, old: Mapping[str, Any],
              new: Mapping[str, Any], aspects: Sequence[Aspect], prefix: str = "",
              summary: Callable[[Any], str] = _name) -> list[str]:
        """Added, removed and changed items of the same id; returns the ids in both."""
        for key in [k for k in new if k not in old]:
            told = summary(new[key])
            self.add(area, process, "added", prefix + key, f"{noun} '{prefix}{key}'",
                     f" added: {told}" if told else " added")
        for key in [k for k in old if k not in new]:
            self.add(area, process, "removed", prefix + key, f"{noun} '{prefix}{key}'",
                     " removed")
        both = [k for k in new if k in old]
        for key in both:
            self.compare(area, process, noun, prefix + key, old[key], new[key], aspects)
        return both

    def order(self, area: str, process: str, subject: str, head: str, what: str,
              old: Sequence[str], new: Sequence[str]) -> None:
        """Items kept in both versions whose order changed (it decides which one applies)."""
        before, after = [i for i in old if i in new], [i for i in new if i in old]
        if before != after:
            self.add(area, process, "changed", subject, head,
                     f": {what} changed from {', '.join(before)} to {', '.join(after)}")


def diff(old: DefinitionSet, new: DefinitionSet) -> list[Change]:
    """Every difference from ``old`` to ``new``, sorted by area, process and subject."""
    report = _Report()
    for pid in report.items("process", None, "process", old.processes, new.processes, ()):
        _process(report, pid, old.processes[pid], new.processes[pid])
    report.items("calendar", None, "calendar", {k: c.spec for k, c in old.calendars.items()},
                 {k: c.spec for k, c in new.calendars.items()}, _CALENDAR,
                 summary=lambda s: f"time zone {s.timezone}, holidays of {s.country or 'none'}")
    org, new_org = old.organisation, new.organisation
    report.compare("organisation", None, "organisation", "settings", org, new_org, _ORGANISATION,
                   head="organisation")
    report.items("organisation", None, "role", org.roles, new_org.roles, _ROLE)
    report.items("organisation", None, "department", org.departments, new_org.departments,
                 (_LABEL,))
    report.items("organisation", None, "relation", org.relations, new_org.relations,
                 _RELATION)
    report.items("template", None, "notification template", old.templates, new.templates,
                 _TEMPLATE)
    report.items("report", None, "report", old.reports, new.reports, _REPORT)
    for fid in report.items("report form", None, "report form", old.report_forms,
                            new.report_forms, _REPORT_FORM):
        report.items("report form", None, "field", _form_items(old.report_forms[fid]),
                     _form_items(new.report_forms[fid]), _FORM_ITEM, prefix=f"{fid}/")
    return sorted(report.changes,
                  key=lambda c: (AREAS.index(c.area), c.process or "", c.subject))


def _form_items(form: ReportForm) -> dict[str, FormItem]:
    return {item.id: item for item in form.items()}


def _process(report: _Report, pid: str, old: Process, new: Process) -> None:
    report.compare("process", pid, "process", pid, old, new, _PROCESS)
    report.items("state", pid, "state", old.states, new.states, _STATE)
    report.items("transition", pid, "transition", {**old.starts, **old.steps},
                 {**new.starts, **new.steps}, _TRANSITION,
                 summary=lambda t: f"{_name(t)}, {_route(t)}")
    report.items("field", pid, "field", old.fields, new.fields, _FIELD,
                 summary=lambda f: f"{_name(f)} ({f.type}, {_required(f.required)})")
    report.items("category", pid, "category",
                 {"/".join(c.path): c for c in old.categories.values()},
                 {"/".join(c.path): c for c in new.categories.values()}, _CATEGORY,
                 summary=lambda c: f"{_name(c)} ({c.code})")
    table, new_table = old.priority_table, new.priority_table
    if table and new_table and table.hit_policy != new_table.hit_policy:
        report.add("rule", pid, "changed", "hit_policy", "priority rules",
                   f": hit policy changed from {table.hit_policy} to {new_table.hit_policy}")
    rules = {r.id: r for r in table.rules} if table else {}
    new_rules = {r.id: r for r in new_table.rules} if new_table else {}
    report.items("rule", pid, "priority rule", rules, new_rules, _RULE,
                 summary=lambda r: f"row {list(new_rules).index(r.id) + 1}, when {_when(r)}"
                                   f"{', priority ' + r.priority if r.priority else ''}"
                                   f"{', flags ' + _show(r.flags) if r.flags else ''}")
    report.order("rule", pid, "order", "priority rules", "order", list(rules), list(new_rules))
    for cid in report.items("deadline", pid, "deadline", old.clocks, new.clocks, _CLOCK,
                            summary=lambda k: ", ".join(map(_variant, k.variants))):
        before = {v.id: v for v in old.clocks[cid].variants}
        after = {v.id: v for v in new.clocks[cid].variants}
        report.items("deadline", pid, "deadline", before, after, _VARIANT, f"{cid}/", _variant)
        report.order("deadline", pid, cid, f"deadline '{cid}'", "variant order", list(before),
                     list(after))
    for aid in report.items("authority", pid, "authority", old.authorities, new.authorities,
                            _AUTHORITY):
        report.items("authority", pid, "authority tier",
                     {t.id: t for t in old.authorities[aid].tiers},
                     {t.id: t for t in new.authorities[aid].tiers}, _TIER, f"{aid}/",
                     lambda t: f"role {t.role}, limit {_limit(t.limit)}")
    for fid in report.items("form", pid, "form", old.forms, new.forms, (_LABEL,)):
        sections = {s.id: s for s in old.forms[fid].sections}
        new_sections = {s.id: s for s in new.forms[fid].sections}
        report.items("form", pid, "form section", sections, new_sections, _SECTION, f"{fid}/")
        report.order("form", pid, fid, f"form '{fid}'", "section order", list(sections),
                     list(new_sections))
    report.items("access", pid, "read access of role", by_role(old), by_role(new),
                 (("cases read", lambda rules: rules, _from_to),),
                 summary=lambda rules: "reads " + "; ".join(rules))
    layouts = {"print": old.print_layout} if old.print_layout else {}
    report.items("form", pid, "print layout", layouts,
                 {"print": new.print_layout} if new.print_layout else {}, _PRINT)


#: What a calendar contributes to a due time (require_official_data only flags results).
_TIMING = ("timezone", "country", "working_week", "windows", "closures", "extra_working_days",
           "official_years")


def deadline_changes(old: DefinitionSet, new: DefinitionSet) -> set[tuple[str, str]]:
    """(process id, clock id) of clocks in both sets whose due times could move.

    A clock qualifies when a variant was added, removed or reordered, when a variant's duration,
    unit, calendar or condition changed, or when a calendar either version of it uses changed
    in a way that moves time (holidays, windows, closures, extra working days, working week,
    time zone). Warnings, start/stop steps and breach actions do not move a due time.
    """
    def timing(sets: DefinitionSet, cid: str) -> tuple[object, ...] | None:
        calendar = sets.calendars.get(cid)
        return None if calendar is None else tuple(getattr(calendar.spec, a) for a in _TIMING)

    moved = {cid for cid in old.calendars.keys() | new.calendars.keys()
             if timing(old, cid) != timing(new, cid)}
    result: set[tuple[str, str]] = set()
    for pid in old.processes.keys() & new.processes.keys():
        clocks, new_clocks = old.processes[pid].clocks, new.processes[pid].clocks
        for cid in clocks.keys() & new_clocks.keys():
            variants = [*clocks[cid].variants, *new_clocks[cid].variants]
            before = [(v.id, v.condition, v.duration, v.calendar) for v in clocks[cid].variants]
            after = [(v.id, v.condition, v.duration, v.calendar) for v in new_clocks[cid].variants]
            if before != after or {v.calendar for v in variants} & moved:
                result.add((pid, cid))
    return result
