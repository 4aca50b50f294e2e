"""Users and their roles, for the organisation's administrators: list, add, change roles,
disable with a reason, set a temporary password, sign out everywhere.

Every change goes through ``users`` in persistence, so each is an audit entry under the
administrator's name. A password set here is temporary: its holder must choose their own at
the next sign-in (no administrator knows a password in use). An administrator cannot disable
their own account or take away their own last admin role: the organisation would be left
without whoever could undo it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from qmsflow.engine.persistence import By, UserError, UserRecord, users

from ..account import explain
from ..auth import service
from ..i18n import NATIVE_NAMES, definition, label, local_time, locales, role_label
from ..i18n import gettext as _
from . import bp


@dataclass(frozen=True)
class ShownUser:
    """One account as the list shows it."""

    id: str
    name: str
    roles: tuple[str, ...]  # labels
    state: str  # active, disabled, locked
    state_label: str
    last_sign_in: str
    temporary: bool


class RoleChoice(SelectMultipleField):
    """The organisation's roles as check boxes, labelled in the reader's language."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _role_choices() -> list[tuple[str, str]]:
    return [(role_id, f"{label(role.label)} ({role_id})")
            for role_id, role in definition().organisation.roles.items()]


def _by() -> By:
    return By(current_user.id, current_user.name)


def _state(user: UserRecord, now: datetime) -> tuple[str, str]:
    if user.disabled:
        return "disabled", _("disabled")
    if user.locked(now):
        return "locked", _("locked")
    return "active", _("active")


class NewUserForm(FlaskForm):
    """What a new account needs: id, printed name, roles, language, a temporary password."""

    user_id = StringField("user_id", validators=[InputRequired()])
    name = StringField("name", validators=[InputRequired()])
    email = EmailField("email", validators=[Optional()])
    roles = RoleChoice("roles")
    locale = SelectField("locale")
    password = PasswordField("password", validators=[InputRequired()])


class RolesForm(FlaskForm):
    """An account's roles."""

    roles = RoleChoice("roles")


def _labelled_new(form: NewUserForm) -> None:
    form.user_id.label.text = _("User ID")
    form.name.label.text = _("Name")
    form.email.label.text = _("E-mail")
    form.roles.label.text = _("Roles")
    form.locale.label.text = _("Language")
    form.password.label.text = _("Temporary password")
    form.roles.choices = _role_choices()
    form.locale.choices = [(tag, NATIVE_NAMES.get(tag, tag)) for tag in locales()]


@bp.route("/users")
def user_list() -> str:
    """Every account with its roles, state and last sign-in."""
    svc = service()
    with svc.transaction() as db:
        listed = users.listed(db)
        last = users.last_sign_ins(db)
    now = svc.now()
    shown = [ShownUser(user.id, user.name, tuple(role_label(role) for role in user.roles),
                       *_state(user, now), local_time(last.get(user.id)),
                       user.password_temporary) for user in listed]
    return render_template("admin/users.html", users=shown)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new() -> str | BaseResponse:
    """Add an account; its password is temporary."""
    form = NewUserForm()
    _labelled_new(form)
    problem = None
    if request.method == "POST":
        if not form.validate():
            problem = _("Fill in the user ID, the name and a temporary password.")
        else:
            organisation = definition().organisation
            roles = form.roles.data or []
            # The departments of the chosen roles (a role belongs to at most one).
            departments = sorted({department for role in roles
                                  if (department := getattr(organisation.roles.get(role),
                                                            "department", None))})
            svc = service()
            user_id = (form.user_id.data or "").strip()
            try:
                with svc.transaction() as db:
                    users.add(db, definition(), user_id, (form.name.data or "").strip(), roles,
                              form.password.data or "", svc.now(), _by(),
                              departments, form.locale.data,
                              (form.email.data or "").strip() or None, svc.hasher,
                              temporary=True)
            except UserError as error:
                problem = explain(error)
            else:
                current_app.logger.info("user added: %s by %s", user_id, current_user.id)
                flash(_("The account %(id)s was added. Give its holder the temporary password "
                        "in person: they choose their own at the first sign-in.", id=user_id),
                      "success")
                return redirect(url_for("admin.user_page", user_id=user_id))
    return render_template("admin/user_new.html", form=form, problem=problem,
                           minimum=users.MIN_PASSWORD)


def _user(user_id: str) -> UserRecord:
    with service().transaction() as db:
        try:
            return users.get(db, user_id)
        except UserError:
            abort(404)


@bp.route("/users/<user_id>")
def user_page(user_id: str, problem: str | None = None, status: int = 200
              ) -> tuple[str, int]:
    """One account: its roles, state, and what an administrator may do to it."""
    user = _user(user_id)
    form = RolesForm(data={"roles": list(user.roles)})
    form.roles.label.text = _("Roles")
    form.roles.choices = _role_choices()
    with service().transaction() as db:
        last = users.last_sign_ins(db).get(user.id)
    state, state_label = _state(user, service().now())
    return render_template(
        "admin/user.html", user=user, form=form, problem=problem, state=state,
        state_label=state_label, last_sign_in=local_time(last),
        roles=[role_label(role) for role in user.roles], own=user.id == current_user.id,
        minimum=users.MIN_PASSWORD), status


def _change(user_id: str, done: str,
            change: Callable[[Any], object]) -> BaseResponse | tuple[str, int]:
    """Apply ``change(db)`` to ``user_id`` in one transaction: back to its page with ``done``
    flashed, or the page again with the refusal."""
    _user(user_id)  # 404 before anything for an unknown id
    svc = service()
    try:
        with svc.transaction() as db:
            change(db)
    except UserError as error:
        return user_page(user_id, explain(error), 400)
    current_app.logger.info("user %s changed by %s: %s", user_id, current_user.id,
                            request.endpoint)
    flash(done, "success")
    return redirect(url_for("admin.user_page", user_id=user_id))


@bp.route("/users/<user_id>/roles", methods=["POST"])
def user_roles(user_id: str) -> BaseResponse | tuple[str, int]:
    """Give the account these roles instead of its own."""
    roles = request.form.getlist("roles")
    admin_roles = set(definition().organisation.admin_roles)
    if user_id == current_user.id and not admin_roles & set(roles):
        return user_page(user_id, _("You cannot take away your own administrator role: "
                                    "another administrator must do it."), 400)
    return _change(user_id, _("The roles were saved."), lambda db: users.set_roles(
        db, definition(), user_id, roles, service().now(), _by()))


@bp.route("/users/<user_id>/disable", methods=["POST"])
def user_disable(user_id: str) -> BaseResponse | tuple[str, int]:
    """Disable the account with a reason: no more sign-in; its history stays."""
    if user_id == current_user.id:
        return user_page(user_id, _("You cannot disable your own account: another "
                                    "administrator must do it."), 400)
    reason = request.form.get("reason", "").strip()
    return _change(user_id, _("The account was disabled."), lambda db: users.disable(
        db, user_id, service().now(), reason, _by()))


@bp.route("/users/<user_id>/password", methods=["POST"])
def user_password(user_id: str) -> BaseResponse | tuple[str, int]:
    """Set a temporary password (also unlocks the account and ends its sessions)."""
    if user_id == current_user.id:
        return user_page(user_id, _("Change your own password under Account."), 400)
    typed = request.form.get("password", "")
    if not typed:
        return user_page(user_id, _("Type the temporary password."), 400)
    history = current_app.config["PASSWORD_HISTORY"]
    svc = service()
    _user(user_id)
    with svc.transaction() as db:
        earlier = users.earlier_hashes(db, user_id, history)
    # The earlier passwords are verified here, with no transaction open (argon2 is slow).
    if users.reused(svc.hasher, earlier, typed):
        return user_page(user_id, explain(users.reuse_refusal(history)), 400)
    return _change(user_id, _("The temporary password was set; its holder chooses their own "
                              "at the next sign-in."),
                   lambda db: users.set_password(db, user_id, typed, svc.now(), _by(),
                                                 svc.hasher, history=history, temporary=True,
                                                 checked_against=earlier))


@bp.route("/users/<user_id>/sign-out", methods=["POST"])
def user_sign_out(user_id: str) -> BaseResponse | tuple[str, int]:
    """End every web session of the account (e.g. a lost laptop)."""
    return _change(user_id, _("The account was signed out everywhere."),
                   lambda db: users.sign_out_everywhere(db, user_id, service().now(), _by()))
