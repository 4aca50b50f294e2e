"""The inbox: the case lists a user works from, in the order they choose, and their own lists.

One page shows one list: the user's queues (the default), the cases they registered, the
cases they watch, or every case they may read; each filtered, searched and sorted by the
query string, so any list is a link that can be saved under a name and opened in one click.
Saved lists and watched cases are the user's own (the persistence layer's ``lists``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from qmsflow.engine.model import DefinitionSet, Process
from qmsflow.engine.persistence import CaseNotFound, Filters, Sort, lists
from qmsflow.engine.values import INTEGER_MAX

from .. import guards
from ..auth import login_required, service
from ..i18n import definition as served
from ..i18n import gettext as _
from . import bp, views

#: The last page of the inbox anyone can ask for (a database offset must stay small).
MAX_PAGE = 100_000
#: The lists a user can choose (``scope``): their queues, what they registered, what they
#: watch, every case they may read.
SCOPES = ("mine", "by_me", "watching", "all")
#: The field types a search looks in (besides the processes' own ``inbox.search`` fields).
SEARCHED_TYPES = frozenset({"text", "long_text"})
NUMERIC_TYPES = frozenset({"integer", "decimal", "money"})
#: What the list page's query string may hold; a saved list keeps only these.
LIST_ARGS = ("q", "process", "state", "category", "priority", "overdue", "scope", "status",
             "sort", "dir")


def searched_fields(processes: dict[str, Process]) -> tuple[str, ...]:
    """The fields a search looks in: each process's ``inbox.search`` fields, then every text
    field that is not personal data (batch and serial numbers, descriptions...)."""
    chosen = [name for p in processes.values() for name in p.inbox_search]
    chosen += [name for p in processes.values() for name, spec in p.fields.items()
               if spec.type in SEARCHED_TYPES and not spec.pii]
    return tuple(dict.fromkeys(chosen))


def intake_states(processes: dict[str, Process]) -> tuple[str, ...]:
    """The states a new case lands in (its start steps' targets): new intake sorts first."""
    return tuple(sorted({step.target for p in processes.values()
                         for step in p.starts.values() if step.target is not None}))


def sortable(processes: dict[str, Process]) -> frozenset[str]:
    """The columns a list may be sorted on: those the processes' inboxes show, but personal
    data (the order would tell a reader who may not see it what it holds)."""
    return frozenset(name for p in processes.values() for name in p.inbox_columns
                     if not (name in p.fields and p.fields[name].pii))


def sort_of(processes: dict[str, Process], column: str | None, descending: bool) -> Sort:
    """The order for ``column``: states, priorities and categories in the definitions'
    order, number fields as numbers (None: the default order)."""
    if column is None:
        return Sort()
    ranks: list[str] = []
    for process in processes.values():
        if column == "state":
            ranks += process.states
        elif column == "priority":
            ranks += [p.id for p in process.priorities]
        elif column == "category" or (column in process.fields
                                      and process.fields[column].type == "category"):
            ranks += process.categories
    numeric = any(column in p.fields and p.fields[column].type in NUMERIC_TYPES
                  for p in processes.values())
    return Sort(column, descending, tuple(dict.fromkeys(ranks)), numeric)


@dataclass(frozen=True)
class Asked:
    """What the list page was asked for, read from its query string."""

    filters: Filters
    scope: str
    status: str
    column: str | None
    descending: bool
    page: int


def asked(args: MultiDict[str, str], definition: DefinitionSet) -> Asked:
    """The list the query string asks for; a parameter that cannot be read is refused
    (BadInput, with a message saying what is wrong)."""
    processes = dict(definition.processes)
    process_id = args.get("process") if args.get("process") in processes else None
    scope = args.get("scope") or "mine"
    if scope not in SCOPES:
        raise guards.BadInput(_("Unknown list '%(name)s'.", name=scope))
    status = args.get("status", "open")
    column = args.get("sort") or None
    if column is not None and column not in sortable(processes):
        raise guards.BadInput(_("The list cannot be sorted on '%(name)s'.", name=column))
    descending = args.get("dir") == "desc"
    shown = {process_id: processes[process_id]} if process_id else processes
    page = guards.counting_number(args.get("page"), "page", MAX_PAGE) or 1
    filters = Filters(
        process=process_id, state=args.get("state") or None,
        category=args.get("category") or None, priority=args.get("priority") or None,
        overdue={"1": True, "0": False}.get(args.get("overdue", "")),
        open={"open": True, "finished": False}.get(status),
        text=(args.get("q") or "").strip() or None, text_fields=searched_fields(processes),
        mine=scope == "mine", registered=scope == "by_me", watching=scope == "watching",
        sort=sort_of(shown, column, descending), intake=intake_states(processes))
    return Asked(filters, scope, status, column, descending, page)


def list_query(args: MultiDict[str, str], **changes: str | int | None) -> str:
    """The list page's query string with ``changes`` (None removes one), without the page."""
    kept = {name: args.get(name) for name in LIST_ARGS if args.get(name)}
    for name, value in changes.items():
        if value is None:
            kept.pop(name, None)
        else:
            kept[name] = str(value)
    return urlencode(kept)


@bp.route("/")
@login_required
def inbox() -> str:
    """A case list (by default the user's cases and their roles' queues, new intake first,
    then soonest due), with filters, search, sortable columns and the user's saved lists."""
    definition = served()
    args = request.args
    processes = definition.processes
    try:
        wanted = asked(args, definition)
    except guards.BadInput as error:
        guards.refuse(error)
    page = service().list_cases(current_user.id, wanted.filters, wanted.page,
                                current_app.config["PER_PAGE"])
    now = service().now()
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in page.rows:
        version = service().definition(case.version)
        process = version.process(case.process)
        groups[case.process].append({
            "number": case.number,
            "urgency": views.urgency(case, now).css,
            "paused": views.paused(case),
            "cells": [views.column(process, case, name, now, version,
                                   case.number in page.hidden)
                      for name in process.inbox_columns],
        })
    tables = [{"process": processes[pid], "columns": [
        views.column_title(processes[pid], name) for name in processes[pid].inbox_columns],
        "keys": processes[pid].inbox_columns, "rows": rows}
        for pid, rows in groups.items() if pid in processes]
    # New notifications wait folded above the plain inbox; a search or a filtered list
    # shows cases only. A few at a time: the inbox is for cases.
    notices, unread = service().notifications(current_user.id, limit=5) if not args else (
        [], 0)
    with service().transaction() as session:
        saved = lists.saved(session, current_user.id)
    return render_template(
        "cases/inbox.html", tables=tables, page=page, args=args, notices=notices,
        unread=unread, processes=processes, chosen=processes.get(wanted.filters.process or ""),
        scope=wanted.scope, status=wanted.status, sort=wanted.column,
        descending=wanted.descending, saved=saved, query=list_query(args),
        sortable=sortable(dict(processes)),
        list_url=lambda **changes: url_for("cases.inbox") + "?" + list_query(args, **changes),
        page_url=lambda n: url_for("cases.inbox", **{**args, "page": n}))


@bp.route("/lists", methods=["POST"])
@login_required
def save_list() -> BaseResponse:
    """Save the list the user is looking at under a name (the same name replaces it)."""
    # Only the list's own parameters are kept, each checked as the list page checks it.
    given = MultiDict(list(MultiDict(_pairs(request.form.get("query", ""))).items()))
    back = url_for("cases.inbox") + "?" + list_query(given)
    try:
        asked(given, served())
        with service().transaction() as session:
            lists.save(session, current_user.id, request.form.get("name", ""),
                       list_query(given), service().now())
    except guards.BadInput as error:
        guards.refuse(error)
    except lists.ListError as error:
        flash({"name": _("Give the list a name of 1 to 100 characters."),
               "query": _("This list is too long to save."),
               "full": _("You have saved as many lists as you may: delete one first.")
               }.get(error.code, str(error)), "error")
        return redirect(back)
    flash(_("List saved."), "success")
    return redirect(back)


def _pairs(query: str) -> list[tuple[str, str]]:
    """The list parameters of a posted query string (anything else is dropped)."""
    return [(name, value) for name, value in parse_qsl(query[:lists.QUERY_LENGTH])
            if name in LIST_ARGS]


@bp.route("/lists/<int:list_id>/delete", methods=["POST"])
@login_required
def forget_list(list_id: int) -> BaseResponse:
    """Delete one of the user's saved lists (another user's is not found)."""
    if list_id > INTEGER_MAX:  # no such row, and more than the database's integers hold
        abort(404)
    with service().transaction() as session:
        found = lists.forget(session, current_user.id, list_id)
    if not found:
        abort(404)
    flash(_("List deleted."), "success")
    return redirect(url_for("cases.inbox"))


@bp.route("/cases/<number>/watch", methods=["POST"])
@login_required
def watch(number: str) -> BaseResponse:
    """Start or stop watching a case the user may read (``on`` = 1 or 0)."""
    try:
        service().read_case(number, history=False, reader=current_user.id)
    except CaseNotFound:
        abort(404)
    on = request.form.get("on") == "1"
    with service().transaction() as session:
        lists.watch(session, current_user.id, number, on, service().now())
    flash(_("You are watching this case.") if on else _("You no longer watch this case."),
          "success")
    return redirect(url_for("cases.case", number=number))


@bp.context_processor
def watching() -> dict[str, Any]:
    """``is_watching(number)`` for the case page's watch button."""
    def is_watching(number: str) -> bool:
        if not current_user.is_authenticated:
            return False
        with service().transaction() as session:
            return lists.watching(session, current_user.id, number)
    return {"is_watching": is_watching}
