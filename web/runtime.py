"""What a qmsflow process works with: one database, one definition set, one case service.

The web application builds one at start-up; each CLI command builds one when it first needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import versions
from qmsflow.engine.persistence.db import connect, session_factory
from qmsflow.engine.persistence.service import CaseService, utc_now
from qmsflow.engine.persistence.users import HASHER

DEFAULT_DEFINITIONS = "definitions/default"


class Runtime:
    """The database (``url``) and the definition set this deployment serves (``definitions``).

    The definition set is compiled once, when first asked for; requests never parse YAML.
    """

    def __init__(self, url: str | None, definitions: Path | str,
                 clock: Callable[[], datetime] = utc_now, hasher: PasswordHasher = HASHER,
                 compiled: DefinitionSet | None = None, **engine_options: Any) -> None:
        self.engine = connect(url, **engine_options)
        self.sessions = session_factory(self.engine)
        self.definitions_path = Path(definitions)
        self.clock = clock
        self.hasher = hasher
        if compiled is not None:  # already compiled by the caller (tests, the demo)
            self.__dict__["definition"] = compiled

    @cached_property
    def definition(self) -> DefinitionSet:
        """The served set, compiled (raises DefinitionError listing every problem)."""
        return load(self.definitions_path)

    @cached_property
    def service(self) -> CaseService:
        """The case service over this database and the served set."""
        return CaseService(self.sessions, versions.Versions(), self.definition, self.clock,
                           self.hasher)

    def close(self) -> None:
        """Close the database connections."""
        self.engine.dispose()
