"""A field's value in its three shapes: WTForms data, engine input, and JSON for the browser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from qmsflow.engine.model import Field, Process
from qmsflow.engine.values import ValueProblem, coerce, is_empty

#: The submitted values of a yes/no field's two radio buttons.
YES = "yes"
NO = "no"


def to_engine(spec: Field, data: Any) -> Any:
    """The engine input for a field's form data: what ``values.coerce`` accepts, None if empty.

    Date-times are already aware (the field attaches the organisation's zone). For a file
    field this is the uploaded file's name, used only to evaluate conditions.
    """
    if spec.type == "file":
        return getattr(data, "filename", None) or None
    if spec.type == "yes_no" and isinstance(data, str):
        return {YES: True, NO: False}.get(data, data or None)
    if isinstance(data, list | tuple):
        if spec.type == "multi_choice":
            # The engine keeps choices in the definition's order, once each.
            order = list(spec.choices)
            data = sorted(set(data), key=lambda item: (
                order.index(item) if item in order else len(order), str(item)))
        return list(data) or None
    return None if is_empty(data) else data


def to_form(spec: Field, value: Any) -> Any:
    """The WTForms data that shows an engine value in the field (None for files)."""
    if spec.type == "file":
        return None  # a browser never pre-fills a file input
    if spec.type == "yes_no" and isinstance(value, bool):
        return YES if value else NO
    return value


def typed(spec: Field, raw: Any, process: Process) -> Any:
    """The typed value the engine would store for ``raw``, or None if it is not one.

    Used for conditions only: the rules (length, range, pattern) are the validators' business,
    so a value that breaks one still counts as given when deciding what is shown.
    """
    loose = replace(spec, minimum=None, maximum=None, min_length=None, max_length=None,
                    pattern=None)
    try:
        return coerce(loose, raw, process)
    except ValueProblem:
        return None


def to_client(value: Any) -> Any:
    """A typed value as JSON the browser's evaluator compares like Python does."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        # JSON numbers: the evaluator compares them as numbers, as Python compares Decimals.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): to_client(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_client(item) for item in value]
    return str(value)
