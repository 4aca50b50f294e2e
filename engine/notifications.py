"""Notifications: who a ``notify`` effect reaches, and what it says, in each reader's language.

A step, a warning or a breach records a ``notify`` event (template and recipients). The
persistence layer turns each event into outbox messages in the same transaction, with the
subject and body rendered here from the definition's templates. Rendering is pure: templates
run in Jinja2's immutable sandbox, on a context of display values (choice labels, local times),
so a template can never reach Python objects or change the case.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .cases import Case
from .errors import QmsflowError
from .model import DefinitionSet, Template, text
from .values import display, local_time

RecipientKind = Literal["role", "field", "assignee", "creator"]


@dataclass(frozen=True)
class Recipient:
    """One ``to`` entry of a notify effect: a role's members, an e-mail field's address, the
    case's assignee (the person, else the queue's members) or whoever opened the case."""

    kind: RecipientKind
    name: str = ""

    @classmethod
    def parse(cls, spec: str) -> Recipient:
        """``role:<id>``, ``field:<id>``, ``assignee`` or ``creator`` (the schema allows no
        other form)."""
        prefix, _, name = spec.partition(":")
        if prefix in ("role", "field"):
            return cls(prefix, name)  # type: ignore[arg-type]
        if spec in ("assignee", "creator"):
            return cls(spec)  # type: ignore[arg-type]
        raise ValueError(f"unknown recipient {spec!r}: write role:<id>, field:<id>, assignee "
                         "or creator")


@dataclass(frozen=True)
class Rendered:
    """A notification's subject and body in one locale."""

    subject: str
    body: str


class RenderFailed(QmsflowError):
    """A template that fails at run time (e.g. arithmetic on an empty field)."""


_ENV = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined,
                                     keep_trailing_newline=False)


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    # Sources were checked when the definition set loaded; compiling is cached per text.
    return _ENV.from_string(source)


@functools.lru_cache(maxsize=1024)
def _reads(sources: tuple[str, ...]) -> frozenset[str]:
    return frozenset().union(*(meta.find_undeclared_variables(_ENV.parse(source))
                               for source in sources))


def reads(template: Template) -> frozenset[str]:
    """The names a template reads in any of its locales (cached per text)."""
    return _reads((*template.subject.values(), *template.body.values()))


def context(definition: DefinitionSet, case: Case, locale: str, *,
            clock: str | None = None, recipient: str = "", survey_url: str = "",
            names: Collection[str] | None = None,
            people: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What a template reads: the fields of the process as a person reads them in ``locale``
    (empty fields are ''), ``case``, ``clock`` (for a warning or breach), ``recipient`` (the
    name of the person it goes to) and ``survey_url``. ``names`` limits the fields to those a
    template reads (see :func:`reads`): a case has dozens, a template reads a few. ``people``
    (user id -> name) names the people of user fields and ``case.assignee``: a customer reads
    "engineer 王伟", never an account id."""
    process = definition.process(case.process)
    zone = definition.organisation.timezone
    fields = process.fields.items() if names is None else (
        (name, process.fields[name]) for name in names if name in process.fields)
    values: dict[str, Any] = {
        name: display(spec, case.values.get(name), locale, people) if spec.type != "datetime"
        else local_time(case.values.get(name), zone)
        for name, spec in fields}
    state = process.states[case.state]
    priority = next((p for p in process.priorities if p.id == case.priority), None)
    role = definition.organisation.roles.get(case.assignee_role or "")
    values["case"] = {
        "number": case.number, "process": text(process.label, locale),
        "state": case.state, "state_label": text(state.label, locale),
        "priority": text(priority.label, locale) if priority else case.priority,
        "assignee_role": text(role.label, locale) if role else "",
        "assignee": (people or {}).get(case.assignee or "", case.assignee or ""),
        "created_at": local_time(case.created_at, zone),
        "closed_at": local_time(case.closed_at, zone)}
    values["clock"] = {}
    if clock is not None and clock in case.clocks:
        state_of = case.clocks[clock]
        values["clock"] = {"label": text(process.clocks[clock].label, locale),
                           "due_at": local_time(state_of.due_at, zone),
                           "warn_at": local_time(state_of.warn_at, zone)}
    values["recipient"] = recipient
    values["survey_url"] = survey_url
    return values


def render(template: Template, locale: str, values: Mapping[str, Any]) -> Rendered:
    """The template's subject and body in ``locale`` (falling back to a locale it has)."""
    try:
        subject = _compiled(text(template.subject, locale)).render(values)
        body = _compiled(text(template.body, locale)).render(values)
    except TemplateError as error:
        raise RenderFailed(f"template {template.id!r} ({locale}): {error}") from error
    # A subject is one line: a mail header cannot hold a line break.
    return Rendered(" ".join(subject.split()), body.strip() + "\n")
