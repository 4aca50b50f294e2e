"""Users: unique ids never reused, argon2 password hashes, lockout, disabling instead of deleting.

Roles, departments and locales must exist in the definition set the deployment serves; a
user's approval limits follow from their roles and the set's authority tiers. Every change to
an account is an audit entry.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cases import Actor
from ..errors import QmsflowError
from ..model import DefinitionSet
from ..problems import did_you_mean
from . import audit
from .audit import SYSTEM, By
from .models import User
from .records import UserRecord

MAX_FAILURES = 5  # wrong passwords in a row before the account locks
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
USER_ID = re.compile(r"^[a-z][a-z0-9._-]{1,99}$")

HASHER = PasswordHasher()


class UserError(QmsflowError):
    """A user operation that cannot be done, with what to do instead."""


class AuthenticationFailed(UserError):
    """Wrong id or password, a disabled account or a locked one.

    ``why`` says which ("wrong", "disabled" or "locked"; ``until`` for a lock), so a screen
    can say it in the user's language.
    """

    def __init__(self, message: str, why: str = "wrong", until: datetime | None = None) -> None:
        super().__init__(message)
        self.why = why
        self.until = until


def actor(user: User | UserRecord) -> Actor:
    """The engine's view of a user."""
    return Actor(user.id, user.name, frozenset(user.roles))


def _check_names(names: Collection[str], known: Collection[str], what: str) -> None:
    for name in names:
        if name not in known:
            hint = did_you_mean(name, known) or f"known {what}s: {', '.join(sorted(known))}"
            raise UserError(f"unknown {what} '{name}' ({hint})")


def _check_password(user_id: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    if user_id.lower() in password.lower():
        raise UserError("the password must not contain the user id")


def add(session: Session, definition: DefinitionSet, user_id: str, name: str,
        roles: Sequence[str], password: str, now: datetime, by: By = SYSTEM,
        departments: Sequence[str] = (), locale: str | None = None,
        email: str | None = None, hasher: PasswordHasher = HASHER) -> UserRecord:
    """Create an account; refuses an id that exists or ever existed, unknown roles, weak
    passwords."""
    if not USER_ID.match(user_id):
        raise UserError(f"user id {user_id!r} is not valid: use 2-100 lower-case letters, "
                        "digits, '.', '_' or '-', starting with a letter")
    existing = session.get(User, user_id)
    if existing is not None:
        state = "a disabled account" if existing.disabled else "an account"
        raise UserError(f"user id '{user_id}' belongs to {state} ({existing.name}); ids are "
                        "never reused: choose another")
    org = definition.organisation
    if not roles:
        raise UserError("a user needs at least one role")
    _check_names(roles, org.roles, "role")
    _check_names(departments, org.departments, "department")
    locale = locale or org.locales[0]
    _check_names([locale], org.locales, "locale")
    _check_password(user_id, password)
    user = User(id=user_id, name=name, roles=list(roles), departments=list(departments),
                locale=locale, email=email, password_hash=hasher.hash(password),
                password_changed_at=now, failed_logins=0, locked_until=None, disabled=False,
                created_at=now)
    session.add(user)
    session.flush()
    _record(session, "user_added", user, now, by, data={
        "name": name, "roles": list(roles), "departments": list(departments),
        "locale": locale, "email": email})
    return UserRecord.of(user)


def get(session: Session, user_id: str) -> UserRecord:
    """The account ``user_id``, or UserError with a did-you-mean."""
    return UserRecord.of(_row(session, user_id))


def _row(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        ids = session.execute(select(User.id)).scalars().all()
        hint = did_you_mean(user_id, ids)
        raise UserError(f"no user '{user_id}'" + (f" ({hint})" if hint else ""))
    return user


def disable(session: Session, user_id: str, now: datetime, reason: str,
            by: By = SYSTEM) -> UserRecord:
    """Disable an account: it can no longer sign in; its history stays."""
    user = _row(session, user_id)
    if user.disabled:
        raise UserError(f"user '{user_id}' is already disabled")
    if not reason.strip():
        raise UserError("disabling an account needs a reason")
    user.disabled = True
    _record(session, "user_disabled", user, now, by, reason=reason, old=False, new=True)
    return UserRecord.of(user)


def set_password(session: Session, user_id: str, password: str, now: datetime,
                 by: By = SYSTEM, hasher: PasswordHasher = HASHER) -> UserRecord:
    """Set a new password; also unlocks the account."""
    user = _row(session, user_id)
    _check_password(user_id, password)
    user.password_hash = hasher.hash(password)
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    _record(session, "password_set", user, now, by)  # never the password or its hash
    return UserRecord.of(user)


def authenticate(session: Session, user_id: str, password: str, now: datetime,
                 hasher: PasswordHasher = HASHER) -> UserRecord:
    """The user, when ``password`` is theirs and the account may sign in.

    Each wrong password counts; after MAX_FAILURES in a row the account locks for LOCKOUT.
    The messages do not say whether the id exists.
    """
    user = session.get(User, user_id)
    refused = AuthenticationFailed("wrong user id or password")
    if user is None or user.password_hash is None:
        raise refused
    if user.disabled:
        raise AuthenticationFailed(f"the account '{user_id}' is disabled", "disabled")
    if user.locked_until is not None and user.locked_until > now:
        raise AuthenticationFailed(
            f"the account '{user_id}' is locked after {MAX_FAILURES} wrong passwords until "
            f"{user.locked_until:%Y-%m-%d %H:%M} UTC; an administrator can unlock it by "
            "setting a new password", "locked", user.locked_until)
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            _record(session, "user_locked", user, now, By(user.id, user.name),
                    data={"until": user.locked_until})
        session.flush()
        raise refused from None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    return UserRecord.of(user)


def listed(session: Session, include_disabled: bool = True) -> list[UserRecord]:
    """Accounts sorted by id."""
    query = select(User).order_by(User.id)
    if not include_disabled:
        query = query.where(User.disabled.is_(False))
    return [UserRecord.of(user) for user in session.execute(query).scalars()]


def _record(session: Session, action: str, user: User, now: datetime, by: By,
            reason: str | None = None, old: object = None, new: object = None,
            data: dict[str, object] | None = None) -> None:
    audit.append(session, [audit.Entry(action, "user", now, by.id, by.name, field=user.id,
                                       old=old, new=new, reason=reason, data=data or {})])
