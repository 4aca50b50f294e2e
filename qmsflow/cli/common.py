"""What every database command shares: its settings and runtime, who acts, and one-line errors.

The settings come from :func:`qmsflow.settings.load` (defaults, ``instance/qmsflow.cfg``,
``QMSFLOW_*``, ``DATABASE_URL``), the loader the web application uses too, so every command
works on the database and definitions ``qmsflow serve`` serves. Errors print one line saying
what is wrong and what to do, never a traceback.
"""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click

from qmsflow import settings as settings_loader
from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.persistence import (
    DatabaseError,
    audit,
    database_url,
    explain_database_error,
    shown_url,
    users,
)
from qmsflow.engine.problems import DefinitionError
from qmsflow.web.runtime import Runtime

P = ParamSpec("P")
R = TypeVar("R")


class CommandError(QmsflowError, click.ClickException):
    """A failure the person at the terminal can fix; printed as one line, exit status 1 unless
    the error that caused it says otherwise."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        # Click declares exit_code on the class only; the instance's own value wins when Click
        # exits with it.
        vars(self)["exit_code"] = exit_code


def friendly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors users can cause into one clear line each."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DefinitionError as error:
            raise CommandError("the definition set has problems:\n" + "\n".join(
                str(p) for p in error.problems)) from None
        except DatabaseError as error:
            message = explain_database_error(error)
            if "qmsflow db upgrade" in message:
                raise CommandError(message) from None
            raise CommandError(f"cannot use the database {shown_url(url())}: {message} "
                               "(check DATABASE_URL or qmsflow.cfg)") from None
        except QmsflowError as error:
            # Every error qmsflow raises on purpose: its message already says what to do.
            raise CommandError(str(error), error.exit_code) from None

    return wrapper


def settings() -> dict[str, Any]:
    """The settings of the running command, read once."""
    root = click.get_current_context().find_root()
    found = root.meta.get("qmsflow.settings")
    if found is None:
        found = root.meta["qmsflow.settings"] = settings_loader.load()
    return dict(found)


def url() -> str:
    """The database URL the settings name (a SQLite file in the instance folder by default)."""
    chosen = settings()
    return database_url({"DATABASE_URL": chosen.get("DATABASE_URL") or "",
                         "QMSFLOW_INSTANCE": chosen["INSTANCE"]})


def runtime() -> Runtime:
    """The runtime of the running command: made on first use, closed when the command ends."""
    root = click.get_current_context().find_root()
    found = root.meta.get("qmsflow.runtime")
    if isinstance(found, Runtime):
        return found
    made = Runtime.from_settings(settings())
    root.call_on_close(made.close)
    root.meta["qmsflow.runtime"] = made
    return made


def acting(user_id: str | None) -> audit.By:
    """Who the audit trail names for a command: a user, or the CLI and the system account."""
    if user_id is None:
        return audit.By(None, f"qmsflow CLI ({getpass.getuser()})")
    with runtime().sessions() as session:
        user = users.get(session, user_id)
        return audit.By(user.id, user.name)


def password(stdin: bool) -> str:
    """A new password, from standard input or typed twice at a hidden prompt."""
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
