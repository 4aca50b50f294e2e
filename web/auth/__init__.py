"""Signing in and out, the language switch, and log-off after inactivity.

Sessions are signed cookies (no server-side session store: any worker serves any request).
A session ends after ``SESSION_TIMEOUT_MINUTES`` without a request, checked on the server from
the time of the last request kept in the session, not only by the cookie's expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import flask_login
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
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
from qmsflow.engine.persistence import AuthenticationFailed, CaseService, UserRecord

from .. import i18n
from ..i18n import gettext as _

bp = Blueprint("auth", __name__, template_folder="templates")
SEEN_RESOLUTION = 60  # seconds: how exactly the time of the last request is kept

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
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    @classmethod
    def of(cls, user: UserRecord) -> Account:
        """The signed-in account of a user's record."""
        return cls(user.id, user.name, frozenset(user.roles), user.locale)

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
    """Flask-Login's loader: the account, unless it was disabled since signing in."""
    user = service().user(user_id)
    return None if user is None else Account.of(user)


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
            user = service().authenticate(form.user_id.data or "", form.password.data or "")
        except AuthenticationFailed as failure:
            problem = _why(failure)
        else:
            keep = {"locale": session["locale"]} if "locale" in session else {}
            session.clear()  # a new session on sign-in: nothing of an earlier one carries over
            session.update(keep)
            session.permanent = True
            login_user(Account.of(user))
            session["seen"] = time.time()
            current_app.logger.info("sign-in: %s", user.id)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form, problem=problem)


def _why(failure: AuthenticationFailed) -> str:
    if failure.why == "locked":
        return _("This account is locked after too many wrong passwords until %(until)s. An "
                 "administrator can unlock it by setting a new password.",
                 until=i18n.local_time(failure.until, with_zone=True))
    if failure.why == "disabled":
        return _("This account is disabled. Ask an administrator.")
    return _("Wrong user ID or password.")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> BaseResponse:
    """Sign out (a form button: signing out changes state, so it is a POST with CSRF)."""
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language() -> BaseResponse:
    """Switch the interface language for this session."""
    wanted = request.form.get("locale", "")
    if wanted in i18n.locales():
        session["locale"] = wanted
    return redirect(_safe_next(request.form.get("next")))


@bp.before_app_request
def inactivity() -> Response | BaseResponse | None:
    """End a session idle for longer than the configured time (21 CFR 11.300(d) practice)."""
    if request.endpoint in (None, "static") or not current_user.is_authenticated:
        return None
    limit = current_app.config["SESSION_TIMEOUT_MINUTES"] * 60
    now = time.time()
    seen = session.get("seen", now)
    if now - seen > limit:
        logout_user()
        keep = {"locale": session["locale"]} if "locale" in session else {}
        session.clear()
        session.update(keep)
        flash(_("You were signed out after %(minutes)s minutes without activity. Sign in "
                "again to continue.", minutes=current_app.config["SESSION_TIMEOUT_MINUTES"]),
              "warning")
        return redirect(url_for("auth.login", next=request.full_path
                                if request.method == "GET" else request.path))
    if now - seen > SEEN_RESOLUTION:
        # Rewritten at most once a minute: a new cookie on every response costs every request.
        session["seen"] = now
    session.permanent = True
    return None

