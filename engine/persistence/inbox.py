"""Case lists and inboxes: whose cases, which filters, in which order, one page at a time.

An inbox is the open cases of each of the user's roles' queues plus the cases assigned to them
by name. Each queue is read by its own ordered, limited scan and the scans are merged: one
query with OR over the queues would sort every open case of them all before returning the
first fifty. Other lists (the cases a user registered, the ones they watch, every case they
may read) are one scan under the read-access condition.

Search looks for the text typed in the case number or in one of the searched fields, as a
part of it (Chinese has no spaces between words: a word is found inside a sentence). On
PostgreSQL with a Chinese text-search parser installed (zhparser or pg_jieba), full-text
search over the same text also finds the cases holding each word searched, in any order or
field; without one, and on SQLite, the substring match alone decides (see the README,
"Searching cases").
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Numeric,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from ..cases import Actor, Case
from .access import registrar
from .models import CaseRow, CaseWatch
from .store import to_case
from .versions import Versions


@dataclass(frozen=True)
class Sort:
    """The order of a case list: a column (an inbox column: ``number``, ``state``,
    ``priority``, ``category``, ``due``, ``time_left``, ``created_at``, ``assignee``,
    ``flags`` or a field id) and a direction; equal keys keep the order cases were opened
    in, so pages never shuffle.

    ``column`` None is the default order: new intake first (open cases in one of
    ``Filters.intake`` states that nobody holds by name), then soonest due. ``ranks`` lists
    a state's, priority's or category's ids in the order they read (the definitions'), so
    they sort as people expect rather than alphabetically by id; ``numeric`` compares a
    field's values as numbers. Cases without a value come last either way.
    """

    column: str | None = None
    descending: bool = False
    ranks: tuple[str, ...] = ()
    numeric: bool = False


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
    #: Those of ``text_fields`` that hold personal data: the text found there counts only in
    #: the cases whose personal data the user may see (else a search would tell them).
    private_fields: tuple[str, ...] = ()
    mine: bool = True  # only the user's own cases and their roles' queues
    numbers: tuple[str, ...] | None = None  # only these cases (a report figure's)
    due_before: datetime | None = None  # only cases whose next deadline falls before it
    registered: bool = False  # only the cases the user registered (any state, read rules apply)
    watching: bool = False  # only the cases the user watches (read rules apply)
    sort: Sort = Sort()
    intake: tuple[str, ...] = ()  # the states a new case lands in (new intake sorts first)
    #: The PostgreSQL text-search configuration with a Chinese parser, when the database has
    #: one (see :func:`chinese_search_config`); None: substring search only.
    search_config: str | None = None


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


def _conditions(filters: Filters, now: datetime,
                private: ColumnElement[bool] | None = None) -> list[ColumnElement[bool]]:
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
        where.append(_search(filters, private))
    return where


def _search(filters: Filters, private: ColumnElement[bool] | None = None
            ) -> ColumnElement[bool]:
    """The search text in the number or in one of the searched fields; on PostgreSQL with
    a Chinese parser, or the case's words matching the search's.
    ``private`` is true for the cases whose personal data the user may see: the personal
    data fields are searched in those only."""
    assert filters.text is not None
    public = [name for name in filters.text_fields if name not in filters.private_fields]
    hidden = [name for name in filters.text_fields if name in filters.private_fields]
    texts = [CaseRow.number, *(CaseRow.values[name].as_string() for name in public)]
    wanted = filters.text
    matches = [column.icontains(wanted, autoescape=True) for column in texts]
    if hidden:
        matches.append(and_(private if private is not None else true(), or_(*(
            CaseRow.values[name].as_string().icontains(wanted, autoescape=True)
            for name in hidden))))
    found = or_(*matches)
    if filters.search_config is None:
        return found
    config = literal(filters.search_config).cast(Text).op("::")(text("regconfig"))
    document = func.to_tsvector(config, func.concat_ws(" ", *texts))
    return or_(found, document.op("@@")(func.plainto_tsquery(config, filters.text)))


def chinese_search_config(session: Session) -> str | None:
    """The name of a text-search configuration whose parser segments Chinese (zhparser's or
    pg_jieba's), or None (on SQLite, and on PostgreSQL without such an extension)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    found: str | None = session.execute(text(
        "SELECT c.cfgname FROM pg_ts_config c JOIN pg_ts_parser p ON p.oid = c.cfgparser "
        "WHERE p.prsname IN ('zhparser', 'jieba') ORDER BY c.cfgname LIMIT 1")).scalar()
    return found


#: A sort key: a column or an expression.
Key = ColumnElement[Any]


def _key(sort: Sort) -> Key:
    """The value a list sorts on for ``sort.column``."""
    name = sort.column
    column: Key
    if name in ("due", "time_left"):
        # Time left orders like the due time: a clock paused has no due time and goes last.
        column = CaseRow.next_due_at.expression
    elif name == "number":
        column = CaseRow.number.expression
    elif name == "created_at":
        column = CaseRow.created_at.expression
    elif name == "assignee":
        column = func.coalesce(CaseRow.assignee, CaseRow.assignee_role)
    elif name == "flags":
        column = cast(CaseRow.flags, Text)
    elif name in ("state", "priority", "category"):
        column = getattr(CaseRow, str(name)).expression
    elif sort.numeric:
        column = cast(CaseRow.values[name].as_string(), Numeric)
    else:
        column = CaseRow.values[name].as_string()
    if sort.ranks:
        column = case({rank: index for index, rank in enumerate(sort.ranks)}, value=column,
                      else_=len(sort.ranks))
    return column


def _scans(filters: Filters, queue: ColumnElement[bool]
           ) -> list[tuple[ColumnElement[bool], Key, Key]]:
    """The ordered scans of one queue: (condition, first key, second key) each.

    The default order is new intake first (first key 0), then the rest (1), each soonest
    due: two scans of the queue, each in the order of its index on the due time, so the
    first page reads a page of each rather than sorting the whole queue. A chosen column is
    one scan on that column."""
    if filters.sort.column is not None:
        return [(queue, _key(filters.sort), literal(0))]
    due = CaseRow.next_due_at.expression
    if not filters.intake:
        return [(queue, literal(1), due)]
    fresh = and_(CaseRow.state.in_(filters.intake), CaseRow.assignee.is_(None),
                 CaseRow.closed_at.is_(None))
    return [(and_(queue, fresh), literal(0), due), (and_(queue, ~fresh), literal(1), due)]


def page_of(session: Session, actor: Actor, filters: Filters, page: int, per_page: int,
            now: datetime, versions: Versions,
            readable: ColumnElement[bool] | None = None,
            private: ColumnElement[bool] | None = None) -> Page:
    """One page of the cases ``actor`` sees with ``filters``, and how many there are; each
    case is loaded with its own definition version from ``versions``.

    ``readable`` is the read-access condition (see :mod:`.access`): a list of cases beyond
    the user's own queues holds only the cases it admits. The queues need none: whoever works
    a case may read it. ``private`` is true for the cases whose personal data the user may
    see (see :attr:`Filters.private_fields`)."""
    if page < 1 or not 1 <= per_page <= 500:
        raise ValueError("page starts at 1 and a page holds 1 to 500 cases")
    where = _conditions(filters, now, private)
    mine = filters.mine and not (filters.registered or filters.watching)
    if not mine and readable is not None:
        where.append(readable)
    if filters.registered:
        where.append(registrar() == actor.id)
    if filters.watching:
        where.append(exists().where(CaseWatch.case_id == CaseRow.id,
                                    CaseWatch.user_id == actor.id))
    queues = _queues(actor) if mine else [true()]
    firsts = [select(CaseRow.id, first.label("first"), second.label("second")).where(
        condition, *where).order_by(*_sorted(filters, first, second, CaseRow.id.expression))
        .limit(page * per_page).subquery()
        for queue in queues for condition, first, second in _scans(filters, queue)]
    merged = union_all(*(select(scan.c.id, scan.c.first, scan.c.second) for scan in firsts)
                       ).subquery()
    rows = session.execute(
        select(CaseRow).join(merged, merged.c.id == CaseRow.id)
        .order_by(*_sorted(filters, merged.c.first, merged.c.second, merged.c.id))
        .limit(per_page).offset((page - 1) * per_page)).scalars().all()
    # Each queue's count stops at the limit: an index-only scan of at most that many entries.
    counts = [select(func.count()).select_from(
        select(CaseRow.id).where(queue, *where).limit(COUNT_LIMIT + 1).subquery())
        .scalar_subquery() for queue in queues]
    total = session.execute(select(functools.reduce(operator.add, counts))).scalar_one()
    cases = tuple(to_case(versions.get(session, row.version), row) for row in rows)
    return Page(cases, min(total, COUNT_LIMIT), page, per_page, total > COUNT_LIMIT,
                tuple(row.id for row in rows))


def _sorted(filters: Filters, first: Key, second: Key, row_id: Key) -> list[Any]:
    """The ORDER BY of a list: its keys with empty values last, then the row id (stable)."""
    if filters.sort.column is None:
        return [first.asc(), second.asc().nulls_last(), row_id.asc()]
    key = first.desc() if filters.sort.descending else first.asc()
    return [key.nulls_last(), row_id.asc()]
