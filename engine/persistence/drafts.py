"""Definition drafts edited in the browser, and which stored version is active.

A draft is a full copy of a set's files (path -> text, as a stored version holds them) with a
title, an author and its times; saving replaces its files. Publishing stores it as a version
(:func:`.versions.store_files`) and marks the draft published. Activating a version appends a
row to ``definition_activations``: the newest row names the version new cases start on, and
:func:`active_marker` reads it cheaply enough for every request of every worker. Every change
is an audit entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from ..model import DefinitionSet, frozen_map
from . import audit
from .models import DefinitionActivation, DefinitionDraft, DefinitionVersion
from .versions import UnknownVersion, files_digest, store_files

#: The most files and characters a draft may hold: far above any real set, far below harm.
MAX_FILES = 500
MAX_CHARS = 2_000_000


class DraftError(QmsflowError, ValueError):
    """A draft that does not exist, is published already, or would hold unsafe files."""


@dataclass(frozen=True)
class DraftRecord:
    """A draft as read: its files (path -> text), where its set sits, who wrote it, when."""

    id: int
    title: str
    files: Mapping[str, str]
    root: str
    base_version: str | None
    author_id: str
    created_at: datetime
    updated_at: datetime
    published_version: str | None

    @classmethod
    def of(cls, row: DefinitionDraft) -> DraftRecord:
        """The record of a ``definition_drafts`` row."""
        return cls(row.id, row.title, frozen_map(row.files), row.root, row.base_version,
                   row.author_id, row.created_at, row.updated_at, row.published_version)

    def set_files(self) -> list[str]:
        """The draft's files of its own set (not of a set it extends), sorted."""
        prefix = "" if self.root in ("", ".") else self.root.rstrip("/") + "/"
        return sorted(name for name in self.files if name.startswith(prefix))


@dataclass(frozen=True)
class ActivationRecord:
    """One activation: the version it made active, who did it, when and why."""

    id: int
    version: str
    activated_at: datetime
    activated_by: str
    reason: str | None


def safe_file_name(name: str) -> str:
    """``name`` as a draft stores it (a relative POSIX path of a YAML file); DraftError when it
    is absolute, climbs out with ``..``, or is not ``.yaml``/``.yml``."""
    cleaned = name.strip().replace("\\", "/")
    path = PurePosixPath(cleaned)
    if (not cleaned or path.is_absolute() or ".." in path.parts or ":" in cleaned
            or path.suffix not in (".yaml", ".yml") or any(p.startswith(".") for p in path.parts)):
        raise DraftError(f"{name!r} is not a relative .yaml file name inside the set")
    return path.as_posix()


def _checked(files: Mapping[str, str]) -> dict[str, str]:
    checked = {safe_file_name(name): text for name, text in files.items()}
    if len(checked) > MAX_FILES or sum(len(text) for text in checked.values()) > MAX_CHARS:
        raise DraftError(f"a draft holds at most {MAX_FILES} files and {MAX_CHARS} characters")
    return checked


def start(session: Session, title: str, files: Mapping[str, str], root: str,
          base_version: str | None, by: audit.By, now: datetime) -> DraftRecord:
    """A new draft holding ``files`` (a stored version's, usually the active one)."""
    if by.id is None:
        raise DraftError("a draft needs an author")
    row = DefinitionDraft(title=title.strip()[:200], files=_checked(files), root=root,
                          base_version=base_version, author_id=by.id, created_at=now,
                          updated_at=now, published_version=None)
    session.add(row)
    session.flush()
    audit.append(session, [audit.Entry(
        "draft_started", "definition", now, by.id, by.name, version=base_version,
        data={"draft": row.id, "title": row.title, "files_sha256": files_digest(row.files)})])
    return DraftRecord.of(row)


def _row(session: Session, draft_id: int, editable: bool = False) -> DefinitionDraft:
    row = session.get(DefinitionDraft, draft_id)
    if row is None:
        raise DraftError(f"there is no draft {draft_id}")
    if editable and row.published_version is not None:
        raise DraftError(f"draft {draft_id} is published already: start a new draft")
    return row


def get(session: Session, draft_id: int) -> DraftRecord:
    """The draft ``draft_id``; DraftError when there is none."""
    return DraftRecord.of(_row(session, draft_id))


def listed(session: Session) -> list[DraftRecord]:
    """Every draft, the most recently changed first."""
    return [DraftRecord.of(row) for row in session.execute(select(DefinitionDraft).order_by(
        DefinitionDraft.updated_at.desc(), DefinitionDraft.id.desc())).scalars()]


def save(session: Session, draft_id: int, files: Mapping[str, str], by: audit.By,
         now: datetime, title: str | None = None) -> DraftRecord:
    """Replace the draft's files (and title); the audit entry names the files added, removed
    and changed, with the digest of the whole."""
    row = _row(session, draft_id, editable=True)
    new = _checked(files)
    old: dict[str, str] = dict(row.files)
    changes = {"added": sorted(set(new) - set(old)), "removed": sorted(set(old) - set(new)),
               "changed": sorted(n for n in set(new) & set(old) if new[n] != old[n])}
    row.files = new
    if title is not None and title.strip():
        row.title = title.strip()[:200]
    row.updated_at = now
    session.flush()
    audit.append(session, [audit.Entry(
        "draft_saved", "definition", now, by.id, by.name, version=row.base_version,
        data={"draft": row.id, "title": row.title, **changes,
              "files_sha256": files_digest(new)})])
    return DraftRecord.of(row)


def mark_published(session: Session, draft_id: int, version: str) -> None:
    """Note that the draft became stored version ``version`` (it is no longer edited)."""
    _row(session, draft_id, editable=True).published_version = version


def publish(session: Session, draft_id: int, definition: DefinitionSet, reviewer: audit.By,
            now: datetime, change_request: str, meaning: str = "approved") -> bool:
    """Store the draft as a version, approved by ``reviewer`` (whose password the caller has
    checked): the reviewer's signature with its ``meaning`` and the change request are an
    audit entry, and the version's publisher is the reviewer. True when the version is new.

    DraftError when the reviewer wrote the draft: nobody approves their own change.
    """
    row = _row(session, draft_id, editable=True)
    if reviewer.id is None or reviewer.id == row.author_id:
        raise DraftError("the author of a draft cannot approve it: another administrator "
                         "reviews and signs it")
    change_request = change_request.strip()
    if not change_request:
        raise DraftError("publishing needs a change-request number")
    files: dict[str, str] = dict(row.files)
    new = store_files(session, definition, files, row.root, now, reviewer,
                      f"{change_request}: {row.title}")
    row.published_version = definition.version
    audit.append(session, [audit.Entry(
        "signed", "definition", now, reviewer.id, reviewer.name, meaning=meaning,
        reason=change_request, version=definition.version,
        data={"draft": row.id, "title": row.title, "author": row.author_id,
              "change_request": change_request, "files_sha256": files_digest(files)})])
    return new


def activate(session: Session, version: str, by: audit.By, now: datetime,
             reason: str | None = None) -> ActivationRecord:
    """Make the stored ``version`` (full hash) the one new cases start on, from now."""
    if session.get(DefinitionVersion, version) is None:
        raise UnknownVersion(f"{version[:12]} is not a stored definition version")
    if by.id is None:
        raise DraftError("an activation needs the user who activates")
    before = active(session)
    row = DefinitionActivation(version=version, activated_at=now, activated_by=by.id,
                               reason=reason)
    session.add(row)
    session.flush()
    audit.append(session, [audit.Entry(
        "activated", "definition", now, by.id, by.name, field="active_version",
        old=before.version if before else None, new=version, reason=reason, version=version,
        data={"activation": row.id})])
    return ActivationRecord(row.id, row.version, row.activated_at, row.activated_by,
                            row.reason)


def active(session: Session) -> ActivationRecord | None:
    """The newest activation, or None when no version was ever activated here."""
    row = session.execute(select(DefinitionActivation).order_by(
        DefinitionActivation.id.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        return None
    return ActivationRecord(row.id, row.version, row.activated_at, row.activated_by,
                            row.reason)


def active_marker(session: Session) -> tuple[int, str] | None:
    """The newest activation's id and version: one primary-key lookup, read per request."""
    found = session.execute(select(DefinitionActivation.id, DefinitionActivation.version)
                            .order_by(DefinitionActivation.id.desc()).limit(1)).first()
    return (int(found[0]), str(found[1])) if found is not None else None


_MARKER_QUERY = "SELECT id, version FROM definition_activations ORDER BY id DESC LIMIT 1"


def read_active_marker(engine: Engine) -> tuple[int, str] | None:
    """:func:`active_marker` in a connection of its own, for every request of every worker.

    On SQLite it reads outside any transaction: a transaction there takes the database's write
    lock, which a read on each request must not wait for. A database without the table (not
    upgraded yet) has no activation.
    """
    with engine.connect() as connection:
        try:
            if engine.dialect.name == "sqlite":
                raw = connection.connection.dbapi_connection
                assert raw is not None
                found = raw.execute(_MARKER_QUERY).fetchone()
            else:
                found = connection.execute(text(_MARKER_QUERY)).first()
                connection.rollback()
        except (DBAPIError, engine.dialect.loaded_dbapi.Error):
            return None
    return (int(found[0]), str(found[1])) if found is not None else None
