"""Every rule holds on the server whatever the browser sends.

Three sweeps: every route for a stranger and for every role; every transition posted by every
role on a case in every state; and every approval step posted by every role with amounts on,
just below and just above each authority tier's limit. A refused post must change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from qmsflow.engine.model import DefinitionSet, Process
from qmsflow.engine.persistence import registers
from qmsflow.web import create_app
from qmsflow.web.demo import DemoSummary, DemoUser, seed
from qmsflow.web.runtime import Runtime

from ..conftest import DEFAULT_SET
from ..persistence.conftest import CHEAP, PASSWORD, World, to_investigation
from ..persistence.test_registers import CUSTOMER, DEVICE, PRODUCT
from .conftest import make_app
from .reading import expected

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ANYONE = "(signed out)"


@dataclass
class Demo:
    """A database with cases resting in every state, its app and one client per user."""

    app: Flask
    runtime: Runtime
    summary: DemoSummary
    clients: dict[str, FlaskClient]

    @property
    def overseer(self) -> str:
        """A user who reads every case of the bundled processes (quality manager)."""
        return next(u.id for u in self.summary.users if "quality_manager" in u.roles)

    def number_in(self, process: str, state: str) -> str:
        page = self.runtime.service.list_cases(self.overseer, _filters(process, state))
        return page.rows[0].number


def _filters(process: str, state: str) -> object:
    from qmsflow.engine.persistence import Filters

    return Filters(process=process, state=state, open=None, mine=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, default_set: DefinitionSet
         ) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("enforcement")
    url = f"sqlite:///{folder / 'demo.sqlite3'}"
    runtime = Runtime(url, DEFAULT_SET, clock=lambda: NOW, hasher=CHEAP, compiled=default_set)
    summary = seed(runtime, NOW, quiet=True, hasher=CHEAP)
    with runtime.sessions.begin() as session:  # a device to open, edit and trace
        for register, values in (("product", PRODUCT), ("customer", CUSTOMER),
                                 ("installed_device", DEVICE)):
            registers.create(session, default_set, register, values, NOW)
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": url,
                      "DEFINITIONS": str(DEFAULT_SET), "COMPILED": default_set,
                      "CLOCK": lambda: NOW, "HASHER": CHEAP, "WTF_CSRF_ENABLED": False,
                      "UPLOAD_FOLDER": str(folder / "uploads")})
    clients = {}
    for user in summary.users:
        client = app.test_client()
        assert user.password is not None
        signed_in = client.post("/login", data={"user_id": user.id, "password": user.password})
        assert signed_in.status_code == 302, user.id
        clients[user.id] = client
    clients[ANYONE] = app.test_client()
    yield Demo(app, runtime, summary, clients)
    app.extensions["qmsflow"].close()
    runtime.close()


def _users(demo: Demo) -> list[DemoUser]:
    return [u for u in demo.summary.users if len(u.roles) == 1]  # one user per role


# -- routes ------------------------------------------------------------------------------------

Expect = Callable[[frozenset[str], dict[str, str]], int]


def _by_step_role(definition: DefinitionSet) -> Expect:
    def expect(roles: frozenset[str], args: dict[str, str]) -> int:
        step = definition.process(args["process_id"]).starts[args["step_id"]]
        return 200 if roles & set(step.roles) else 403
    return expect


def _admin_only(definition: DefinitionSet) -> Expect:
    admins = set(definition.organisation.admin_roles)
    return lambda roles, _args: 200 if roles & admins else 403


def _figure_readers(definition: DefinitionSet) -> Expect:
    """The cases behind a report's figure: for administrators and for whoever works the
    report's process (takes one of its steps or holds one of its queues)."""
    admins = set(definition.organisation.admin_roles)

    def expect(roles: frozenset[str], args: dict[str, str]) -> int:
        process = definition.processes[definition.reports[args["report_id"]].process]
        workers = {role for step in process.every_step() for role in step.roles} | {
            state.owner for state in process.states.values()}
        return 200 if roles & (admins | workers) else 403
    return expect


def _admin_finds_none(definition: DefinitionSet) -> Expect:
    """An admin page of a thing the demo has none of (a draft): 404 for admins, else 403."""
    admins = set(definition.organisation.admin_roles)
    return lambda roles, _args: 404 if roles & admins else 403


def _always(status: int) -> Expect:
    return lambda _roles, _args: status


def _readers(demo: Demo, definition: DefinitionSet) -> Expect:
    """200 for a user the read rules let read the case, 404 (like no case) otherwise."""
    ids = {frozenset(user.roles): user.id for user in _users(demo)}

    def expect(roles: frozenset[str], args: dict[str, str]) -> int:
        seen = expected(demo.runtime.service, definition, ids[roles], args["number"])
        return 200 if seen.visible else 404
    return expect


def _expectations(definition: DefinitionSet, demo: Demo) -> dict[str, Expect]:
    """What a GET of each endpoint answers a signed-in user with these roles.

    A new route must be added here, with who may see it: the test fails until it is.
    """
    return {
        "auth.login": _always(200), "auth.logout": _always(405),
        "auth.language": _always(405), "cases.inbox": _always(200), "cases.new": _always(200),
        "cases.start": _by_step_role(definition), "cases.case": _readers(demo, definition),
        # A step's form opens for every reader: it explains why the step is refused, if it is.
        "cases.act": _readers(demo, definition), "cases.printable": _readers(demo, definition),
        "cases.pdf": _readers(demo, definition),
        "cases.report_form": _readers(demo, definition),
        "cases.report_form_pdf": _readers(demo, definition),
        "cases.report_form_json": _readers(demo, definition),
        "cases.keep_report_form": _always(405),
        "cases.attachment": _always(404),
        "admin.index": _admin_only(definition), "admin.process": _admin_only(definition),
        "admin.version": _admin_only(definition), "admin.validate": _admin_only(definition),
        "admin.preview": _admin_only(definition),
        # Migrating to the served version from no other version with open cases: none to move.
        "admin.migrate": _admin_finds_none(definition),
        "admin.drafts_index": _admin_only(definition), "admin.start_draft": _admin_only(definition),
        "admin.edit_draft": _admin_finds_none(definition),
        "admin.preview_draft": _admin_finds_none(definition),
        "admin.editor_schemas": _admin_only(definition),
        # POST only (a GET is refused before sign-in): saving, checking, files, publishing.
        "admin.check_draft": _always(405), "admin.save_draft": _always(405),
        "admin.draft_files": _always(405), "admin.publish_draft": _always(405),
        "admin.activate_version": _always(405),
        "cases.notifications_read": _always(405), "cases.add_comment": _always(405),
        # Saving and deleting a list, watching a case: POST only (see test_inbox).
        "cases.save_list": _always(405), "cases.forget_list": _always(405),
        "cases.watch": _always(405),
        "reports.index": _admin_only(definition), "reports.download": _admin_only(definition),
        # A figure's cases: for report readers, and then only the cases they may read.
        "reports.cases": _figure_readers(definition),
        "operations.outbox": _admin_only(definition), "operations.dashboard": _always(200),
        "operations.retry": _always(405), "operations.resend": _always(405),
        # The customer's survey link needs no account; a made-up token finds nothing.
        "surveys.answer": _always(404), "surveys.thanks": _always(404),
        # The API authenticates by token only: a browser's session is not enough.
        "api.document": _always(200), "api.list_cases": _always(401),
        "api.read_case": _always(401), "api.start": _always(405), "api.act": _always(405),
        # One's own account: every signed-in user; its changes are POSTs.
        "account.password": _always(200), "account.sessions": _always(200),
        "account.preferences": _always(200), "account.end_session": _always(405),
        "account.end_others": _always(405),
        # Users and roles: the organisation's administrators; changes are POSTs.
        "admin.user_list": _admin_only(definition), "admin.user_new": _admin_only(definition),
        "admin.user_page": _admin_only(definition), "admin.user_roles": _always(405),
        "admin.user_disable": _always(405), "admin.user_password": _always(405),
        "admin.user_sign_out": _always(405),
        # Registers: the list of those one may read is everyone's; a register (and each of
        # its entries) is its readers' (404 for others, as a case); its forms its editors'.
        "registers.index": _always(200),
        # Scheduled work: everyone's page, showing the schedules of their registers and
        # processes only (none: says so).
        "schedules.scheduled": _always(200),
        "registers.entries": _register_readers(definition),
        "registers.entry": _register_readers(definition),
        "registers.history": _register_readers(definition),
        "registers.lookup": _register_readers(definition),
        "registers.new": _register_editors(definition),
        "registers.edit": _register_editors(definition),
        "registers.export": _register_readers(definition),
        "registers.import_sheet": _register_editors(definition),
        # Retention: for the roles a retention rule names and administrators; acting is a POST.
        "retention.index": _retention_deciders(definition), "retention.act": _always(405),
        # The registers' API, like the cases': a token only (a POST's URL answers its GET).
        "api.list_entries": _always(401), "api.read_entry": _always(401),
        "api.create_entry": _always(401), "api.update_entry": _always(401),
    }


def _retention_deciders(definition: DefinitionSet) -> Expect:
    rules = [item.retention for item in (*definition.processes.values(),
                                         *definition.registers.values())]
    allowed = {role for rule in rules if rule is not None for role in rule.roles} | set(
        definition.organisation.admin_roles)
    return lambda roles, _args: 200 if roles & allowed else 403


def _register_readers(definition: DefinitionSet) -> Expect:
    def expect(roles: frozenset[str], args: dict[str, str]) -> int:
        return 200 if definition.registers[args["register_id"]].may_read(roles) else 404
    return expect


def _register_editors(definition: DefinitionSet) -> Expect:
    def expect(roles: frozenset[str], args: dict[str, str]) -> int:
        register = definition.registers[args["register_id"]]
        if not register.may_read(roles):
            return 404
        return 200 if register.may_edit(roles) else 403
    return expect


#: Routes that do not send a stranger to sign in, and what they answer instead.
PUBLIC = {"auth.login": 200, "auth.language": 405, "auth.logout": 405,
          "surveys.answer": 404, "surveys.thanks": 404, "api.document": 200,
          "api.list_cases": 401, "api.read_case": 401, "api.start": 405, "api.act": 405,
          "cases.notifications_read": 405,  # POST only: a GET is refused before sign-in
          "operations.retry": 405, "operations.resend": 405, "cases.add_comment": 405,
          "cases.keep_report_form": 405, "admin.check_draft": 405, "admin.save_draft": 405,
          "admin.draft_files": 405, "admin.publish_draft": 405, "admin.activate_version": 405,
          # POST only: a GET is refused before sign-in.
          "account.end_session": 405, "account.end_others": 405, "admin.user_roles": 405,
          "admin.user_disable": 405, "admin.user_password": 405, "admin.user_sign_out": 405,
          "cases.save_list": 405, "cases.forget_list": 405, "cases.watch": 405,
          "api.list_entries": 401, "api.read_entry": 401, "api.create_entry": 401,
          "api.update_entry": 401, "retention.act": 405}


def _report_form(demo: Demo) -> dict[str, str]:
    """A regulatory report of the demo and the form its authority takes."""
    number = demo.number_in("regulatory_report", "drafting")
    jurisdiction = demo.runtime.service.read_case(number).case.values["jurisdiction"]
    form = {"cn": "nmpa_adverse_event", "us": "fda_3500a", "eu": "eu_mir"}[str(jurisdiction)]
    return {"number": number, "form_id": form}


def _urls(demo: Demo, definition: DefinitionSet) -> list[tuple[str, str, dict[str, str]]]:
    """(endpoint, url, arguments) for every route, with real arguments from the definitions."""
    number = demo.number_in("complaint", "approval")
    samples: dict[frozenset[str], list[dict[str, str]]] = {
        frozenset(): [{}],
        frozenset({"number"}): [{"number": number}],
        frozenset({"process_id", "step_id"}): [
            {"process_id": p.id, "step_id": s}
            for p in definition.processes.values() for s in p.starts],
        frozenset({"number", "step_id"}): [
            {"number": number, "step_id": s} for s in definition.process("complaint").steps],
        frozenset({"process_id"}): [{"process_id": p} for p in definition.processes],
        frozenset({"digest", "name"}): [{"digest": "0" * 64, "name": "missing.pdf"}],
        frozenset({"version"}): [{"version": definition.version}],
        frozenset({"report_id"}): [{"report_id": report} for report in definition.reports],
        frozenset({"message_id"}): [{"message_id": "1"}],
        frozenset({"number", "survey_id"}): [
            {"number": number, "survey_id": survey}
            for survey in definition.process("complaint").surveys],
        frozenset({"token"}): [{"token": "not-a-real-token"}],
        frozenset({"draft_id"}): [{"draft_id": "1"}],
        frozenset({"user_id"}): [{"user_id": _users(demo)[0].id}],
        frozenset({"list_id"}): [{"list_id": "1"}],
        frozenset({"number", "form_id"}): [_report_form(demo)],
        frozenset({"register_id"}): [{"register_id": r} for r in definition.registers],
        frozenset({"register_id", "key"}): [{"register_id": "installed_device",
                                             "key": DEVICE["serial"]}],
        frozenset({"process_id", "number", "step_id"}): [
            {"process_id": "complaint", "number": number,
             "step_id": next(iter(definition.process("complaint").steps))}],
    }
    found = []
    with demo.app.test_request_context():
        for rule in demo.app.url_map.iter_rules():
            if rule.endpoint == "static":
                continue
            arguments = frozenset(rule.arguments)
            assert arguments in samples, f"add sample arguments for {rule.rule} to the test"
            found += [(rule.endpoint, url_for(rule.endpoint, **args), args)
                      for args in samples[arguments]]
    return found


def test_every_route_sends_a_stranger_to_sign_in(demo: Demo, default_set: DefinitionSet
                                                 ) -> None:
    stranger = demo.clients[ANYONE]
    for endpoint, url, _args in _urls(demo, default_set):
        response = stranger.get(url)
        if endpoint in PUBLIC:
            assert response.status_code == PUBLIC[endpoint], url
            continue
        assert (response.status_code, response.headers.get("Location", "")[:13]) == (
            302, "/login?next=/"), url


def test_every_route_answers_every_role_as_its_rules_say(demo: Demo,
                                                         default_set: DefinitionSet) -> None:
    expectations = _expectations(default_set, demo)
    urls = _urls(demo, default_set)
    assert {e for e, _u, _a in urls} == set(expectations), "every route needs an expectation"
    wrong = []
    for user in _users(demo):
        client = demo.clients[user.id]
        for endpoint, url, args in urls:
            if endpoint == "cases.pdf" and user is not _users(demo)[0]:
                continue  # one PDF is enough: it is the same page for everyone
            expected = expectations[endpoint](frozenset(user.roles), args)
            got = client.get(url).status_code
            if got != expected:
                wrong.append((user.id, url, expected, got))
    assert wrong == []


# -- transitions × roles × states --------------------------------------------------------------

def _snapshot(demo: Demo) -> dict[str, tuple[int, int]]:
    """Each case's row version and number of audit entries."""
    service = demo.runtime.service
    numbers = [r.number for r in service.list_cases(
        demo.overseer, _filters_all(), per_page=500).rows]
    result = {}
    for number in numbers:
        found = service.read_case(number)
        result[number] = (found.case.row_version, len(found.events))
    return result


def _filters_all() -> object:
    from qmsflow.engine.persistence import Filters

    return Filters(open=None, mine=False)


@pytest.mark.slow
@pytest.mark.parametrize("process_id", ["complaint", "service_request"])
def test_every_transition_is_refused_to_each_role_and_state_that_may_not_take_it(
        demo: Demo, default_set: DefinitionSet, process_id: str) -> None:
    process: Process = default_set.process(process_id)
    before = _snapshot(demo)
    refused = 0
    for state in process.states:
        if (process_id, state) not in demo.summary.held:
            continue
        number = demo.number_in(process_id, state)
        version = str(before[number][0])
        for step in process.steps.values():
            for user in _users(demo):
                may = bool(set(user.roles) & set(step.roles)) and state in step.sources
                if may and not process.states[state].final:
                    continue  # allowed steps are taken in test_cases and the browser tests
                response = demo.clients[user.id].post(
                    f"/cases/{number}/do/{step.id}",
                    data={"row_version": version, "password": user.password or ""})
                # A case the user may not read is not found, whatever the step.
                readable = expected(demo.runtime.service, default_set, user.id, number).visible
                assert response.status_code == (422 if readable else 404), (
                    user.id, number, step.id)
                refused += 1
    assert refused > 100
    assert _snapshot(demo) == before  # nothing changed anywhere


# -- authority limits --------------------------------------------------------------------------

def _amounts(process: Process) -> list[Decimal]:
    """Every amount on, just below and just above each finite tier limit, and the largest."""
    limits = [t.limit for a in process.authorities.values() for t in a.tiers if t.limit]
    cent = Decimal("0.01")
    return sorted({a for limit in limits for a in (limit - cent, limit, limit + cent)}
                  | {Decimal(10_000_000)})


def _to_approval(world: World, amount: Decimal) -> str:
    number = to_investigation(world)
    steps = [
        ("quality", "report_investigation", {"investigated": True, "findings": "背光板虚焊",
                                             "root_cause": "回流焊温度偏低",
                                             "recall_needed": False}, PASSWORD),
        ("gm", "gm_instruct", {"gm_instructions": "同意调查结论。"}, PASSWORD),
        ("quality", "judge_responsibility", {"established": True, "responsible_department":
                                             "production", "cause": "production",
                                             "improvement_tracked": False}, None),
        ("technical", "propose_plan", {"countermeasure": "更换并补偿",
                                       "handling": ["replace", "compensate"],
                                       "compensation_amount": str(amount)}, None),
    ]
    for role, action, inputs, password in steps:
        world.service.apply_step(number, action, world.user(role), inputs, password=password)
    return number


@pytest.mark.slow
def test_an_approval_is_taken_exactly_by_the_roles_whose_limit_covers_the_amount(
        world: World, tmp_path: Path) -> None:
    app = make_app(world, tmp_path)
    process = world.definition.process("complaint")
    step = next(s for s in process.steps.values() if s.authority)
    matrix = process.authorities[step.authority or ""]
    clients = {}
    for role in world.definition.organisation.roles:
        clients[role] = app.test_client()
        clients[role].post("/login", data={"user_id": world.user(role), "password": PASSWORD})
    outcomes = []
    for amount in _amounts(process):
        for role in world.definition.organisation.roles:
            limits = [t.limit for t in matrix.tiers if t.role == role]
            covered = bool(limits) and any(limit is None or amount <= limit for limit in limits)
            allowed = covered and role in step.roles
            number = _to_approval(world, amount)
            version = world.service.read_case(number).case.row_version
            response = clients[role].post(f"/cases/{number}/do/{step.id}", data={
                "row_version": str(version), "password": PASSWORD})
            after = world.service.read_case(number).case
            outcomes.append((str(amount), role, response.status_code,
                             after.row_version != version))
            assert (response.status_code == 303) == allowed, (str(amount), role)
            assert (after.row_version != version) == allowed, (str(amount), role)
    assert any(taken for *_rest, taken in outcomes)
    app.extensions["qmsflow"].close()
