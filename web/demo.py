"""``qmsflow demo``: a database full of example cases to look around in, and the server on it.

The demo data comes from the definitions and the bundled scenarios, never from names written
here: one account per role of the organisation (plus the combined-role people the scenarios
need), and cases made by replaying each scenario that runs on the served set through the case
service, so the audit trail, the signatures and the deadline clocks are the real thing. Each
replay is moved in time to end shortly before now (date and time inputs move with it); prefixes
of the scenarios are replayed too, so that cases rest in every state a scenario reaches.
"""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from argon2 import PasswordHasher

from qmsflow.engine.machine import Refused
from qmsflow.engine.model import DefinitionSet, Process, text
from qmsflow.engine.persistence import audit, overview, schema, users, versions
from qmsflow.engine.persistence.db import DatabaseUrlError, database_url, shown_url
from qmsflow.engine.persistence.models import User
from qmsflow.engine.persistence.overview import SchemaUpgradeError
from qmsflow.engine.persistence.service import CaseService, NotFound, utc_now
from qmsflow.engine.persistence.store import Conflict
from qmsflow.engine.schemas import validate
from qmsflow.engine.yamlsource import read_yaml

from .admin_cli import CommandError, friendly, runtime
from .app import ConfigurationError, create_app
from .runtime import Runtime

PasswordFor = Callable[[str], str]

DEMO_BY = audit.By(None, "qmsflow demo")

# Demo accounts are hashed with a light argon2 profile (about 1 ms instead of about 0.3 s per
# hash on a small machine), so seeding signs some 80 steps in seconds. The web application
# re-hashes each one with the full parameters at its first sign-in (users.authenticate).
DEMO_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# How long before now each replay ends, in turn: fresh, a few days old, more than a week old.
# With deadlines of hours (service) to working days (complaints) that leaves some open cases
# comfortable, some due soon and some overdue.
RESTS = (timedelta(hours=2), timedelta(days=2), timedelta(days=6))

STANDINGS = ("overdue", "due soon", "on time")

# Two words and a number make a password people can read off the screen and type.
_WORDS = (
    "amber", "aspen", "birch", "brook", "cedar", "coral", "delta", "dune", "ember", "fern",
    "fjord", "glade", "grove", "harbor", "heath", "iris", "jade", "kelp", "lotus", "maple",
    "meadow", "nova", "opal", "pine", "quartz", "reef", "sage", "tide", "umber", "vale",
    "willow", "zephyr",
)

# Printed names for accounts no scenario names, in the style of the organisation's first locale.
_CHINESE_NAMES = ("刘洋", "黄磊", "杨丽", "徐静", "马超", "朱琳", "胡军", "郭敏", "高峰", "罗娟",
                  "梁勇", "宋佳", "唐宁", "韩雪", "冯涛", "曹颖")
_ENGLISH_NAMES = ("Alex Morgan", "Sam Taylor", "Jordan Lee", "Casey Brown", "Robin Clarke",
                  "Jamie Walker", "Morgan Hughes", "Taylor Evans", "Drew Parker", "Kim Harris",
                  "Chris Wood", "Pat Kelly", "Lee Turner", "Jo Bennett", "Max Fisher",
                  "Ash Cooper")


def demo_password(user_id: str) -> str:
    """The demo password of ``user_id``: two words and a number picked by SHA-256 of the id.

    Deterministic on purpose: every run of ``qmsflow demo`` (and every machine) prints the same
    passwords again without storing them anywhere but as argon2 hashes. They are therefore
    public, which is acceptable only because this is demo data in a local database; ``users.add``
    refuses a password that contains the id, so ``demo-<id>`` style passwords would not do.
    """
    for attempt in range(100):
        digest = hashlib.sha256(f"qmsflow demo {attempt} {user_id}".encode()).digest()
        password = (f"{_WORDS[digest[0] % len(_WORDS)]}-{_WORDS[digest[1] % len(_WORDS)]}-"
                    f"{10 + digest[2] % 90}")
        if user_id.lower() not in password:
            return password
    raise users.UserError(f"no demo password fits the user id {user_id!r}")  # pragma: no cover


@dataclass(frozen=True)
class DemoUser:
    """A demo account; ``password`` is None when it is no longer the demo one."""

    id: str
    name: str
    roles: tuple[str, ...]
    password: str | None


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


# -- scenarios and people ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Scenario:
    """A bundled scenario as the demo replays it."""

    file: Path
    data: Mapping[str, Any]
    times: tuple[datetime, ...]  # when each step happens, as written

    @property
    def steps(self) -> Sequence[Mapping[str, Any]]:
        return self.data["steps"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Person:
    id: str
    name: str
    roles: tuple[str, ...]


def _moment(text_value: str) -> datetime:
    moment = datetime.fromisoformat(text_value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text_value!r} has no UTC offset")
    return moment


def _timeline(data: Mapping[str, Any]) -> tuple[datetime, ...]:
    """When each step happens, the way the scenario runner counts it."""
    now = _moment(data["start"])
    times = []
    for step in data["steps"]:
        if "at" in step:
            now = _moment(step["at"])
        if "advance" in step:
            span = step["advance"]
            now += timedelta(days=span.get("days", 0), hours=span.get("hours", 0),
                             minutes=span.get("minutes", 0))
        times.append(now)
    return tuple(times)


def scenario_files(definitions: Path) -> list[Path]:
    """Scenario files that may run on the set at ``definitions``: ``scenarios/`` folders beside
    it or beside any folder above it (the repository layout), and under the current folder."""
    folders = [parent / "scenarios" for parent in definitions.resolve().parents]
    folders.append(Path("scenarios").resolve())
    seen: dict[Path, None] = {}
    for folder in folders:
        if folder.is_dir():
            for file in sorted(folder.glob("*.yaml")):
                seen.setdefault(file.resolve(), None)
    return list(seen)


def _scenarios(definition: DefinitionSet, root: Path, files: Sequence[Path],
               skipped: list[str]) -> list[_Scenario]:
    """The scenarios among ``files`` that name the served set, checked like ``simulate`` does."""
    found = []
    served = root.resolve()
    known_roles = set(definition.organisation.roles)
    for file in files:
        data, problems = read_yaml(file, file.name)
        if data is None or problems or data.get("kind") != "scenario":
            continue  # not a scenario, or a broken one: 'qmsflow simulate' reports those
        if (file.parent / str(data.get("definitions", ""))).resolve() != served:
            continue  # written for another definition set
        if validate("scenario", data):
            skipped.append(f"{file.name}: not a valid scenario (see 'qmsflow simulate')")
            continue
        unknown = {r for u in data["users"] for r in u["roles"]} - known_roles
        if unknown:
            skipped.append(f"{file.name}: roles {', '.join(sorted(unknown))} are not in the "
                           "organisation")
            continue
        try:
            found.append(_Scenario(file, data, _timeline(data)))
        except (ValueError, TypeError) as error:
            skipped.append(f"{file.name}: {error}")
    return found


def _user_id(roles: Sequence[str], occurrence: int) -> str:
    """A short id from the role ids (``a_b`` -> ``a.b``; several roles joined by ``-``)."""
    base = "-".join(role.replace("_", ".") for role in roles).lower()
    base = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in base)
    if not base[:1].isalpha():
        base = "u" + base
    return (base if occurrence == 1 else f"{base}{occurrence}")[:100]


def _people(definition: DefinitionSet, scenarios: Sequence[_Scenario]
            ) -> tuple[list[_Person], dict[tuple[Path, str], str]]:
    """One person per role, then one per role combination (and per second holder of the same
    roles within one scenario, so separation of duties still holds); the map from each
    scenario user to their demo account."""
    org = definition.organisation
    order = {role: index for index, role in enumerate(org.roles)}
    keys: list[tuple[tuple[str, ...], int]] = [((role,), 1) for role in org.roles]
    names: dict[tuple[tuple[str, ...], int], list[str]] = {}
    mapping: dict[tuple[Path, str], tuple[tuple[str, ...], int]] = {}
    for scenario in scenarios:
        seen: Counter[tuple[str, ...]] = Counter()
        for user in scenario.data["users"]:
            roles = tuple(sorted(set(user["roles"]), key=order.__getitem__))
            seen[roles] += 1
            key = (roles, seen[roles])
            if key not in keys:
                keys.append(key)
            names.setdefault(key, []).append(str(user["name"]))
            mapping[(scenario.file, str(user["id"]))] = key
    chinese = org.locales[0].lower().startswith("zh")
    pool = iter(_CHINESE_NAMES if chinese else _ENGLISH_NAMES)
    used: set[str] = set()
    people: list[_Person] = []
    for roles, occurrence in keys:
        name = next((n for n in names.get((roles, occurrence), []) if n not in used), None)
        name = name or next((n for n in pool if n not in used), None)
        if name is None:  # more accounts than names: the role's label, numbered
            name = f"{text(org.roles[roles[0]].label, org.locales[0])} {len(people) + 1}"
        used.add(name)
        people.append(_Person(_user_id(roles, occurrence), name, roles))
    ids = {key: person.id for key, person in zip(keys, people, strict=True)}
    return people, {user: ids[key] for user, key in mapping.items()}


# -- replaying ----------------------------------------------------------------------------------

class _Clock:
    """The seeding service's clock: set to each step's (shifted) time before the step."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class _Stop(Exception):
    """A replay cannot go on: a step names an actor or a case the replay does not know."""


def _shift_inputs(process: Process, inputs: Mapping[str, Any], shift: timedelta,
                  people: Mapping[str, str]) -> dict[str, Any]:
    """The step's inputs with dates and times moved like the replay, user fields mapped to
    demo accounts. A value that does not parse is left for the engine to refuse clearly."""
    moved: dict[str, Any] = {}
    for name, value in inputs.items():
        spec = process.fields.get(name)
        kind = spec.type if spec else None
        try:
            if kind == "datetime" and isinstance(value, str):
                value = (_moment(value) + shift).isoformat()
            elif kind == "date" and isinstance(value, str):
                value = (date.fromisoformat(value) + timedelta(days=shift.days)).isoformat()
        except ValueError:
            pass
        if kind == "user" and isinstance(value, str):
            value = people.get(value, value)
        moved[name] = value
    return moved


class _Seeder:
    """Replays scenarios through a case service whose clock it moves."""

    def __init__(self, rt: Runtime, definition: DefinitionSet, now: datetime,
                 password_for: PasswordFor, hasher: PasswordHasher,
                 people: Mapping[tuple[Path, str], str]) -> None:
        self.clock = _Clock(now)
        self.now = now
        self.definition = definition
        self.password_for = password_for
        self.people = people
        self.sessions = rt.sessions
        self.service = CaseService(rt.sessions, versions.Versions(), definition, self.clock,
                                   hasher)
        self.stopped: list[str] = []
        self.replays = 0

    def shift(self, scenario: _Scenario, length: int, rest: timedelta) -> timedelta:
        """How far to move a replay so that step ``length`` ends ``rest`` before now.

        A rest under a day is kept to the minute, so cases on hour-scale deadlines come out
        due soon or on time; longer rests move by whole days (ending at least ``rest`` before
        now), so the times of day stay as written."""
        end = max(scenario.times[:length])  # scenarios may step back in time with "at"
        unit = timedelta(minutes=1) if rest < timedelta(days=1) else timedelta(days=1)
        return unit * math.floor((self.now - rest - end) / unit)

    def replay(self, scenario: _Scenario, length: int, rest: timedelta
               ) -> list[frozenset[tuple[str, str]]]:
        """Take the first ``length`` steps; after each, the (process, state) of its cases."""
        self.replays += 1
        shift = self.shift(scenario, length, rest)
        labels: dict[str, tuple[str, str]] = {}  # label -> (number, process)
        current: list[str | None] = [None]
        held: list[frozenset[tuple[str, str]]] = []
        for index, step in enumerate(scenario.steps[:length]):
            if "refused" in step.get("expect", {}):
                held.append(held[-1] if held else frozenset())
                continue  # the scenario shows a refusal: nothing to store
            self.clock.now = scenario.times[index] + shift
            try:
                self._step(scenario, step, shift, labels, current)
            except (Refused, users.UserError, NotFound, Conflict, KeyError, _Stop) as error:
                what = step.get("open") or step.get("do") or "sweep"
                self.stopped.append(f"{scenario.file.name} step {index + 1} ({what}): "
                                    f"{str(error).strip(chr(34))}")
                break
            held.append(self._states([number for number, _ in labels.values()]))
        return held

    def _step(self, scenario: _Scenario, step: Mapping[str, Any], shift: timedelta,
              labels: dict[str, tuple[str, str]], current: list[str | None]) -> None:
        people = {user: demo for (file, user), demo in self.people.items()
                  if file == scenario.file}
        label = step.get("case") or current[0]
        if step.get("escalate"):
            number, _ = self._labelled(labels, label)
            outcome = self.service.escalate_case(number)
            if any(event.kind == "open_case" for event in outcome.events):
                self._links(self.service.read_case(number).case.links, labels)
            current[0] = label
            return
        actor = people.get(str(step.get("actor")))
        if actor is None:
            raise _Stop(f"unknown actor {step.get('actor')!r}")
        sign = step.get("sign")
        password = self.password_for(actor) if sign else None
        meaning = sign if isinstance(sign, str) else None
        if "open" in step:
            process = step.get("process") or next(iter(self.definition.processes))
            inputs = _shift_inputs(self.definition.process(process), step.get("inputs", {}),
                                   shift, people)
            case = self.service.create_case(process, step["open"], actor, inputs,
                                            password=password, meaning=meaning,
                                            reason=step.get("reason"), client="demo")
            label = step.get("as") or case.number
            labels[label] = (case.number, case.process)
        else:
            number, process = self._labelled(labels, label)
            inputs = _shift_inputs(self.definition.process(process), step.get("inputs", {}),
                                   shift, people)
            case = self.service.apply_action(number, step["do"], actor, inputs,
                                             password=password, meaning=meaning,
                                             reason=step.get("reason"), client="demo")
        self._links(case.links, labels)
        current[0] = label

    @staticmethod
    def _labelled(labels: Mapping[str, tuple[str, str]], label: str | None) -> tuple[str, str]:
        if label is None or label not in labels:
            raise _Stop(f"no case {label!r} yet")
        return labels[label]

    @staticmethod
    def _links(links: Sequence[Any], labels: dict[str, tuple[str, str]]) -> None:
        """Linked cases are known by their relation, as in the scenario runner."""
        known = {number for number, _ in labels.values()}
        for link in links:
            if link.number not in known:  # the source holds '<relation>:reverse'
                labels[link.relation.removesuffix(":reverse")] = (link.number, link.process)

    def _states(self, numbers: Sequence[str]) -> frozenset[tuple[str, str]]:
        with self.service.transaction() as session:
            return overview.states_of(session, numbers)

    def sweep(self) -> None:
        """Run the deadline sweep over every open case at now, as the scheduled sweep would
        have: overdue cases carry their warning and breach actions."""
        self.clock.now = self.now
        with self.service.transaction() as session:
            numbers = overview.open_numbers(session)
        for number in numbers:
            self.service.escalate_case(number)


def _prefixes(scenarios: Sequence[_Scenario], runs: Sequence[list[frozenset[tuple[str, str]]]],
              wanted: Sequence[tuple[str, str]], covered: set[tuple[str, str]]
              ) -> list[tuple[_Scenario, int]]:
    """The shortest scenario prefixes that leave a case in each state not yet covered."""
    chosen: list[tuple[_Scenario, int]] = []
    for state in wanted:
        if state in covered:
            continue
        options = [(length, index) for index, held in enumerate(runs)
                   for length, states in enumerate(held, start=1) if state in states]
        if not options:
            continue
        length, index = min(options)
        chosen.append((scenarios[index], length))
        covered |= runs[index][length - 1]
    return chosen


# -- seeding -----------------------------------------------------------------------------------

def _all_states(definition: DefinitionSet) -> list[tuple[str, str]]:
    return [(process.id, state) for process in definition.processes.values()
            for state in process.states]


def _count_cases(rt: Runtime) -> int:
    with rt.sessions() as session:
        return overview.case_count(session)


def _listed(rt: Runtime, people: Sequence[_Person], password_for: PasswordFor
            ) -> list[DemoUser]:
    """The demo accounts in the database; a password only while it was never changed (so no
    argon2 work is needed to tell)."""
    with rt.sessions() as session:
        found = overview.users_by_id(session, [p.id for p in people])
    listed = []
    for person in people:
        user = found.get(person.id)
        if user is None or user.disabled:
            continue
        unchanged = user.password_changed_at == user.created_at
        listed.append(DemoUser(user.id, user.name, tuple(user.roles),
                               password_for(user.id) if unchanged else None))
    return listed


def _report(rt: Runtime, definition: DefinitionSet, summary: DemoSummary,
            now: datetime) -> None:
    """Fill in what rests where, and how the running clocks of open cases stand at now."""
    with rt.sessions() as session:
        summary.held = overview.states_held(session)
        clocks = overview.running_deadlines(session)
    summary.cases = sum(summary.held.values())
    summary.unreached = [s for s in _all_states(definition) if s not in summary.held]
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
    found = _scenarios(definition, runtime.definitions_path, files, skipped)
    people, mapping = _people(definition, found)
    schema.upgrade(runtime.engine)
    empty = _count_cases(runtime) == 0
    # Demo history happens before now: the version and the accounts are recorded as made before
    # the earliest replayed step, so no case predates what it ran on or who worked it.
    longest = max((s.times[-1] - s.times[0] for s in found), default=timedelta(0))
    setup_at = now - max(RESTS) - longest - timedelta(days=2) if empty else now
    with runtime.sessions.begin() as session:
        published = versions.store(session, definition, runtime.definitions_path, setup_at,
                                   DEMO_BY, "demo")
    if published:
        say(f"published {definition.id} version {definition.version[:12]}")
    summary = DemoSummary(empty, [], 0, {}, [], published=published, skipped=skipped)
    if empty:
        _add_people(runtime, definition, people, password_for, hasher, setup_at)
        seeder = _Seeder(runtime, definition, now, password_for, hasher, mapping)
        _replay_all(seeder, found, _all_states(definition), say)
        summary.replays = seeder.replays
        summary.stopped = seeder.stopped
    summary.users = _listed(runtime, people, password_for)
    _report(runtime, definition, summary, now)
    summary.seconds = time.perf_counter() - started
    return summary


def _add_people(rt: Runtime, definition: DefinitionSet, people: Sequence[_Person],
                password_for: PasswordFor, hasher: PasswordHasher, at: datetime) -> None:
    """Add the demo accounts; one left from an interrupted run is kept if its roles match."""
    org = definition.organisation
    with rt.sessions.begin() as session:
        for person in people:
            existing = session.get(User, person.id)
            if existing is not None:
                if tuple(existing.roles) != person.roles:
                    raise users.UserError(
                        f"user '{person.id}' exists with other roles than the demo needs "
                        f"({', '.join(existing.roles)}): start from an empty database "
                        "('qmsflow demo --fresh')")
                continue
            departments = list(dict.fromkeys(
                d for r in person.roles if (d := org.roles[r].department) is not None))
            users.add(session, definition, person.id, person.name, person.roles,
                      password_for(person.id), at, DEMO_BY, departments, hasher=hasher)


def _replay_all(seeder: _Seeder, scenarios: Sequence[_Scenario],
                states: Sequence[tuple[str, str]], say: Callable[[str], None]) -> None:
    """Every scenario whole, then the prefixes that leave cases in the states still empty."""
    rests = _cycle(RESTS)
    runs = []
    covered: set[tuple[str, str]] = set()
    for scenario in scenarios:
        held = seeder.replay(scenario, len(scenario.steps), next(rests))
        runs.append(held)
        covered |= held[-1] if held else frozenset()
    say(f"replayed {len(scenarios)} scenario(s)")
    prefixes = _prefixes(scenarios, runs, states, covered)
    for scenario, length in prefixes:
        seeder.replay(scenario, length, next(rests))
    say(f"replayed {len(prefixes)} scenario prefix(es) to leave cases in intermediate states")
    seeder.sweep()


def _cycle(items: Sequence[timedelta]) -> Iterator[timedelta]:
    while True:
        yield from items


# -- the command --------------------------------------------------------------------------------

def _width(value: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in value)


def _pad(value: str, width: int) -> str:
    return value + " " * max(0, width - _width(value))


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def print_summary(summary: DemoSummary, definition: DefinitionSet, url: str) -> None:
    """The lines a person needs: what happened, where to go, who to sign in as."""
    if summary.seeded:
        click.echo(f"demo data added in {summary.seconds:.1f} s: {len(summary.users)} "
                   f"accounts, {summary.cases} cases from {summary.replays} scenario replays")
        for line in summary.skipped:
            click.echo(f"  skipped {line}")
        for line in summary.stopped:
            click.echo(f"  a replay stopped early at {line}")
        unreached = ", ".join(f"{p}/{s}" for p, s in summary.unreached)
        if unreached:
            click.echo(f"  no bundled scenario reaches: {unreached}")
    else:
        click.echo(f"the demo data is already there ({summary.cases} cases): nothing added "
                   "(start again with 'qmsflow demo --fresh')")
    if summary.standings:
        click.echo("  open cases with deadlines: " + ", ".join(
            f"{summary.standings.get(k, 0)} {k}" for k in STANDINGS))
    click.echo("")
    click.echo(f"open {url} and sign in as one of these demo accounts:")
    rows = [("id", "name", "roles", "password")]
    rows += [(u.id, u.name, ", ".join(u.roles), u.password or "(changed since)")
             for u in summary.users]
    if len(rows) == 1:
        click.echo("  (none: this database holds cases but no demo accounts; use 'qmsflow "
                   "users add', or 'qmsflow demo --fresh' on a database of its own)")
    else:
        for line in _table(rows):
            click.echo(line)
    login = summary.login(definition)
    if login is not None and login.password:
        admin = set(definition.organisation.admin_roles)
        role = next((r for r in login.roles if r in admin), login.roles[0])
        label = text(definition.organisation.roles[role].label, "en")
        what = ("who can see the administration pages" if admin & set(login.roles)
                else "to start with")
        click.echo(f"try: {login.id} / {login.password}, a {label.lower()} {what}")
    click.echo("these are demo accounts with published passwords (hashed with a light argon2 "
               "profile until their first sign-in): never use them for real data")


def _start_afresh(rt_url: str) -> None:
    """Delete a SQLite demo database; any other database must be empty already."""
    if overview.is_sqlite(rt_url):
        base = overview.sqlite_file(rt_url)
        if base is not None:
            for suffix in ("", "-wal", "-shm", "-journal"):
                base.with_name(base.name + suffix).unlink(missing_ok=True)
        return
    rt = runtime()
    if overview.has_schema(rt.engine) and _count_cases(rt):
        raise CommandError(
            f"--fresh deletes only SQLite files; {shown_url(rt_url)} already holds cases: "
            "point DATABASE_URL at an empty database (or drop and re-create this one "
            "yourself)")


@click.command()
@click.option("--fresh", is_flag=True,
              help="Start from an empty database (deletes a SQLite file; refuses others that "
                   "hold cases).")
@click.option("--no-serve", is_flag=True, help="Seed and print the accounts, do not serve.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@friendly
def demo(fresh: bool, no_serve: bool, host: str, port: int) -> None:
    """Fill the database with demo accounts and cases, print the logins and serve.

    Uses DATABASE_URL (default: SQLite under ./instance) and QMSFLOW_DEFINITIONS. Cases are
    added only to a database without cases, so running it again adds nothing.
    """
    url = database_url()
    try:
        with overview.translated_errors():  # the URL and migration errors, as persistence's
            if fresh:
                _start_afresh(url)
            rt = runtime()
            summary = seed(rt, utc_now())
    except (DatabaseUrlError, SchemaUpgradeError, OSError) as error:
        raise CommandError(f"cannot prepare the demo database {shown_url(url)}: "
                           f"{error}") from None
    print_summary(summary, rt.definition, f"http://{host}:{port}/")
    if no_serve:
        return
    rt.close()
    try:
        app = create_app()
    except ConfigurationError as error:
        raise CommandError(str(error)) from None
    app.run(host=host, port=port)
