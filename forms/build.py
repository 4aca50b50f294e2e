"""Build the WTForms class of one step: a field per editable field of the step's layout."""

from __future__ import annotations

import gettext as gnu_gettext
import json
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import wtforms
from wtforms.i18n import messages_path
from wtforms.meta import DefaultMeta

from qmsflow.engine.cases import Actor
from qmsflow.engine.model import DefinitionSet, Process, Step

from .conditions import client_condition
from .convert import to_client, to_form
from .fields import Context, FileLimits, make_field
from .layout import Layout, step_layout
from .visibility import FormSpec, context, spec_of


class StepForm:
    """What every form class built by :func:`build_form` carries besides its fields.

    ``layout`` is what the screen shows; ``client_conditions`` maps a section id, or
    ``"<section id>.<field id>"`` for a field, to its ``show_if`` as JSON for the browser
    (absent when there is none or the browser cannot evaluate it); ``required_fields`` are the
    fields the step always needs (the template marks them); ``required_when`` maps each field
    needed only in some cases (by its own condition or by the category chosen) to the JSON
    condition under which the browser shows its mark ('' when the browser cannot evaluate it:
    the mark then says "in some cases"); ``required_notes`` are the marks' two titles, in the
    form's language (live condition, condition the browser cannot evaluate).
    """

    layout: ClassVar[Layout]
    form_spec: ClassVar[FormSpec]
    client_conditions: ClassVar[Mapping[str, str]]
    required_fields: ClassVar[frozenset[str]]
    required_when: ClassVar[Mapping[str, str]]
    required_notes: ClassVar[tuple[str, str]]

    @classmethod
    def initial(cls, case_values: Mapping[str, Any]) -> dict[str, Any]:
        """The ``data=`` to pre-fill the form with the case's current values."""
        spec = spec_of(cls)
        result = {}
        for name, field_spec in spec.editable.items():
            value = to_form(field_spec, case_values.get(name))
            if value is not None:
                result[name] = value
        return result

    @classmethod
    def client_values(cls, case_values: Mapping[str, Any]) -> str:
        """JSON for the form tag's ``data-values``: what conditions read besides the inputs.

        The browser reads editable fields from their inputs; everything else a condition
        reads (read-only fields, ``state``, a file already stored) comes from here.
        ``case_values`` is what ``validate`` gets: the case's values or its engine context.
        """
        spec = spec_of(cls)
        names: set[str] = set()
        for section, item in spec.layout.placements():
            for condition in (section.show_if, item.show_if):
                if condition is not None:
                    names |= condition.names
        # Inputs speak for themselves; a file input only once a new file is chosen.
        names -= {name for name, field in spec.editable.items() if field.type != "file"}
        values = context(spec, case_values, {})
        return json.dumps({name: to_client(values.get(name)) for name in sorted(names)},
                          ensure_ascii=False, separators=(",", ":"))


def _same(message: str) -> str:
    return message


def build_form(definition: DefinitionSet, process: Process, step: Step, locale: str, *,
               people: Sequence[Actor] = (), base: type[wtforms.Form] = wtforms.Form,
               gettext: Callable[[str], str] = _same,
               uploads: FileLimits | None = None,
               timezone: str | None = None) -> type[wtforms.Form]:
    """The WTForms class for ``step`` in ``locale``: one field per editable layout field.

    ``people`` may be picked in user fields (those holding one of the field's roles);
    ``base`` is the form base class (the web passes Flask-WTF's ``FlaskForm``); ``gettext``
    translates this package's own messages; ``uploads`` limits file fields; ``timezone`` is
    the one date-times are typed in (the reader's own; default: the organisation's).
    """
    layout = step_layout(process, step)
    editable = layout.editable()
    # Only the fields the step always needs are static validators and marked for the browser;
    # validate() asks the engine's required_fields for the rest once the values are known.
    always = frozenset(given.field for given in step.inputs if given.required is True)
    ctx = Context(process, locale, ZoneInfo(timezone or definition.organisation.timezone),
                  people, gettext, uploads or FileLimits())
    # A field id that names an attribute of the form would silently replace it (``data``,
    # ``errors``, ``validate``, ``layout`` ...); refuse it loudly instead.
    reserved = set(dir(base)) | set(dir(StepForm)) | set(StepForm.__annotations__) | {
        "csrf_token", "Meta"}
    attrs: dict[str, Any] = {}
    for name, (_, item) in editable.items():
        if name in reserved:
            raise ValueError(f"field '{name}' of process '{process.id}' cannot be a form field: "
                             "the name is taken by the form itself; rename the field")
        attrs[name] = make_field(item.spec, name in always, ctx)
    conditions: dict[str, str] = {}
    for section, item in layout.placements():
        for key, expression in ((section.id, section.show_if),
                                (f"{section.id}.{item.spec.id}", item.show_if)):
            tree = client_condition(expression) if expression is not None else None
            if tree is not None:
                conditions[key] = json.dumps(tree, ensure_ascii=False, separators=(",", ":"))
    attrs.update(
        Meta=_meta(locale),
        layout=layout,
        form_spec=FormSpec(
            process=process, step=step, layout=layout, locale=locale, timezone=ctx.timezone,
            editable=MappingProxyType({name: item.spec for name, (_, item) in editable.items()}),
            conditions=MappingProxyType({name: (section.show_if, item.show_if)
                                         for name, (section, item) in editable.items()})),
        client_conditions=MappingProxyType(conditions),
        required_fields=frozenset(name for name in editable if name in always),
        required_when=MappingProxyType({
            name: condition for name, condition in _required_when(process, step).items()
            if name in editable and name not in always}),
        required_notes=(ctx.gettext("Required with what you have chosen"),
                        ctx.gettext("Required in some cases: the form says so when you send "
                                    "it")),
    )
    return type(f"StepForm_{process.id}_{step.id}", (StepForm, base), attrs)


def _required_when(process: Process, step: Step) -> dict[str, str]:
    """The browser's condition (JSON) for each input of ``step`` required only in some cases:
    its own ``required`` expression, or a choice of category (or of one below it) that lists
    it, or either. '' when part of it cannot run in the browser."""
    trees: dict[str, list[dict[str, Any] | None]] = {}
    for given in step.inputs:
        if not isinstance(given.required, bool):
            trees.setdefault(given.field, []).append(client_condition(given.required))
    if process.category_field:
        for field in {item.field for item in step.inputs}:
            listing = [category.id for category in process.categories.values()
                       if any(field in process.categories[above].required_fields
                              for above in category.path)]
            if listing:
                trees.setdefault(field, []).append({
                    "op": "compare", "node": {"op": "name", "name": process.category_field},
                    "rest": [["in", {"op": "list", "items": [
                        {"op": "const", "value": c} for c in listing]}]]})
    result = {}
    for field, parts in trees.items():
        if any(part is None for part in parts):
            result[field] = ""
            continue
        tree = parts[0]
        for part in parts[1:]:
            tree = {"op": "or", "left": tree, "right": part}
        result[field] = json.dumps(tree, ensure_ascii=False, separators=(",", ":"))
    return result


def _meta(locale: str) -> type:
    # WTForms' own messages in the form's locale. Flask-WTF's Meta would pick the catalog from
    # the request instead; naming get_translations here keeps the locale the caller chose.
    return type("Meta", (), {
        "locales": _catalogs(locale) or False,
        "cache_translations": True,
        "get_translations": DefaultMeta.get_translations,
    })


def _catalogs(locale: str) -> list[str]:
    """The WTForms catalogs for a locale such as zh-CN: the exact one if shipped, else zh."""
    exact = locale.replace("-", "_")
    candidates = [exact, exact.split("_")[0]]
    return [name for name in dict.fromkeys(candidates)
            if gnu_gettext.find("wtforms", messages_path(), [name])][:1]
