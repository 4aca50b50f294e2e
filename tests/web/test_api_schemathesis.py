"""Property-based tests of the JSON API against its own OpenAPI document (schemathesis 4).

Schemathesis reads the document the application serves and sends every operation requests it
generates from it, valid and invalid ones, as an integration user holding every role, so most
requests reach the rules rather than stopping at a role check. Every answer must be documented
(status, media type, headers, body schema) and none may be a server error. Steps go to a real
case at its current version and signatures get the right password, so accepted steps and their
answers are exercised too, not only refusals.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qmsflow.engine.persistence import tokens, users

from ..persistence.conftest import CHEAP, COMPLAINT, PASSWORD, World

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
CONFIG: dict[str, Any] = {}
EXAMPLES = 8  # per operation and mode: enough to reach every status, bounded in time


class Integration:
    """An integration user holding every role, its token, and a case of each process to act on
    (a complaint from the start, and whichever cases the generated intakes open)."""

    def __init__(self, world: World) -> None:
        self.world = world
        organisation = world.definition.organisation
        with world.database.sessions.begin() as session:
            users.add(session, world.definition, "integration.user", "Integration",
                      list(organisation.roles), PASSWORD, world.clock(), hasher=CHEAP)
            _row, self.token = tokens.issue(session, "integration.user", "schemathesis",
                                            world.clock())
        complaint = world.service.create_case(
            "complaint", "register", world.user("sales"), COMPLAINT, password=PASSWORD)
        self.numbers = {complaint.process: complaint.number}
        self.created: list[str] = []

    def prepare(self, case: schemathesis.Case) -> None:
        """Point a step at a real case of its process at its current version; sign with the
        right password (a wrong one is tested in test_api.py)."""
        parts = case.operation.path.split("/")
        if "number" in (case.path_parameters or {}) and parts[1] == "processes":
            number = self.numbers.get(parts[2])
            if number is not None:
                case.path_parameters["number"] = number  # type: ignore[index]
                if isinstance(case.body, dict) and "expected_version" in case.body:
                    case.body["expected_version"] = self.world.service.read_case(
                        number, history=False).case.row_version
        if isinstance(case.body, dict) and "password" in case.body:
            case.body["password"] = PASSWORD

    def exchange(self, case: schemathesis.Case) -> None:
        """Send the case, check the answer, and remember a case an intake opened."""
        self.prepare(case)
        response = case.call_and_validate(headers={"Authorization": f"Bearer {self.token}"},
                                          checks=CHECKS)
        if response.status_code == 201:
            created = response.json()
            self.numbers.setdefault(created["process"], created["number"])
            self.created.append(created["number"])


def _operations(app: Flask) -> list[Any]:
    loaded = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", app, config=schemathesis.Config.from_dict(CONFIG))
    return [result.ok() for result in loaded.get_all_operations()]


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_is_documented_and_none_is_a_server_error(
        app: Flask, world: World, mode: GenerationMode) -> None:
    # A loop of our own over the operations, not schemathesis.pytest.from_fixture: its lazy
    # parametrisation sets a private attribute pytest 9 no longer has (``_nodeid``).
    integration = Integration(world)
    # Intakes first: the cases they open are the ones the steps of their process act on.
    operations = sorted(_operations(app), key=lambda op: "/starts/" not in op.path)
    assert len(operations) > 4
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def exchange(case: schemathesis.Case) -> None:
            integration.exchange(case)

        exchange()
    if mode is GenerationMode.POSITIVE:
        assert integration.created, "no generated intake was accepted"
