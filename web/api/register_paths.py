"""The registers' part of the OpenAPI document, generated from the definitions as the cases'
part is: per register, its entry's values typed field by field, and its four operations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qmsflow.engine.model import DefinitionSet, Register
from qmsflow.engine.values import INTEGER_MAX, text_pattern

if TYPE_CHECKING:
    from .openapi import _Writer

KEY = {"type": "string", "minLength": 1, "maxLength": 200}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(status: str, description: str, schema: dict[str, Any], codes: str
            ) -> dict[str, Any]:
    from .openapi import _responses
    return _responses((status, description, schema), codes)


def _values(writer: _Writer, register: Register, request: bool) -> dict[str, Any]:
    properties = {name: writer.field(None, spec, request=request,
                                     condition=None if isinstance(spec.required, bool)
                                     else spec.required.source)
                  for name, spec in register.fields.items() if spec.type != "file"}
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "description": f"The values of an entry of "
                                             f"{writer.words(register.label)}."}
    if request:
        schema["additionalProperties"] = False
    return schema


def add_registers(writer: _Writer, definition: DefinitionSet, paths: dict[str, Any],
                  schemas: dict[str, Any], tags: list[dict[str, Any]]) -> None:
    """Add every register's schemas and operations to the document being written."""
    for register in definition.registers.values():
        rid = register.id
        tag = f"register.{rid}"
        tags.append({"name": tag, "description": writer.words(register.label)})
        schemas[f"register.{rid}.Values"] = _values(writer, register, request=False)
        schemas[f"register.{rid}.Input"] = _values(writer, register, request=True)
        schemas[f"register.{rid}.Entry"] = {
            "type": "object", "description": f"An entry of {writer.words(register.label)}.",
            "properties": {
                "register": {"type": "string", "const": rid},
                "key": {"type": "string", "description": f"The value of `{register.key}`."},
                "title": {"type": ["string", "null"]},
                "values": _ref(f"register.{rid}.Values"),
                "row_version": {"type": "integer", "description": "Send it as "
                                "`expected_version` with a change."},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "href": {"type": "string"}}}
        entry = _ref(f"register.{rid}.Entry")
        key = {"name": "key", "in": "path", "required": True, "schema": KEY,
               "description": f"The entry's `{register.key}`."}
        readers = writer.role_names(sorted({*register.read, *register.edit}))
        editors = writer.role_names(register.edit)
        paths[f"/registers/{rid}/entries"] = {
            "get": {"tags": [tag], "operationId": f"register.{rid}.list",
                    "summary": f"List {writer.words(register.label)}",
                    "description": f"Readers: {readers}. Searched: "
                                   + ", ".join(f"`{name}`" for name in register.search) + ".",
                    "parameters": [
                        {"name": "q", "in": "query", "required": False,
                         "schema": {"type": "string", "maxLength": 200,
                                    "pattern": text_pattern(False, False)},
                         "description": "Words each matched entry contains."},
                        {"name": "page", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": 10_000}},
                        {"name": "per_page", "in": "query", "required": False,
                         "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
                    "responses": _answer("200", "One page of entries.", {
                        "type": "object", "properties": {
                            "entries": {"type": "array", "items": entry},
                            "total": {"type": "integer"}, "page": {"type": "integer"},
                            "per_page": {"type": "integer"}}}, "400 401 404 503")},
            "post": {"tags": [tag], "operationId": f"register.{rid}.create",
                     "summary": f"Register an entry of {writer.words(register.label)}",
                     "description": f"Editors: {editors}.",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "additionalProperties": False,
                                    "required": ["values"], "properties": {
                                        "values": _ref(f"register.{rid}.Input")}}}}},
                     "responses": _answer("201", "The new entry.", entry,
                                          "400 401 403 404 413 415 422 503")}}
        paths[f"/registers/{rid}/entries/{{key}}"] = {
            "get": {"tags": [tag], "operationId": f"register.{rid}.read",
                    "summary": "Read an entry", "parameters": [key],
                    "responses": _answer("200", "The entry.", entry, "401 404 503")},
            "post": {"tags": [tag], "operationId": f"register.{rid}.update",
                     "summary": "Change an entry",
                     "description": f"Editors: {editors}. Only the fields sent change; the "
                                    "key does not.",
                     "parameters": [key],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "additionalProperties": False,
                                    "required": ["values", "expected_version"], "properties": {
                                        "values": _ref(f"register.{rid}.Input"),
                                        "expected_version": {
                                            "type": "integer", "minimum": 0,
                                            "maximum": INTEGER_MAX},
                                        "reason": {"type": "string"}}}}}},
                     "responses": _answer("200", "The entry after the change.", entry,
                                          "400 401 403 404 409 413 415 422 503")}}
