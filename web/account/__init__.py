"""A signed-in user's own account: their password, their open sessions, their language and
time zone.

A new password must be strong and differ from the user's last ``PASSWORD_HISTORY`` (21 CFR
11.300). A password an administrator set is temporary: until its holder chooses their own,
every page but this one (and signing out) sends them here, so no administrator knows a
password in use. So does a password older than ``PASSWORD_MAX_AGE_DAYS`` (when set).
"""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import InputRequired

from qmsflow.engine.persistence import (
    AuthenticationFailed,
    By,
    UserError,
    user_sessions,
    users,
)

from .. import i18n
from ..auth import SESSION_ID, login_required, service, web_client
from ..i18n import gettext as _

bp = Blueprint("account", __name__, template_folder="templates", url_prefix="/account")

# Where a user who must change their password may still go.
OPEN_BEFORE_CHANGE = frozenset({"account.password", "auth.login", "auth.logout",
                                  "auth.language", "static"})


def explain(error: UserError) -> str:
    """A refused account change in the user's language (the English message when the
    problem has no translated text)."""
    values = error.values
    texts = {
        "password_short": lambda: _("The password needs at least %(minimum)s characters.",
                                    minimum=values.get("minimum", users.MIN_PASSWORD)),
        "password_has_id": lambda: _("The password must not contain the user ID."),
        "password_common": lambda: _("This password is among the most common ones: choose a "
                                     "longer one, e.g. three or four unrelated words."),
        "password_personal": lambda: _("This password is built from the person's name or "
                                       "e-mail: choose a longer one, e.g. three or four "
                                       "unrelated words."),
        "password_guessable": lambda: _("This password is easy to guess (common words, names, "
                                        "keyboard patterns or dates): choose a longer one, "
                                        "e.g. three or four unrelated words."),
        "password_reused": lambda: _("The new password must differ from the last %(count)s "
                                     "passwords of this account.", count=values.get("count")),
        "timezone_unknown": lambda: _("%(name)s is not a time zone: use an IANA name such as "
                                      "Asia/Shanghai.", name=values.get("name")),
        "locale_unknown": lambda: _("Choose one of the offered languages."),
        "role_unknown": lambda: _("%(name)s is not a role of this organisation.",
                                  name=values.get("name")),
        "roles_empty": lambda: _("Choose at least one role."),
        "id_invalid": lambda: _("The user ID may hold 2 to 100 lower-case letters, digits, "
                                "'.', '_' or '-', and starts with a letter."),
        "id_taken": lambda: _("This user ID belongs to an account (%(name)s), perhaps a "
                              "disabled one; IDs are never reused: choose another.",
                              name=values.get("name")),
        "name_missing": lambda: _("Enter the person's name: it is printed on their "
                                  "signatures."),
        "user_disabled": lambda: _("This account is disabled."),
        "reason_missing": lambda: _("Give the reason for disabling the account."),
        "no_user": lambda: _("There is no such user."),
    }
    found = texts.get(error.code)
    return found() if found is not None else str(error)


def _history() -> int:
    history: int = current_app.config["PASSWORD_HISTORY"]  # checked by the app factory
    return history


def _own_session() -> str | None:
    found = session.get(SESSION_ID)
    return found if isinstance(found, str) else None


def _expired() -> bool:
    """Whether the signed-in user's password is older than ``PASSWORD_MAX_AGE_DAYS``."""
    days: int = current_app.config["PASSWORD_MAX_AGE_DAYS"]
    changed = getattr(current_user, "password_changed_at", None)
    return bool(days) and changed is not None and (
        service().now() - changed > timedelta(days=days))


@bp.before_app_request
def password_to_change() -> BaseResponse | None:
    """Someone signed in with a password an administrator set, or one older than
    ``PASSWORD_MAX_AGE_DAYS``, chooses a new one first."""
    if (not current_user.is_authenticated or request.endpoint in OPEN_BEFORE_CHANGE
            or request.blueprint in ("api", "surveys")):
        return None
    if getattr(current_user, "must_change_password", False):
        flash(_("Your password was set by an administrator. Choose your own password to "
                "continue."), "warning")
    elif _expired():
        flash(_("Your password is older than %(days)s days. Choose a new one to continue.",
                days=current_app.config["PASSWORD_MAX_AGE_DAYS"]), "warning")
    else:
        return None
    return redirect(url_for("account.password"))


class PasswordForm(FlaskForm):
    """The current password and the new one twice (never shown again after a refusal)."""

    current = PasswordField("current", validators=[InputRequired()])
    new = PasswordField("new", validators=[InputRequired()])
    again = PasswordField("again", validators=[InputRequired()])


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> str | BaseResponse:
    """Change one's own password; every other session of the user ends, this one stays."""
    form = PasswordForm()
    form.current.label.text = _("Current password")
    form.new.label.text = _("New password")
    form.again.label.text = _("New password again")
    problem = None
    if request.method == "POST":
        if not form.validate():
            problem = _("Fill in all three fields.") if form.errors.keys() - {"csrf_token"} \
                else _("The form has expired: send it again.")
        elif form.new.data != form.again.data:
            problem = _("The two new passwords differ: type the same one twice.")
        else:
            try:
                service().change_password(current_user.id, form.current.data or "",
                                          form.new.data or "", _own_session(), _history(),
                                          web_client())
            except AuthenticationFailed as failure:
                current_app.logger.warning("password change refused (%s): %s", failure.why,
                                           current_user.id)
                problem = (_("Too many wrong passwords: try again in a few minutes.")
                           if failure.why == "locked" else
                           _("The current password is wrong."))
            except UserError as error:
                problem = explain(error)
            else:
                flash(_("Your password was changed. Your other sessions have ended."),
                      "success")
                return redirect(url_for("account.password"))
    return render_template("account/password.html", form=form, problem=problem,
                           history=_history(), minimum=users.MIN_PASSWORD)


def _limits() -> tuple[timedelta, timedelta]:
    config = current_app.config
    return (timedelta(minutes=config["SESSION_TIMEOUT_MINUTES"]),
            timedelta(hours=config["SESSION_MAX_HOURS"]))


@bp.route("/sessions")
@login_required
def sessions() -> str:
    """The user's open web sessions: when each started and was last used, from where."""
    svc = service()
    with svc.transaction() as db:
        listed = user_sessions.listed(db, current_user.id, svc.now(), *_limits())
    return render_template("account/sessions.html", sessions=listed, own=_own_session())


@bp.route("/sessions/end", methods=["POST"])
@login_required
def end_session() -> BaseResponse:
    """Sign out one of one's other sessions (the current one signs out with the header's
    button)."""
    key = request.form.get("key", "")
    own = _own_session()
    svc = service()
    if own is not None and key == user_sessions.digest(own):
        flash(_("This is the session you are using: sign out with the button at the top."),
              "warning")
    else:
        with svc.transaction() as db:
            ended = user_sessions.end_own(db, current_user.id, key, svc.now())
        flash(_("The session was signed out.") if ended else
              _("That session had already ended."), "info" if ended else "warning")
    return redirect(url_for("account.sessions"))


@bp.route("/sessions/others", methods=["POST"])
@login_required
def end_others() -> BaseResponse:
    """Sign out everywhere else: every session of the user but this one ends (audited)."""
    svc = service()
    with svc.transaction() as db:
        ended = users.sign_out_everywhere(db, current_user.id, svc.now(),
                                          By(current_user.id, current_user.name),
                                          keep=_own_session())
    flash(_("Signed out everywhere else (%(count)s sessions ended).", count=ended), "info")
    return redirect(url_for("account.sessions"))


class PreferencesForm(FlaskForm):
    """Language and time zone."""

    locale = SelectField("locale")
    timezone = StringField("timezone")


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> str | BaseResponse:
    """Language and time zone: stored on the account, used whenever the user is signed in."""
    form = PreferencesForm()
    form.locale.label.text = _("Language")
    form.timezone.label.text = _("Time zone")
    form.locale.choices = [(tag, i18n.NATIVE_NAMES.get(tag, tag)) for tag in i18n.locales()]
    organisation_zone = i18n.definition().organisation.timezone
    problem = None
    if request.method == "GET":
        form.locale.data = current_user.locale
        form.timezone.data = current_user.timezone or ""
    elif form.validate():
        zone = (form.timezone.data or "").strip() or None
        svc = service()
        try:
            with svc.transaction() as db:
                users.set_preferences(db, i18n.definition(), current_user.id,
                                      form.locale.data or "", zone, svc.now(),
                                      By(current_user.id, current_user.name))
        except UserError as error:
            problem = explain(error)
        else:
            # The language shows at once (this browser's choice would otherwise win).
            session["locale"] = form.locale.data
            flash(_("Your preferences were saved."), "success")
            return redirect(url_for("account.preferences"))
    else:
        problem = _("Choose one of the offered languages.")
    return render_template("account/preferences.html", form=form, problem=problem,
                           organisation_zone=organisation_zone,
                           zones=sorted(users.timezones()))
