"""``qmsflow demo``: demo accounts and cases from the definitions and the bundled scenarios."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from qmsflow.cli.demo import cli as demo
from qmsflow.engine.cases import Case
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import audit, registers, reports
from qmsflow.engine.persistence.models import AuditEvent, CaseRow, SignatureRow, User
from qmsflow.engine.persistence.users import MIN_PASSWORD
from qmsflow.engine.scenario import run
from qmsflow.web import create_app
from qmsflow.web.demo import DemoSummary, demo_password, seed
from qmsflow.web.runtime import Runtime

from ..conftest import DEFAULT_SET, SCENARIOS
from ..persistence.conftest import CHEAP, _admin, pg_url, postgresql_reachable

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 2 March 2026, 10:00 in Shanghai


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, default_set: DefinitionSet
           ) -> Iterator[tuple[Runtime, DemoSummary]]:
    """One demo database seeded on a fixed clock, shared by the checks below."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    runtime = Runtime(f"sqlite:///{path}", DEFAULT_SET, clock=lambda: NOW, hasher=CHEAP,
                      compiled=default_set)
    summary = seed(runtime, NOW, quiet=True, hasher=CHEAP)
    yield runtime, summary
    runtime.close()


def _count(runtime: Runtime, what: type) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count()).select_from(what)).scalar_one())


def _reached_by_scenarios() -> set[tuple[str, str]]:
    """Every (process, state) a bundled scenario on the default set leaves a case in, per the
    pure engine."""
    reached: set[tuple[str, str]] = set()

    def keep(_definition: DefinitionSet, case: Case) -> Case:
        reached.add((case.process, case.state))
        return case

    for file in SCENARIOS:
        if "../definitions/default" in file.read_text(encoding="utf-8"):
            run(file, keep)
    return reached


def test_seeding_a_fresh_database_creates_one_user_per_role(
        seeded: tuple[Runtime, DemoSummary], default_set: DefinitionSet) -> None:
    _, summary = seeded
    assert summary.seeded
    single = {u.roles[0] for u in summary.users if len(u.roles) == 1}
    assert single == set(default_set.organisation.roles)
    assert len({u.id for u in summary.users}) == len(summary.users)
    assert len({u.name for u in summary.users}) == len(summary.users)


def test_scenario_users_with_several_roles_get_a_combined_role_account(
        seeded: tuple[Runtime, DemoSummary]) -> None:
    _, summary = seeded
    assert any(len(u.roles) > 1 for u in summary.users)


def test_names_are_in_the_style_of_the_first_locale(
        seeded: tuple[Runtime, DemoSummary]) -> None:
    _, summary = seeded
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", u.name) for u in summary.users)


def test_every_user_can_authenticate_with_the_printed_password(
        seeded: tuple[Runtime, DemoSummary]) -> None:
    runtime, summary = seeded
    for user in summary.users:
        assert user.password is not None and len(user.password) >= MIN_PASSWORD
        assert user.password == demo_password(user.id)
        assert runtime.service.authenticate(user.id, user.password).id == user.id


@pytest.mark.slow
def test_every_state_a_scenario_reaches_holds_a_case(
        seeded: tuple[Runtime, DemoSummary], default_set: DefinitionSet) -> None:
    runtime, summary = seeded
    reached = _reached_by_scenarios()
    with runtime.sessions() as session:
        held = {(process, state) for process, state in
                session.execute(select(CaseRow.process, CaseRow.state))}
    assert reached <= held
    everything = {(p.id, s) for p in default_set.processes.values() for s in p.states}
    assert set(summary.unreached) == everything - held
    assert summary.cases == _count(runtime, CaseRow)


def test_replays_are_not_stopped_by_refusals(seeded: tuple[Runtime, DemoSummary]) -> None:
    _, summary = seeded
    assert summary.stopped == []
    assert summary.skipped == []


def test_signed_steps_are_signed_with_the_password(seeded: tuple[Runtime, DemoSummary]) -> None:
    runtime, _ = seeded
    assert _count(runtime, SignatureRow) > 10


def test_the_audit_trail_verifies(seeded: tuple[Runtime, DemoSummary]) -> None:
    runtime, _ = seeded
    with runtime.sessions() as session:
        count, breaks = audit.verify(session)
    assert count > 100
    assert breaks == []


def test_the_demo_history_ends_before_now_with_deadlines_in_every_standing(
        seeded: tuple[Runtime, DemoSummary]) -> None:
    runtime, summary = seeded
    with runtime.sessions() as session:
        first_case = session.execute(select(func.min(CaseRow.created_at))).scalar_one()
        last = session.execute(select(func.max(AuditEvent.at))).scalar_one()
        oldest_user = session.execute(select(func.max(User.created_at))).scalar_one()
    assert last <= NOW
    assert oldest_user < first_case  # accounts exist before anyone works a case
    assert summary.standings["overdue"] > 0
    assert summary.standings["on time"] > 0


def test_a_second_seed_adds_nothing(seeded: tuple[Runtime, DemoSummary]) -> None:
    runtime, first = seeded
    before = [_count(runtime, table) for table in (CaseRow, User, AuditEvent)]
    again = seed(runtime, NOW, quiet=True, hasher=CHEAP)
    assert not again.seeded
    assert [_count(runtime, table) for table in (CaseRow, User, AuditEvent)] == before
    assert again.users == first.users
    assert again.held == first.held


def test_a_demo_user_signs_in_and_sees_demo_cases_in_the_inbox(
        seeded: tuple[Runtime, DemoSummary], default_set: DefinitionSet, tmp_path: Path) -> None:
    runtime, summary = seeded
    login = summary.login(default_set)
    assert login is not None and login.password is not None
    app = create_app({
        "TESTING": True, "SECRET_KEY": "test-secret", "DATABASE_URL": str(runtime.engine.url),
        "DEFINITIONS": str(DEFAULT_SET), "COMPILED": default_set, "CLOCK": lambda: NOW,
        "HASHER": CHEAP, "WTF_CSRF_ENABLED": False, "UPLOAD_FOLDER": str(tmp_path)})
    try:
        client = app.test_client()
        signed_in = client.post("/login", data={"user_id": login.id,
                                                "password": login.password})
        assert signed_in.status_code == 302
        inbox = client.get("/")
        assert inbox.status_code == 200
        with runtime.sessions() as session:
            numbers = set(session.execute(select(CaseRow.number)).scalars())
        assert any(number in inbox.get_data(as_text=True) for number in numbers)
    finally:
        app.extensions["qmsflow"].close()


def test_demo_passwords_are_stable_and_never_contain_the_id() -> None:
    for user_id in ("gm", "sales", "quality.manager", "amber", "x1"):
        password = demo_password(user_id)
        assert password == demo_password(user_id)
        assert user_id not in password
        assert len(password) >= MIN_PASSWORD


# -- the command -------------------------------------------------------------------------------

def _env(url: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "QMSFLOW_DEFINITIONS": str(DEFAULT_SET)}


@pytest.mark.slow
def test_the_command_seeds_prints_the_url_and_a_login_and_adds_nothing_the_second_time(
        tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    result = CliRunner().invoke(demo, ["--no-serve", "--port", "5055"], env=env)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5055/" in result.output
    login = re.search(r"try: (\S+) / (\S+), a quality manager who can see the administration",
                      result.output)
    assert login is not None, result.output
    assert login.group(2) == demo_password(login.group(1))
    assert "demo data added" in result.output

    again = CliRunner().invoke(demo, ["--no-serve"], env=env)
    assert again.exit_code == 0, again.output
    assert "already there" in again.output
    assert f"try: {login.group(1)} / {login.group(2)}" in again.output

    fresh = CliRunner().invoke(demo, ["--no-serve", "--fresh"], env=env)
    assert fresh.exit_code == 0, fresh.output
    assert "demo data added" in fresh.output


@pytest.mark.slow
def test_the_command_serves_the_seeded_instance_database(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(Flask, "run", lambda _app, host, port: served.append((host, port)))
    env = {"DATABASE_URL": None, "QMSFLOW_INSTANCE": str(tmp_path / "instance"),
           "QMSFLOW_DEFINITIONS": str(DEFAULT_SET)}
    result = CliRunner().invoke(demo, ["--host", "0.0.0.0", "--port", "8080"], env=env)
    assert result.exit_code == 0, result.output
    assert served == [("0.0.0.0", 8080)]
    assert (tmp_path / "instance" / "qmsflow.sqlite3").is_file()


def test_an_unreachable_database_is_one_line_and_exit_1() -> None:
    result = CliRunner().invoke(demo, ["--no-serve"],
                                env=_env("postgresql://nobody@127.0.0.1:1/none"))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: cannot use the database")
    assert len(result.output.strip().splitlines()) == 1


def test_a_broken_definition_set_is_reported_without_a_traceback(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
           "QMSFLOW_DEFINITIONS": str(tmp_path / "missing")}
    result = CliRunner().invoke(demo, ["--no-serve"], env=env)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "no such definition folder" in result.output


@pytest.mark.slow
def test_fresh_refuses_a_postgresql_database_that_holds_cases() -> None:
    if not postgresql_reachable():
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    name = f"qmsflow_demo_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    try:
        env = _env(pg_url(name))
        first = CliRunner().invoke(demo, ["--no-serve", "--fresh"], env=env)  # empty: fine
        assert first.exit_code == 0, first.output
        refused = CliRunner().invoke(demo, ["--no-serve", "--fresh"], env=env)
        assert refused.exit_code == 1
        assert "already holds cases" in refused.output
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_last_months_reports_have_closed_cases_to_count(
        seeded: tuple[Runtime, DemoSummary], default_set: DefinitionSet) -> None:
    runtime, _ = seeded
    previous = reports.month(NOW.year, NOW.month - 1)  # February 2026
    for result in reports.run_reports(runtime.sessions, default_set, previous):
        assert result.total.count > 0, result.report
    # Not only the cases of the last days: a whole history closes in the middle of the month.
    with runtime.sessions() as session:
        mid_month = session.execute(select(func.count()).select_from(CaseRow).where(
            CaseRow.closed_at >= datetime(2026, 2, 1, tzinfo=UTC),
            CaseRow.closed_at < datetime(2026, 2, 20, tzinfo=UTC))).scalar_one()
    assert mid_month >= 10


def test_the_demo_fills_every_register_from_the_sets_data_file(
        seeded: tuple[Runtime, DemoSummary], default_set: DefinitionSet) -> None:
    runtime, summary = seeded
    with runtime.sessions() as session:
        found = {register: registers.search(session, default_set, register).total
                 for register in default_set.registers}
        device = registers.get(session, default_set, "installed_device", "SN-8000-0001")
    assert summary.entries == 8
    assert found == {"customer": 1, "product": 1, "installed_device": 3, "loaner": 2,
                     "spare_part": 1}
    assert (device.values["product"], device.values["customer"]) == ("PM-8000", "C-0101")
