"""The OpenAPI 3.1 document of the JSON API, generated from the served definition set.

Shape: one path per start step of each process (``/processes/{process}/starts/{step}``) and one
per step of each process (``/processes/{process}/cases/{number}/steps/{step}``), each with a
request schema of its own, named ``{process}.{step}.Request``. Integrators use this better than
one path with a discriminated union of every step: a code generator makes one typed method per
step with exactly its fields; the documentation of a step shows its label, help, roles,
condition, signature and approval authority beside the fields, instead of a union of forty
shapes; and a step id needs to be unique only within its process (both bundled processes have a
step ``close``, with different fields), which a union keyed by step id could not express. Where
the shape depends on data rather than the URL, reading a case, the response is a union with a
discriminator on ``process``.

A request body is ``{"values": {...}, "expected_version": N, "password": "...", "reason":
"..."}``: the step's inputs live in ``values``, so a field id chosen by a definition author can
never collide with the API's own keys (a field called ``reason`` is a plausible id).

Requests are typed strictly (enums, lengths, bounds, patterns), responses by type only: a case
that runs on an older definition version may hold a choice, state or field the served version
no longer has, and its response must still conform. :func:`json_type` is the one table of JSON
types per field type: the document and the server's type check both read it, so they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from qmsflow.engine import values as value_ops
from qmsflow.engine import witnesses, wording
from qmsflow.engine.expressions import Expression
from qmsflow.engine.model import DefinitionSet, Field, Labels, Process, Step

OPENAPI = "3.1.0"
PER_PAGE = 50
MAX_PER_PAGE = 200
MAX_PAGE = 100_000
MAX_SEARCH = 200
# The engine's own phone and e-mail checks, so that the document and the checks cannot drift
# apart. (In ECMA-262, JSON Schema's dialect, the e-mail pattern's letters are ASCII ones: a
# client following it sends a subset of the addresses the server takes.)
# The server strips the spaces around a phone number or address before its check, so the
# document's patterns take them around what the check takes once they are gone (a phone
# number that does not end in a space, which stripping would have removed).
PHONE = (f"^[{value_ops.SPACE_CLASS}]*\\+?[0-9][0-9 ()-]{{3,23}}[0-9()-]"
         f"[{value_ops.SPACE_CLASS}]*$")
EMAIL = (f"^[{value_ops.SPACE_CLASS}]*(?:{value_ops.EMAIL.pattern})"
         f"[{value_ops.SPACE_CLASS}]*$")
#: The field types whose values are text with the rules of :func:`values.text_problem`.
TEXTS = ("text", "long_text", "email", "phone", "user", "register")
#: Text without NUL characters, which no database stores (any other character is taken).
NO_NUL = "^[^\\x00]*$"
#: The same, with something besides spaces (a blank reason is no reason).
NOT_BLANK = f"^[{value_ops.SPACE_CLASS}]*[^{value_ops.SPACE_CLASS}\\x00][^\\x00]*$"


def date_pattern(low: date, high: date) -> str:
    """A pattern that holds for dates, and dates and times, from ``low`` to ``high``: their
    first ten characters compared digit by digit (the format checks the rest)."""
    return f"^(?={_compare(low.isoformat(), True)})(?={_compare(high.isoformat(), False)})"


def _compare(bound: str, above: bool) -> str:
    """``bound`` itself or any text of its shape that reads above (or below) it: the same
    digits up to some place, then a greater (smaller) digit there."""
    choices = []
    for place, char in enumerate(bound):
        if not char.isdigit():
            continue
        first, last = (int(char) + 1, 9) if above else (0, int(char) - 1)
        if first <= last:
            digit = str(first) if first == last else f"[{first}-{last}]"
            choices.append(bound[:place] + digit)
    return "(?:" + "|".join([*choices, bound]) + ")"

# JSON type of each field type's value ("file" is absent: the API takes no files).
_JSON_TYPES: dict[str, tuple[str, ...]] = {
    "text": ("string",), "long_text": ("string",), "email": ("string",), "phone": ("string",),
    "user": ("string",), "date": ("string",), "datetime": ("string",), "choice": ("string",),
    "category": ("string",), "integer": ("integer",), "decimal": ("number", "string"),
    "money": ("number", "string"), "yes_no": ("boolean",), "multi_choice": ("array",),
    "register": ("string",),
}
_FORMATS = {"email": "email", "date": "date", "datetime": "date-time"}


def json_type(spec: Field) -> tuple[str, ...]:
    """The JSON types a value of ``spec`` may have in a request (empty: not accepted)."""
    return _JSON_TYPES.get(spec.type, ())


def accepted(process: Process, step: Step) -> list[str]:
    """The inputs of ``step`` the API takes: every one but files."""
    return [item.field for item in step.inputs if json_type(process.fields[item.field])]


def files(process: Process, step: Step) -> list[str]:
    """The inputs of ``step`` the API cannot take (files: upload them in the web application)."""
    return [item.field for item in step.inputs if not json_type(process.fields[item.field])]


def envelope(step: Step) -> dict[str, bool]:
    """The keys of a request body besides ``values``, each with whether it is required."""
    keys: dict[str, bool] = {}
    if not step.start:
        keys["expected_version"] = True
    if step.signature:
        keys["password"] = True
    if not step.start or step.reason_required:
        # A step may need a reason without asking for one: changing a field whose changes
        # need a reason (change_reason) does.
        keys["reason"] = step.reason_required
    return keys


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _lines(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


def _both(labels: Mapping[str, str] | None, locales: Iterable[str]) -> str:
    """A label in every locale of the organisation, e.g. '投诉渠道 / Channel'."""
    if not labels:
        return ""
    return " / ".join(dict.fromkeys(labels[loc] for loc in locales if labels.get(loc)))


class _Writer:
    """Builds the document for one definition set."""

    def __init__(self, definition: DefinitionSet) -> None:
        self.definition = definition
        self.locales = definition.organisation.locales

    def words(self, labels: Labels | None) -> str:
        return _both(labels, self.locales)

    def role_names(self, roles: Iterable[str]) -> str:
        known = self.definition.organisation.roles
        return ", ".join(f"`{r}` ({self.words(known[r].label)})" if r in known else f"`{r}`"
                         for r in roles)

    # -- fields -------------------------------------------------------------------------------

    def field(self, process: Process | None, spec: Field, *, request: bool,
              condition: str | None = None, required: bool = False) -> dict[str, Any]:
        """The schema of one field's value; null (not given, or cleared) unless ``required``."""
        kinds = list(json_type(spec) if request else _stored_type(spec))
        schema: dict[str, Any] = {"type": kinds[0] if required and len(kinds) == 1 else
                                  kinds if required else [*kinds, "null"]}
        notes = [self.words(spec.label), self.words(spec.help)]
        if spec.type in _FORMATS:
            schema["format"] = _FORMATS[spec.type]
        if spec.pii:
            notes.append("Personal data: absent from a case you may read without its personal "
                         "data (`personal_data_hidden`)." if not request else "Personal data.")
        if spec.type == "file":
            notes.append("A file attached in the web application (its stored name). The API "
                         "neither takes nor serves files.")
        if spec.type == "datetime":
            notes.append("With its UTC offset, e.g. `2026-03-02T09:30:00+08:00`.")
        if spec.type in ("decimal", "money"):
            notes.append("A number, or a decimal number as text (exact: `\"1234.50\"`)"
                         if request else "A decimal number as text (exact).")
            if spec.type == "money":
                notes.append("At most 2 decimal places"
                             + (f"; in {spec.currency}." if spec.currency else "."))
        target = self.definition.registers.get(spec.register or "")
        if spec.type == "register" and target is not None:
            notes.append(f"The key of an entry of the register `{target.id}` "
                         f"({self.words(target.label)}).")
        if spec.type == "user":
            notes.append("The id of an active user" + (
                f" holding one of the roles {self.role_names(spec.roles)}." if spec.roles
                else "."))
        choices = self._choices(process, spec)
        if choices:
            notes.append("Choices: " + "; ".join(f"`{cid}` {words}" for cid, words in choices))
        if request:
            self._rules(process, spec, schema, [cid for cid, _ in choices], notes, required)
        if condition:
            notes.append(f"Required when: `{condition}`.")
        elif required and request:
            notes.append("Required: not blank when sent. On a step of a case, it may be left "
                         "out when the case already holds a value.")
        schema["description"] = _lines(*notes)
        return schema

    def _choices(self, process: Process | None, spec: Field) -> list[tuple[str, str]]:
        if spec.type in ("choice", "multi_choice"):
            return [(cid, self.words(choice.label)) for cid, choice in spec.choices.items()]
        if spec.type == "category" and process is not None:
            result = []
            for cid, category in process.categories.items():
                extra = (f" (needs {', '.join(category.required_fields)})"
                         if category.required_fields else "")
                path = " › ".join(self.words(process.categories[p].label) for p in category.path)
                result.append((cid, f"{path}{extra}"))
            return result
        return []

    def _rules(self, process: Process | None, spec: Field, schema: dict[str, Any], ids: list[str],
               notes: list[str], required: bool) -> None:
        """The validation rules of a request value, as JSON Schema keywords where they fit and
        in words where they do not: the document takes what the server takes."""
        if spec.type in ("choice", "category"):
            schema["enum"] = ids if required else [*ids, None]
        if spec.type == "multi_choice":
            schema["items"] = {"type": "string", "enum": ids}
            schema["uniqueItems"] = True
            if required:
                schema["minItems"] = 1  # an empty list is no value
        limits = value_ops.bounds(spec)  # the field's own, or the defaults
        if spec.type in TEXTS:
            multiline = spec.type == "long_text"
            shortest = max(spec.min_length or 0, 1 if required else 0)
            if shortest:
                schema["minLength"] = shortest
            if limits.max_length is not None:
                schema["maxLength"] = limits.max_length
            patterns = [value_ops.text_pattern(multiline, required)]
            if spec.pattern:
                patterns.append(f"^(?:{spec.pattern})$")  # the engine matches it whole
            elif spec.type == "phone":
                patterns.append(PHONE)
            elif spec.type == "email":
                patterns.append(EMAIL)
            schema["pattern"] = patterns[0]
            if len(patterns) > 1:
                schema["allOf"] = [{"pattern": pattern} for pattern in patterns[1:]]
            notes.append(
                ("Line breaks and tabs are allowed; other control characters are not"
                 if multiline else "One line: no line breaks or other control characters")
                + ", nor the invisible direction controls U+202A-U+202E and U+2066-U+2069."
                + ("" if multiline else " Spaces around the text are removed, and lengths "
                   "count without them.")
                + (" Blank text counts as not given." if required else ""))
            if spec.type == "email":
                notes.append("One address, without a name or a second address "
                             "(`a@example.com`, not `a@example.com,b@example.com`).")
        if spec.type in ("integer", "decimal", "money"):
            for key, bound in (("minimum", limits.minimum), ("maximum", limits.maximum)):
                if isinstance(bound, Decimal | int):
                    schema[key] = _number(Decimal(bound))
        if spec.type in ("decimal", "money"):
            places = 2 if spec.type == "money" else value_ops.DECIMAL_PLACES
            digits = value_ops.DECIMAL_DIGITS
            schema["multipleOf"] = float(Decimal(1).scaleb(-places))
            if limits.maximum is None:
                schema["exclusiveMaximum"] = 10 ** digits
            if limits.minimum is None:
                schema["exclusiveMinimum"] = -10 ** digits
            # For text; the bounds and places above hold for numbers.
            sign = "" if isinstance(limits.minimum, Decimal | int) and limits.minimum >= 0 \
                else "-?"
            schema["pattern"] = f"^{sign}[0-9]{{1,{digits}}}(\\.[0-9]{{1,{places}}})?$"
            if limits.minimum is not None or limits.maximum is not None:
                notes.append("Sent as text, it is held to the same bounds.")
        if spec.type in ("date", "datetime"):
            low, high = limits.minimum, limits.maximum
            schema["pattern"] = date_pattern(low, high)
            notes.append(f"From {low} until {high}"
                         + (" (the day in the time's own offset)." if spec.type == "datetime"
                            else "."))
        if spec.type == "user":
            notes.append("Refused (422) unless it is the id of an active user with one of "
                         "the roles.")

    def values(self, process: Process) -> dict[str, Any]:
        """Every field of a case of ``process``, typed, as responses give them."""
        return {
            "type": "object",
            "description": _lines(
                f"The field values of a case of {self.words(process.label)}.",
                "Fields without a value are absent or null. A case that runs on an older "
                "definition version may hold fields this version no longer has."),
            "properties": {name: self.field(process, spec, request=False)
                           for name, spec in process.fields.items()},
        }

    # -- steps --------------------------------------------------------------------------------

    def request(self, process: Process, step: Step) -> dict[str, Any]:
        """The request body of a start step or step."""
        names = accepted(process, step)
        conditions = {item.field: item.required for item in step.inputs}
        values: dict[str, Any] = {
            "type": "object", "additionalProperties": False,
            "description": "The step's inputs, by field id.",
            "properties": {name: self.field(
                process, process.fields[name], request=True,
                condition=_condition(conditions[name]), required=conditions[name] is True)
                for name in names},
        }
        # A step on a case may leave out a required input the case already holds (the rule
        # is that the case holds a value after the step); only an intake must send them all.
        required = [name for name in names if conditions[name] is True and step.start]
        if required:
            values["required"] = required
        keys = envelope(step)
        properties: dict[str, Any] = {"values": values}
        described = {
            "expected_version": {"type": "integer", "minimum": 0, "description": (
                "The `row_version` of the case as you read it. If the case changed since, "
                "the step is refused with 409 and nothing is saved.")},
            "password": {"type": "string", "minLength": 1, "pattern": NO_NUL, "description": (
                f"Your password again: this step is signed electronically with the meaning "
                f"`{step.signature}` (21 CFR 11.200). A wrong password is refused with 422 "
                "(`errors` code `password`) and nothing is saved; after too many wrong ones "
                "the account is locked (403).")},
            # Where no reason is required, an empty one is taken as none (as on the web).
            "reason": {"type": "string", "minLength": 1 if step.reason_required else 0,
                       "pattern": NOT_BLANK if step.reason_required else NO_NUL,
                       "description": (
                "Why: kept in the audit trail. Required by this step"
                if step.reason_required else
                "Why: kept in the audit trail. Needed when you change a field whose changes "
                "need a reason.")},
        }
        properties.update({key: described[key] for key in keys})
        schema: dict[str, Any] = {
            "type": "object", "additionalProperties": False, "properties": properties,
            "description": f"{self.words(step.label)}: the request body."}
        required_keys = [*(["values"] if required else []),
                         *(key for key, needed in keys.items() if needed)]
        if required_keys:
            schema["required"] = required_keys
        return schema

    def step_notes(self, process: Process, step: Step) -> str:
        """What a step does and what it asks, for its operation's description."""
        states = process.states
        notes = [
            "Opens a new case" if step.start else "From any open state"
            if step.from_keyword == "any" else "From any state, finished cases too"
            if step.from_keyword == "all" else
            "From " + ", ".join(f"`{s}` ({self.words(states[s].label)})" for s in step.sources),
            "leaving the case where it is." if step.target is None else
            f"to `{step.target}` ({self.words(states[step.target].label)}).",
        ]
        parts = [" ".join(notes), f"Roles: {self.role_names(step.roles)}."]
        if step.condition is not None:
            # In words first, as people read it in a refusal; the expression after it is for
            # developers only (this document's readers), and never appears in a refusal.
            on_inputs = witnesses.condition_inputs(process, step)
            worded = " / ".join(dict.fromkeys(
                wording.condition_sentence(step, process, locale) for locale in self.locales))
            parts.append(f"Condition: {worded}")
            parts.append(f"For developers, the expression: `{step.condition.source}`" + (
                " (decided on the values you send: "
                + ", ".join(f"`{name}`" for name in on_inputs) + ")." if on_inputs else "."))
        if step.not_by:
            parts.append("Not by whoever took: " + ", ".join(f"`{s}`" for s in step.not_by)
                         + " (separation of duties).")
        if step.authority:
            matrix = process.authorities[step.authority]
            tiers = "; ".join(
                f"{self.role_names([tier.role])} "
                + ("without limit" if tier.limit is None else f"up to {tier.limit:,}")
                for tier in matrix.tiers)
            amounts = ", ".join(f"`{name}`" for name in matrix.fields) or "no amount"
            lowest = matrix.tier(matrix.without_amount).id
            parts.append(f"Approval authority {self.words(matrix.label)} over {amounts}: "
                         f"{tiers}; without an amount, tier `{lowest}` decides. Refused with "
                         "403 above your limit.")
        if step.signature:
            parts.append(f"Electronic signature `{step.signature}`: send `password`.")
        if step.reason_required:
            parts.append("Needs a `reason`.")
        missing = files(process, step)
        if missing:
            parts.append("File inputs are not taken by the API: "
                         + ", ".join(f"`{name}`" for name in missing)
                         + ". Where one is required, take this step in the web application.")
        return _lines(*parts)


def _condition(required: bool | Expression) -> str | None:
    return None if isinstance(required, bool) else required.source


def _stored_type(spec: Field) -> tuple[str, ...]:
    """The JSON type of a stored value (responses: decimals are text, files their name)."""
    if spec.type in ("decimal", "money", "file"):
        return ("string",)
    return json_type(spec)


def labels_schema() -> dict[str, Any]:
    """A text per locale."""
    return {"type": "object", "additionalProperties": {"type": "string"},
            "description": "The text in each locale, e.g. `{\"zh-CN\": \"…\", \"en\": \"…\"}`."}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _nullable(kind: str, fmt: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if fmt:
        schema["format"] = fmt
    return schema


TIME = {"type": "string", "format": "date-time"}
STRING = {"type": "string"}
#: A query parameter: one line of text, without control characters.
ONE_LINE = {"type": "string", "pattern": value_ops.text_pattern(False, False)}
PROBLEM_TYPES = ("malformed", "unauthenticated", "forbidden", "not-found", "method",
                 "conflict", "too-large", "media-type", "refused", "unavailable", "failed")


def _objects(required: Iterable[str] | None = None, **properties: Any) -> dict[str, Any]:
    """An object schema: every property required unless ``required`` names them."""
    return {"type": "object", "properties": properties,
            "required": list(required if required is not None else properties)}


def _common() -> dict[str, Any]:
    """The schemas every definition set shares."""
    reason = _objects(
        ["code", "detail"], code={"type": "string", "description": (
            "Stable code: role, authority, separation, state, final, voided, condition, "
            "clock (a deadline that keeps the case from closing still runs), "
            "missing, invalid, unexpected, type, files, signature, password, reason, "
            "version, parameter, body.")},
        detail={"type": "string", "description": "For a person, in the request's language."},
        field=_nullable("string") | {"description": "The field it concerns, if any."},
        pointer={"type": "string", "description": "JSON pointer into the request body."},
        parameter={"type": "string", "description": "The query parameter it concerns."},
        facts={"type": "object", "additionalProperties": {"type": "string"},
               "description": "The facts behind it, for programs: e.g. `needed` (the role), "
                              "`field`, `amount` and `limit` of an approval authority refusal "
                              "(the amount that needs the higher tier), `needed` and `tier` "
                              "when no amount is given, `roles` of a role refusal, `step` of a "
                              "separation or a condition refusal, `rule` of a refused value "
                              "(e.g. `characters`, `too_long`, `date_range`, `places`) with "
                              "its bounds (`min`, `max`, `count`, `digits`, `places`). Never "
                              "the condition's expression (people must not see it): a step's "
                              "description gives it, for developers; `detail` says the "
                              "condition in words."})
    problem = _objects(
        ["type", "title", "status", "detail"],
        type={"type": "string", "description": "`urn:qmsflow:problem:` and one of: "
                                               + ", ".join(PROBLEM_TYPES) + "."},
        title=STRING, status={"type": "integer"},
        detail={"type": "string", "description": "What happened and what to do."},
        instance=STRING, errors=_array(_ref("Reason")),
        current_version={"type": "integer", "description": "409: the case's row version now."})
    problem["description"] = "An error (RFC 9457): nothing was saved."
    clock = _objects(
        id=STRING, label=labels_schema(), variant=STRING,
        status={"type": "string", "enum": ["running", "paused", "stopped"]},
        started_at=TIME, due_at=TIME, warn_at=_nullable("string", "date-time"),
        paused_at=_nullable("string", "date-time"), stopped_at=_nullable("string", "date-time"),
        late={"type": "boolean", "description": "Running and past its due time."},
        warned={"type": "boolean"}, breached={"type": "boolean"},
        time_left=_objects(
            working={"type": "boolean", "description": (
                "Counted in working time: `days` are working days of the clock's calendar.")},
            overdue={"type": "boolean", "description": "Past its due time: the parts say by "
                     "how much."},
            days={"type": "integer"}, hours={"type": "integer"}, minutes={"type": "integer"},
            text={"type": "string", "description": (
                "In the request's language, e.g. '3 working days 3 hours left'.")},
        ) | {"type": ["object", "null"], "description": (
            "Time left before the due time (at the pause, for a paused clock); null once "
            "stopped. Working time walks the business calendar, never hours divided by 24.")},
        unofficial_years=_array({"type": "integer"}) | {
            "description": "Years without an official holiday schedule the due time crosses."})
    link = _objects(
        relation={"type": "string", "description": (
            "The relation's id; '<id>:reverse' on the case that opened the other.")},
        relation_label=labels_schema() | {"description": (
            "How people read the relation, per locale: its label, or its reverse label on the "
            "case that opened the other (empty for a relation no longer declared).")},
        process=STRING, number=STRING, href=STRING)
    action = _objects(
        step=STRING, label=labels_schema(),
        allowed={"type": "boolean", "description": (
            "Whether you may take it now with some valid values: the values you send are "
            "judged when you send them, and so is a condition on them (the step's "
            "description says which); a condition on the case alone is judged here.")},
        reasons=_array(_ref("Reason")), signature=_nullable("string"),
        reason_required={"type": "boolean"},
        href={"type": "string", "description": "Where to POST the step."})
    summary = _objects(
        number=STRING, process=STRING, version=STRING, row_version={"type": "integer"},
        state=STRING, state_label=labels_schema(), priority=STRING, flags=_array(STRING),
        category=_nullable("string"), assignee_role=_nullable("string"),
        assignee=_nullable("string"), due_at=_nullable("string", "date-time"),
        overdue={"type": "boolean"}, created_at=TIME, updated_at=TIME,
        closed_at=_nullable("string", "date-time"), href=STRING)
    listing = _objects(
        cases=_array(_ref("CaseSummary")), page={"type": "integer"},
        per_page={"type": "integer"}, pages={"type": "integer"},
        total={"type": "integer", "description": "Matching cases, counted up to 1000."},
        more={"type": "boolean", "description": "More than `total` match."},
        next=_nullable("string") | {"description": "The next page, if any."})
    return {"Reason": reason, "Problem": problem, "Clock": clock, "Link": link,
            "Action": action, "CaseSummary": summary, "CaseList": listing}


def _case(writer: _Writer, process: Process) -> dict[str, Any]:
    words = writer.words
    schema = _objects(
        number=STRING, process={"type": "string", "const": process.id},
        version={"type": "string", "description": "The definition version the case runs on."},
        row_version={"type": "integer", "description": "Send it as `expected_version` with "
                                                      "a step."},
        state={"type": "string", "description": "; ".join(
            f"`{sid}` {words(state.label)}" for sid, state in process.states.items())},
        state_label=labels_schema(), final={"type": "boolean"},
        priority={"type": "string", "description": "; ".join(
            f"`{p.id}` {words(p.label)}" for p in process.priorities)},
        flags=_array(STRING) | {"description": "; ".join(
            f"`{fid}` {words(flag.label)}" for fid, flag in process.flags.items())},
        category=_nullable("string"), assignee_role=_nullable("string"),
        assignee=_nullable("string"), created_at=TIME, updated_at=TIME,
        closed_at=_nullable("string", "date-time"), voided_at=_nullable("string", "date-time"),
        void_reason=_nullable("string"), values=_ref(f"{process.id}.Values"),
        personal_data_hidden={"type": "boolean", "description": (
            "True when the process's read rules let you read this case without its personal "
            "data: the fields marked personal data are then absent from `values`.")},
        clocks=_array(_ref("Clock")), links=_array(_ref("Link")),
        actions=_array(_ref("Action")) | {
            "description": "The steps from the case's state: those you may take now "
                           "(`allowed`) and, for the others, why not. A closed case offers "
                           "only the steps written for its final state (e.g. one stopping a "
                           "deadline that runs after the close)."},
        href=STRING)
    schema["description"] = f"A case of {words(process.label)}."
    return schema


_ERRORS = {
    "400": ("Malformed", "The body is not JSON, not an object, or has a value of the wrong "
                         "type, a key the step does not take, or a bad query parameter."),
    "401": ("Unauthenticated", "No token, or a token that is unknown, revoked, or whose user "
                               "is disabled."),
    "403": ("Forbidden", "Not allowed: your roles, approval limit or separation of duties "
                         "(the reasons say which)."),
    "404": ("NotFound", "No such case (or none you may read), process or step."),
    "409": ("Conflict", "The case changed since you read it (`expected_version`)."),
    "413": ("TooLarge", "The body is too large."),
    "415": ("MediaType", "The body is not sent as `application/json`."),
    "422": ("Refused", "Refused by the rules or invalid values; `errors` has one entry per "
                       "problem, with the field."),
    "503": ("Unavailable", "The service cannot take this now (e.g. the definitions are not "
                           "published, or the database is busy); nothing was saved."),
}


def _responses(ok: tuple[str, str, dict[str, Any]], codes: str,
               headers: dict[str, Any] | None = None) -> dict[str, Any]:
    status, description, schema = ok
    success: dict[str, Any] = {"description": description,
                               "content": {"application/json": {"schema": schema}}}
    if headers:
        success["headers"] = headers
    result = {status: success}
    for code in codes.split():
        result[code] = {"$ref": f"#/components/responses/{_ERRORS[code][0]}"}
    return result


def _list_parameters(definition: DefinitionSet) -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema,
                "description": description}

    states = sorted({s for p in definition.processes.values() for s in p.states})
    return [
        query("process", {"type": "string", "enum": list(definition.processes)}, "Process id."),
        query("state", ONE_LINE, "State id: " + ", ".join(states) + "."),
        query("category", ONE_LINE, "Category id (exactly; no sub-categories)."),
        query("priority", ONE_LINE, "Priority id."),
        query("overdue", {"type": "boolean"}, "Only cases past (true) or within (false) their "
                                              "earliest running deadline."),
        query("status", {"type": "string", "enum": ["open", "finished", "all"],
                         "default": "open"}, "Open or finished cases, or both."),
        query("scope", {"type": "string", "enum": ["mine", "all"], "default": "mine"},
              "`mine`: your cases and your roles' queues; `all`: everyone's."),
        query("q", ONE_LINE | {"maxLength": MAX_SEARCH},
              "Text search in the case number and the processes' inbox search fields."),
        query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
              "Page number."),
        query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE,
                           "default": PER_PAGE}, "Cases per page."),
    ]


def _step_links(process: Process, source: str) -> dict[str, Any]:
    """Links from an answer holding a case of ``process`` to each of its steps: the case's
    number and its row version as the step's ``expected_version``."""
    return {f"{source}{step.id}": {
        "operationId": f"step.{process.id}.{step.id}",
        "parameters": {"number": "$response.body#/number"},
        "requestBody": {"expected_version": "$response.body#/row_version"},
        "description": f"Take the step `{step.id}` on this case, at the version read."}
        for step in process.steps.values()}


def _link(paths: dict[str, Any], definition: DefinitionSet) -> None:
    """OpenAPI links between the operations, so that a client (or a test tool) can follow a
    case: a start leads to reading the case and to its steps; reading a case leads to every
    step of its process; the list leads to reading its first case.

    A step's answer has no links of its own: it is the case, as reading it gives (with its
    ``row_version`` and its ``actions``), and a tool that starts walks from every operation
    with links would otherwise start from steps on made-up case numbers."""
    read = {"operationId": "readCase", "parameters": {"number": "$response.body#/number"},
            "description": "Read this case again."}
    every_step: dict[str, Any] = {}
    for process in definition.processes.values():
        every_step |= _step_links(process, f"{process.id}.")
        steps = _step_links(process, "")
        for start in process.starts:
            answer = paths[f"/processes/{process.id}/starts/{start}"]["post"]
            answer["responses"]["201"]["links"] = {"readCase": read} | steps
    paths["/cases/{number}"]["get"]["responses"]["200"]["links"] = every_step
    paths["/cases"]["get"]["responses"]["200"]["links"] = {"readFirstCase": read | {
        "parameters": {"number": "$response.body#/cases/0/number"},
        "description": "Read the first case of the page."}}


NUMBER = {"name": "number", "in": "path", "required": True, "description": "The case number.",
          "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^/]+$"}}

INTRODUCTION = """\
Cases of the processes of this definition set: open one through a start step, read it, list
cases, and take a step, with the same rules as the web application (roles, conditions,
approval authority, electronic signatures, separation of duties, conflicts).

**Authentication**: `Authorization: Bearer TOKEN`, a token an administrator issues for an
integration user with `qmsflow users token add USER --label LABEL`. The token acts as that
user, with their roles and limits; it stops working when revoked or when the user is disabled.

**Errors** are `application/problem+json` (RFC 9457) with a `detail` a person can act on and,
for refused inputs, `errors` with one entry per field. Messages follow `Accept-Language`
(`zh-CN` or `en`), else the user's language. Nothing is saved when a request fails.

**Taking a step**: read the case, send its `row_version` as `expected_version`; the case's
`actions` say which steps you may take now and, for the others, why not.

**Read access**: each process's read rules decide which cases a user reads (the cases in a
queue of their roles and those assigned to them always). A case you may not read answers 404
exactly like a case that does not exist, lists hold only the cases you may read (`scope=all`
too), and a case you read without its personal data has `personal_data_hidden` true and no
value for the fields marked personal data."""


def document(definition: DefinitionSet, server: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API for ``definition``, served under ``server``."""
    writer = _Writer(definition)
    schemas = _common()
    paths: dict[str, Any] = {}
    tags = [{"name": "cases", "description": "Reading and listing cases."}]
    for process in definition.processes.values():
        pid = process.id
        tags.append({"name": pid, "description": writer.words(process.label)})
        schemas[f"{pid}.Values"] = writer.values(process)
        schemas[f"{pid}.Case"] = _case(writer, process)
        for step in process.every_step():
            schemas[f"{pid}.{step.id}.Request"] = writer.request(process, step)
            body = {"required": True, "content": {"application/json": {
                "schema": _ref(f"{pid}.{step.id}.Request")}}}
            common = {"tags": [pid], "summary": writer.words(step.label),
                      "description": writer.step_notes(process, step), "requestBody": body}
            if step.start:
                paths[f"/processes/{pid}/starts/{step.id}"] = {"post": common | {
                    "operationId": f"start.{pid}.{step.id}",
                    "responses": _responses(
                        ("201", "The new case.", _ref(f"{pid}.Case")),
                        "400 401 403 404 413 415 422 503",
                        {"Location": {"required": True, "description": "The case's address.",
                                      "schema": STRING}})}}
            else:
                paths[f"/processes/{pid}/cases/{{number}}/steps/{step.id}"] = {"post": common | {
                    "operationId": f"step.{pid}.{step.id}", "parameters": [NUMBER],
                    "responses": _responses(("200", "The case after the step.",
                                             _ref(f"{pid}.Case")),
                                            "400 401 403 404 409 413 415 422 503")}}
    schemas["Case"] = {
        "oneOf": [_ref(f"{pid}.Case") for pid in definition.processes],
        "discriminator": {"propertyName": "process", "mapping": {
            pid: f"#/components/schemas/{pid}.Case" for pid in definition.processes}}}
    paths["/cases"] = {"get": {
        "tags": ["cases"], "operationId": "listCases", "summary": "List cases",
        "description": "Your cases and your roles' queues by default, soonest due first.",
        "parameters": _list_parameters(definition),
        "responses": _responses(("200", "One page of cases.", _ref("CaseList")),
                                "400 401 503")}}
    paths["/cases/{number}"] = {"get": {
        "tags": ["cases"], "operationId": "readCase", "summary": "Read a case",
        "description": "Values, state, priority, flags, assignee, deadlines, links, and the "
                       "steps you may take now.",
        "parameters": [NUMBER],
        "responses": _responses(("200", "The case.", _ref("Case")), "401 404 503")}}
    _link(paths, definition)
    from .register_paths import add_registers  # the registers' part of the document
    add_registers(writer, definition, paths, schemas, tags)
    paths["/openapi.json"] = {"get": {
        "tags": ["cases"], "operationId": "openapi", "summary": "This document",
        "security": [],
        "responses": {"200": {"description": "The OpenAPI document.", "content": {
            "application/json": {"schema": {"type": "object"}}}}}}}
    problem = {"application/problem+json": {"schema": _ref("Problem")}}
    responses = {name: {"description": description, "content": problem}
                 for name, description in _ERRORS.values()}
    responses["Unauthenticated"]["headers"] = {"WWW-Authenticate": {
        "required": True, "schema": STRING, "description": "`Bearer realm=\"qmsflow\"`."}}
    return {
        "openapi": OPENAPI,
        "info": {"title": f"{writer.words(definition.label)}: qmsflow API",
                 "version": f"1 (definitions {definition.version[:12]})",
                 "description": INTRODUCTION},
        "servers": [{"url": server}],
        "security": [{"bearer": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "A token from `qmsflow users token add USER --label LABEL`."}},
            "schemas": schemas, "responses": responses},
    }
