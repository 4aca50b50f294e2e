"""What a new definition version changes for its users, one sentence each in their language.

:func:`.diff.diff` lists every difference with ids, for the people who write definitions.
:func:`told` says, from the running version to the new one, what the people who work cases will
notice: fields added, removed, renamed or made required; steps added, removed or given to other
roles; deadlines that get longer or shorter or count on another calendar; approval limits; who
reads which cases; report forms. Everything is named by its label in the reader's locale, never
by an id or a path. A change that can move running cases' due times names those deadlines
(:attr:`Said.clocks`), so that the web layer can say how many open cases it moves.

Pure: it reads two compiled sets; the words of each language are held here (en, zh-CN).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .diff import deadline_changes
from .expressions import Expression
from .model import ClockVariant, DefinitionSet, Duration, Labels, Process, ReadRule, text
from .wording import clause, duration_text

__all__ = ["Said", "told"]

ClockKey = tuple[str, str]  # (process id, clock id)


@dataclass(frozen=True)
class Said:
    """One change as its users read it."""

    area: str  # "process", "field", "step", "deadline", "authority", "access", "calendar", ...
    process: str | None  # the process it concerns; None for set-wide things
    kind: str  # "added" | "removed" | "changed"
    words: str  # one sentence in the requested locale
    #: The deadlines whose running due times this change may move.
    clocks: tuple[ClockKey, ...] = ()


_ENGLISH: Mapping[str, str] = {
    "quote": "'{label}'", "comma": ", ", "none": "nobody", "no_limit": "no limit",
    "required": "required", "optional": "optional", "required_when": "required when {clause}",
    "process_added": "New process {process}.", "process_removed": "Process {process} removed.",
    "field_added": "New field {field} ({required}).", "field_removed": "Field {field} removed.",
    "field_renamed": "Field {old} renamed {new}.",
    "field_required": "Field {field} becomes {new} (was {old}).",
    "step_added": "New step {step}, done by {roles}.", "step_removed": "Step {step} removed.",
    "step_renamed": "Step {old} renamed {new}.",
    "step_roles": "Step {step} is now done by {new} (was {old}).",
    "clock_added": "New deadline {clock}: {durations}.",
    "clock_removed": "Deadline {clock} removed.",
    "variant": " ({label})", "variant_name": "{label}",
    "duration": "Deadline {clock}{variant}: {old} → {new}.",
    "calendar": "Deadline {clock}{variant}: counted on calendar {new} instead of {old}.",
    "variant_added": "Deadline {clock}: new case {variant}, {duration}.",
    "variant_removed": "Deadline {clock}: case {variant} removed.",
    "variant_when": "Deadline {clock}{variant}: now applies when {clause}.",
    "variant_always": "Deadline {clock}{variant}: now applies to every case.",
    "authority_added": "New approval authority {authority}.",
    "authority_removed": "Approval authority {authority} removed.",
    "limit": "Approval authority {authority}: the limit of {role} goes from {old} to {new}.",
    "tier_added": "Approval authority {authority}: new level {role}, limit {limit}.",
    "tier_removed": "Approval authority {authority}: level {role} removed.",
    "tier_role": "Approval authority {authority}: the level of {old} is now {new}.",
    "reads": "{role} now reads {new}, instead of {old}.", "reads_nothing": "no cases",
    "scope_all": "all cases", "scope_opened": "cases they opened",
    "scope_assigned": "cases assigned to them", "scope_queue": "cases in their role's queue",
    "scope_involved": "cases they worked on", "scope_department": "their department's cases",
    "in_states": "{scope} in {states}", "no_pii": "{scope} (personal data hidden)",
    "closures_added": "Calendar {calendar}: company closures added: {days}.",
    "closures_removed": "Calendar {calendar}: company closures removed: {days}.",
    "extra_added": "Calendar {calendar}: extra working days added: {days}.",
    "extra_removed": "Calendar {calendar}: extra working days removed: {days}.",
    "calendar_other": "Calendar {calendar}: working time or public holidays changed.",
    "form_added": "New report form {form}.", "form_removed": "Report form {form} removed.",
    "form_renamed": "Report form {old} renamed {new}.",
    "item_added": "Report form {form}: new field {item} ({mandatory}).",
    "item_removed": "Report form {form}: field {item} removed.",
    "item_mandatory": "Report form {form}: field {item} becomes {new}.",
    "mandatory": "mandatory",
}

_CHINESE: Mapping[str, str] = {
    "quote": "“{label}”", "comma": "、", "none": "无人", "no_limit": "不限",
    "required": "必填", "optional": "选填", "required_when": "在{clause}时必填",
    "process_added": "新增流程{process}。", "process_removed": "删除流程{process}。",
    "field_added": "新增字段{field}（{required}）。", "field_removed": "删除字段{field}。",
    "field_renamed": "字段{old}改名为{new}。",
    "field_required": "字段{field}由{old}改为{new}。",
    "step_added": "新增步骤{step}，由{roles}办理。", "step_removed": "删除步骤{step}。",
    "step_renamed": "步骤{old}改名为{new}。",
    "step_roles": "步骤{step}改由{new}办理（原为{old}）。",
    "clock_added": "新增期限{clock}：{durations}。", "clock_removed": "删除期限{clock}。",
    "variant": "{label} ", "variant_name": "“{label}”",
    "duration": "期限{clock}：{variant}{old} → {new}。",
    "calendar": "期限{clock}：{variant}改按日历{new}计算（原为{old}）。",
    "variant_added": "期限{clock}：新增{variant}，{duration}。",
    "variant_removed": "期限{clock}：删除{variant}。",
    "variant_when": "期限{clock}：{variant}改为在{clause}时适用。",
    "variant_always": "期限{clock}：{variant}改为适用于所有案件。",
    "authority_added": "新增核决权限{authority}。",
    "authority_removed": "删除核决权限{authority}。",
    "limit": "核决权限{authority}：{role}的限额由 {old} 改为 {new}。",
    "tier_added": "核决权限{authority}：新增{role}一级，限额 {limit}。",
    "tier_removed": "核决权限{authority}：删除{role}一级。",
    "tier_role": "核决权限{authority}：原{old}一级改由{new}审批。",
    "reads": "{role}可读的案件改为：{new}；原为：{old}。", "reads_nothing": "无案件",
    "scope_all": "全部案件", "scope_opened": "本人登记的案件", "scope_assigned": "指派给本人的案件",
    "scope_queue": "本角色待办的案件", "scope_involved": "本人经办过的案件",
    "scope_department": "本部门的案件",
    "in_states": "处于{states}状态的{scope}", "no_pii": "{scope}（隐去个人信息）",
    "closures_added": "日历{calendar}：新增公司休息日 {days}。",
    "closures_removed": "日历{calendar}：取消公司休息日 {days}。",
    "extra_added": "日历{calendar}：新增调休上班日 {days}。",
    "extra_removed": "日历{calendar}：取消调休上班日 {days}。",
    "calendar_other": "日历{calendar}：工作时间或法定节假日有变更。",
    "form_added": "新增报告表{form}。", "form_removed": "删除报告表{form}。",
    "form_renamed": "报告表{old}改名为{new}。",
    "item_added": "报告表{form}：新增字段{item}（{mandatory}）。",
    "item_removed": "报告表{form}：删除字段{item}。",
    "item_mandatory": "报告表{form}：字段{item}改为{new}。",
    "mandatory": "必填",
}

_LANGUAGES: Mapping[str, Mapping[str, str]] = {"en": _ENGLISH, "zh": _CHINESE}


class _Teller:
    """Sentence frames of one locale and the labels of the new (else the old) set."""

    def __init__(self, locale: str, old: DefinitionSet, new: DefinitionSet) -> None:
        self.locale = locale
        self.frames = _LANGUAGES.get(locale.split("-")[0], _ENGLISH)
        self.roles = {**old.organisation.roles, **new.organisation.roles}

    def say(self, key: str, **parts: str) -> str:
        return self.frames[key].format(**parts)

    def quoted(self, labels: Labels, fallback: str) -> str:
        return self.say("quote", label=text(labels, self.locale) or fallback)

    def role_names(self, roles: Iterable[str]) -> str:
        names = [text(self.roles[r].label, self.locale) if r in self.roles else r
                 for r in roles]
        return self.frames["comma"].join(names) or self.frames["none"]

    def duration(self, value: Duration) -> str:
        return duration_text(value, self.locale)

    def limit(self, value: Decimal | None) -> str:
        return self.frames["no_limit"] if value is None else _number(value)

    def required(self, value: bool | Expression, process: Process) -> str:
        if isinstance(value, Expression):
            return self.say("required_when", clause=clause(value, process, self.locale))
        return self.frames["required" if value else "optional"]

    def reads(self, rules: list[ReadRule], process: Process) -> str:
        phrases = []
        for rule in rules:
            scope = self.frames["comma"].join(
                self.frames[f"scope_{s}"] for s in sorted(rule.cases))
            if rule.states:
                scope = self.say("in_states", scope=scope, states=self.frames["comma"].join(
                    self.quoted(process.states[s].label, s) if s in process.states else s
                    for s in sorted(rule.states)))
            phrases.append(scope if rule.pii else self.say("no_pii", scope=scope))
        return "; ".join(phrases) or self.frames["reads_nothing"]


def _number(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def told(running: DefinitionSet, new: DefinitionSet, locale: str = "en") -> list[Said]:
    """What moving from the ``running`` version to ``new`` changes for users, in ``locale``.

    Always forward: ``running`` is the version cases run on now, ``new`` the one they would run
    on. Differences users do not see (ids, templates, print layout, categories, priority rules)
    are left to :func:`.diff.diff`.
    """
    speaker = _Teller(locale, running, new)
    moved = deadline_changes(running, new)
    result: list[Said] = []
    for pid in new.processes.keys() - running.processes.keys():
        result.append(Said("process", pid, "added", speaker.say(
            "process_added", process=speaker.quoted(new.processes[pid].label, pid))))
    for pid in running.processes.keys() - new.processes.keys():
        result.append(Said("process", pid, "removed", speaker.say(
            "process_removed", process=speaker.quoted(running.processes[pid].label, pid))))
    for pid in [p for p in new.processes if p in running.processes]:
        before, after = running.processes[pid], new.processes[pid]
        result += _fields(speaker, pid, before, after)
        result += _steps(speaker, pid, before, after)
        result += _deadlines(speaker, pid, before, after, moved)
        result += _authorities(speaker, pid, before, after)
        result += _access(speaker, pid, before, after)
    result += _calendars(speaker, running, new, moved)
    result += _report_forms(speaker, running, new)
    return result


def _added_removed_kept(old: Mapping[str, Any], new: Mapping[str, Any]
                        ) -> tuple[list[str], list[str], list[str]]:
    return ([k for k in new if k not in old], [k for k in old if k not in new],
            [k for k in new if k in old])


def _renamed(speaker: _Teller, key: str, old: Labels, new: Labels, fallback: str
             ) -> str | None:
    before, after = text(old, speaker.locale), text(new, speaker.locale)
    if before == after:
        return None
    return speaker.say(key, old=speaker.quoted(old, fallback), new=speaker.quoted(new, fallback))


def _fields(speaker: _Teller, pid: str, old: Process, new: Process) -> list[Said]:
    added, removed, kept = _added_removed_kept(old.fields, new.fields)
    result = [Said("field", pid, "added", speaker.say(
        "field_added", field=speaker.quoted(new.fields[f].label, f),
        required=speaker.required(new.fields[f].required, new))) for f in added]
    result += [Said("field", pid, "removed", speaker.say(
        "field_removed", field=speaker.quoted(old.fields[f].label, f))) for f in removed]
    for fid in kept:
        before, after = old.fields[fid], new.fields[fid]
        renamed = _renamed(speaker, "field_renamed", before.label, after.label, fid)
        if renamed:
            result.append(Said("field", pid, "changed", renamed))
        if before.required != after.required:
            result.append(Said("field", pid, "changed", speaker.say(
                "field_required", field=speaker.quoted(after.label, fid),
                old=speaker.required(before.required, old),
                new=speaker.required(after.required, new))))
    return result


def _steps(speaker: _Teller, pid: str, old: Process, new: Process) -> list[Said]:
    before = {s.id: s for s in old.every_step()}
    after = {s.id: s for s in new.every_step()}
    added, removed, kept = _added_removed_kept(before, after)
    result = [Said("step", pid, "added", speaker.say(
        "step_added", step=speaker.quoted(after[s].label, s),
        roles=speaker.role_names(after[s].roles))) for s in added]
    result += [Said("step", pid, "removed", speaker.say(
        "step_removed", step=speaker.quoted(before[s].label, s))) for s in removed]
    for sid in kept:
        renamed = _renamed(speaker, "step_renamed", before[sid].label, after[sid].label, sid)
        if renamed:
            result.append(Said("step", pid, "changed", renamed))
        if set(before[sid].roles) != set(after[sid].roles):
            result.append(Said("step", pid, "changed", speaker.say(
                "step_roles", step=speaker.quoted(after[sid].label, sid),
                old=speaker.role_names(before[sid].roles),
                new=speaker.role_names(after[sid].roles))))
    return result


def _deadlines(speaker: _Teller, pid: str, old: Process, new: Process,
               moved: set[ClockKey]) -> list[Said]:
    added, removed, kept = _added_removed_kept(old.clocks, new.clocks)
    result = [Said("deadline", pid, "added", speaker.say(
        "clock_added", clock=speaker.quoted(new.clocks[c].label, c),
        durations=speaker.frames["comma"].join(
            _variant_name(speaker, v) + " " + speaker.duration(v.duration)
            if v.label else speaker.duration(v.duration)
            for v in new.clocks[c].variants))) for c in added]
    result += [Said("deadline", pid, "removed", speaker.say(
        "clock_removed", clock=speaker.quoted(old.clocks[c].label, c))) for c in removed]
    for cid in kept:
        clock = speaker.quoted(new.clocks[cid].label, cid)
        key = ((pid, cid),) if (pid, cid) in moved else ()
        before = {v.id: v for v in old.clocks[cid].variants}
        after = {v.id: v for v in new.clocks[cid].variants}
        v_added, v_removed, v_kept = _added_removed_kept(before, after)
        result += [Said("deadline", pid, "added", speaker.say(
            "variant_added", clock=clock, variant=_variant_name(speaker, after[v]),
            duration=speaker.duration(after[v].duration)), key) for v in v_added]
        result += [Said("deadline", pid, "removed", speaker.say(
            "variant_removed", clock=clock, variant=_variant_name(speaker, before[v])), key)
            for v in v_removed]
        for vid in v_kept:
            was, now = before[vid], after[vid]
            variant = speaker.say("variant", label=text(now.label, speaker.locale)) \
                if now.label else ""
            if was.duration != now.duration:
                result.append(Said("deadline", pid, "changed", speaker.say(
                    "duration", clock=clock, variant=variant,
                    old=speaker.duration(was.duration), new=speaker.duration(now.duration)),
                    key))
            if was.calendar != now.calendar:
                result.append(Said("deadline", pid, "changed", speaker.say(
                    "calendar", clock=clock, variant=variant,
                    old=speaker.say("quote", label=was.calendar),
                    new=speaker.say("quote", label=now.calendar)), key))
            if was.condition != now.condition:
                result.append(Said("deadline", pid, "changed", speaker.say(
                    "variant_always", clock=clock, variant=variant) if now.condition is None
                    else speaker.say("variant_when", clock=clock, variant=variant,
                                     clause=clause(now.condition, new, speaker.locale)), key))
    return result


def _variant_name(speaker: _Teller, variant: ClockVariant) -> str:
    return speaker.say("variant_name", label=text(variant.label, speaker.locale) or variant.id)


def _authorities(speaker: _Teller, pid: str, old: Process, new: Process) -> list[Said]:
    added, removed, kept = _added_removed_kept(old.authorities, new.authorities)
    result = [Said("authority", pid, "added", speaker.say(
        "authority_added", authority=speaker.quoted(new.authorities[a].label, a)))
        for a in added]
    result += [Said("authority", pid, "removed", speaker.say(
        "authority_removed", authority=speaker.quoted(old.authorities[a].label, a)))
        for a in removed]
    for aid in kept:
        name = speaker.quoted(new.authorities[aid].label, aid)
        before = {t.id: t for t in old.authorities[aid].tiers}
        after = {t.id: t for t in new.authorities[aid].tiers}
        t_added, t_removed, t_kept = _added_removed_kept(before, after)
        result += [Said("authority", pid, "added", speaker.say(
            "tier_added", authority=name, role=speaker.role_names([after[t].role]),
            limit=speaker.limit(after[t].limit))) for t in t_added]
        result += [Said("authority", pid, "removed", speaker.say(
            "tier_removed", authority=name, role=speaker.role_names([before[t].role])))
            for t in t_removed]
        for tid in t_kept:
            was, now = before[tid], after[tid]
            if was.role != now.role:
                result.append(Said("authority", pid, "changed", speaker.say(
                    "tier_role", authority=name, old=speaker.role_names([was.role]),
                    new=speaker.role_names([now.role]))))
            if was.limit != now.limit:
                result.append(Said("authority", pid, "changed", speaker.say(
                    "limit", authority=name, role=speaker.role_names([now.role]),
                    old=speaker.limit(was.limit), new=speaker.limit(now.limit))))
    return result


def _rules_by_role(process: Process) -> dict[str, list[ReadRule]]:
    found: dict[str, list[ReadRule]] = {}
    for rule in process.read:
        for role in rule.roles:
            found.setdefault(role, []).append(rule)
    return found


def _access(speaker: _Teller, pid: str, old: Process, new: Process) -> list[Said]:
    before, after = _rules_by_role(old), _rules_by_role(new)
    result = []
    for role in dict.fromkeys([*after, *before]):
        was, now = speaker.reads(before.get(role, []), old), speaker.reads(after.get(role, []), new)
        if was != now:
            kind = "added" if role not in before else "removed" if role not in after \
                else "changed"
            result.append(Said("access", pid, kind, speaker.say(
                "reads", role=speaker.role_names([role]), old=was, new=now)))
    return result


def _calendars(speaker: _Teller, old: DefinitionSet, new: DefinitionSet,
               moved: set[ClockKey]) -> list[Said]:
    result = []
    for cid in [c for c in new.calendars if c in old.calendars]:
        was, now = old.calendars[cid].spec, new.calendars[cid].spec
        if was == now:
            continue
        using = tuple(sorted(
            (pid, clock_id) for pid, clock_id in moved
            if any(v.calendar == cid for s in (old, new) if pid in s.processes
                   and clock_id in s.processes[pid].clocks
                   for v in s.processes[pid].clocks[clock_id].variants)))
        name = speaker.say("quote", label=cid)
        sentences = []
        for key, days in (("closures_added", now.closures - was.closures),
                          ("closures_removed", was.closures - now.closures),
                          ("extra_added", now.extra_working_days - was.extra_working_days),
                          ("extra_removed", was.extra_working_days - now.extra_working_days)):
            if days:
                sentences.append(speaker.say(key, calendar=name, days=speaker.frames[
                    "comma"].join(day.isoformat() for day in sorted(days))))
        rest = [getattr(was, a) != getattr(now, a) for a in (
            "timezone", "country", "working_week", "windows", "official_years")]
        if any(rest):
            sentences.append(speaker.say("calendar_other", calendar=name))
        result += [Said("calendar", None, "changed", words, using) for words in sentences]
    return result


def _report_forms(speaker: _Teller, old: DefinitionSet, new: DefinitionSet) -> list[Said]:
    added, removed, kept = _added_removed_kept(old.report_forms, new.report_forms)
    result = [Said("report form", new.report_forms[f].process, "added", speaker.say(
        "form_added", form=speaker.quoted(new.report_forms[f].label, f))) for f in added]
    result += [Said("report form", old.report_forms[f].process, "removed", speaker.say(
        "form_removed", form=speaker.quoted(old.report_forms[f].label, f))) for f in removed]
    for fid in kept:
        was, now = old.report_forms[fid], new.report_forms[fid]
        renamed = _renamed(speaker, "form_renamed", was.label, now.label, fid)
        if renamed:
            result.append(Said("report form", now.process, "changed", renamed))
        name = speaker.quoted(now.label, fid)
        before = {i.id: i for i in was.items()}
        after = {i.id: i for i in now.items()}
        i_added, i_removed, i_kept = _added_removed_kept(before, after)
        result += [Said("report form", now.process, "added", speaker.say(
            "item_added", form=name, item=speaker.quoted(after[i].label, i),
            mandatory=speaker.frames["mandatory" if after[i].mandatory else "optional"]))
            for i in i_added]
        result += [Said("report form", now.process, "removed", speaker.say(
            "item_removed", form=name, item=speaker.quoted(before[i].label, i)))
            for i in i_removed]
        result += [Said("report form", now.process, "changed", speaker.say(
            "item_mandatory", form=name, item=speaker.quoted(after[i].label, i),
            new=speaker.frames["mandatory" if after[i].mandatory else "optional"]))
            for i in i_kept if before[i].mandatory != after[i].mandatory]
    return result
