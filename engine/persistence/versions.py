"""Definition versions as controlled records: every set that ran a case, stored whole.

A version is the text of every file of a set and of the sets it extends, under the set's
content hash. A running case stays on its version: :class:`Versions` compiles a stored version
again when a case needs it (once per process; compiled sets are immutable, so that cache can
never disagree with another worker's).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from ..loader import load
from ..model import DefinitionSet
from ..sources import collect, set_files
from . import audit
from .models import CaseRow, DefinitionVersion
from .records import VersionRecord


class UnknownVersion(QmsflowError, LookupError):
    """A definition version that is not stored here."""


def snapshot(root: Path | str) -> tuple[dict[str, str], str]:
    """The text of every file the set at ``root`` is made of, and where the set sits in it."""
    folders = collect(Path(root)).folders  # the same sets the loader reads, nearest first
    common = Path(os.path.commonpath(folders))
    files = {str(p.relative_to(common)): p.read_text(encoding="utf-8")
             for folder in folders for p in set_files(folder)}
    return files, str(folders[0].relative_to(common))


def compile_files(files: Mapping[str, str], root: str) -> DefinitionSet:
    """Compile a stored version from its files (raises DefinitionError like :func:`load`)."""
    with tempfile.TemporaryDirectory(prefix="qmsflow-version-") as folder:
        for name, content in files.items():
            path = Path(folder) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        return load(Path(folder) / root)


class Versions:
    """Compiled definition versions by hash, stored in and reloaded from the database."""

    def __init__(self) -> None:
        self._compiled: dict[str, DefinitionSet] = {}

    def remember(self, definition: DefinitionSet) -> None:
        """Keep an already compiled set (e.g. the one this deployment serves)."""
        self._compiled[definition.version] = definition

    def known(self, version: str) -> DefinitionSet | None:
        """The compiled set of the full hash ``version`` if it is already compiled."""
        return self._compiled.get(version)

    def get(self, session: Session, version: str) -> DefinitionSet:
        """The compiled set of ``version`` (a full hash or a unique prefix of one)."""
        if version in self._compiled:
            return self._compiled[version]
        row = find(session, version)
        definition = compile_files(row.files, row.root)
        if definition.version != row.hash:
            raise UnknownVersion(f"stored version {row.hash[:12]} compiles to "
                                 f"{definition.version[:12]}: the stored files were altered")
        self._compiled[row.hash] = definition
        return definition


def files_digest(files: Mapping[str, str]) -> str:
    """SHA-256 of a stored version's files, exactly as stored (names and text)."""
    return hashlib.sha256(audit.canonical(dict(files))).hexdigest()


def find(session: Session, version: str) -> VersionRecord:
    """The stored version whose hash is or starts with ``version``."""
    rows = session.execute(select(DefinitionVersion).where(
        DefinitionVersion.hash.startswith(version, autoescape=True)).limit(2)).scalars().all()
    if len(rows) != 1:
        known = session.execute(select(DefinitionVersion.hash, DefinitionVersion.set_id,
                                       DefinitionVersion.published_at)
                                .order_by(DefinitionVersion.published_at)).all()
        listed = ", ".join(f"{h[:12]} ({s}, {at:%Y-%m-%d})" for h, s, at in known) or "none"
        what = "matches several versions" if rows else "is not a stored definition version"
        raise UnknownVersion(f"{version!r} {what}; stored: {listed}")
    return VersionRecord.of(rows[0])


def store(session: Session, definition: DefinitionSet, root: Path | str, now: datetime,
          by: audit.By = audit.SYSTEM, note: str | None = None) -> bool:
    """Store ``definition`` (compiled from ``root``) unless it is there; True when new.

    Publishing is an audit entry naming ``by``, the publisher.
    """
    if session.get(DefinitionVersion, definition.version) is not None:
        return False
    files, where = snapshot(root)
    return store_files(session, definition, files, where, now, by, note)


def store_files(session: Session, definition: DefinitionSet, files: Mapping[str, str],
                where: str, now: datetime, by: audit.By = audit.SYSTEM,
                note: str | None = None) -> bool:
    """Store ``definition`` compiled from ``files`` (its set in the folder ``where`` among
    them, as :func:`snapshot` gives) unless it is there; True when new. Audited as
    :func:`store`."""
    if session.get(DefinitionVersion, definition.version) is not None:
        return False
    files = dict(files)
    session.add(DefinitionVersion(hash=definition.version, set_id=definition.id, files=files,
                                  root=where, published_at=now,
                                  published_by=by.id, note=note))
    session.flush()
    # The files' own digest too: the version hash covers what the files mean, and a changed
    # comment must show as well (audit verify compares it).
    data: dict[str, Any] = {"set": definition.id, "files": sorted(files), "note": note,
                            "files_sha256": files_digest(files)}
    audit.append(session, [audit.Entry("published", "definition", now, by.id, by.name,
                                       version=definition.version, data=data)])
    return True


def listed(session: Session) -> list[VersionRecord]:
    """Every stored version, oldest first."""
    return [VersionRecord.of(row) for row in session.execute(
        select(DefinitionVersion).order_by(DefinitionVersion.published_at)).scalars()]


def open_counts(session: Session) -> dict[str, int]:
    """How many open (neither closed nor voided) cases run on each version."""
    return {version: count for version, count in session.execute(
        select(CaseRow.version, func.count()).where(CaseRow.closed_at.is_(None),
                                                    CaseRow.voided_at.is_(None))
        .group_by(CaseRow.version))}
