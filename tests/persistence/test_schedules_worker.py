"""Scheduled work from the command line: ``qmsflow schedules preview`` and ``run``, and the
worker killed with SIGKILL in the middle of opening cases, restarted, each occurrence opened
exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select

from qmsflow.cli import main
from qmsflow.engine.calendar import add_months
from qmsflow.engine.occurrences import occurrences
from qmsflow.engine.persistence import registers
from qmsflow.engine.persistence.models import CaseRow, ScheduledOccurrence

from ..conftest import DEFAULT_SET
from .conftest import Database, World
from .test_registers import CUSTOMER, DEVICE, PRODUCT
from .test_sweep import POSTGRESQL, QMSFLOW, WAIT, activity, wait_until


def run_cli(database: Database, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["schedules", *args], env={
        "DATABASE_URL": database.url, "QMSFLOW_DEFINITIONS": str(DEFAULT_SET)})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def seed(world: World, devices: list[dict[str, str]]) -> None:
    with world.database.sessions.begin() as session:
        registers.create(session, world.definition, "product", PRODUCT, world.clock())
        registers.create(session, world.definition, "customer", CUSTOMER, world.clock())
        for device in devices:
            registers.create(session, world.definition, "installed_device",
                             {**DEVICE, **device}, world.clock())


class TestSchedulesCommand:
    def test_preview_lists_a_month_of_visits_and_opens_nothing(self, world: World) -> None:
        seed(world, [{}, {"serial": "SN-0002", "acceptance_date": "2026-01-31"}])
        status, out, _ = run_cli(world.database, "preview", "--month", "2026-04",
                                 "--locale", "en")
        assert status == 0, out
        lines = out.splitlines()
        assert lines[0] == "scheduled work from 2026-04-01 to 2026-04-30:"
        assert ("2026-04-15  Maintenance visits  SN-0001  due 2026-04-15  Maintenance visit  "
                "would open") in lines
        # 31 January + 3 months: the month's last day.
        assert ("2026-04-30  Maintenance visits  SN-0002  due 2026-04-30  Maintenance visit  "
                "would open") in lines
        assert lines[-1] == "2 occurrence(s), 2 to open"
        with world.database.sessions() as session:
            assert session.execute(select(func.count()).select_from(CaseRow)).scalar_one() == 0

    def test_preview_without_a_month_lists_next_month(self, world: World) -> None:
        status, out, _ = run_cli(world.database, "preview")
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        first = add_months(today.replace(day=1), 1)
        assert status == 0, out
        assert out.splitlines()[0].startswith(f"scheduled work from {first.isoformat()} to ")

    def test_preview_of_a_month_that_does_not_exist_says_how_to_write_one(
            self, world: World) -> None:
        status, _, err = run_cli(world.database, "preview", "--month", "2026-13")
        assert status == 1
        assert "--month '2026-13' is not a month: write YYYY-MM, e.g. 2027-01" in err
        assert "Traceback" not in err

    def test_run_opens_what_is_due_today_and_a_second_run_nothing(self, world: World) -> None:
        seed(world, [recently_due(0)])
        status, out, _ = run_cli(world.database, "run")
        assert status == 0, out
        assert out.splitlines()[-1] == "schedules: 1 case(s) opened"
        assert out.splitlines()[0].startswith("HF-")
        status, out, _ = run_cli(world.database, "run")
        assert (status, out.splitlines()[-1]) == (0, "schedules: 0 case(s) opened")


def recently_due(index: int) -> dict[str, str]:
    """A device whose 3-month visit fell due about ten days ago on the real clock (the command
    and the worker run on it), in warranty."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    accepted = add_months(today, -3) - timedelta(days=10)
    return {"serial": f"SN-{index:05d}", "acceptance_date": accepted.isoformat(),
            "warranty_end": add_months(accepted, 12).isoformat()}


@pytest.mark.slow
@POSTGRESQL
def test_a_worker_killed_while_opening_cases_loses_none_and_the_restart_opens_each_once(
        world: World) -> None:
    devices = [recently_due(n) for n in range(400)]
    seed(world, devices)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    schedule = world.definition.schedules["maintenance_visits"]
    calendar = world.definition.calendars[world.definition.organisation.calendar]
    expected = occurrences(schedule, {d["serial"]: {
        "acceptance_date": date.fromisoformat(d["acceptance_date"]),
        "warranty_end": date.fromisoformat(d["warranty_end"])} for d in devices},
        calendar, today - timedelta(days=30), today)
    assert len(expected) == 400  # one visit due per device

    url = world.database.url + "?application_name=killed_worker"
    env = {**os.environ, "DATABASE_URL": url, "QMSFLOW_DEFINITIONS": str(DEFAULT_SET)}
    command = [str(QMSFLOW) if QMSFLOW.exists() else sys.executable, "worker", "--once"]
    if not QMSFLOW.exists():
        command[1:1] = ["-m", "qmsflow.cli"]
    watcher = create_engine(world.database.url)

    def recorded() -> int:
        with watcher.connect() as connection:
            return connection.execute(select(func.count()).select_from(ScheduledOccurrence)
                                      ).scalar_one()

    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as killed:
        try:
            wait_until(lambda: recorded() > 0 or killed.poll() is not None,
                       "the worker opens its first scheduled case")
            killed.send_signal(signal.SIGKILL)
        finally:
            killed.wait(WAIT)
        assert killed.returncode == -signal.SIGKILL, killed.stderr.read() if killed.stderr else ""
    wait_until(lambda: activity(world.database, "application_name = 'killed_worker'") == 0,
               "the server drops the killed worker's connection")
    before = recorded()
    watcher.dispose()
    assert 0 < before < 400, "killed too late to be a test: seed more devices"
    with world.database.sessions() as session:
        visits = session.execute(select(func.count()).select_from(CaseRow).where(
            CaseRow.process == "maintenance_visit")).scalar_one()
    assert visits == before  # every case has its occurrence, and no occurrence lacks its case

    restarted = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600,
                               check=False)
    assert restarted.returncode == 0, restarted.stderr
    with world.database.sessions() as session:
        opened = session.execute(select(ScheduledOccurrence.entry_key, ScheduledOccurrence.due_on,
                                        ScheduledOccurrence.case_number)).all()
        cases = session.execute(select(CaseRow.number, CaseRow.values).where(
            CaseRow.process == "maintenance_visit")).all()
    assert sorted((key, due) for key, due, _ in opened) == sorted(
        (o.key, o.due) for o in expected)
    assert sorted(number for _, _, number in opened) == sorted(number for number, _ in cases)
    assert sorted(values["installed_device"] for _, values in cases) == sorted(
        d["serial"] for d in devices)
