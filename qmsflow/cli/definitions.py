"""``qmsflow definitions``: publish, list, compare and export definition versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from qmsflow.engine import diff as diffs
from qmsflow.engine.loader import load
from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import (
    CaseService,
    DatabaseError,
    UnknownVersion,
    Versions,
    utc_now,
    versions,
)

from .common import CommandError, acting, friendly, runtime


@click.group("definitions")
def cli() -> None:
    """Definition versions: publish, list, compare, export."""


@cli.command("publish")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--by", "by_user", help="User id of the publisher (for the audit trail).")
@click.option("--note", help="Why this version (change request, CAPA number...).")
@friendly
def definitions_publish(path: Path, by_user: str | None, note: str | None) -> None:
    """Validate the set at PATH and store it as a new definition version."""
    definition = load(path)
    by = acting(by_user)
    with runtime().sessions.begin() as session:
        new = versions.store(session, definition, path, utc_now(), by, note)
    state = "published" if new else "already published"
    click.echo(f"{definition.id} version {definition.version[:12]} {state}")


@cli.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--version", "wanted", help="A stored version (hash or prefix) instead of the "
              "active one.")
@friendly
def definitions_export(folder: Path, wanted: str | None) -> None:
    """Write the active definition version (or --version) into FOLDER as files.

    The version edited in the browser goes back to the consultants who keep the set in git;
    the folder is one `qmsflow validate` and `qmsflow definitions publish` accept. FOLDER must
    be new or empty: nothing is overwritten.
    """
    if folder.exists() and any(folder.iterdir()):
        raise CommandError(f"{folder} is not empty: export into a new or empty folder")
    rt = runtime()
    version = wanted or rt.definition.version
    with rt.sessions() as session:
        try:
            stored = versions.find(session, version)
        except UnknownVersion as error:
            hint = "" if wanted else (
                " (the served set was never published: run 'qmsflow definitions publish')")
            raise CommandError(f"{error}{hint}") from None
    for name, text in stored.files.items():
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise CommandError(f"version {stored.hash[:12]} names a file outside its folder "
                               f"({name!r}): run 'qmsflow audit verify'")
        path = folder.joinpath(*Path(name).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    where = folder / stored.root
    click.echo(f"{stored.set_id} version {stored.hash[:12]}: {len(stored.files)} file(s) "
               f"written; the set is {where}")


@cli.command("list")
@friendly
def definitions_list() -> None:
    """Every stored version with the number of open cases on it."""
    with runtime().sessions() as session:
        counts = versions.open_counts(session)
        for stored in versions.listed(session):
            click.echo(f"{stored.hash[:12]}  {stored.set_id:<16} "
                       f"{stored.published_at:%Y-%m-%d %H:%M} UTC  "
                       f"{counts.get(stored.hash, 0)} open case(s)  {stored.note or ''}".rstrip())


def _resolve(session: Any, store: Versions, ref: str) -> DefinitionSet:
    """A definition from a folder path or a stored version (hash or prefix)."""
    if Path(ref).exists():
        return load(ref)
    return store.get(session, ref)


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@friendly
def definitions_diff(old: str, new: str) -> None:
    """What changed from OLD to NEW (folders or stored versions), and how many open cases'
    due times would move."""
    store = Versions()
    with runtime().sessions() as session:
        before, after = _resolve(session, store, old), _resolve(session, store, new)
    changes = diffs.diff(before, after)
    for change in changes:
        click.echo(f"{change.kind:<8} {change.words}")
    click.echo(f"{len(changes)} change(s)")
    if diffs.deadline_changes(before, after):
        _report_moves(before, after)


def _report_moves(before: DefinitionSet, after: DefinitionSet) -> None:
    rt = runtime()
    store = Versions()
    store.remember(before)
    store.remember(after)
    try:
        service = CaseService(rt.sessions, store, before)
        plans = service.migrate(before.version, after.version, dry_run=True)
    except (DatabaseError, UnknownVersion):
        click.echo("deadlines change; no database with cases of the old version to measure "
                   "how many due times would move")
        return
    moved = [p for p in plans if p.moves]
    shifts = [m.shift for p in moved for m in p.moves]
    if not shifts:
        click.echo(f"deadlines change; none of the {len(plans)} open case(s) on "
                   f"{before.version[:12]} would get another due time")
        return
    click.echo(f"deadlines change: {len(moved)} of {len(plans)} open case(s) on "
               f"{before.version[:12]} would get another due time, moving by "
               f"{_span(min(shifts))} to {_span(max(shifts))}")


def _span(delta: Any) -> str:
    hours = delta.total_seconds() / 3600
    sign = "-" if hours < 0 else "+"
    hours = abs(hours)
    return f"{sign}{hours / 24:.1f} days" if hours >= 48 else f"{sign}{hours:.1f} hours"
