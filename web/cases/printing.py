"""The printable case form (客户抱怨处理表 style) as an HTML page and as a PDF.

The layout follows the process's ``print`` definition: its title, the sections it names (drawn
from the process's forms, every field of each, blank lines for empty ones, as a paper form
has), the signatures, the copy distribution and the note. The PDF is the same page rendered by
WeasyPrint, which reads the stylesheet from this server's static folder, never over HTTP.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import weasyprint
from flask import Response, abort, current_app, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from weasyprint.urls import URLFetcher, URLFetcherResponse
from werkzeug.security import safe_join

from qmsflow import forms
from qmsflow.engine import machine
from qmsflow.engine.model import Process
from qmsflow.engine.persistence import CaseNotFound, History
from qmsflow.forms.visibility import holds

from ..auth import login_required, service
from ..i18n import gettext as _
from ..i18n import label, local_time, meaning_label, role_label
from . import bp, views

# Field types that take a whole row of the printed table: they hold paragraphs.
WIDE_TYPES = frozenset({"long_text", "multi_choice"})


@dataclass(frozen=True)
class PrintedCell:
    """One label/value pair of a printed section; ``span`` is how many pairs wide it is."""

    label: str
    text: str
    span: int


@dataclass(frozen=True)
class PrintedSection:
    """A bordered table of the printed form: rows of label/value cells."""

    id: str
    label: str
    columns: int
    rows: tuple[tuple[PrintedCell, ...], ...]


@dataclass(frozen=True)
class PrintedSignature:
    """A signature as printed: name, local time with zone, meaning, step, validity."""

    name: str
    at: str
    meaning: str
    step: str
    invalid_at: str
    invalid_why: str


def printed_sections(process: Process, values: Mapping[str, Any],
                     hidden: frozenset[str] = frozenset(),
                     context: Mapping[str, Any] | None = None) -> list[PrintedSection]:
    """The print layout's sections as rows of cells, every field, empty ones blank; the
    fields in ``hidden`` (personal data the reader may not see) print a placeholder.

    A section or field whose ``show_if`` does not hold on ``context`` (the case's expression
    names) is left out, as its form leaves it out: a patient section for a complaint with no
    patient is not a question left blank. Without a context every section prints.
    """
    result = []
    printed: set[str] = set()
    for section in forms.print_layout(process):
        if context is not None and not holds(section.show_if, context):
            continue
        columns = max(1, section.columns)
        rows: list[tuple[PrintedCell, ...]] = []
        row: list[PrintedCell] = []
        for item in section.fields:
            spec = item.spec
            if context is not None and not holds(item.show_if, context):
                continue
            if spec.id in printed:
                # Forms repeat fields for context (a batch number beside the classification);
                # paper asks each question once, where it first appears.
                continue
            printed.add(spec.id)
            text = (views.hidden_text() if spec.id in hidden
                    else views.value_text(process, spec.id, values.get(spec.id)))
            if spec.type == "file" and "/" in text and spec.id not in hidden:
                text = text.split("/", 1)[1]  # the stored name is 'digest/name': print the name
            wide = spec.type in WIDE_TYPES and columns > 1
            if wide and row:
                rows.append(_close(row, columns))
                row = []
            row.append(PrintedCell(label(spec.label), text, columns if wide else 1))
            if sum(cell.span for cell in row) >= columns:
                rows.append(tuple(row))
                row = []
        if row:
            rows.append(_close(row, columns))
        if rows:
            result.append(PrintedSection(section.id, label(section.label), columns,
                                         tuple(rows)))
    return result


def _close(row: list[PrintedCell], columns: int) -> tuple[PrintedCell, ...]:
    # The last cell of an incomplete row stretches, so every row of the table is as wide.
    used = sum(cell.span for cell in row)
    last = row[-1]
    return (*row[:-1], PrintedCell(last.label, last.text, last.span + columns - used))


def printed_signatures(process: Process, found: History) -> list[PrintedSignature]:
    """Every signature of the case, oldest first, in the reader's language and time zone."""
    result = []
    for signature in found.signatures:
        step = process.step(signature.step)
        result.append(PrintedSignature(
            signature.signer_name, local_time(signature.signed_at, with_zone=True),
            meaning_label(signature.meaning), label(step.label) if step else signature.step,
            local_time(signature.invalidated_at), signature.invalidated_by or ""))
    return result


def _page(number: str) -> str | tuple[str, int]:
    """The printable form's HTML, or an error page and its status."""
    try:
        found = service().read_case(number, reader=current_user.id)
    except CaseNotFound:
        abort(404)
    case = found.case
    process = found.definition.process(case.process)
    layout = process.print_layout
    if layout is None:
        return render_template(
            "error.html", status=404, title=_("No printable form"),
            message=_("The process '%(process)s' defines no printable form, so cases of it "
                      "cannot be printed. A quality administrator can add one to the process "
                      "definition.", process=label(process.label))), 404
    state = process.states.get(case.state)
    priority = next((p for p in process.priorities if p.id == case.priority), None)
    copies = [label(copy.label) for copy in layout.copies]
    return render_template(
        "cases/print.html", found=found, case=case, process=process, layout=layout,
        title=label(layout.title), state=label(state.label) if state else case.state,
        priority=label(priority.label) if priority else (case.priority or ""),
        owner=role_label(case.assignee_role),
        sections=printed_sections(process, case.values,
                                  views.hidden_fields(process, found.visibility),
                                  machine.context(process, case.values, case,
                                                  now=service().now())),
        signatures=printed_signatures(process, found),
        links=views.links(found.definition, case),
        copies=copies, note=label(layout.note), page_css=page_css(case.number, copies),
        printed_at=local_time(service().now(), with_zone=True))


@bp.route("/cases/<number>/print")
@login_required
def printable(number: str) -> str | tuple[str, int]:
    """The case as its controlled paper form, ready for the browser's print dialog."""
    return _page(number)


@bp.route("/cases/<number>/pdf")
@login_required
def pdf(number: str) -> Response | tuple[str, int]:
    """The printable form as a PDF download named after the case number."""
    page = _page(number)
    if isinstance(page, tuple):
        return page
    document = weasyprint.HTML(string=page, base_url=request.url_root,
                               url_fetcher=StaticFetcher(request.url_root)).write_pdf()
    response = Response(document, mimetype="application/pdf")
    # The number is the file name: numbers are made of safe characters by their format, and
    # Werkzeug quotes whatever else would need it.
    response.headers.set("Content-Disposition", "attachment", filename=f"{number}.pdf")
    return response


def page_css(number: str, copies: Sequence[str]) -> Markup:
    """The page rules of a printed case: its number at the top of every page, and each copy's
    name (第一联 质量管理部存 ...) at the top of the pages of that copy (named pages
    ``copy-1``, ``copy-2`` ..., one page set each)."""
    rules = [f"@page {{ @top-right {{ content: {_css_string(number)}; }} }}"]
    rules += [f"@page copy-{index} {{ @top-left {{ content: {_css_string(copy)}; }} }}"
              for index, copy in enumerate(copies, start=1) if copy]
    return Markup("\n".join(rules))


def _css_string(text: str) -> str:
    # Letters, digits and spaces as they are; anything else as a CSS escape, so no label can
    # end the string or the style element.
    return '"' + "".join(c if c.isalnum() or c == " " else f"\\{ord(c):x} " for c in text) + '"'


class StaticFetcher(URLFetcher):
    """Serves WeasyPrint this application's static files from disk and nothing else.

    The server never fetches from itself over HTTP (a worker would wait for a worker) and
    never from elsewhere (a definition or a case value must not make it reach the network).
    """

    def __init__(self, root: str) -> None:
        super().__init__(allowed_protocols=())
        self.root = root
        # As url_for writes it, so a deployment under a path prefix works too.
        self.static_path = url_for("static", filename="")
        self.folder = Path(current_app.static_folder or "static")

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        """The static file at ``url``; ValueError for anything else (WeasyPrint skips it)."""
        parts = urlsplit(url)
        root = urlsplit(self.root)
        if (parts.scheme, parts.netloc) != (root.scheme, root.netloc) or not \
                parts.path.startswith(self.static_path):
            raise ValueError(f"only this application's static files are used: {url}")
        found = safe_join(str(self.folder), unquote(parts.path[len(self.static_path):]))
        if found is None or not Path(found).is_file():
            raise ValueError(f"no static file {url}")
        kind = mimetypes.guess_type(found)[0] or "application/octet-stream"
        return URLFetcherResponse(url, Path(found).read_bytes(), {"Content-Type": kind})
