"""Validate a definition set and preview its forms, before anyone publishes it.

The set comes from a folder on this server (picked from a list, never typed) or from an
uploaded zip unpacked for the request only. Nothing here writes to the database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from flask import current_app, render_template, request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField
from wtforms.validators import Optional

from qmsflow import forms
from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.loader import check, load
from qmsflow.engine.model import DefinitionSet, Process, Step
from qmsflow.engine.problems import DefinitionError, Problem, did_you_mean

from ..auth import service
from ..cases import views
from ..i18n import definition as served
from ..i18n import gettext as _
from ..i18n import label, locale
from . import bp, sources
from .diagrams import meaning_name
from .telling import Forward, forward
from .versions import shown_versions

F = TypeVar("F", bound="SourceForm")
UPLOAD = ""  # the choice of the source select that means "the uploaded zip"


class SourceForm(FlaskForm):
    """Which definition set to look at: one on this server, or an uploaded zip."""

    # Labels are set per request, in the user's language (see _with_choices).
    source = SelectField("source", choices=[], validate_choice=True)
    upload = FileField("upload")


class PreviewForm(SourceForm):
    """A set, and optionally one of its processes."""

    process_id = StringField("process_id", validators=[Optional()])


def _served_path() -> Path:
    path: Path = current_app.extensions["qmsflow"].definitions_path
    return path


def _with_choices(form: F) -> F:
    """``form`` with its labels in the user's language and the sets it may pick."""
    form.source.label.text = _("Definition set on this server")
    form.upload.label.text = _("Or upload a zip of a set folder")
    if isinstance(form, PreviewForm):
        form.process_id.label.text = _("Process id (empty: every process)")
    form.source.choices = [(UPLOAD, _("(the uploaded zip)"))] + [
        (item.key, item.key) for item in sources.available(_served_path())]
    return form


class SourceProblem(QmsflowError):
    """The chosen set could not be opened; the message is for the user."""


@dataclass(frozen=True)
class Chosen:
    """A set to look at: its folder, what to call it, and how to name its files."""

    folder: Path
    name: str
    unpacked_in: Path | None = None  # the temporary folder of an upload
    #: For an upload, the server's sets it may extend, by name; None for a set on the server.
    bases: Mapping[str, Path] | None = None

    def check(self) -> list[Problem]:
        """The set's problems (an upload's ``extends`` limited to the server's sets)."""
        return check(self.folder, self.bases)

    def load(self) -> DefinitionSet:
        """The set compiled, or DefinitionError (an upload's ``extends`` limited likewise)."""
        return load(self.folder, self.bases)

    def shown(self, problems: Iterable[Problem]) -> tuple[Problem, ...]:
        """``problems`` with an upload's files named inside the zip, not in a temporary
        folder that is gone when the page shows."""
        if self.unpacked_in is None:
            return tuple(problems)
        prefix = str(self.unpacked_in) + os.sep
        return tuple(replace(p, file=p.file.removeprefix(prefix)) for p in problems)


@contextmanager
def chosen_set(form: SourceForm) -> Iterator[Chosen]:
    """The set the form names, for the block's duration."""
    upload = form.upload.data
    if form.source.data == UPLOAD:
        if not upload or not getattr(upload, "filename", ""):
            raise SourceProblem(_("Pick a definition set or upload a zip."))
        try:
            with sources.unpacked(upload.stream, upload.filename) as (folder, temporary):
                offered = {item.key: item.path for item in sources.available(_served_path())}
                yield Chosen(folder, upload.filename, temporary, offered)
        except sources.ZipRefused as refused:
            raise SourceProblem(str(refused)) from None
        return
    found = sources.by_key(_served_path(), form.source.data or "")
    if found is None:
        raise SourceProblem(_("That definition set is no longer on the server."))
    yield Chosen(found, form.source.data or "")


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating one set."""

    name: str
    problems: tuple[Problem, ...]
    version: str


def _validate(chosen: Chosen) -> ValidationReport:
    problems = chosen.check()
    version = ""
    if not problems:
        version = chosen.load().version
    return ValidationReport(chosen.name, chosen.shown(problems), version)


def _source_of_get(form: SourceForm) -> bool:
    """Take ``?source=`` of a link (server sets only); True when one was given."""
    key = request.args.get("source")
    if key is None:
        return False
    form.source.data = key
    return True


@bp.route("/validate", methods=["GET", "POST"])
def validate() -> tuple[str, int]:
    """A validation report of a definition set: every problem, or 'valid' with its version."""
    form = _with_choices(SourceForm())
    report: ValidationReport | None = None
    failure = ""
    status = 200
    wanted = form.validate_on_submit() or (request.method == "GET" and _source_of_get(form)
                                           and form.source.data != UPLOAD)
    if wanted:
        try:
            with chosen_set(form) as chosen:
                report = _validate(chosen)
        except SourceProblem as problem:
            failure, status = str(problem), 422
    elif request.method == "POST":
        failure, status = _("Pick one of the listed definition sets."), 422
    return render_template("admin/validate.html", form=form, report=report,
                           failure=failure, zip_limit=_zip_limit()), status


@dataclass(frozen=True)
class PreviewStep:
    """One step's form, built for a preview (or why it could not be)."""

    step: Step
    form: Any
    values: dict[str, Any]
    display: Callable[[str], str]
    error: str
    meaning: str  # the signature's meaning as the previewed set labels it


@dataclass(frozen=True)
class PreviewProcess:
    """Every step form of one process."""

    process: Process
    steps: tuple[PreviewStep, ...]


def preview_steps(definition: DefinitionSet, process: Process) -> PreviewProcess:
    """The forms of every start step and transition of ``process``, unbound and without
    CSRF: they are looked at, never sent."""
    people = service().people()
    values: dict[str, Any] = dict(process.defaults())

    def display(name: str) -> str:
        return views.value_text(process, name, values.get(name))

    built = []
    for step in process.every_step():
        try:
            form_class = forms.build_form(definition, process, step, locale(), people=people,
                                          base=FlaskForm, gettext=_)
            # formdata=None: the preview page itself is a POST, whose data is not this form's.
            form = form_class(formdata=None, meta={"csrf": False})
        except (ValueError, KeyError) as error:
            built.append(PreviewStep(step, None, values, display, str(error), ""))
            continue
        built.append(PreviewStep(step, form, values, display, "",
                                 meaning_name(definition, step.signature)))
    return PreviewProcess(process, tuple(built))


@bp.route("/preview", methods=["GET", "POST"])
def preview() -> tuple[str, int]:
    """Every form of a process of any set, rendered as users would see it, with no submit."""
    form = _with_choices(PreviewForm())
    shown: list[PreviewProcess] = []
    failure = ""
    problems: tuple[Problem, ...] = ()
    processes: list[tuple[str, str]] = []
    told: Forward | None = None
    name = ""
    status = 200
    from_link = request.method == "GET" and _source_of_get(form)
    if from_link:
        form.process_id.data = request.args.get("process", "")
    if form.validate_on_submit() or (from_link and form.source.data != UPLOAD):
        try:
            with chosen_set(form) as chosen:
                name = chosen.name
                try:
                    definition = chosen.load()
                except DefinitionError as error:
                    problems, status = chosen.shown(error.problems), 422
                else:
                    processes = [(pid, label(p.label))
                                 for pid, p in definition.processes.items()]
                    told = _told(definition)
                    wanted = (form.process_id.data or "").strip()
                    if wanted and wanted not in definition.processes:
                        failure, status = _(
                            "The set has no process '%(process)s'. %(hint)s", process=wanted,
                            hint=did_you_mean(wanted, definition.processes) or _(
                                "Its processes: %(known)s.",
                                known=", ".join(definition.processes))), 422
                    else:
                        shown = [preview_steps(definition, p)
                                 for pid, p in definition.processes.items()
                                 if not wanted or pid == wanted]
        except SourceProblem as problem:
            failure, status = str(problem), 422
    elif request.method == "POST":
        failure, status = _("Pick one of the listed definition sets."), 422
    return render_template(
        "admin/preview.html", form=form, shown=shown, failure=failure, problems=problems,
        processes=processes, name=name, told=told,
        linkable=form.source.data not in (None, UPLOAD), zip_limit=_zip_limit()), status


def _told(definition: DefinitionSet) -> Forward | None:
    """What publishing and serving ``definition`` would change for users, with the open cases
    of the served version whose due times it moves; None for the served set itself."""
    running = served()
    if definition.version == running.version:
        return None
    counts = {item.hash: item.open_cases for item in shown_versions()}
    return forward(running, definition, counts.get(running.version, 0),
                   stored=definition.version in counts)


def _zip_limit() -> int:
    return sources.ZIP_MAX_BYTES // (1024 * 1024)
