"""Signing in and out, the language switch, and log-off after inactivity.

The signed cookie carries the user id and a random session id; the session itself lives in the
database (``user_sessions``), read by primary key on each request, so any worker serves any
request and ending a session on the server ends it everywhere at once: signing out, a new
password, a disabled account, an administrator's ``qmsflow users sign-out``. A cookie without a
session id, or whose session ended, counts as expired. A session ends after
``SESSION_TIMEOUT_MINUTES`` without a request and ``SESSION_MAX_HOURS`` after sign-in, both
checked on the server.

Every failed sign-in gets the same answer (see ``engine/persistence/logins.py`` for the
throttling by address and by account).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import flask_login
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired

from qmsflow.engine.cases import Actor
from qmsflow.engine.persistence import (
    AuthenticationFailed,
    By,
    CaseService,
    UserRecord,
    user_sessions,
    users,
)

from .. import i18n
from ..i18n import gettext as _

bp = Blueprint("auth", __name__, template_folder="templates")
SESSION_ID = "sid"  # the key of the session id in the signed cookie

View = TypeVar("View", bound=Callable[..., Any])


def login_required(view: View) -> View:
    """Flask-Login's ``login_required`` with its type: Flask-Login has no type hints."""
    guarded: View = flask_login.login_required(view)
    return guarded


@dataclass(frozen=True)
class Account:
    """The signed-in user as Flask-Login sees them."""

    id: str
    name: str
    roles: frozenset[str]
    locale: str
    timezone: str | None = None  # None: the organisation's
    must_change_password: bool = False  # an administrator set it: choose one's own first
    password_changed_at: datetime | None = None
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    @classmethod
    def of(cls, user: UserRecord) -> Account:
        """The signed-in account of a user's record."""
        return cls(user.id, user.name, frozenset(user.roles), user.locale, user.timezone,
                   user.password_temporary, user.password_changed_at)

    def get_id(self) -> str:
        return self.id

    @property
    def actor(self) -> Actor:
        """The engine's view of this user."""
        return Actor(self.id, self.name, self.roles)

    @property
    def is_admin(self) -> bool:
        """Whether the user administers definitions (the organisation's ``admin_roles``)."""
        return bool(self.roles & set(i18n.definition().organisation.admin_roles))


def service() -> CaseService:
    """The case service of this application."""
    found: CaseService = current_app.extensions["qmsflow"].service
    return found


def load_account(user_id: str) -> Account | None:
    """Flask-Login's loader: the account of the cookie's session while that session is live
    on the server (one primary-key read); None signs the request out."""
    session_id = session.get(SESSION_ID)
    if not isinstance(session_id, str):
        g.session_ended = "unknown"  # a cookie from before server-side sessions: expired
        return None
    config = current_app.config
    verdict = service().session_user(
        session_id, user_id, timedelta(minutes=config["SESSION_TIMEOUT_MINUTES"]),
        timedelta(hours=config["SESSION_MAX_HOURS"]))
    if verdict.user is None:
        g.session_ended = verdict.why
        return None
    return Account.of(verdict.user)


def needs_login() -> BaseResponse:
    """Where a request without a session goes: the login page, then back."""
    flash(_("Please sign in to continue."), "info")
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET"
                            else request.path))


class LoginForm(FlaskForm):
    """User id and password."""

    user_id = StringField("user_id", validators=[InputRequired()])
    password = PasswordField("password", validators=[InputRequired()])


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an open redirect to another host.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(
            target).netloc:
        return target
    return url_for("cases.inbox")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | BaseResponse:
    """Sign in with user id and password."""
    form = LoginForm()
    form.user_id.label.text = _("User ID")
    form.password.label.text = _("Password")
    problem = None
    if form.validate_on_submit():
        try:
            user, session_id = service().sign_in(form.user_id.data or "",
                                                 form.password.data or "", client_address(),
                                                 request.user_agent.string)
        except AuthenticationFailed as failure:
            # One text for every reason: the page must not tell which ids exist or are locked.
            problem = _("Wrong user ID or password. After several failed attempts, signing in "
                        "is paused for a while; an administrator can help.")
            # A security event: logged at WARNING, which a default set-up keeps (INFO is not).
            current_app.logger.warning("sign-in refused (%s) from %s", failure.why,
                                       client_address())
        else:
            earlier = session.get(SESSION_ID)
            if isinstance(earlier, str):  # the session this browser had ends on the server
                service().sign_out(earlier)
            keep = {"locale": session["locale"]} if "locale" in session else {}
            session.clear()  # a new session on sign-in: nothing of an earlier one carries over
            session.update(keep)
            session.permanent = True
            login_user(Account.of(user))
            session[SESSION_ID] = session_id
            current_app.logger.info("sign-in: %s", user.id)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form, problem=problem)


def client_address() -> str:
    """The address a request comes from (a proxy's X-Forwarded-For only when
    ``TRUST_PROXY_HOPS`` says how many proxies to believe: any client can write one)."""
    return request.remote_addr or ""


def web_client() -> str:
    """Where a browser's request came from, as the audit trail names it: ``web <address>``
    (the address, never a cookie)."""
    return f"web {client_address()}".strip()


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> BaseResponse:
    """Sign out (a form button: signing out changes state, so it is a POST with CSRF); the
    session ends on the server, so a copy of the cookie stops working too."""
    session_id = session.get(SESSION_ID)
    if isinstance(session_id, str):
        service().sign_out(session_id)
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language() -> BaseResponse:
    """Switch the interface language: for this browser's session and, for a signed-in user,
    on their account too (as the Preferences page would), so the next sign-in and the e-mails
    they are sent follow the language they chose."""
    wanted = request.form.get("locale", "")
    if wanted in i18n.locales():
        session["locale"] = wanted
        if current_user.is_authenticated and current_user.locale != wanted:
            svc = service()
            with svc.transaction() as db:
                users.set_preferences(db, i18n.definition(), current_user.id, wanted,
                                      current_user.timezone, svc.now(),
                                      By(current_user.id, current_user.name))
    return redirect(_safe_next(request.form.get("next")))


@bp.before_app_request
def ended() -> Response | BaseResponse | None:
    """Say why a session ended on the server, e.g. after the configured time without a request
    (21 CFR 11.300(d) practice), and start a fresh cookie."""
    if request.endpoint in (None, "static") or current_user.is_authenticated:
        return None
    why = g.get("session_ended")
    if why is None:
        return None
    keep = {"locale": session["locale"]} if "locale" in session else {}
    session.clear()
    session.update(keep)
    if why == user_sessions.IDLE:
        flash(_("You were signed out after %(minutes)s minutes without activity. Sign in "
                "again to continue.", minutes=current_app.config["SESSION_TIMEOUT_MINUTES"]),
              "warning")
    else:
        flash(_("Your session has ended. Sign in again to continue."), "warning")
    if request.endpoint == "auth.login":
        return None
    return redirect(url_for("auth.login", next=request.full_path
                            if request.method == "GET" else request.path))
