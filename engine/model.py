"""Compiled definitions: immutable objects built once from a checked definition set.

These are the *spec* (SpiffWorkflow's ``WorkflowSpec``); a running case is plain data in
:mod:`.cases`. Mappings are read-only and sequences are tuples, so request handling and the
engine can share one compiled set safely.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .calendar import BusinessCalendar
from .expressions import Expression

if TYPE_CHECKING:
    from .retention import Retention

Labels = Mapping[str, str]
FieldType = Literal[
    "text", "long_text", "integer", "decimal", "money", "date", "datetime", "choice",
    "multi_choice", "yes_no", "email", "phone", "file", "user", "category", "register",
]
DurationUnit = Literal["working_days", "working_hours", "calendar_days", "hours"]
HitPolicy = Literal["FIRST", "UNIQUE", "PRIORITY", "COLLECT"]

EMPTY: Mapping[str, object] = MappingProxyType({})
EMPTY_LABELS: Mapping[str, str] = MappingProxyType({})
_K = TypeVar("_K")
_V = TypeVar("_V")


def frozen_map(items: Mapping[_K, _V] | None = None) -> Mapping[_K, _V]:
    """A read-only copy of ``items``."""
    return MappingProxyType(dict(items or {}))


def text(labels: Labels, locale: str) -> str:
    """The label in ``locale``, falling back to any locale the label has."""
    return labels.get(locale) or next(iter(labels.values()), "")


@dataclass(frozen=True)
class Role:
    """A role users hold; authority and routing are expressed in roles."""

    id: str
    label: Labels
    department: str | None = None


@dataclass(frozen=True)
class Department:
    """A department of the company."""

    id: str
    label: Labels


@dataclass(frozen=True)
class Relation:
    """A kind of link between two cases (e.g. raised from), named both ways.

    ``label`` is read on the case that was opened (it was *raised from* the other one),
    ``reverse`` on the case that opened it (it *raised* the other one).
    """

    id: str
    label: Labels
    reverse: Labels
    #: The case that opened a linked case through this relation cannot reach a final state
    #: while that case is unfinished (a regulatory report, a CAPA).
    blocks_close: bool = False


@dataclass(frozen=True)
class Organisation:
    """Roles, departments, locales, time zone, default calendar and case relations."""

    locales: tuple[str, ...]
    timezone: str
    calendar: str
    roles: Mapping[str, Role]
    departments: Mapping[str, Department]
    void_roles: tuple[str, ...] = ()
    admin_roles: tuple[str, ...] = ()
    signature_meanings: Mapping[str, Choice] = field(default_factory=dict)
    relations: Mapping[str, Relation] = field(default_factory=dict)

    def relation_labels(self, relation: str) -> Labels:
        """A link's relation as people read it, per locale: the relation's label, or its
        reverse label for the case that opened the other (stored as ``<relation>:reverse``);
        empty when the relation is not declared (a case from an older definition)."""
        base, _, reverse = relation.partition(":")
        found = self.relations.get(base)
        if found is None:
            return EMPTY_LABELS
        return found.reverse if reverse else found.label

    def relation_label(self, relation: str, locale: str) -> str:
        """:meth:`relation_labels` in one locale; the stored id when it has no label."""
        return text(self.relation_labels(relation), locale) or relation


@dataclass(frozen=True)
class Choice:
    """One allowed value of a choice field."""

    id: str
    label: Labels


@dataclass(frozen=True)
class Field:
    """A typed field of the case record with its validation rules."""

    id: str
    type: FieldType
    label: Labels
    help: Labels = field(default_factory=dict)
    required: bool | Expression = False
    minimum: Decimal | str | None = None
    maximum: Decimal | str | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: Mapping[str, Choice] = field(default_factory=dict)
    currency: str | None = None
    pii: bool = False
    change_reason: bool = False
    roles: tuple[str, ...] = ()
    default: object = None
    #: For a ``register`` field: the register whose entries it refers to, by their key.
    register: str | None = None
    #: For a case's ``register`` field: case field -> expression over the referenced entry's
    #: fields (and ``today``), copied into the case when the reference is given, so the case
    #: keeps the values it had then (see :mod:`.references`).
    copies: Mapping[str, Expression] = field(default_factory=dict)
    #: For a case's ``register`` field: copied field -> the entry's own register fields its
    #: copy reads through (``customer.hospital`` reads the customer the device refers to).
    through: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Category:
    """A node of the category tree; ``path`` lists its ancestors' ids and its own."""

    id: str
    code: str
    label: Labels
    path: tuple[str, ...]
    priority: str | None
    department: str | None
    required_fields: tuple[str, ...]
    quality_related: bool | None
    #: Flags a case in this category carries (with its ancestors' flags, see
    #: :meth:`Process.category_flags`); recomputed on every step like decision-table flags.
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ValueTest:
    """One cell of a decision-table row: a field must equal one of ``values`` or lie in a range."""

    field: str
    values: tuple[object, ...] | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None


@dataclass(frozen=True)
class PriorityRule:
    """A row of the priority decision table."""

    id: str
    tests: tuple[ValueTest, ...]
    condition: Expression | None
    priority: str | None
    flags: frozenset[str]


@dataclass(frozen=True)
class PriorityTable:
    """The priority decision table with its DMN hit policy."""

    hit_policy: HitPolicy
    rules: tuple[PriorityRule, ...]


@dataclass(frozen=True)
class State:
    """A state of the case; ``owner`` is the role whose queue holds the case."""

    id: str
    label: Labels
    owner: str | None
    final: bool
    route_by: str | None


@dataclass(frozen=True)
class Input:
    """A field asked for by a step, with when it is required there."""

    field: str
    required: bool | Expression


@dataclass(frozen=True)
class Effect:
    """Something a step, warning or breach does; ``kind`` names which, ``spec`` the details."""

    kind: Literal["set", "notify", "assign", "priority", "raise_priority", "flag", "clock",
                  "open_case", "survey", "update"]
    spec: Any  # a read-only mapping, or the scalar of 'priority' / 'raise_priority' / 'survey'
    expressions: Mapping[str, Expression] = field(default_factory=dict)
    condition: Expression | None = None  # 'when': the effect applies only when it holds


@dataclass(frozen=True)
class Step:
    """A step: opening a case (``start``) or moving it between states.

    ``sources`` are the states it is offered in (``from: any`` is compiled to every non-final
    state, ``from: all`` to every state, final ones too; ``from_keyword`` remembers which was
    written). ``target`` is the state it moves the
    case to, or None for a step that leaves the case where it was (``stay: true``): use
    :meth:`lands_in` rather than reading ``target``.
    """

    id: str
    label: Labels
    sources: tuple[str, ...]
    target: str | None
    roles: tuple[str, ...]
    condition: Expression | None
    inputs: tuple[Input, ...]
    form: str | None
    effects: tuple[Effect, ...]
    signature: str | None
    not_by: tuple[str, ...]
    authority: str | None
    reason_required: bool
    start: bool
    #: What a person is told when ``condition`` does not hold, per locale (empty: a sentence
    #: is generated from the condition, see :mod:`.wording`).
    condition_message: Labels = field(default_factory=dict)
    from_keyword: Literal["any", "all"] | None = None
    #: The step is refused while a report form that applies to the case has a mandatory
    #: field with no value (see :mod:`.report_forms`).
    complete_forms: bool = False

    @property
    def stays(self) -> bool:
        """Whether the step leaves the case in the state it was taken in (``stay: true``)."""
        return self.target is None

    def lands_in(self, state: str) -> str:
        """The state a case in ``state`` is in after this step."""
        return self.target if self.target is not None else state


@dataclass(frozen=True)
class Tier:
    """One approval-authority tier: a role and the largest amount it may decide."""

    id: str
    role: str
    limit: Decimal | None
    label: Labels


@dataclass(frozen=True)
class Authority:
    """An approval-authority matrix (核决权限) over amount fields; tiers ascend.

    Each of ``fields`` is an amount the matrix reads (none: the matrix reads no amount); the
    tier a step needs is the highest any of them needs. ``without_amount`` is the tier that
    decides when none of the amounts is given (None: the lowest tier).
    """

    id: str
    label: Labels
    fields: tuple[str, ...]
    tiers: tuple[Tier, ...]
    without_amount: str | None = None

    def tier(self, tier_id: str | None) -> Tier:
        """The tier with this id; the lowest tier for None."""
        return next((t for t in self.tiers if t.id == tier_id), self.tiers[0])


@dataclass(frozen=True)
class Duration:
    """A span of time in one unit."""

    unit: DurationUnit
    amount: Decimal


@dataclass(frozen=True)
class ClockVariant:
    """A deadline duration that applies when ``condition`` holds (None: the fallback)."""

    id: str
    label: Labels
    condition: Expression | None
    duration: Duration
    calendar: str
    warn_before: Duration | None


@dataclass(frozen=True)
class Clock:
    """A deadline clock: the steps that start, stop, pause and resume it, and what a breach does.

    ``start_at`` names a date or datetime field the clock counts from (a customer's call time):
    the clock starts when that field first has a value (or at a ``start_on`` step, when both
    are given) and moves when the field is corrected. ``runs_after_close`` keeps the clock
    running when the case reaches a final state (only its ``stop_on`` steps stop it);
    ``blocks_close`` refuses every step into a final state while it runs.
    """

    id: str
    label: Labels
    start_on: tuple[str, ...]
    stop_on: tuple[str, ...]
    pause_on: tuple[str, ...]
    resume_on: tuple[str, ...]
    variants: tuple[ClockVariant, ...]
    on_warning: tuple[Effect, ...]
    on_breach: tuple[Effect, ...]
    start_at: str | None = None
    runs_after_close: bool = False
    blocks_close: bool = False

    @cached_property
    def triggers(self) -> frozenset[str]:
        """Every step that starts, stops, pauses or resumes the clock (a step checks it
        against each clock of the process)."""
        return frozenset((*self.start_on, *self.stop_on, *self.pause_on, *self.resume_on))


@dataclass(frozen=True)
class FormField:
    """A field placed in a form section."""

    field: str
    read_only: bool
    show_if: Expression | None


@dataclass(frozen=True)
class Section:
    """A form section."""

    id: str
    label: Labels
    columns: int
    read_only: bool
    show_if: Expression | None
    fields: tuple[FormField, ...]


@dataclass(frozen=True)
class Form:
    """A form layout."""

    id: str
    label: Labels
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class Survey:
    """A short form the customer answers by a signed, expiring link, without an account.

    A step sends it (effect ``survey``): the invitation goes to the e-mail address in field
    ``to`` through notification ``template``, and may be answered once within ``valid_for``
    (counted on ``calendar``) after that step. The answer sets the ``inputs``, which ``form``
    lays out, and runs ``effects``; it never moves the case to another state.
    """

    id: str
    label: Labels
    form: str
    inputs: tuple[Input, ...]
    to: str  # the recipient, as a notify effect names it: 'field:<e-mail field id>'
    template: str
    valid_for: Duration
    calendar: str
    effects: tuple[Effect, ...]
    description: Labels = field(default_factory=dict)

    @property
    def step_id(self) -> str:
        """The id its answer is recorded under in a case's steps (one answer per case)."""
        return f"survey:{self.id}"


ReadScope = Literal["all", "opened", "assigned", "queue", "involved", "department"]


@dataclass(frozen=True)
class ReadRule:
    """Who reads which cases of a process: ``roles`` see the cases any of ``cases`` covers
    (only those in one of ``states``, when it is not empty), with personal data (``pii: true``
    fields) shown when ``pii`` is true (see :mod:`.access`)."""

    roles: tuple[str, ...]
    cases: frozenset[ReadScope]
    pii: bool = True
    states: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PrintLayout:
    """The printable case form."""

    title: Labels
    sections: tuple[str, ...]
    copies: tuple[Choice, ...]
    note: Labels


@dataclass(frozen=True)
class Process:
    """A compiled process: record, classification, states, steps, rules, deadlines, forms."""

    id: str
    label: Labels
    case_number_format: str
    case_number_reset: str
    priorities: tuple[Choice, ...]
    default_priority: str
    flags: Mapping[str, Choice]
    fields: Mapping[str, Field]
    categories: Mapping[str, Category]
    category_field: str | None
    priority_table: PriorityTable | None
    states: Mapping[str, State]
    #: The steps that open a case (the YAML's ``start``).
    starts: Mapping[str, Step]
    #: The steps that move an open case (the YAML's ``transitions``: the file format keeps the
    #: state-machine word; the code and the screens say step).
    steps: Mapping[str, Step]
    authorities: Mapping[str, Authority]
    clocks: Mapping[str, Clock]
    forms: Mapping[str, Form]
    inbox_columns: tuple[str, ...]
    print_layout: PrintLayout | None
    inbox_search: tuple[str, ...] = ()  # text fields the inbox search looks in
    surveys: Mapping[str, Survey] = field(default_factory=dict)
    #: Read access (the YAML's ``read``, or the default when it has none): see :mod:`.access`.
    read: tuple[ReadRule, ...] = ()
    #: Whether ``read`` was written in the definition (False: it is the default).
    read_declared: bool = False
    #: How long closed cases are kept (see :mod:`.retention`); None: no rule, kept for ever.
    retention: Retention | None = None

    def step(self, step_id: str) -> Step | None:
        """A step by id, whether it opens a case or moves one."""
        return self.steps.get(step_id) or self.starts.get(step_id)

    def every_step(self) -> tuple[Step, ...]:
        """Every step of the process: those that open a case first, then the others."""
        return (*self.starts.values(), *self.steps.values())

    def priority_rank(self, priority: str) -> int:
        """0 for the highest priority; larger is lower."""
        return self._priority_ranks.get(priority, len(self.priorities))

    @cached_property
    def _priority_ranks(self) -> Mapping[str, int]:
        # Asked several times on every step: each id's place once (the first, as list.index).
        ranks: dict[str, int] = {}
        for rank, choice in enumerate(self.priorities):
            ranks.setdefault(choice.id, rank)
        return MappingProxyType(ranks)

    @cached_property
    def rule_flags(self) -> frozenset[str]:
        """Every flag some priority rule or category can set (see
        :func:`.decisions.all_rule_flags`); computed once, as the process never changes."""
        rules = self.priority_table.rules if self.priority_table is not None else ()
        return frozenset().union(self.all_category_flags(), *(r.flags for r in rules))

    def higher_priority(self, priority: str, other: str | None) -> str:
        """The higher of two priorities (``other`` may be None: then ``priority``)."""
        if other is not None and self.priority_rank(other) < self.priority_rank(priority):
            return other
        return priority

    def category_flags(self, category: object) -> frozenset[str]:
        """The flags a case of ``category`` (an id, or None) carries: its own and its
        ancestors'."""
        found = self.categories.get(str(category)) if category is not None else None
        if found is None:
            return frozenset()
        return frozenset().union(*(self.categories[c].flags for c in found.path))

    def all_category_flags(self) -> frozenset[str]:
        """Every flag some category carries (recomputed on every step)."""
        return frozenset().union(*(c.flags for c in self.categories.values()))

    def defaults(self) -> dict[str, object]:
        """The values a new case of this process starts with."""
        return {name: spec.default for name, spec in self.fields.items()
                if spec.default is not None}


@dataclass(frozen=True)
class Template:
    """A notification template with subject and body per locale (Jinja2 source)."""

    id: str
    label: Labels
    subject: Labels
    body: Labels
    channel: str


@dataclass(frozen=True)
class Measure:
    """A report measure."""

    id: str
    label: Labels
    aggregate: str
    field: str | None
    condition: Expression | None
    target_min: Decimal | None
    target_max: Decimal | None
    format: str


@dataclass(frozen=True)
class Report:
    """A report: dimensions and measures over one process's cases."""

    id: str
    label: Labels
    process: str
    period_field: str | None
    period_every: str | None
    due_day: int | None
    filter: Expression | None
    dimensions: tuple[tuple[str, str], ...]  # (dimension id, field it groups by)
    measures: tuple[Measure, ...]
    dimension_labels: Mapping[str, Labels] = field(default_factory=dict)  # by dimension id


@dataclass(frozen=True)
class FormItem:
    """One field of a regulator's report form and the case field that fills it (None: not
    mapped, which validation refuses for a mandatory one)."""

    id: str
    label: Labels
    mandatory: bool
    source: str | None


@dataclass(frozen=True)
class FormPart:
    """A section of a report form, as the regulator's form numbers and names it."""

    id: str
    label: Labels
    items: tuple[FormItem, ...]


@dataclass(frozen=True)
class ReportForm:
    """A regulator's report form (NMPA, FDA 3500A, EU MIR) filled from a process's cases.

    It applies to the cases of ``process`` for which ``condition`` holds (all when None).
    ``language`` is the locale its PDF is printed in; ``standard`` says, per locale, which
    official schema its machine-readable export follows and where it departs from it;
    ``keep`` is the (step, file field) that records a generated PDF.
    """

    id: str
    label: Labels
    process: str
    condition: Expression | None
    language: str
    authority: Labels
    standard: Labels
    parts: tuple[FormPart, ...]
    #: The step and file field that keep a generated PDF in the record (None: not kept).
    keep: tuple[str, str] | None = None

    def items(self) -> tuple[FormItem, ...]:
        """Every field of the form, in the form's order."""
        return tuple(item for part in self.parts for item in part.items)


@dataclass(frozen=True)
class Register:
    """A register: records that are not cases (customers, installed devices, spare parts),
    each entry named by its ``key`` field, with the same typed fields as a case.

    ``read`` roles see the entries, ``edit`` roles also create and change them.
    """

    id: str
    label: Labels
    entry_label: Labels
    description: Labels
    fields: Mapping[str, Field]
    key: str
    title: str | None
    search: tuple[str, ...]
    columns: tuple[str, ...]
    read: tuple[str, ...]
    edit: tuple[str, ...]
    #: How long entries are kept (see :mod:`.retention`); None: no rule, kept for ever.
    retention: Retention | None = None

    def may_read(self, roles: Iterable[str]) -> bool:
        """Whether someone holding ``roles`` may see the entries."""
        held = set(roles)
        return bool(held & set(self.read)) or bool(held & set(self.edit))

    def may_edit(self, roles: Iterable[str]) -> bool:
        """Whether someone holding ``roles`` may create and change entries."""
        return bool(set(roles) & set(self.edit))

    def references(self) -> dict[str, str]:
        """Field id to the register it refers to, for every reference field."""
        return {name: spec.register for name, spec in self.fields.items()
                if spec.type == "register" and spec.register}


@dataclass(frozen=True)
class Interval:
    """One spacing of a schedule's occurrences: ``months`` apart, while ``when`` holds for the
    date it would give (None: always)."""

    months: int
    when: Expression | None = None


@dataclass(frozen=True)
class RecentCases:
    """A schedule's need for recent service: an entry is due only when a case of ``process``
    naming it (through the register field ``field``, and when that field names an entry of
    another register, through that entry's field ``via``) was closed in the ``days`` days up
    to the due date."""

    process: str
    field: str
    via: str | None
    days: int


@dataclass(frozen=True)
class Schedule:
    """Scheduled work: a case of ``process`` opened through its start ``step`` for each entry of
    ``register`` on each due date.

    Due dates run from the entry's date field ``anchor`` (or the fixed date ``start``), each
    next one by the first of ``every`` whose condition holds for it; ``when`` says which
    entries and dates count at all. A due date on a day the organisation does not work moves
    to its next working day. The case's register field ``entry_field`` gets the entry's key
    (so its ``copies`` apply), ``values`` set other case fields from the entry. Occurrences
    up to ``catch_up_days`` late are still opened (a worker that was stopped catches up).
    """

    id: str
    label: Labels
    description: Labels
    register: str
    process: str
    step: str
    entry_field: str
    values: Mapping[str, Expression]
    anchor: str | None
    start: date | None
    every: tuple[Interval, ...]
    when: Expression | None = None
    recent: RecentCases | None = None
    catch_up_days: int = 30


@dataclass(frozen=True)
class DefinitionSet:
    """One company's compiled configuration; ``version`` is its content hash."""

    id: str
    label: Labels
    version: str
    organisation: Organisation
    calendars: Mapping[str, BusinessCalendar]
    processes: Mapping[str, Process]
    templates: Mapping[str, Template]
    reports: Mapping[str, Report]
    source: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)
    report_forms: Mapping[str, ReportForm] = field(default_factory=dict)
    registers: Mapping[str, Register] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)

    def process(self, process_id: str) -> Process:
        """The process with this id (KeyError names the known ones)."""
        try:
            return self.processes[process_id]
        except KeyError:
            known = ", ".join(sorted(self.processes))
            raise KeyError(
                f"no process {process_id!r} in set {self.id!r} (known: {known})") from None
