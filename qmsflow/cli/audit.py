"""``qmsflow audit``: prove the audit trail and the records it describes; seal and anchor it."""

from __future__ import annotations

from pathlib import Path

import click

from qmsflow.engine.persistence import Versions, audit, proof, utc_now

from .common import CommandError, friendly, runtime


@click.group("audit")
def cli() -> None:
    """The audit trail."""


@cli.command("verify")
@click.option("--anchors", "anchors_file", type=click.Path(dir_okay=False, path_type=Path),
              help="An anchor file written by 'qmsflow audit anchor': every entry it names "
                   "must still carry the seal it had then.")
@friendly
def audit_verify(anchors_file: Path | None) -> None:
    """Walk the chains, then prove the records: every case, signature, account and definition
    version must be what its audit entries say. Exit 1 naming each difference."""
    anchors = _anchors(anchors_file) if anchors_file else []
    with runtime().sessions() as session:
        count, breaks = audit.verify(session, anchors=anchors)
        keyed = audit.keys_of(session).current is not None
        waiting = audit.pending(session)
        breaks += proof.check(session, Versions())
    for found in breaks:
        click.echo(f"BROKEN {found}")
    if not keyed:
        click.echo("note: no audit key is set, so anyone who can write the tables could "
                   "recompute the chain: set QMSFLOW_AUDIT_KEY (README, 'The audit trail')")
    if breaks:
        raise CommandError(f"{count} audit entries checked, {len(breaks)} difference(s): the "
                           "trail or the records were altered outside qmsflow")
    anchored = f", {len(anchors)} anchor(s) hold" if anchors else ""
    if waiting:
        click.echo(f"note: the last {waiting} entries are not sealed yet (their cases' chains "
                   "hold them; the worker seals them within seconds, 'qmsflow audit seal' now)")
    click.echo(f"{count} audit entries checked: the chains are intact{anchored}, and every "
               "case, signature, account and definition version is what its trail says")


@cli.command("seal")
@friendly
def audit_seal() -> None:
    """Seal every entry not sealed yet, after appending one under the current audit key (run
    once after setting or rotating QMSFLOW_AUDIT_KEY; the worker seals the rest as it goes)."""
    with runtime().sessions.begin() as session:
        key_id = audit.seal(session, utc_now())
    if key_id is None:
        raise CommandError("no audit key is set: set QMSFLOW_AUDIT_KEY first")
    click.echo(f"the audit trail now ends with an entry sealed with key {key_id}")


@cli.command("anchor")
@click.argument("anchor_file", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def audit_anchor(anchor_file: Path) -> None:
    """Seal what waits, then append the last seal (its last entry's id, its hash, the time) to
    ANCHOR_FILE, a file kept away from the database (another machine, write-once storage):
    'audit verify --anchors' then proves the trail up to each anchored seal unchanged, even
    against someone holding the key."""
    runtime().service.seal_audit()
    with runtime().sessions() as session:
        line = audit.anchor_line(session, utc_now())
    try:
        with anchor_file.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
    except OSError as error:
        raise CommandError(f"cannot append to {anchor_file}: {error.strerror}") from None
    click.echo(f"anchored: {line}")


def _anchors(path: Path) -> list[audit.Anchor]:
    try:
        return audit.parse_anchors(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CommandError(f"cannot read the anchor file {path}: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise CommandError(f"{path}: {error}") from None
