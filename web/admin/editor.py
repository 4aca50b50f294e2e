"""Definitions edited in the browser: drafts, live validation, publishing and activation.

A draft starts as a copy of the served version's files and is edited one file at a time; each
change is validated as ``qmsflow validate`` would (the JSON of :func:`check_draft`, asked for by
the editor as the user types). Another administrator publishes it with a change-request number,
signing with their own password (meaning "approved"); activating a stored version (signed too)
makes every worker serve it from its next request. Every change is audited.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from qmsflow.engine import graph
from qmsflow.engine.persistence import (
    AuthenticationFailed,
    By,
    DraftError,
    DraftRecord,
    UnknownVersion,
    drafts,
    versions,
)
from qmsflow.engine.schemas import schema_texts
from qmsflow.engine.sources import MANIFEST

from ..auth import service, web_client
from ..i18n import definition as served
from ..i18n import gettext as _
from ..i18n import label, local_time, locale, meaning_label
from ..runtime import Runtime
from . import bp, problems
from .checking import preview_steps
from .versions import shown_versions

# The meaning of the reviewer's signature that publishes a draft (the organisation labels it).
APPROVED = "approved"
# Starting text of a new file: the kind is the first thing its schema asks for.
NEW_FILE = "kind: process\n"


def _by() -> By:
    return By(current_user.id, current_user.name)


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["qmsflow"]
    return runtime


def _draft(draft_id: int) -> DraftRecord:
    try:
        with service().transaction() as session:
            return drafts.get(session, draft_id)
    except DraftError:
        abort(404)


def _author_name(user_id: str) -> str:
    user = service().user(user_id)
    return user.name if user is not None else user_id


@bp.route("/drafts")
def drafts_index() -> str:
    """Every draft, and the stored versions with which one is active."""
    with service().transaction() as session:
        listed = drafts.listed(session)
        active = drafts.active(session)
    return render_template(
        "admin/drafts.html", drafts=listed, versions=shown_versions(), active=active,
        author_name=_author_name, local_time=local_time, served_version=served().version)


@bp.route("/drafts", methods=["POST"])
def start_draft() -> BaseResponse:
    """A new draft: a copy of the served version's files."""
    title = (request.form.get("title") or "").strip() or _("Untitled draft")
    current = served()
    runtime = _runtime()
    with service().transaction() as session:
        try:
            stored = versions.find(session, current.version)
            files, root = dict(stored.files), stored.root
        except UnknownVersion:  # the folder's set, never published: its files as they are
            files, root = versions.snapshot(runtime.definitions_path)
        draft = drafts.start(session, title, files, root, current.version, _by(),
                             service().now())
    flash(_("Draft %(title)s started from version %(version)s.", title=draft.title,
            version=current.version[:12]))
    return redirect(url_for("admin.edit_draft", draft_id=draft.id))


def _chosen_file(draft: DraftRecord) -> str:
    wanted = request.args.get("file", "")
    own = draft.set_files()
    if wanted in draft.files:
        return wanted
    manifest = f"{draft.root}/{MANIFEST}".removeprefix("./")
    return manifest if manifest in draft.files else (own or sorted(draft.files))[0]


@bp.route("/drafts/<int:draft_id>")
def edit_draft(draft_id: int) -> str:
    """The editor: the draft's files beside the chosen one's text, with its problems."""
    draft = _draft(draft_id)
    chosen = _chosen_file(draft)
    _, found = problems.compiled(draft.files, draft.root)
    return render_template(
        "admin/draft.html", draft=draft, chosen=chosen, text=draft.files[chosen],
        problems=[problems.as_json(p) for p in found], author_name=_author_name(draft.author_id),
        own_files=draft.set_files(), other_files=sorted(set(draft.files) - set(draft.set_files())),
        is_author=draft.author_id == current_user.id, local_time=local_time,
        meaning=meaning_label(APPROVED))


def _edited(draft: DraftRecord, name: str, text: str) -> dict[str, str]:
    if name not in draft.files:
        abort(400, _("The draft has no file %(name)s.", name=name))
    files = {**draft.files, name: text.replace("\r\n", "\n")}
    # Checked before anything compiles it: each check writes and compiles the whole set.
    if sum(len(content) for content in files.values()) > drafts.MAX_CHARS:
        abort(400, _("A draft holds at most %(count)s characters: nothing was checked or "
                     "saved.", count=drafts.MAX_CHARS))
    return files


@bp.route("/drafts/<int:draft_id>/check", methods=["POST"])
def check_draft(draft_id: int) -> Response:
    """The draft's problems as it would be with one file's text replaced (JSON)."""
    draft = _draft(draft_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("file"), str) or not isinstance(
            body.get("text"), str):
        abort(400, _("Send the file's name and its text."))
    definition, found = problems.compiled(_edited(draft, body["file"], body["text"]),
                                          draft.root)
    return Response(json.dumps({
        "valid": definition is not None, "version": definition.version if definition else "",
        "problems": [problems.as_json(p) for p in found],
        "count": _("%(count)s problem(s)", count=len(found)) if found else _("Valid."),
    }, ensure_ascii=False), mimetype="application/json")


@bp.route("/drafts/<int:draft_id>/save", methods=["POST"])
def save_draft(draft_id: int) -> BaseResponse:
    """Save one file's text (and the title); problems do not stop a save, only a publish."""
    draft = _draft(draft_id)
    name = request.form.get("file", "")
    files = _edited(draft, name, request.form.get("text", ""))
    try:
        with service().transaction() as session:
            drafts.save(session, draft.id, files, _by(), service().now(),
                        request.form.get("title"))
    except DraftError as error:
        flash(_("Not saved: %(reason)s", reason=str(error)), "error")
    else:
        flash(_("Saved %(name)s.", name=name))
    return redirect(url_for("admin.edit_draft", draft_id=draft.id, file=name))


@bp.route("/drafts/<int:draft_id>/files", methods=["POST"])
def draft_files(draft_id: int) -> BaseResponse:
    """Add a file to the draft's set, or remove one (never its manifest)."""
    draft = _draft(draft_id)
    files = dict(draft.files)
    raw = (request.form.get("name") or "").strip()
    removing = request.form.get("action") == "remove"
    try:
        name = drafts.safe_file_name(raw if removing else
                                     f"{draft.root}/{raw}".removeprefix("./"))
    except DraftError:
        flash(_("%(name)s is not a file name for the set: give a relative name ending in "
                ".yaml, for example processes/recall.yaml.", name=raw), "error")
        return redirect(url_for("admin.edit_draft", draft_id=draft.id))
    if removing:
        if name not in files or name.endswith("/" + MANIFEST) or name == MANIFEST:
            flash(_("%(name)s cannot be removed.", name=name), "error")
            return redirect(url_for("admin.edit_draft", draft_id=draft.id))
        del files[name]
        shown = None
    elif name in files:
        flash(_("The draft has a file %(name)s already.", name=name), "error")
        return redirect(url_for("admin.edit_draft", draft_id=draft.id, file=name))
    else:
        files[name] = NEW_FILE
        shown = name
    try:
        with service().transaction() as session:
            drafts.save(session, draft.id, files, _by(), service().now())
    except DraftError as error:
        flash(_("Not saved: %(reason)s", reason=str(error)), "error")
        shown = None
    else:
        flash(_("Removed %(name)s.", name=name) if removing else _("Added %(name)s.", name=name))
    return redirect(url_for("admin.edit_draft", draft_id=draft.id, file=shown))


@bp.route("/drafts/<int:draft_id>/preview")
def preview_draft(draft_id: int) -> tuple[str, int]:
    """Every form and the state diagram of every process of the draft."""
    draft = _draft(draft_id)
    definition, found = problems.compiled(draft.files, draft.root)
    if definition is None:
        return render_template("admin/draft_preview.html", draft=draft, definition=None,
                               problems=[problems.as_json(p) for p in found], shown=[]), 422
    shown = [(preview_steps(definition, process),
              graph.dot(process, locale(), definition.organisation))
             for process in definition.processes.values()]
    return render_template("admin/draft_preview.html", draft=draft, definition=definition,
                           problems=[], shown=shown), 200


@bp.route("/drafts/<int:draft_id>/publish", methods=["POST"])
def publish_draft(draft_id: int) -> BaseResponse:
    """Publish the draft as a version: another administrator signs it with their password."""
    draft = _draft(draft_id)
    back = redirect(url_for("admin.edit_draft", draft_id=draft.id))
    change_request = (request.form.get("change_request") or "").strip()
    if draft.author_id == current_user.id:
        flash(_("You wrote this draft: another administrator reviews and publishes it."),
              "error")
        return back
    if not change_request:
        flash(_("Give the change-request number."), "error")
        return back
    definition, found = problems.compiled(draft.files, draft.root)
    if definition is None:
        flash(_("The draft has %(count)s problem(s): fix them before publishing.",
                count=len(found)), "error")
        return back
    try:
        service().check_signer(current_user.id, request.form.get("password") or "",
                               web_client())
    except AuthenticationFailed:
        flash(_("The password is not right: nothing was published."), "error")
        return back
    try:
        with service().transaction() as session:
            drafts.publish(session, draft.id, definition, _by(), service().now(),
                           change_request, APPROVED)
    except DraftError as error:
        flash(_("Not published: %(reason)s", reason=str(error)), "error")
        return back
    flash(_("Published as version %(version)s, approved by %(name)s. Activate it to serve it.",
            version=definition.version[:12], name=current_user.name))
    return redirect(url_for("admin.drafts_index"))


@bp.route("/activate", methods=["POST"])
def activate_version() -> BaseResponse:
    """Serve a stored version from the next request on, in every worker (signed)."""
    back = redirect(url_for("admin.drafts_index"))
    wanted = request.form.get("version", "")
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        flash(_("Give the change-request number or the reason for the activation."), "error")
        return back
    try:
        service().check_signer(current_user.id, request.form.get("password") or "",
                               web_client())
    except AuthenticationFailed:
        flash(_("The password is not right: nothing was activated."), "error")
        return back
    try:
        with service().transaction() as session:
            full = versions.find(session, wanted).hash if len(wanted) >= 6 else wanted
            drafts.activate(session, full, _by(), service().now(), reason)
        definition = _runtime().refresh()
    except UnknownVersion:
        flash(_("There is no stored version %(version)s.", version=wanted[:12]), "error")
        return back
    flash(_("Version %(version)s (%(set)s) is active: new cases start on it from now on.",
            version=definition.version[:12], set=label(definition.label)))
    return back


@bp.route("/drafts/schemas.json")
def editor_schemas() -> Response:
    """The JSON Schema of each kind of file, self-contained, for completion and hover help."""
    texts = {name: json.loads(text) for name, text in schema_texts().items()}
    common = texts.pop("common.schema.json")
    shared = {f"common_{key}": _local_refs(value, in_common=True)
              for key, value in common.get("$defs", {}).items()}
    result = {}
    for name, schema in texts.items():
        merged = {**schema, "$defs": {**schema.get("$defs", {}), **shared}}
        merged.pop("$id", None)
        result[name.removesuffix(".schema.json")] = _local_refs(merged)
    return Response(json.dumps(result, ensure_ascii=False), mimetype="application/json",
                    headers={"Cache-Control": "private, max-age=3600"})


def _local_refs(node: Any, in_common: bool = False) -> Any:
    """``node`` with references into common.schema.json turned into local ones."""
    if isinstance(node, dict):
        result = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                if value.startswith("common.schema.json#/$defs/"):
                    value = "#/$defs/common_" + value.removeprefix("common.schema.json#/$defs/")
                elif in_common and value.startswith("#/$defs/"):
                    value = "#/$defs/common_" + value.removeprefix("#/$defs/")
            result[key] = _local_refs(value, in_common)
        return result
    if isinstance(node, list):
        return [_local_refs(item, in_common) for item in node]
    return node

