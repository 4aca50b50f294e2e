"""What the case screens show, computed from engine objects: no Flask request handling here.

Each function turns a case, its definition and its history into plain rows a template prints,
in the request's language (labels come from the definitions).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import g

from qmsflow.engine import clocks as clock_ops
from qmsflow.engine import values as value_ops
from qmsflow.engine import wording
from qmsflow.engine.access import Visibility, pii_fields
from qmsflow.engine.cases import Case
from qmsflow.engine.model import DefinitionSet, Process
from qmsflow.engine.persistence import History

from ..auth import service
from ..i18n import gettext as _
from ..i18n import label, local_time, locale, role_label

# An open case whose earliest deadline is this close is highlighted as due soon when its
# clock has no warning time of its own.
SOON = timedelta(days=1)


def category_label(process: Process, category: str | None) -> str:
    """A category with its parents, e.g. 'Product quality / Malfunction'."""
    if category is None or category not in process.categories:
        return category or ""
    return " / ".join(label(process.categories[part].label)
                      for part in process.categories[category].path)


@dataclass(frozen=True)
class ShownLink:
    """A linked case as people read it: how it relates to this one, its process and number."""

    relation: str
    process: str
    number: str


def links(definition: DefinitionSet, case: Case) -> list[ShownLink]:
    """The case's links, each named by its relation's label (the reverse label on the case
    that opened the other), in the request's language."""
    return [ShownLink(definition.organisation.relation_label(link.relation, locale()),
                      label(definition.processes[link.process].label)
                      if link.process in definition.processes else link.process, link.number)
            for link in case.links]


@dataclass(frozen=True)
class LinkedCase:
    """A linked case on the case page: the link, and, when the reader may read that case, its
    state and its deadlines (a regulatory report's clock, whether it is finished)."""

    link: ShownLink
    state: str
    finished: bool
    clocks: tuple[ShownClock, ...]


def linked_cases(definition: DefinitionSet, case: Case, linked: dict[str, Case],
                 now: datetime) -> list[LinkedCase]:
    """Each link of ``case`` with what ``linked`` (the linked cases the reader may read, by
    number, each with its own definition's process) says of it."""
    result = []
    for shown in links(definition, case):
        other = linked.get(shown.number)
        if other is None or other.process not in definition.processes:
            result.append(LinkedCase(shown, "", False, ()))
            continue
        process = definition.process(other.process)
        state = process.states.get(other.state)
        result.append(LinkedCase(
            shown, label(state.label) if state else other.state, other.closed_at is not None,
            tuple(c for c in clocks(definition, other, now) if c.left or c.css)))
    return result


def hidden_text() -> str:
    """What stands in for a value of personal data the reader may not see."""
    return _("hidden (personal data)")


def hidden_fields(process: Process, visibility: Visibility) -> frozenset[str]:
    """The fields whose values ``visibility`` hides (the ``pii: true`` ones, or none)."""
    return frozenset() if visibility.pii else pii_fields(process)


def names() -> dict[str, str]:
    """Every account's name by user id, read once per request."""
    if "qmsflow_names" not in g:
        g.qmsflow_names = service().names()
    found: dict[str, str] = g.qmsflow_names
    return found


def person(user_id: str | None) -> str:
    """A user as colleagues know them: by name ('' for nobody; the id of an unknown account)."""
    if not user_id:
        return ""
    return names().get(user_id, user_id)


def value_text(process: Process, name: str, value: Any) -> str:
    """The display text of field ``name`` (a user field by the person's name)."""
    spec = process.fields.get(name)
    if spec is None:
        return "" if value is None else str(value)
    if spec.type == "category":
        return category_label(process, value)
    if spec.type == "datetime" and isinstance(value, datetime):
        return local_time(value)
    return value_ops.display(spec, value, locale(), names() if spec.type == "user" else None)


@dataclass(frozen=True)
class Urgency:
    """How close a case is to its earliest deadline: '', 'soon' or 'overdue'."""

    css: str
    due: datetime | None


def urgency(case: Case, now: datetime) -> Urgency:
    """Overdue when a running clock is past due; soon when past its warning time."""
    running = [c for c in case.clocks.values() if c.status == "running"]
    if not running:
        return Urgency("", None)
    first = min(running, key=lambda c: c.due_at)
    if first.due_at <= now:
        return Urgency("overdue", first.due_at)
    warn = first.warn_at or first.due_at - SOON
    return Urgency("soon" if now >= warn else "", first.due_at)


def paused(case: Case) -> bool:
    """Whether the case's deadlines are all on hold: a clock paused and none running."""
    states = {c.status for c in case.clocks.values()}
    return "paused" in states and "running" not in states


def column(process: Process, case: Case, name: str, now: datetime,
           definition: DefinitionSet | None = None, hidden: bool = False) -> str:
    """One inbox cell: a field of the case or one of its attributes (``time_left``, of the
    running clock due first, needs the case's ``definition``); ``hidden``: the case's
    personal data is hidden from the reader."""
    if hidden and name in process.fields and process.fields[name].pii:
        return hidden_text()
    if name == "time_left":
        running = [c for c in case.clocks.values() if c.status == "running"]
        if definition is None:
            return ""
        if not running:
            # A clock stopped while waiting (for the customer, say) keeps what it had left.
            held = [c for c in case.clocks.values() if c.status == "paused"]
            if not held:
                return ""
            first = min(held, key=lambda c: c.due_at)
            return _("paused, %(left)s", left=time_left_text(
                clock_ops.time_left(definition, case.process, first, now)))
        first = min(running, key=lambda c: c.due_at)
        return time_left_text(clock_ops.time_left(definition, case.process, first, now))
    if name == "number":
        return case.number
    if name == "state":
        return label(process.states[case.state].label) if case.state in process.states else ""
    if name == "priority":
        found = [p for p in process.priorities if p.id == case.priority]
        return label(found[0].label) if found else case.priority
    if name == "due":
        if paused(case):
            return _("paused")
        return local_time(urgency(case, now).due)
    if name == "created_at":
        return local_time(case.created_at)
    if name == "assignee":
        return person(case.assignee) or role_label(case.assignee_role)
    if name == "flags":
        return ", ".join(label(process.flags[f].label) for f in sorted(case.flags)
                         if f in process.flags)
    return value_text(process, name, case.values.get(name))


def column_title(process: Process, name: str) -> str:
    """An inbox column heading."""
    if name in process.fields:
        return label(process.fields[name].label)
    titles = {"number": _("Number"), "state": _("State"), "priority": _("Priority"),
              "due": _("Due"), "time_left": _("Time left"), "created_at": _("Opened"),
              "assignee": _("With"),
              "flags": _("Flags")}
    return titles.get(name, name)


@dataclass(frozen=True)
class ShownSection:
    """A section of the case page: its label and (label, text) of each filled field."""

    id: str
    label: str
    fields: tuple[tuple[str, str, str], ...]  # (field id, label, text)


def sections(process: Process, case: Case, hidden: frozenset[str] = frozenset()
             ) -> list[ShownSection]:
    """Every filled field of the case, grouped by the sections of the process's forms; the
    fields in ``hidden`` (personal data the reader may not see) show a placeholder."""
    result: list[ShownSection] = []
    placed: set[str] = set()
    seen: set[str] = set()
    for form in process.forms.values():
        for section in form.sections:
            if section.id in seen:
                continue
            seen.add(section.id)
            names = [f.field for f in section.fields if f.field not in placed]
            placed |= set(names)
            filled = _filled(process, case, names, hidden)
            if filled:
                result.append(ShownSection(section.id, label(section.label), filled))
    rest = _filled(process, case, [n for n in process.fields if n not in placed], hidden)
    if rest:
            result.append(ShownSection("other", _("Other details"), rest))
    return result


def _filled(process: Process, case: Case, names: Iterable[str],
            hidden: frozenset[str] = frozenset()) -> tuple[tuple[str, str, str], ...]:
    return tuple((name, label(process.fields[name].label),
                  hidden_text() if name in hidden
                  else value_text(process, name, case.values.get(name)))
                 for name in names
                 if name in hidden or not value_ops.is_empty(case.values.get(name)))


@dataclass(frozen=True)
class ShownClock:
    """A deadline as the case page shows it."""

    label: str
    variant: str
    status: str
    due: str
    left: str
    css: str
    unofficial: tuple[int, ...]
    #: The rule it runs by, generated from the definition: "自“总经理室受理”起 5 个工作日".
    rule: str = ""


def clocks(definition: DefinitionSet, case: Case, now: datetime) -> list[ShownClock]:
    """The case's clocks with due times and the working time left."""
    process = definition.process(case.process)
    result = []
    for state in case.clocks.values():
        spec = process.clocks.get(state.id)
        variant = next((v for v in spec.variants if v.id == state.variant), None) if spec else None
        status = {"running": _("running"), "paused": _("paused"),
                  "stopped": _("stopped")}[state.status]
        left = ""
        css = ""
        if state.status != "stopped":
            remaining = clock_ops.time_left(definition, case.process, state, now)
            left = time_left_text(remaining)
            css = "overdue" if remaining.overdue or (state.paused_at or now) >= state.due_at \
                else ("soon" if state.warn_at and now >= state.warn_at else "")
        result.append(ShownClock(label(spec.label) if spec else state.id,
                                 label(variant.label) if variant else state.variant, status,
                                 local_time(state.due_at), left, css, state.unofficial_years,
                                 wording.clock_rule(process, spec, variant, locale())
                                 if spec and variant else ""))
    return result


def _working_days(n: int) -> str:
    return _("1 working day") if n == 1 else _("%(num)s working days", num=n)


def _days(n: int) -> str:
    return _("1 day") if n == 1 else _("%(num)s days", num=n)


def _hours(n: int) -> str:
    return _("1 hour") if n == 1 else _("%(num)s hours", num=n)


def _minutes(n: int) -> str:
    return _("1 minute") if n == 1 else _("%(num)s minutes", num=n)


def time_left_text(left: clock_ops.TimeLeft) -> str:
    """"3 working days 3 hours left", "overdue by 1 working day 2 hours", "2 days 5 hours
    left": working-time clocks in the calendar's working days, the others in calendar days;
    hours and minutes when less than a day is left."""
    if left.days:
        days = _working_days(left.days) if left.working else _days(left.days)
        amount = _("%(days)s %(hours)s", days=days, hours=_hours(left.hours))
    else:
        amount = _("%(hours)s %(minutes)s", hours=_hours(left.hours),
                   minutes=_minutes(left.minutes))
    return _("overdue by %(amount)s", amount=amount) if left.overdue else _(
        "%(amount)s left", amount=amount)


@dataclass(frozen=True)
class ShownEvent:
    """One line of the case history."""

    at: str
    who: str
    what: str
    field: str
    old: str
    new: str
    reason: str
    meaning: str


def event_kinds() -> dict[str, str]:
    """What each kind of audit entry is called on screen (kinds are the engine's, generic)."""
    return {
        "created": _("Opened"), "transition": _("Step taken"), "field_changed": _("Changed"),
        "priority_changed": _("Priority set"), "flags_changed": _("Flags changed"),
        "assigned": _("Routed"), "signed": _("Signed"), "notify": _("Notification"),
        "open_case": _("Linked case opened"), "linked": _("Linked"),
        "clock_running": _("Deadline started"), "clock_paused": _("Deadline paused"),
        "clock_stopped": _("Deadline stopped"), "clock_changed": _("Deadline changed"),
        "clock_warning": _("Deadline warning"), "clock_breach": _("Deadline missed"),
        "escalation_failed": _("Escalation failed"), "voided": _("Voided"),
        "migrated": _("Moved to a new definition version"), "comment": _("Comment"),
        "signature_invalidated": _("Signature no longer valid"),
        "survey_answered": _("Survey answered by the customer"),
    }


def _field_title(process: Process, name: str | None) -> str:
    if name is not None and name in process.fields:
        return label(process.fields[name].label)
    if name is not None and name in process.clocks:
        return label(process.clocks[name].label)
    step = process.step(name or "")
    if step is not None:
        return label(step.label)
    return {"state": _("State"), "priority": _("Priority"), "flags": _("Flags"),
            "assignee_role": _("With")}.get(name or "", name or "")


@dataclass(frozen=True)
class ShownComment:
    """A comment on a case: when, who, the text, and who it told."""

    at: str
    who: str
    text: str
    told: tuple[str, ...]


def comments(found: History) -> list[ShownComment]:
    """The case's comments, oldest first (they are entries of its audit trail)."""
    return [ShownComment(local_time(event.at), event.actor_name or "", str(event.new or ""),
                         tuple(person(str(user_id)) for user_id in
                               (event.data or {}).get("mentions", ())))
            for event in found.events if event.action == "comment"]


def history(process: Process, found: History) -> list[ShownEvent]:
    """The audit trail of a case, oldest first, values as people read them."""
    result = []
    kinds = event_kinds()
    hidden = hidden_fields(process, found.visibility)
    for event in found.events:
        step = process.step(str(event.data.get("step", ""))) if event.data else None
        what = kinds.get(event.action, event.action)
        if step is not None and event.action in ("transition", "created"):
            what = label(step.label)
        field = _field_title(process, event.field)
        if event.action == "linked" and event.data and "relation" in event.data:
            # Recorded on the case whose step opened the other: it reads the reverse label.
            field = found.definition.organisation.relation_label(
                f"{event.data['relation']}:reverse", locale())
        reason = event.reason or ""
        if event.action.startswith("clock_") and event.data and event.data.get("causes"):
            reason = _clock_moved(process, event.field or "", event.data)
        result.append(ShownEvent(
            local_time(event.at), event.actor_name or "", what, field,
            *((hidden_text(), hidden_text()) if event.field in hidden else (
                _raw(process, event.field, event.old), _raw(process, event.field, event.new))),
            reason, event.meaning or ""))
    return result


def _moment(stored: Any) -> str:
    if isinstance(stored, datetime):
        return local_time(stored)
    try:
        return local_time(datetime.fromisoformat(str(stored)))
    except ValueError:
        return str(stored)


def _clock_moved(process: Process, clock_id: str, data: Any) -> str:
    """Why a clock's start or due time moved (its ``clock_changed`` entry), in words: a
    corrected start field with the old and new start, a re-chosen variant with both."""
    clock = process.clocks.get(clock_id)
    variants = {v.id: label(v.label) or v.id for v in clock.variants} if clock else {}
    parts = []
    for cause in data.get("causes") or ():
        if cause == "field_corrected":
            name = str(data.get("source_field", ""))
            spec = process.fields.get(name)
            parts.append(_("field corrected: %(field)s, start %(old)s → %(new)s",
                           field=label(spec.label) if spec else name,
                           old=_moment(data.get("old_started_at")),
                           new=_moment(data.get("started_at"))))
        elif cause == "variant_rechosen":
            old, new = str(data.get("old_variant", "")), str(data.get("variant", ""))
            parts.append(_("variant re-chosen: %(old)s → %(new)s",
                           old=variants.get(old, old), new=variants.get(new, new)))
    return "; ".join(parts)


def _raw(process: Process, name: str | None, stored: Any) -> str:
    """An audited value (stored as JSON) as text."""
    if stored is None:
        return ""
    if name == "state" and stored in process.states:
        return label(process.states[stored].label)
    if name == "assignee_role":
        return role_label(str(stored))
    if name == "assignee":
        return person(str(stored))
    if name == "priority":
        return next((label(p.label) for p in process.priorities if p.id == stored), str(stored))
    spec = process.fields.get(name or "")
    if spec is None:
        if isinstance(stored, str) and len(stored) >= 19 and stored[10] == "T":
            try:
                return local_time(datetime.fromisoformat(stored))  # a clock's due time
            except ValueError:
                pass
        return str(stored)
    try:
        text = value_text(process, spec.id, value_ops.from_json(spec, stored, process))
    except (ValueError, TypeError, KeyError):
        return str(stored)
    # A file is stored as 'sha256 digest/name': people know it by its name.
    return text.split("/", 1)[1] if spec.type == "file" and "/" in text else text
