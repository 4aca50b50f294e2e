"""The JSON Schemas are documentation too: editors show their titles and descriptions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from qmsflow.engine.schemas import schema_texts

SCHEMAS = {name: json.loads(text) for name, text in schema_texts().items()}


def properties(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every declared property of every object schema, with a path for the message."""
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            yield f"{path}.{name}", prop
        for key, value in node.items():
            yield from properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from properties(value, f"{path}[{index}]")


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_each_schema_is_a_valid_draft_2020_12_schema_with_an_id(name: str) -> None:
    schema = SCHEMAS[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(name)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_property_has_a_title_and_a_description_for_editors(name: str) -> None:
    bare = [path for path, prop in properties(SCHEMAS[name], "$")
            if not (prop.get("title") and prop.get("description"))]
    assert bare == []
