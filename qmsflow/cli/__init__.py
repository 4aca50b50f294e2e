"""The ``qmsflow`` command: one entry point for every job, one module per command.

Each command lives in the module of its name (``qmsflow.cli.validate``, ``qmsflow.cli.db``...)
as the Click command or group ``cli``, and is imported only when it runs: ``qmsflow validate``,
``schema``, ``graph`` and ``simulate`` load the engine alone, never Flask or SQLAlchemy, so
client repositories' CI jobs stay fast.

Exit status: 0 when all is well, 1 when a definition or scenario has problems or a command
fails, 2 on a usage error (Click's convention). Problems print one per line as
``file:line:column: CODE path: message (hint)``, never as a traceback.
"""

from __future__ import annotations

import importlib

import click

#: Every command, in the order ``qmsflow --help`` lists them.
COMMANDS = ("validate", "schema", "graph", "simulate", "db", "definitions", "cases", "users",
            "audit", "serve", "demo", "sweep", "outbox", "worker", "report", "registers",
            "schedules", "retention")


class _Commands(click.Group):
    """A group that imports a command's module when the command is asked for
    (Click's "lazily loading subcommands" pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command = importlib.import_module(f"{__name__}.{cmd_name}").cli
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_Commands)
@click.version_option(package_name="qmsflow")
def main() -> None:
    """qmsflow: configurable workflows for medical-device complaints and service."""
