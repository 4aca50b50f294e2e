"""``seed``: bring the database up to date and fill an empty one with demo accounts and cases,
then sum up what rests where and how the deadlines of open cases stand."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import click
from argon2 import PasswordHasher

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import overview, schema, versions

from ..runtime import Runtime
from .entries import add_entries
from .people import (
    DEMO_BY,
    DEMO_HASHER,
    DemoUser,
    PasswordFor,
    add_people,
    demo_password,
    demo_people,
    listed_users,
)
from .replay import Seeder, last_month_rest, replay_all
from .scenarios import read_scenarios, scenario_files

STANDINGS = ("overdue", "due soon", "on time")


@dataclass
class DemoSummary:
    """What ``seed`` found or did, for the command to print and the tests to check."""

    seeded: bool  # False: the database already held cases, nothing was added
    users: list[DemoUser]
    cases: int  # cases in the database (not voided)
    held: dict[tuple[str, str], int]  # (process, state) -> cases resting there
    unreached: list[tuple[str, str]]  # (process, state) no case rests in
    # open cases by their most pressing running clock: overdue, due soon, on time
    standings: dict[str, int] = field(default_factory=dict)
    published: bool = False  # the served version was stored by this run
    replays: int = 0
    entries: int = 0  # demo register entries added
    skipped: list[str] = field(default_factory=list)  # scenarios not replayed, and why
    stopped: list[str] = field(default_factory=list)  # replays a refusal ended early
    seconds: float = 0.0

    def login(self, definition: DefinitionSet) -> DemoUser | None:
        """The account to suggest: one holding only an administering role, if there is one."""
        admin = set(definition.organisation.admin_roles)
        usable = [u for u in self.users if u.password]
        return (next((u for u in usable if len(u.roles) == 1 and u.roles[0] in admin), None)
                or next((u for u in usable if admin & set(u.roles)), None)
                or next(iter(usable), None))


def all_states(definition: DefinitionSet) -> list[tuple[str, str]]:
    """Every (process, state) of the set, in definition order."""
    return [(process.id, state) for process in definition.processes.values()
            for state in process.states]


def count_cases(rt: Runtime) -> int:
    """How many cases the database holds, voided ones included."""
    with rt.sessions() as session:
        return overview.case_count(session)


def _report(rt: Runtime, definition: DefinitionSet, summary: DemoSummary,
            now: datetime) -> None:
    """Fill in what rests where, and how the running clocks of open cases stand at now."""
    with rt.sessions() as session:
        summary.held = overview.states_held(session)
        clocks = overview.running_deadlines(session)
    summary.cases = sum(summary.held.values())
    summary.unreached = [s for s in all_states(definition) if s not in summary.held]
    worst: dict[int, int] = {}  # case -> index in STANDINGS of its most pressing clock
    for case_id, due_at, warn_at in clocks:
        standing = 0 if now >= due_at else 1 if warn_at and now >= warn_at else 2
        worst[case_id] = min(standing, worst.get(case_id, standing))
    counts = Counter(worst.values())
    summary.standings = {name: counts[index] for index, name in enumerate(STANDINGS)}


def seed(runtime: Runtime, now: datetime, password_for: PasswordFor | None = None, *,
         quiet: bool = False, scenarios: Sequence[Path] | None = None,
         hasher: PasswordHasher | None = None) -> DemoSummary:
    """Bring the database up to date and, when it holds no case yet, fill it with demo data.

    Upgrades the schema, publishes the served set unless its version is stored, then (only on
    a database without cases) adds the demo accounts and replays the scenarios (``scenarios``:
    default :func:`scenario_files`) to end shortly before ``now``. ``password_for`` gives each
    account's password (default :func:`demo_password`); ``hasher`` hashes them (default the
    light DEMO_HASHER). ``quiet`` prints nothing. Running it again adds nothing.
    """
    started = time.perf_counter()
    say: Callable[[str], None] = (lambda _line: None) if quiet else click.echo
    password_for = password_for or demo_password
    hasher = hasher or DEMO_HASHER
    definition = runtime.definition
    skipped: list[str] = []
    files = scenario_files(runtime.definitions_path) if scenarios is None else scenarios
    found = read_scenarios(definition, runtime.definitions_path, files, skipped)
    people, mapping = demo_people(definition, found)
    schema.upgrade(runtime.engine)
    empty = count_cases(runtime) == 0
    # Demo history happens before now: the version and the accounts are recorded as made before
    # the earliest replayed step, so no case predates what it ran on or who worked it.
    longest = max((s.times[-1] - s.times[0] for s in found), default=timedelta(0))
    setup_at = now - last_month_rest(now) - longest - timedelta(days=2) if empty else now
    with runtime.sessions.begin() as session:
        published = versions.store(session, definition, runtime.definitions_path, setup_at,
                                   DEMO_BY, "demo")
    if published:
        say(f"published {definition.id} version {definition.version[:12]}")
    summary = DemoSummary(empty, [], 0, {}, [], published=published, skipped=skipped)
    if empty:
        add_people(runtime, definition, people, password_for, hasher, setup_at)
        summary.entries = add_entries(runtime, definition, setup_at, say)
        seeder = Seeder(runtime, definition, now, password_for, hasher, mapping)
        replay_all(seeder, found, all_states(definition), say)
        summary.replays = seeder.replays
        summary.stopped = seeder.stopped
    summary.users = listed_users(runtime, people, password_for)
    _report(runtime, definition, summary, now)
    summary.seconds = time.perf_counter() - started
    return summary
