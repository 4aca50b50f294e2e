"""Zero 5xx: every route of the application (web and API, GET and POST), signed in as a user
with every role and with a valid API token, gets the hostile values attackers were seen
sending in every query parameter, form field, path segment and JSON value it takes, and never
answers with a server error or a traceback.

The query parameters a route reads are found by recording what its view looks up in
``request.args`` on a plain visit, joined with those the code is known to read; the form fields
are those of the route's own page and of the step's definition.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask.wrappers import Request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from qmsflow.engine.persistence import tokens, users
from qmsflow.web.api import inputs
from qmsflow.web.surveys import tokens as survey_tokens

from ..persistence.conftest import CHEAP, PASSWORD, World, open_complaint
from ..persistence.test_surveys import closed_job
from .conftest import make_app

EVERYONE = "all.roles"
#: Text values: numbers beyond any bound, digits that are not ASCII, dates without UTC
#: midnights, an address list, control and direction characters, over-long text, templates.
HOSTILE = ["1e999999", "9" * 5_000, "9" * 200_000, "99999999999999999999", "²", "-1", "0",
           "0001-01-01", "9999-12-31", "0001-01", "9999-12", "attacker@evil.com,victim",
           "a\x00b", "a\u202eb\u2066c", "line\nbreak", "x" * 20_001, "NaN", "-Infinity", "",
           "{{7*7}}", "../../etc/passwd", "' OR 1=1 --"]
#: The values that broke a parameter read alone (the quick sweep sends only these one by one).
SHARPEST = ["1e999999", "9" * 5_000, "99999999999999999999", "²", "-1", "0001-01",
            "0001-01-01", "a\u202eb\u2066c", "x" * 20_001]
#: The same for a path segment (a URL has no NUL; over-long ones are covered by the digits).
HOSTILE_PATHS = ["9" * 5_000, "²", "a\u202eb", "..", "1e999999", "0001-01-01", "{{7*7}}"]
#: JSON literals as written in a body: numbers no encoder writes, and every JSON type.
HOSTILE_JSON = ["1e999999", "-1e999999", "1e-999999", "9" * 200_000, "99999999999999999999",
                "NaN", "Infinity", "1.5", "-1", "true", "null", "[]", "{}", '"²"',
                '"0001-01-01"', '"attacker@evil.com,victim"', '"a\\u0000b"', '"a\\u202eb"',
                '"\\ud800"', '"' + "x" * 20_001 + '"']
#: Query parameters the code is known to read, whatever a plain visit shows.
KNOWN_PARAMETERS = ("page", "per_page", "q", "process", "state", "category", "priority",
                    "overdue", "status", "scope", "month", "format", "report", "version",
                    "source", "lang", "next", "id", "dimension", "line", "measure", "previous",
                    "channel", "installed_device")
#: Query parameters a view reads without looking each up (it walks them all).
READ_BY = {"api.list_cases": inputs.QUERY}
#: Form controls posted beside a form's fields.
CONTROLS = ("row_version", "password", "reason", "id", "locale", "next", "user_id")


class RecordingArgs(ImmutableMultiDict[str, str]):
    """Query parameters that note each name a view looks up."""

    asked: ClassVar[set[str]] = set()

    def get(self, key: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        RecordingArgs.asked.add(key)
        return super().get(key, *args, **kwargs)

    def getlist(self, key: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        RecordingArgs.asked.add(key)
        return super().getlist(key, *args, **kwargs)

    def __getitem__(self, key: str) -> Any:
        RecordingArgs.asked.add(key)
        return super().__getitem__(key)


class RecordingRequest(Request):
    parameter_storage_class = RecordingArgs


@pytest.fixture
def hostile(world: World, tmp_path: Any) -> Iterator[tuple[Flask, World, str]]:
    """The application, a user holding every role (signed in) and that user's API token."""
    with world.database.sessions.begin() as session:
        users.add(session, world.definition, EVERYONE, "All Roles",
                  list(world.definition.organisation.roles), PASSWORD, world.clock(),
                  hasher=CHEAP)
        _row, token = tokens.issue(session, EVERYONE, "hostile inputs", world.clock())
    app = make_app(world, tmp_path)
    app.request_class = RecordingRequest
    yield app, world, token
    app.extensions["qmsflow"].close()


def _check(response: TestResponse, what: str) -> None:
    assert response.status_code < 500, (what[:300], response.status_code,
                                        response.get_data(as_text=True)[:500])
    assert b"Traceback" not in response.get_data(), what[:300]


def _paths(rule: Rule, known: dict[str, str]) -> Iterator[tuple[str, bool]]:
    """The rule's address with real values (and True), then with each path argument hostile."""
    yield rule.rule.replace("<path:", "<").format() if not rule.arguments else _build(
        rule, known), True
    for argument in sorted(rule.arguments):
        for value in HOSTILE_PATHS:
            yield _build(rule, {**known, argument: value}), False


def _build(rule: Rule, values: dict[str, str]) -> str:
    path = rule.rule
    for argument in rule.arguments:
        path = re.sub(rf"<(?:\w+:)?{argument}>", quote(values.get(argument, "x"), safe=""),
                      path)
    return path


def _form_names(page: str) -> set[str]:
    return set(re.findall(r'\bname="([^"]+)"', page)) - {"csrf_token"}


def sweep(app: Flask, world: World, token: str, thorough: bool) -> int:
    """Send the hostile values to every route; the number of requests sent. ``thorough``
    tries every known parameter and every value alone on every route; otherwise each route
    gets all known parameters at once, and the parameters it reads one by one."""
    number = open_complaint(world).number
    job = closed_job(world).number
    survey = survey_tokens.survey_link("test-secret", "http://localhost", clock=world.clock)(
        job, "satisfaction").split("/feedback/", 1)[1]
    client: FlaskClient = app.test_client()
    client.post("/login", data={"user_id": EVERYONE, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {token}"}
    complaint = world.definition.processes["complaint"]
    known = {"number": number, "process_id": "complaint", "step_id": "confirm_complaint",
             "token": survey, "digest": "0" * 64, "name": "x.pdf", "filename": "style.css",
             "version": world.definition.version, "report_id": "monthly_complaints",
             "message_id": "1", "survey_id": "complaint_satisfaction",
             "draft_id": "1", "register_id": "installed_device", "key": "SN-0001"}
    literals = HOSTILE_JSON if thorough else HOSTILE_JSON[:6]
    requests = 0

    def send(response: TestResponse, what: str) -> None:
        nonlocal requests
        requests += 1
        _check(response, what)

    for rule in app.url_map.iter_rules():
        if rule.endpoint == "auth.logout":
            continue  # would sign the client out; it takes no input
        api = rule.rule.startswith("/api/")
        headers = bearer if api else {}
        for path, real in _paths(rule, known):
            if "GET" in rule.methods:
                RecordingArgs.asked = set()
                send(client.get(path, headers=headers), path)
                if real:
                    read = RecordingArgs.asked | set(READ_BY.get(rule.endpoint, ()))
                    names = sorted(read | set(KNOWN_PARAMETERS)) if thorough else sorted(read)
                    # All known parameters at once: on every route when thorough, else on
                    # those that read any (the guards before every view are the same code).
                    for value in HOSTILE if thorough or read else ():
                        send(client.get(path, headers=headers, query_string={
                            name: value for name in KNOWN_PARAMETERS}), f"GET {path} all={value!r}")
                    for value in HOSTILE if thorough else SHARPEST:
                        for name in names:
                            send(client.get(path, query_string={name: value}, headers=headers),
                                 f"GET {path}?{name}={value!r}")
            if "POST" not in rule.methods:
                continue
            if api:
                steps = ([complaint.starts["register"]] if "starts" in rule.rule
                         else [complaint.steps["confirm_complaint"]])
                names = [item.field for step in steps for item in step.inputs]
                json = {**headers, "Content-Type": "application/json"}
                for literal in HOSTILE_JSON if real else HOSTILE_JSON[:3]:
                    values = ", ".join(f'"{name}": {literal}' for name in names)
                    body = (f'{{"values": {{{values}}}, "expected_version": {literal}, '
                            f'"password": {literal}, "reason": {literal}}}')
                    send(client.post(path, data=body, headers=json), f"POST {path} {literal}")
                    if not real or literal not in literals:
                        continue
                    for name in names:  # each value alone, with a valid envelope
                        alone = (f'{{"values": {{"{name}": {literal}}}, "expected_version": 1, '
                                 f'"password": "{PASSWORD}"}}')
                        send(client.post(path, data=alone, headers=json),
                             f"POST {path} {name}={literal}")
                continue
            # The page's own controls: a name the form does not have is refused before any
            # field is read (tested on its own), so it would hide the fields' checks.
            page = client.get(path).get_data(as_text=True) if "GET" in rule.methods else ""
            fields = _form_names(page) or set(CONTROLS)
            for value in HOSTILE if real else HOSTILE[:4]:
                data = {name: value for name in fields}
                send(client.post(path, data=data), f"POST {path} all={value!r}")
                row = {**data, "row_version": "1"}
                send(client.post(path, data=row), f"POST {path} fields={value!r}")
            client.post("/login", data={"user_id": EVERYONE, "password": PASSWORD})
    return requests


def test_no_route_answers_a_hostile_value_with_a_server_error(
        hostile: tuple[Flask, World, str]) -> None:
    started = time.perf_counter()
    requests = sweep(*hostile, thorough=False)
    assert requests > 1_000, requests
    print(f"{requests} hostile requests in {time.perf_counter() - started:.1f} s")


@pytest.mark.slow
def test_no_route_answers_any_hostile_value_in_any_parameter_with_a_server_error(
        hostile: tuple[Flask, World, str]) -> None:
    started = time.perf_counter()
    requests = sweep(*hostile, thorough=True)
    assert requests > 10_000, requests
    print(f"{requests} hostile requests in {time.perf_counter() - started:.1f} s")
