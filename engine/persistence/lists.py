"""A user's own ways into the case list: the lists they saved under a name, the cases they watch.

Both belong to one user: every function takes the user's id and reads or changes that user's
rows only, so nobody sees, opens or deletes another's saved list. Watching gives no right to
read: the list of watched cases applies the read rules like any other (see :mod:`.inbox`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..errors import QmsflowError
from .models import CaseRow, CaseWatch, SavedFilter

#: How many lists one user may save (a short menu of one-click views, not an archive).
MAX_SAVED = 30
NAME_LENGTH = 100
QUERY_LENGTH = 2000


class ListError(QmsflowError, ValueError):
    """A saved list refused: ``code`` says why (``name``, ``query``, ``full``, ``taken``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SavedList:
    """A case list a user saved: its name and the list page's query string."""

    id: int
    name: str
    query: str


def saved(session: Session, user_id: str) -> list[SavedList]:
    """The user's saved lists, by name."""
    rows = session.execute(select(SavedFilter).where(SavedFilter.user_id == user_id)
                           .order_by(SavedFilter.name, SavedFilter.id)).scalars()
    return [SavedList(row.id, row.name, row.query) for row in rows]


def save(session: Session, user_id: str, name: str, query: str, now: datetime) -> SavedList:
    """Save ``query`` as the user's list ``name``; a list of the same name is replaced."""
    name = " ".join(name.split())
    if not name or len(name) > NAME_LENGTH:
        raise ListError("name", f"a list's name has 1 to {NAME_LENGTH} characters")
    if len(query) > QUERY_LENGTH:
        raise ListError("query", f"a list's query has at most {QUERY_LENGTH} characters")
    row = session.execute(select(SavedFilter).where(
        SavedFilter.user_id == user_id, SavedFilter.name == name)).scalar_one_or_none()
    if row is None:
        count = session.execute(select(func.count()).select_from(SavedFilter).where(
            SavedFilter.user_id == user_id)).scalar_one()
        if count >= MAX_SAVED:
            raise ListError("full", f"a user saves at most {MAX_SAVED} lists")
        row = SavedFilter(user_id=user_id, name=name, query=query, created_at=now)
        session.add(row)
    else:
        row.query = query
    session.flush()
    return SavedList(row.id, row.name, row.query)


def forget(session: Session, user_id: str, list_id: int) -> bool:
    """Delete the user's saved list ``list_id``; False when they have no such list."""
    done = session.execute(delete(SavedFilter).where(
        SavedFilter.id == list_id, SavedFilter.user_id == user_id))
    return bool(getattr(done, "rowcount", 0))


def watching(session: Session, user_id: str, number: str) -> bool:
    """Whether the user watches the case ``number``."""
    return session.execute(select(CaseWatch.case_id).join(
        CaseRow, CaseRow.id == CaseWatch.case_id).where(
        CaseWatch.user_id == user_id, CaseRow.number == number)).first() is not None


def watch(session: Session, user_id: str, number: str, on: bool, now: datetime) -> bool:
    """Start (``on``) or stop watching the case ``number``; False when there is no such
    case. The caller has checked that the user may read it."""
    case_id = session.execute(select(CaseRow.id).where(CaseRow.number == number)).scalar()
    if case_id is None:
        return False
    held = session.get(CaseWatch, (user_id, case_id))
    if on and held is None:
        session.add(CaseWatch(user_id=user_id, case_id=case_id, created_at=now))
    elif not on and held is not None:
        session.delete(held)
    session.flush()
    return True
