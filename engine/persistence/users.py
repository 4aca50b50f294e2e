"""Users: unique ids never reused, argon2 password hashes, disabling instead of deleting.

Roles, departments and locales must exist in the definition set the deployment serves; a
user's approval limits follow from their roles and the set's authority tiers. Every change to
an account is an audit entry. Checking a password at sign-in or for a signature, with its
throttling and lockout, is :mod:`.logins`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from ..cases import Actor
from ..errors import QmsflowError
from ..model import DefinitionSet
from ..problems import did_you_mean
from . import audit, user_sessions
from .audit import SYSTEM, By
from .models import LoginFailure, User
from .records import UserRecord

MIN_PASSWORD = 10
GUESSABLE = 10**8  # zxcvbn's "safely unguessable" begins here (its score 3)
MAX_CHECKED = 100  # zxcvbn's time grows with the length; a longer password is not weaker
USER_ID = re.compile(r"^[a-z][a-z0-9._-]{1,99}$")

HASHER = PasswordHasher()


class UserError(QmsflowError):
    """A user operation that cannot be done, with what to do instead."""


class AuthenticationFailed(UserError):
    """A password check that failed.

    ``why`` says why, for the log and for a signature's message ("wrong", "unknown",
    "disabled", "locked", "pair", "address"); a sign-in screen shows one text for all of them,
    so that nobody learns which ids exist or are locked.
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


def check_password(user_id: str, password: str, *about: str | None) -> None:
    """Refuse a password that is short, holds the user id, or is easy to guess.

    Easy to guess is zxcvbn's estimate below GUESSABLE guesses: its lists of the most common
    passwords (tens of thousands), names and words, keyboard walks, dates and l33t spellings,
    plus what is known of the person (``about``: name, e-mail) and the user id.
    """
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    if user_id.lower() in password.lower():
        raise UserError("the password must not contain the user id")
    context = [user_id, *(word for word in about if word)]
    estimate = zxcvbn(password[:MAX_CHECKED], user_inputs=context)
    if estimate["guesses"] < GUESSABLE:
        found = {str(match.get("dictionary_name")) for match in estimate["sequence"]}
        why = ("is among the most common passwords" if "passwords" in found else
               "is built from the person's name or e-mail" if "user_inputs" in found else
               "is easy to guess (common words, names, keyboard patterns or dates)")
        raise UserError(f"the password {why}: choose a longer one, e.g. three or four "
                        "unrelated words")


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
    check_password(user_id, password, name, email)
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
    ended = user_sessions.end_all(session, user_id, now, user_sessions.DISABLED)
    _record(session, "user_disabled", user, now, by, reason=reason, old=False, new=True,
            data={"sessions_ended": ended})
    return UserRecord.of(user)


def set_password(session: Session, user_id: str, password: str, now: datetime,
                 by: By = SYSTEM, hasher: PasswordHasher = HASHER) -> UserRecord:
    """Set a new password; also unlocks the account, forgets its failed attempts and ends
    its web sessions (whoever held one must sign in with the new password)."""
    check_password(user_id, password)
    hashed = hasher.hash(password)  # before the first query: no lock held while hashing
    user = _row(session, user_id)
    user.password_hash = hashed
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    session.execute(delete(LoginFailure).where(LoginFailure.user_id == user_id))
    ended = user_sessions.end_all(session, user_id, now, user_sessions.PASSWORD_CHANGED)
    # Never the password or its hash.
    _record(session, "password_set", user, now, by, data={"sessions_ended": ended})
    return UserRecord.of(user)


def sign_out_everywhere(session: Session, user_id: str, now: datetime,
                        by: By = SYSTEM) -> int:
    """End every web session of the user, in every browser (an administrator's "sign out
    everywhere", e.g. for a lost laptop); how many were live. An audit entry says who."""
    user = _row(session, user_id)
    ended = user_sessions.end_all(session, user_id, now, user_sessions.SIGNED_OUT_EVERYWHERE)
    _record(session, "sessions_ended", user, now, by, data={"sessions": ended})
    return ended


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
