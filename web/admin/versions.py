"""The deployed definition versions: which are stored, who published them, what runs on them."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, render_template, request

from qmsflow.engine.model import DefinitionSet
from qmsflow.engine.persistence import UnknownVersion
from qmsflow.engine.persistence import versions as stored
from qmsflow.engine.problems import DefinitionError

from ..auth import service
from ..i18n import definition as served
from ..i18n import gettext as _
from ..i18n import label, local_time
from . import bp
from .telling import forward


@dataclass(frozen=True)
class ShownVersion:
    """One stored definition version as the index lists it."""

    hash: str
    set_id: str
    label: str
    published_at: str
    published_by: str
    note: str
    open_cases: int
    served: bool
    files: tuple[str, ...]


def compiled_version(version: str) -> DefinitionSet | None:
    """The compiled set of a stored version, or None when it no longer compiles."""
    try:
        return service().definition(version)
    except (DefinitionError, UnknownVersion):
        return None


def _publisher(user_id: str | None) -> str:
    if user_id is None:
        return _("command line")
    user = service().user(user_id)
    return f"{user.name} ({user_id})" if user is not None else user_id


def shown_versions() -> list[ShownVersion]:
    """Every stored version, newest first, with its open cases and whether it is served."""
    current = served().version
    with service().transaction() as session:
        counts = stored.open_counts(session)
        rows = [(row.hash, row.set_id, row.published_at, row.published_by, row.note,
                 tuple(sorted(row.files))) for row in stored.listed(session)]
    result = []
    for hash_, set_id, at, by, note, files in reversed(rows):
        compiled = compiled_version(hash_)
        result.append(ShownVersion(
            hash_, set_id, label(compiled.label) if compiled else "", local_time(at, True),
            _publisher(by), note or "", counts.get(hash_, 0), hash_ == current, files))
    return result


@bp.route("/")
def index() -> str:
    """The deployed definition versions and the processes of the served one."""
    definition = served()
    shown = shown_versions()
    return render_template(
        "admin/index.html", versions=shown, definition=definition,
        served_stored=any(item.served for item in shown),
        definitions_path=current_app.extensions["qmsflow"].definitions_path)


def running_version(found: ShownVersion, shown: list[ShownVersion], wanted: str = ""
                    ) -> ShownVersion | None:
    """The version ``found`` is compared with and would take cases from: ``wanted`` (a hash
    prefix, from ``?from=``), else the served one, else for the served version itself the
    newest other version that still has open cases; None when there is none."""
    others = [item for item in shown if item.hash != found.hash]
    if wanted:
        return next((item for item in others if item.hash.startswith(wanted)), None) \
            if len(wanted) >= 6 else None
    return next((item for item in others if item.served), None) or next(
        (item for item in others if item.open_cases), None)


@bp.route("/versions/<version>")
def version(version: str) -> str:
    """One stored version: its files, its processes, and what moving to it from the running
    version changes for users (forward, in their language), with the open cases it moves."""
    shown = shown_versions()
    found = next((item for item in shown if item.hash.startswith(version)), None)
    if found is None or len(version) < 6:
        abort(404)
    compiled = compiled_version(found.hash)
    running = running_version(found, shown, request.args.get("from", ""))
    running_set = compiled_version(running.hash) if running is not None else None
    told = forward(running_set, compiled, running.open_cases) \
        if compiled is not None and running is not None and running_set is not None else None
    return render_template("admin/version.html", version=found, compiled=compiled,
                           running=running, told=told,
                           sources=[item for item in shown if item.hash != found.hash
                                    and item.open_cases])
