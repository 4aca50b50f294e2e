"""Case lists and inboxes: whose cases, which filters, soonest due first, one page at a time.

An inbox is the open cases of each of the user's roles' queues plus the cases assigned to them
by name. Each queue is read by its own ordered, limited index scan (partial indexes hold open
cases only, in due order) and the scans are merged: one query with OR over the queues would
sort every open case of them all before returning the first fifty.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select, true, union_all
from sqlalchemy.orm import Session

from ..cases import Actor, Case
from .models import CaseRow
from .store import to_case
from .versions import Versions


@dataclass(frozen=True)
class Filters:
    """What an inbox or case list shows: every filter is optional."""

    process: str | None = None
    state: str | None = None
    category: str | None = None
    priority: str | None = None
    overdue: bool | None = None
    open: bool | None = True
    number: str | None = None  # a part of the case number
    text: str | None = None  # a part of the number or of one of ``text_fields`` (any case)
    text_fields: tuple[str, ...] = ()  # the processes' inbox search fields
    mine: bool = True  # only the user's own cases and their roles' queues
    numbers: tuple[str, ...] | None = None  # only these cases (a report figure's)
    due_before: datetime | None = None  # only cases whose next deadline falls before it


COUNT_LIMIT = 1000
INBOX = Filters()  # the default list: the user's open queues


@dataclass(frozen=True)
class Page:
    """One page of a case list, soonest due first: ``rows`` are the engine's cases.

    ``total`` counts the matching cases up to COUNT_LIMIT; ``more`` says there are more than
    that ("1,000+"): nobody pages through a thousand cases, and an exact count of a long
    queue would cost more than the page itself.
    """

    rows: tuple[Case, ...]
    total: int
    page: int
    per_page: int
    more: bool = False
    ids: tuple[int, ...] = ()  # the rows' database ids, in the same order
    #: The numbers of the cases whose personal data the reader may not see (left out of
    #: their values).
    hidden: frozenset[str] = frozenset()

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _queues(actor: Actor) -> list[ColumnElement[bool]]:
    """The queues a user works: each of their roles', and cases assigned to them by name
    (not counted twice when the case also sits in one of their roles' queues)."""
    roles = sorted(actor.roles)
    return [*(CaseRow.assignee_role == role for role in roles),
            and_(CaseRow.assignee == actor.id,
                 or_(CaseRow.assignee_role.is_(None), CaseRow.assignee_role.not_in(roles)))]


def _conditions(filters: Filters, now: datetime) -> list[ColumnElement[bool]]:
    """The filters other than whose cases (open cases match the inbox's partial indexes)."""
    where: list[ColumnElement[bool]] = [CaseRow.voided_at.is_(None)]
    if filters.open is not None:
        where.append(CaseRow.closed_at.is_(None) if filters.open
                     else CaseRow.closed_at.is_not(None))
    for name in ("process", "state", "category", "priority"):
        wanted = getattr(filters, name)
        if wanted is not None:
            where.append(getattr(CaseRow, name) == wanted)
    if filters.overdue is not None:
        late = CaseRow.next_due_at < now
        where.append(late if filters.overdue else or_(CaseRow.next_due_at.is_(None), ~late))
    if filters.due_before is not None:
        where.append(CaseRow.next_due_at < filters.due_before)
    if filters.numbers is not None:
        where.append(CaseRow.number.in_(filters.numbers))
    if filters.number:
        where.append(CaseRow.number.contains(filters.number, autoescape=True))
    if filters.text:
        where.append(or_(CaseRow.number.icontains(filters.text, autoescape=True), *(
            CaseRow.values[name].as_string().icontains(filters.text, autoescape=True)
            for name in filters.text_fields)))
    return where


def page_of(session: Session, actor: Actor, filters: Filters, page: int, per_page: int,
            now: datetime, versions: Versions,
            readable: ColumnElement[bool] | None = None) -> Page:
    """One page of the cases ``actor`` sees with ``filters``, and how many there are; each
    case is loaded with its own definition version from ``versions``.

    ``readable`` is the read-access condition (see :mod:`.access`): a list of cases beyond
    the user's own queues holds only the cases it admits. The queues need none: whoever works
    a case may read it."""
    if page < 1 or not 1 <= per_page <= 500:
        raise ValueError("page starts at 1 and a page holds 1 to 500 cases")
    where = _conditions(filters, now)
    if not filters.mine and readable is not None:
        where.append(readable)
    queues = _queues(actor) if filters.mine else [true()]
    order = (CaseRow.next_due_at.asc().nulls_last(), CaseRow.id)
    firsts = [select(CaseRow.id, CaseRow.next_due_at).where(queue, *where)
              .order_by(*order).limit(page * per_page).subquery() for queue in queues]
    merged = union_all(*(select(first.c.id, first.c.next_due_at) for first in firsts)
                       ).subquery()
    rows = session.execute(
        select(CaseRow).join(merged, merged.c.id == CaseRow.id).order_by(*order)
        .limit(per_page).offset((page - 1) * per_page)).scalars().all()
    # Each queue's count stops at the limit: an index-only scan of at most that many entries.
    counts = [select(func.count()).select_from(
        select(CaseRow.id).where(queue, *where).limit(COUNT_LIMIT + 1).subquery())
        .scalar_subquery() for queue in queues]
    total = session.execute(select(functools.reduce(operator.add, counts))).scalar_one()
    cases = tuple(to_case(versions.get(session, row.version), row) for row in rows)
    return Page(cases, min(total, COUNT_LIMIT), page, per_page, total > COUNT_LIMIT,
                tuple(row.id for row in rows))
