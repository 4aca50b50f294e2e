"""Registers: the list with its search, an entry's page, its history, and the forms that
create and change entries (built from the register's fields by :mod:`qmsflow.forms`).

A thin adapter over :mod:`qmsflow.engine.persistence.registers`: every rule is the
definition's, checked here on the server. A register the reader's roles may not read does not
exist for them (404, as a case they may not read); one they may read but not edit refuses its
forms (403).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse

from qmsflow import forms
from qmsflow.engine.model import Register
from qmsflow.engine.persistence import By, register_sheets, registers
from qmsflow.engine.registers import EntryInvalid
from qmsflow.engine.values import text_problem

from .. import guards
from ..auth import login_required, web_client
from ..cases.referring import naming
from ..i18n import definition, label, local_time, locale, timezone
from ..i18n import gettext as _

bp = Blueprint("registers", __name__, template_folder="templates")

#: Entries on one page of a register's list.
PER_PAGE = 50
#: The last page anyone can ask for (a database offset must stay small).
MAX_PAGE = 10_000


def readable() -> list[Register]:
    """The registers the signed-in user may read, in the definition's order."""
    roles: frozenset[str] = getattr(current_user, "roles", frozenset())
    return [register for register in definition().registers.values()
            if register.may_read(roles)]


@bp.app_context_processor
def navigation() -> dict[str, object]:
    """Template helper: whether the navigation shows the registers link."""
    return {"may_see_registers": lambda: bool(readable())}


def _register(register_id: str, edit: bool = False) -> Register:
    found = definition().registers.get(register_id)
    if found is None or not found.may_read(current_user.roles):
        abort(404)
    if edit and not found.may_edit(current_user.roles):
        abort(403)
    return found


def _sessions() -> Any:
    return current_app.extensions["qmsflow"].sessions


def _now() -> Any:
    return current_app.extensions["qmsflow"].clock()


def _entry(register: Register, key: str) -> registers.EntryRecord:
    with _sessions()() as session:
        try:
            return registers.get(session, definition(), register.id, key)
        except registers.EntryNotFound:
            abort(404)


def _shown(register: Register, entry: registers.EntryRecord) -> dict[str, str]:
    return registers.shown(definition(), register.id, entry, locale())


@bp.route("/registers")
@login_required
def index() -> str:
    """The registers the reader may read."""
    return render_template("registers/index.html", registers=readable())


@bp.route("/registers/<register_id>")
@login_required
def entries(register_id: str) -> str:
    """A register's entries, those matching the search when there is one, by key."""
    register = _register(register_id)
    query = (request.args.get("q") or "").strip()
    try:
        number = guards.counting_number(request.args.get("page"), "page", MAX_PAGE) or 1
    except guards.BadInput as error:
        guards.refuse(error)
    with _sessions()() as session:
        found = registers.search(session, definition(), register.id, query, PER_PAGE,
                                 (number - 1) * PER_PAGE)
    page = {"page": number, "pages": max(1, -(-found.total // PER_PAGE))}
    return render_template(
        "registers/list.html", register=register, found=found, query=query,
        page=page, shown=lambda entry: _shown(register, entry),
        may_edit=register.may_edit(current_user.roles),
        page_url=lambda n: url_for("registers.entries", register_id=register.id, q=query or None,
                                   page=n))


#: Most entries the search-as-you-type list offers.
LOOKUP_MAX = 10


@bp.route("/registers/<register_id>/lookup")
@login_required
def lookup(register_id: str) -> Response:
    """The entries matching ``q`` as JSON (key and title), for a form's search-as-you-type:
    only a register the reader may read answers (404 otherwise, as its pages).

    When ``q`` is an entry's key (the user picked it) and that entry has open cases, ``open``
    says so, as the step form warns once sent: a sentence in the reader's language and each
    case the reader may read (never the others, never the case ``case`` the form is for);
    ``open`` is null otherwise."""
    register = _register(register_id)
    query = (request.args.get("q") or "").strip()[:200]
    if text_problem(query, False):
        # No key or title holds such characters.
        return jsonify({"entries": [], "total": 0, "open": None})
    with _sessions()() as session:
        found = registers.search(session, definition(), register.id, query, LOOKUP_MAX)
        exact = bool(query) and _exists(session, register, query)
    return jsonify({"entries": [{"key": entry.key, "title": entry.title or ""}
                                for entry in found.entries], "total": found.total,
                    "open": _open_cases(register, query) if exact else None})


def _exists(session: Any, register: Register, key: str) -> bool:
    try:
        registers.get(session, definition(), register.id, key)
    except registers.EntryNotFound:
        return False
    return True


def _open_cases(register: Register, key: str) -> dict[str, Any] | None:
    """The open cases naming the entry ``key`` that the reader may read, for the live warning
    beside a reference field; None when there are none."""
    leave_out = (request.args.get("case") or "").strip()[:100] or None
    cases = naming(definition(), register.id, key, open_only=True, leave_out=leave_out)
    if not cases:
        return None
    return {"key": key, "warning": _(
        "%(entry)s %(key)s already has open cases: check them before opening another.",
        entry=label(register.entry_label), key=key),
        "cases": [{"number": case.number, "url": url_for("cases.case", number=case.number),
                   "about": " · ".join((case.process, case.state, local_time(case.opened)))}
                  for case in cases]}


@bp.route("/registers/<register_id>/entry/<path:key>")
@login_required
def entry(register_id: str, key: str) -> str:
    """One entry: every field as a person reads it."""
    register = _register(register_id)
    found = _entry(register, key)
    return render_template("registers/entry.html", register=register, entry=found,
                           shown=_shown(register, found), known=definition().registers,
                           may_edit=register.may_edit(current_user.roles))


@bp.route("/registers/<register_id>/history/<path:key>")
@login_required
def history(register_id: str, key: str) -> str:
    """Every audited change of an entry: who, when, which field, from what to what."""
    register = _register(register_id)
    found = _entry(register, key)
    with _sessions()() as session:
        trail = registers.history(session, definition(), register.id, key)
    return render_template("registers/history.html", register=register, entry=found,
                           trail=trail, field_label=lambda name: label(
                               register.fields[name].label) if name in register.fields
                           else name)


def _form(register: Register, editing: bool) -> Any:
    form_class = forms.build_register_form(register, locale(), timezone(), editing=editing,
                                           base=FlaskForm, gettext=_)
    return form_class


def _problems(form: Any, error: EntryInvalid, register: Register) -> list[str]:
    """Put each refused field's message under its input; the rest listed above the form."""
    listed = []
    for name, message in error.problems.items():
        if name in form.editable:
            form[name].errors = [*form[name].errors, message]
        field = register.fields.get(name)
        listed.append(f"{label(field.label) if field else name}: {message}")
    return listed


@bp.route("/registers/<register_id>/new", methods=["GET", "POST"])
@login_required
def new(register_id: str) -> str | BaseResponse | tuple[str, int]:
    """Register a new entry."""
    register = _register(register_id, edit=True)
    form_class = _form(register, editing=False)
    defaults = {name: spec.default for name, spec in register.fields.items()
                if spec.default is not None}
    form = form_class() if request.method == "POST" else form_class(
        data=form_class.initial(defaults))
    problems: list[str] = []
    if request.method == "POST" and form.validate():
        try:
            with _sessions().begin() as session:
                created = registers.create(session, definition(), register.id, form.raw(),
                                           _now(), By(current_user.id, current_user.name),
                                           web_client())
        except EntryInvalid as error:
            problems = _problems(form, error, register)
        else:
            flash(_("Registered."), "success")
            return redirect(url_for("registers.entry", register_id=register.id,
                                    key=created.key))
    elif request.method == "POST":
        problems = [f"{form[name].label.text}: {' '.join(errors)}"
                    for name, errors in form.errors.items() if name in form.editable]
    page = render_template("registers/form.html", register=register, form=form,
                           problems=problems, entry=None)
    return (page, 422) if request.method == "POST" else page


@bp.route("/registers/<register_id>/edit/<path:key>", methods=["GET", "POST"])
@login_required
def edit(register_id: str, key: str) -> str | BaseResponse | tuple[str, int]:
    """Change an entry; a change made on a version someone else changed since is refused."""
    register = _register(register_id, edit=True)
    found = _entry(register, key)
    form_class = _form(register, editing=True)
    form = form_class() if request.method == "POST" else form_class(
        data=form_class.initial(found.values))
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        status = 422
        version = guards.version_number(request.form.get("row_version"))
        if version is None:
            abort(400, description=_("The form has no valid version: reload the page."))
        if form.validate():
            reason = (request.form.get("reason") or "").strip()[:1000] or None
            try:
                with _sessions().begin() as session:
                    registers.update(session, definition(), register.id, key, form.raw(),
                                     version, _now(), By(current_user.id, current_user.name),
                                     reason, web_client())
            except EntryInvalid as error:
                problems = _problems(form, error, register)
            except registers.EntryConflict:
                status = 409
                problems = [_("Someone else changed this entry while you were editing it. "
                              "Nothing was saved: reload the page to see their change, then "
                              "make yours again.")]
            else:
                flash(_("Saved."), "success")
                return redirect(url_for("registers.entry", register_id=register.id, key=key))
        else:
            problems = [f"{form[name].label.text}: {' '.join(errors)}"
                        for name, errors in form.errors.items() if name in form.editable]
    page = render_template("registers/form.html", register=register, form=form,
                           problems=problems, entry=found)
    return (page, status) if request.method == "POST" else page


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/registers/<register_id>/export")
@login_required
def export(register_id: str) -> Response:
    """Every entry of the register as an Excel workbook, headers in the reader's language."""
    register = _register(register_id)
    with _sessions()() as session:
        data = register_sheets.export(session, definition(), register.id, locale())
    return Response(data, mimetype=XLSX, headers={
        "Content-Disposition": f'attachment; filename="{register.id}.xlsx"',
        "Cache-Control": "no-store"})


@bp.route("/registers/<register_id>/import", methods=["GET", "POST"])
@login_required
def import_sheet(register_id: str) -> str | BaseResponse | tuple[str, int]:
    """Import a workbook: each bad row is listed and nothing is imported."""
    register = _register(register_id, edit=True)
    problems: list[str] = []
    if request.method == "POST":
        upload = request.files.get("workbook")
        if upload is None or not upload.filename:
            problems = [_("Choose an Excel workbook (.xlsx) to import.")]
        else:
            try:
                with _sessions().begin() as session:
                    done = register_sheets.import_sheet(
                        session, definition(), register.id, upload.read(), _now(),
                        By(current_user.id, current_user.name), web_client())
            except register_sheets.SheetRefused as refused:
                problems = refused.problems
            else:
                flash(_("Imported: %(created)s registered, %(changed)s changed.",
                        created=done.created, changed=done.changed), "success")
                return redirect(url_for("registers.entries", register_id=register.id))
    page = render_template("registers/import.html", register=register, problems=problems)
    return (page, 422) if problems else page
