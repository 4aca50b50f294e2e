"""``qmsflow demo``: a database full of example cases to look around in, and the server on it.

The demo data comes from the definitions and the bundled scenarios, never from names written
here: one account per role of the organisation (plus the combined-role people the scenarios
need), and cases made by replaying each scenario that runs on the served set through the case
service, so the audit trail, the signatures and the deadline clocks are the real thing. Each
replay is moved in time to end shortly before now (date and time inputs move with it); prefixes
of the scenarios are replayed too, so that cases rest in every state a scenario reaches.

The package's modules, each one concept: ``people`` (the demo accounts and their passwords),
``scenarios`` (finding and reading the bundled scenarios), ``replay`` (replaying them through
the case service), and ``seeding`` (``seed``: the whole filling of a database); the command is
:mod:`qmsflow.cli.demo`. This module holds the public surface only.
"""

from __future__ import annotations

from .people import DEMO_HASHER, DemoUser, demo_password
from .scenarios import scenario_files
from .seeding import DemoSummary, seed

__all__ = ["DEMO_HASHER", "DemoSummary", "DemoUser", "demo_password", "scenario_files",
           "seed"]
