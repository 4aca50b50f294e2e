"""Regulators' report forms of a case: what is missing, the form as a page and a PDF in the
authority's language, a JSON export, and a generated PDF kept in the record.

The forms, their fields and the case fields that fill them are definitions (``kind:
report-form``); this module only shows them. Keeping a generated PDF is a step of the process
(the form's ``keep``), taken through the case service like any other: audited, with the
user's reason, the file stored under its SHA-256.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import weasyprint
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from qmsflow.engine import machine
from qmsflow.engine import report_forms as engine_forms
from qmsflow.engine import values as value_ops
from qmsflow.engine.machine import Refused
from qmsflow.engine.model import Process, ReportForm, text
from qmsflow.engine.persistence import CaseNotFound, Conflict, History
from qmsflow.engine.report_forms import FilledForm

from .. import explain, uploads
from ..auth import login_required, service
from ..i18n import gettext as _
from ..i18n import in_locale, label, local_time
from . import bp, views
from .printing import StaticFetcher


@dataclass(frozen=True)
class FormStatus:
    """A form as the case page lists it: its name, whether it can be submitted and, if not,
    the names of the mandatory fields still empty, in the reader's language."""

    id: str
    label: str
    authority: str
    missing: tuple[str, ...]
    keep: bool


def statuses(found: History) -> list[FormStatus]:
    """The report forms that apply to the case of ``found``."""
    case, definition = found.case, found.definition
    process = definition.process(case.process)
    result = []
    for form in _applying(found):
        filled = engine_forms.fill(form, case.values)
        result.append(FormStatus(form.id, label(form.label), label(form.authority),
                                 tuple(label(item.label) for item in filled.missing),
                                 form.keep is not None and not process.states[case.state].final))
    return result


def _applying(found: History) -> list[ReportForm]:
    case, definition = found.case, found.definition
    process = definition.process(case.process)
    names = machine.CaseView(process, case.values, case, now=service().now())
    return engine_forms.forms_for(definition.report_forms, process, names)


def _find(number: str, form_id: str) -> tuple[History, Process, ReportForm]:
    try:
        found = service().read_case(number, history=False, reader=current_user.id)
    except CaseNotFound:
        abort(404)
    form = next((f for f in _applying(found) if f.id == form_id), None)
    if form is None:
        abort(404)
    return found, found.definition.process(found.case.process), form


@dataclass(frozen=True)
class FilledField:
    """One field of the filled form, worded in the form's language."""

    id: str
    label: str
    text: str
    mandatory: bool


def _sections(found: History, process: Process, filled: FilledForm
              ) -> list[tuple[str, list[FilledField]]]:
    """The form's sections with their fields' values as text in the form's language; personal
    data the reader may not see prints as hidden."""
    hidden = views.hidden_fields(process, found.visibility)
    form = filled.form
    result = []
    for part in form.parts:
        rows = []
        for item in part.items:
            value = filled.values[item.id]
            if item.source in hidden:
                shown = views.hidden_text()
            elif item.source is None or value is None:
                shown = ""
            else:
                shown = _display(process, item.source, value, form.language)
            rows.append(FilledField(item.id, text(item.label, form.language), shown,
                                    item.mandatory))
        result.append((text(part.label, form.language), rows))
    return result


def _display(process: Process, name: str, value: Any, language: str) -> str:
    spec = process.fields[name]
    if spec.type == "datetime" and isinstance(value, datetime):
        return local_time(value, with_zone=True)
    if spec.type == "file" and isinstance(value, str) and "/" in value:
        return value.split("/", 1)[1]
    return value_ops.display(spec, value, language)


def _page(number: str, form_id: str) -> str:
    found, process, form = _find(number, form_id)
    with in_locale(form.language):
        return _render(found, process, form)


def _render(found: History, process: Process, form: ReportForm) -> str:
    filled = engine_forms.fill(form, found.case.values)
    return render_template(
        "cases/report_form.html", found=found, case=found.case, form=form,
        language=form.language, title=text(form.label, form.language),
        authority=text(form.authority, form.language),
        sections=_sections(found, process, filled),
        missing=[text(item.label, form.language) for item in filled.missing],
        printed_at=local_time(service().now(), with_zone=True))


def _pdf(page: str) -> bytes:
    return bytes(weasyprint.HTML(string=page, base_url=request.url_root,
                                 url_fetcher=StaticFetcher(request.url_root)).write_pdf())


@bp.route("/cases/<number>/forms/<form_id>")
@login_required
def report_form(number: str, form_id: str) -> str:
    """The report form filled from the case, as a page in the authority's language."""
    return _page(number, form_id)


@bp.route("/cases/<number>/forms/<form_id>.pdf")
@login_required
def report_form_pdf(number: str, form_id: str) -> Response:
    """The report form as a PDF download (not kept: see :func:`keep_report_form`)."""
    document = _pdf(_page(number, form_id))
    response = Response(document, mimetype="application/pdf")
    response.headers.set("Content-Disposition", "attachment",
                         filename=f"{number}-{form_id}.pdf")
    return response


@bp.route("/cases/<number>/forms/<form_id>.json")
@login_required
def report_form_json(number: str, form_id: str) -> Response:
    """The report form as JSON: the form's fields by section with their values, the mandatory
    fields still empty, and the statement of which official schema it follows."""
    found, process, form = _find(number, form_id)
    hidden = views.hidden_fields(process, found.visibility)
    filled = engine_forms.fill(form, found.case.values)
    document = {
        "form": form.id, "label": dict(form.label), "authority": dict(form.authority),
        "standard": dict(form.standard), "case": found.case.number,
        "definition_version": found.case.version,
        "exported_at": service().now().isoformat(),
        "sections": [{
            "id": part.id, "label": dict(part.label),
            "fields": [{"id": item.id, "label": dict(item.label), "mandatory": item.mandatory,
                        "from": item.source,
                        "value": None if item.source in hidden
                        else _json_value(filled.values[item.id])}
                       for item in part.items]}
            for part in form.parts],
        "missing": [item.id for item in filled.missing],
    }
    response = Response(json.dumps(document, ensure_ascii=False, indent=2),
                        mimetype="application/json")
    response.headers.set("Content-Disposition", "attachment",
                         filename=f"{number}-{form_id}.json")
    return response


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)  # exactly as stored, never through a float
    if isinstance(value, frozenset | tuple | list):
        return sorted(str(v) for v in value)
    return value


@bp.route("/cases/<number>/forms/<form_id>/keep", methods=["POST"])
@login_required
def keep_report_form(number: str, form_id: str) -> BaseResponse:
    """Generate the form's PDF and keep it in the record: the form's ``keep`` step, with the
    PDF (stored under its SHA-256) and the reason the user gave."""
    found, process, form = _find(number, form_id)
    if form.keep is None:
        abort(404)
    step_id, field = form.keep
    reason = (request.form.get("reason") or "").strip()
    back = redirect(url_for("cases.case", number=number), 303)
    if not reason:
        flash(_("Give the reason the form is generated (e.g. for the initial submission)."),
              "error")
        return back
    document = _pdf(_page(number, form_id))
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    reference = uploads.store(folder, io.BytesIO(document), f"{number}-{form_id}.pdf",
                              max(len(document), current_app.config["UPLOAD_MAX_BYTES"]),
                              frozenset({"pdf"}))
    try:
        service().apply_step(number, step_id, current_user.id, {field: reference},
                             expected_version=found.case.row_version, reason=reason)
    except Refused as refused:
        flash(" ".join(explain.reasons(process, refused.reasons)), "error")
        return back
    except Conflict:
        flash(_("The case changed while the form was generated; nothing was kept. Look at "
                "the changes and generate it again."), "error")
        return back
    flash(_("%(form)s generated and kept in the record (SHA-256 %(digest)s).",
            form=label(form.label), digest=reference.split("/", 1)[0]), "success")
    return back
