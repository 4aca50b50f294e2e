"""The demo accounts: who they are, what they are called and their (public) passwords.

One account per role of the organisation, then one per role combination the scenarios need;
each scenario user maps to one of them. Names come from the scenarios where they give one,
otherwise from a pool in the style of the organisation's first locale.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from argon2 import PasswordHasher

from qmsflow.engine.model import DefinitionSet, text
from qmsflow.engine.persistence import audit, overview, users

from ..runtime import Runtime
from .scenarios import Scenario

PasswordFor = Callable[[str], str]

DEMO_BY = audit.By(None, "qmsflow demo")

# Demo accounts are hashed with a light argon2 profile (about 1 ms instead of about 0.3 s per
# hash on a small machine), so seeding signs some 80 steps in seconds. The web application
# re-hashes each one with the full parameters at its first sign-in (logins.verify).
DEMO_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

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
    public, which is acceptable only because this is demo data in a local database. Each meets the
    rules ``users.add`` applies (no user id in it, not guessable): a pick that does not is
    skipped.
    """
    for attempt in range(100):
        digest = hashlib.sha256(f"qmsflow demo {attempt} {user_id}".encode()).digest()
        password = (f"{_WORDS[digest[0] % len(_WORDS)]}-{_WORDS[digest[1] % len(_WORDS)]}-"
                    f"{10 + digest[2] % 90}")
        try:  # the rules every password meets (no user id in it, not guessable)
            users.check_password(user_id, password)
        except users.UserError:
            continue
        return password
    raise users.UserError(f"no demo password fits the user id {user_id!r}")  # pragma: no cover


@dataclass(frozen=True)
class DemoUser:
    """A demo account; ``password`` is None when it is no longer the demo one."""

    id: str
    name: str
    roles: tuple[str, ...]
    password: str | None


@dataclass(frozen=True)
class Person:
    """A demo account to add: its id, printed name and roles."""

    id: str
    name: str
    roles: tuple[str, ...]


def _user_id(roles: Sequence[str], occurrence: int) -> str:
    """A short id from the role ids (``a_b`` -> ``a.b``; several roles joined by ``-``)."""
    base = "-".join(role.replace("_", ".") for role in roles).lower()
    base = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in base)
    if not base[:1].isalpha():
        base = "u" + base
    return (base if occurrence == 1 else f"{base}{occurrence}")[:100]


def demo_people(definition: DefinitionSet, scenarios: Sequence[Scenario]
                ) -> tuple[list[Person], dict[tuple[Path, str], str]]:
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
    people: list[Person] = []
    for roles, occurrence in keys:
        name = next((n for n in names.get((roles, occurrence), []) if n not in used), None)
        name = name or next((n for n in pool if n not in used), None)
        if name is None:  # more accounts than names: the role's label, numbered
            name = f"{text(org.roles[roles[0]].label, org.locales[0])} {len(people) + 1}"
        used.add(name)
        people.append(Person(_user_id(roles, occurrence), name, roles))
    ids = {key: person.id for key, person in zip(keys, people, strict=True)}
    return people, {user: ids[key] for user, key in mapping.items()}


def add_people(rt: Runtime, definition: DefinitionSet, people: Sequence[Person],
               password_for: PasswordFor, hasher: PasswordHasher, at: datetime) -> None:
    """Add the demo accounts; one left from an interrupted run is kept if its roles match."""
    org = definition.organisation
    with rt.sessions.begin() as session:
        found = overview.users_by_id(session, [person.id for person in people])
        for person in people:
            existing = found.get(person.id)
            if existing is not None:
                if existing.roles != person.roles:
                    raise users.UserError(
                        f"user '{person.id}' exists with other roles than the demo needs "
                        f"({', '.join(existing.roles)}): start from an empty database "
                        "('qmsflow demo --fresh')")
                continue
            departments = list(dict.fromkeys(
                d for r in person.roles if (d := org.roles[r].department) is not None))
            users.add(session, definition, person.id, person.name, person.roles,
                      password_for(person.id), at, DEMO_BY, departments, hasher=hasher)


def listed_users(rt: Runtime, people: Sequence[Person], password_for: PasswordFor
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
        listed.append(DemoUser(user.id, user.name, user.roles,
                               password_for(user.id) if unchanged else None))
    return listed
