"""Working cases: the inbox, new cases, the case page and the step forms.

Every screen is generated from the definitions. The browser only helps: each post is checked
by the engine and the case service on the server (roles, state, conditions, authority,
signatures, the row version the user saw), and a refused post changes nothing and shows the
form again with everything the user typed and a message per field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse

from qmsflow import forms
from qmsflow.engine import machine, references, witnesses, wording
from qmsflow.engine.cases import Case
from qmsflow.engine.machine import Refused
from qmsflow.engine.model import DefinitionSet, Process, Step
from qmsflow.engine.persistence import (
    COMMENT_MAX,
    AuthenticationFailed,
    CaseNotFound,
    Conflict,
    History,
    UserRecord,
)
from qmsflow.engine.values import is_empty

from .. import explain, guards, i18n, uploads
from ..auth import login_required, service, web_client
from ..i18n import definition as served
from ..i18n import gettext as _
from ..i18n import label, locale, role_label, timezone
from ..operations import case_emails
from . import outgoing, referring, signing, views

bp = Blueprint("cases", __name__, template_folder="templates")

# Names a step form may post besides its fields.
CONTROL_NAMES = frozenset({"csrf_token", "row_version", "password", "reason", "submit",
                           "preview"})


@bp.route("/notifications/read", methods=["POST"])
@login_required
def notifications_read() -> BaseResponse:
    """Mark the user's in-app notifications read (one, or all of them)."""
    try:
        one = guards.counting_number(request.form.get("id"), "id")
    except guards.BadInput as error:
        guards.refuse(error)
    service().mark_read(current_user.id, [one] if one else None)
    return redirect(url_for("cases.inbox"))


@bp.route("/new")
@login_required
def new() -> str:
    """The intake forms this user may open, per process."""
    startable = [(process, [step for step in process.starts.values()
                            if set(step.roles) & current_user.roles])
                 for process in served().processes.values()]
    return render_template("cases/new.html",
                           startable=[(p, steps) for p, steps in startable if steps])


@bp.route("/new/<process_id>/<step_id>", methods=["GET", "POST"])
@login_required
def start(process_id: str, step_id: str) -> str | BaseResponse | tuple[str, int]:
    """Open a new case through a start step's form."""
    definition = served()
    process = definition.processes.get(process_id)
    step = process.starts.get(step_id) if process else None
    if process is None or step is None:
        abort(404)
    if not set(step.roles) & current_user.roles:
        abort(403)
    return _step(definition, process, step, None)


@bp.route("/cases/<number>")
@login_required
def case(number: str) -> str:
    """A case: fields by section, state and owner, clocks, the steps offered, links and history."""
    found = _read(number)
    definition, current = found.definition, found.case
    process = definition.process(current.process)
    now = service().now()
    offered = []
    # A closed case offers only the steps written for its final state (they stop a deadline
    # that runs after the close): the engine's availability lists exactly those.
    if found.voided_at is None:
        for step_id, reasons in machine.available(definition, current, current_user.actor,
                                                  now, service().linked(current)).items():
            step = process.steps[step_id]
            offered.append({"step": step, "allowed": not reasons,
                            "why": explain.reasons(process, reasons)})
    if process.states[current.state].final:
        # On a finished case a step refused is noise (a report nobody owes, an improvement
        # never tracked): show only what can still be done there.
        offered = [offer for offer in offered if offer["allowed"]]
    offered.sort(key=lambda a: not a["allowed"])
    signatures = [{"name": s.signer_name, "at": s.signed_at, "meaning": s.meaning,
                   "step": _step_label(process, s.step), "invalid": s.invalidated_at,
                   "invalid_why": s.invalidated_by} for s in found.signatures]
    return render_template(
        "cases/case.html", found=found, case=current, process=process,
        state=process.states[current.state], offered=offered,
        sections=views.sections(process, current,
                                views.hidden_fields(process, found.visibility)),
        clocks=views.clocks(definition, current, now),
        owner=role_label(current.assignee_role), assignee=views.person(current.assignee),
        history=views.history(process, found),
        signatures=signatures, urgency=views.urgency(current, now).css,
        links=views.linked_cases(definition, current, _readable_links(current), now),
        report_forms=report_forms.statuses(found), comments=views.comments(found),
        comment_draft=g.get("comment_draft", ""), comment_max=COMMENT_MAX,
        emails=case_emails(found),
        references=referring.references(definition, process, current.values))


def _readable_links(case: Case) -> dict[str, Case]:
    """The cases linked to ``case`` that the reader may read, by number."""
    found = {}
    for link in case.links:
        try:
            found[link.number] = service().read_case(link.number, history=False,
                                                     reader=current_user.id).case
        except CaseNotFound:
            continue  # not theirs to read: the link shows its number only
    return found


def referring_fields(process: Process) -> list[str]:
    """The process's fields that refer to a register entry."""
    return list(references.referring(process))


def _step_label(process: Process, step_id: str) -> str:
    step = process.step(step_id)
    return label(step.label) if step else step_id


@bp.route("/cases/<number>/do/<step_id>", methods=["GET", "POST"])
@login_required
def act(number: str, step_id: str) -> str | BaseResponse | tuple[str, int]:
    """A step's form on a case: fields, signature and reason as the step asks."""
    found = _read(number, history=False)
    process = found.definition.process(found.case.process)
    step = process.steps.get(step_id)
    if step is None:
        abort(404)
    hidden = views.hidden_fields(process, found.visibility)
    preview = None
    if step.signature:
        # The signer sees what the signature covers before giving the password.
        signed = _read(number).signatures
        preview = signing.preview(process, step, found.case, signed, hidden)
    return _step(found.definition, process, step, found.case, hidden, preview)


def _read(number: str, history: bool = True) -> History:
    """The case as the signed-in user may read it; a case they may not read is not found,
    like one that does not exist (no way to tell the two apart)."""
    try:
        return service().read_case(number, history, reader=current_user.id)
    except CaseNotFound:
        abort(404)


def _step(definition: DefinitionSet, process: Process, step: Step,
          case: Case | None, hidden: frozenset[str] = frozenset(),
          preview: signing.SignPreview | None = None
          ) -> str | BaseResponse | tuple[str, int]:
    """Show a step's form, or take the step from a posted one. ``hidden``: the fields whose
    values the user may not see (never sent to the form; left as they are when sent empty);
    ``preview``: what a signature on the case covers, shown above the password box."""
    # Only a form with a user picker needs the list of people (one query fewer otherwise).
    pickers = any(item.spec.type == "user"
                  for _section, item in forms.step_layout(process, step).editable().values())
    form_class = forms.build_form(
        definition, process, step, locale(), people=service().people() if pickers else (),
        base=FlaskForm,
        gettext=_, uploads=forms.FileLimits(current_app.config["UPLOAD_MAX_BYTES"]),
        timezone=timezone())
    # What conditions read: the case's values, state and clocks (a new case: its defaults).
    values: dict[str, Any] = (machine.context(process, case.values, case) if case
                              else dict(process.defaults()))
    form = form_class()
    problems: list[str] = []
    status = 200
    if request.method == "GET":
        # Start from what the case holds: a step re-asking a field shows its current value.
        # A new case holds its fields' defaults, so the start form shows those (a field the
        # case holds empty stays empty: a default is where a case starts, not a fallback).
        form = form_class(data=form_class.initial(values))
        # A register entry's page opens a case for that entry: its key comes in the address.
        for name in referring_fields(process):
            if name in form and request.args.get(name):
                form[name].data = request.args[name].strip()[:200]
    previewed: list[outgoing.Outgoing] | None = None
    if request.method == "POST" and request.form.get("preview") and case is not None:
        status, problems, previewed = _preview(definition, process, step, case, form, values,
                                               hidden)
    elif request.method == "POST":
        status, problems, done = _take(definition, process, step, case, form, values, hidden)
        if done is not None:
            return done
        if any(upload.filename for upload in request.files.values()):
            problems.append(_("Choose your files again: a browser never keeps a chosen file "
                              "when a form comes back."))
    # A condition on the step's own inputs is decided when the form is sent: say it here,
    # as the step's own message (a sentence of its own) or as a clause in this one sentence.
    condition = ""
    if witnesses.condition_inputs(process, step):
        condition = _("This step's condition: %(message)s", message=wording.condition_sentence(
            step, process, locale())) if step.condition_message else _(
            "This step can be taken only when %(condition)s.",
            condition=wording.condition_clause(step, process, locale()))
    refused: list[str] = []
    if case is not None and request.method == "GET":
        why = machine.available(definition, case, current_user.actor, service().now(),
                                service().linked(case)).get(step.id, ())
        refused = explain.reasons(process, [r for r in why if r.code != "signature"])
    # The same entry with an open case elsewhere: a warning with links, never a refusal.
    chosen = {name: form[name].data for name in referring_fields(process) if name in form}
    open_elsewhere = [found for found in referring.references(
        definition, process, chosen, open_only=True,
        leave_out=case.number if case else None) if found.cases]
    return render_template(
        "cases/step.html", form=form, process=process, step=step, case=case, values=values,
        open_elsewhere=open_elsewhere,
        display=lambda name: views.hidden_text() if name in hidden else views.value_text(
            process, name, values.get(name)),
        problems=problems, refused=refused, condition=condition, preview=preview,
        previewed=previewed,
        asks_preview=case is not None and outgoing.speaks_to_customers(step),
        row_version=request.environ.get("qmsflow.row_version") or request.form.get(
            "row_version") or (case.row_version if case else ""),
        needs_reason=step.reason_required or (case is not None and any(
            process.fields[i.field].change_reason and not is_empty(case.values.get(i.field))
            for i in step.inputs))), status


def _posted(case: Case | None, form: Any, values: dict[str, Any], hidden: frozenset[str]
            ) -> tuple[int, list[str], dict[str, Any] | None]:
    """The inputs of a posted step form, or (status, problems, None) when the form is wrong."""
    extra = forms.unexpected(type(form), [*request.form.keys(), *request.files.keys()],
                             CONTROL_NAMES)
    if extra:
        return 400, [_("The form sent fields it does not have (%(names)s). Nothing was saved; "
                       "reload the page and try again.", names=", ".join(extra))], None
    version = guards.version_number(request.form.get("row_version"))
    if case is not None and version is None:
        return 400, [_("The form did not say which version of the case you saw. Nothing was "
                       "saved; reload the page and try again.")], None
    if not forms.validate(form, values):
        return 422, [_("Some fields need your attention: see the messages below.")], None
    inputs = forms.inputs(form, values)
    # A value the user could not see was not shown to them: left empty, it stays as it is.
    return 200, [], {name: value for name, value in inputs.items()
                     if not (name in hidden and is_empty(value))}


def _refusal(process: Process, form: Any, refusal: Refused) -> list[str]:
    """A refused step in words: a condition decided on the inputs given is said at the top of
    the form (and under the one field it reads, if so), in the user's language."""
    # A key with no register entry too: the engine's words name the register by its id.
    # And an entry a step's update cannot change (a loaner lent, a stock too low).
    unmet = [r for r in refusal.reasons if r.code in ("condition", "no_entry", "entry")]
    for why in unmet:
        if why.field is not None and why.field in form:
            form[why.field].errors = [*form[why.field].errors, explain.reason(process, why)]
    rest = forms.attach_reasons(form, [r for r in refusal.reasons if r not in unmet])
    return explain.reasons(process, [*unmet, *rest])


def _preview(definition: DefinitionSet, process: Process, step: Step, case: Case, form: Any,
             values: dict[str, Any], hidden: frozenset[str]
             ) -> tuple[int, list[str], list[outgoing.Outgoing] | None]:
    """What the step would e-mail customers with the inputs posted; nothing is saved."""
    status, problems, inputs = _posted(case, form, values, hidden)
    if inputs is None:
        return status, problems, None
    try:
        return 200, [], outgoing.preview(
            definition, case, step, current_user.actor, inputs, service().now(),
            service().linked(case), views.names())
    except Refused as refusal:
        return 422, [_("The step would be refused; nothing was sent or saved."),
                     *_refusal(process, form, refusal)], None


def _take(definition: DefinitionSet, process: Process, step: Step, case: Case | None,
          form: Any, values: dict[str, Any], hidden: frozenset[str] = frozenset()
          ) -> tuple[int, list[str], BaseResponse | None]:
    """Check a posted step form and take the step; (status, problems, redirect when done)."""
    status, problems, inputs = _posted(case, form, values, hidden)
    if inputs is None:
        return status, problems, None
    version = guards.version_number(request.form.get("row_version"))
    try:
        inputs.update(_store_files(form))
    except uploads.UploadRefused as error:
        return 422, [str(error)], None
    password = request.form.get("password") or None
    reason = request.form.get("reason") or None
    try:
        if case is None:
            result = service().create_case(process.id, step.id, current_user.id, inputs,
                                           password=password, reason=reason, client=web_client())
        else:
            result = service().apply_step(
                case.number, step.id, current_user.id, inputs,
                expected_version=version, password=password,
                reason=reason, client=web_client())
    except Refused as refusal:
        return 422, [_("The step was refused; nothing was saved."),
                     *_refusal(process, form, refusal)], None
    except AuthenticationFailed as failure:
        if failure.why == "locked":
            message = _("Signing is paused for a while after several wrong passwords; "
                        "nothing was saved. Try again later, or ask an administrator.")
        else:
            message = _("The password is wrong, so the signature was not given; nothing was "
                        "saved.")
        return 422, [message], None
    except Conflict:
        assert case is not None  # a new case cannot conflict
        # Keep what the user typed, and let them send it again once they have seen the change.
        current = service().read_case(case.number, reader=current_user.id).case
        values.update(current.values)
        request.environ["qmsflow.row_version"] = current.row_version
        return 409, [_("Someone else changed this case while you had it open, so nothing was "
                       "saved. Open the case in another tab to see what changed; your input "
                       "is kept below: check it and send it again.")], None
    state = label(process.states[result.state].label)
    for found in referring.references(definition, process, {
            name: result.values.get(name) for name in referring_fields(process)
            if name in inputs and (case is None or case.values.get(name) != result.values.get(
                name))}, open_only=True, leave_out=result.number):
        if found.cases:
            flash(_("%(entry)s %(key)s has other open cases: %(numbers)s.",
                    entry=found.register_label, key=found.key,
                    numbers=", ".join(other.number for other in found.cases)), "warning")
    if step.stays:
        flash(_("%(step)s: done. Case %(number)s stays '%(state)s'.", step=label(step.label),
                number=result.number, state=state), "success")
    else:
        flash(_("%(step)s: done. Case %(number)s is now '%(state)s'.", step=label(step.label),
                number=result.number, state=state), "success")
    return 303, [], redirect(url_for("cases.case", number=result.number), 303)


def _store_files(form: Any) -> dict[str, str]:
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    limits = forms.FileLimits(current_app.config["UPLOAD_MAX_BYTES"])
    stored = {}
    for name, upload in forms.files(form).items():
        stored[name] = uploads.store(folder, upload.stream, upload.filename or "file",
                                     limits.max_bytes, limits.extensions)
    return stored


@bp.route("/files/<digest>/<name>")
@login_required
def attachment(digest: str, name: str) -> BaseResponse:
    """An attached file, always as a download; only for a user who may read a case holding
    it (not found otherwise, like a file that does not exist)."""
    found = uploads.locate(Path(current_app.config["UPLOAD_FOLDER"]), f"{digest}/{name}")
    if found is None or not service().can_read_file(current_user.id, f"{digest}/{name}"):
        abort(404)
    path, download = found
    return send_file(path, as_attachment=True, download_name=download)



# -- comments ------------------------------------------------------------------------------

#: "@someone" in a comment: a user id (``engineer.li``) or a name written without spaces.
MENTION = re.compile(r"@([^\s@,，。;；:：!！?？()（）]+)")


def mentioned(text: str) -> list[str]:
    """The user ids a comment mentions, by id or by name (case-insensitive), in order."""
    by_key = {key.casefold(): user_id for user_id, name in views.names().items()
              for key in (user_id, name.replace(" ", ""))}
    found = (by_key.get(token.casefold()) for token in MENTION.findall(text))
    return list(dict.fromkeys(user_id for user_id in found if user_id))


@bp.route("/cases/<number>/comments", methods=["POST"])
@login_required
def add_comment(number: str) -> BaseResponse | tuple[str, int]:
    """Add a comment to the case's record; the people it @mentions are told on their inbox.
    A comment that cannot be added comes back in its box with the reason."""
    text = (request.form.get("comment") or "").strip()
    problem = None
    if not text:
        problem = _("Write the comment first: it is empty.")
    elif len(text) > COMMENT_MAX:
        problem = _("A comment holds at most %(max)s characters; this one has %(count)s. "
                    "Shorten it.", max=COMMENT_MAX, count=len(text))
    if problem is not None:
        flash(problem, "error")
        g.comment_draft = text
        return case(number), 422

    def word(recipient: UserRecord) -> tuple[str, str]:
        with i18n.in_locale(recipient.locale or locale()):
            return (_("%(name)s mentioned you on %(number)s", name=current_user.name,
                      number=number), text)
    try:
        done = service().comment(number, current_user.id, text, mentions=mentioned(text),
                                 word=word, client=web_client())
    except CaseNotFound:
        abort(404)
    if done.told:
        flash(_("Comment added; told on their inbox: %(names)s.",
                names=", ".join(views.person(user_id) for user_id in done.told)), "success")
    else:
        flash(_("Comment added."), "success")
    if done.untold:
        flash(_("Not told (no such person, or they may not read this case): %(names)s.",
                names=", ".join(views.person(user_id) for user_id in done.untold)), "warning")
    return redirect(url_for("cases.case", number=number, _anchor="comments"), 303)


# The inbox's, the printable form's and the report forms' routes join this blueprint.
from . import printing, report_forms, worklist  # noqa: E402,F401
