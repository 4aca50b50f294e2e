"""Users: unique ids never reused, argon2 password hashes, disabling instead of deleting.

Roles, departments and locales must exist in the definition set the deployment serves; a
user's approval limits follow from their roles and the set's authority tiers. Every change to
an account is an audit entry. Checking a password at sign-in or for a signature, with its
throttling and lockout, is :mod:`.logins`.

Passwords follow 21 CFR 11.300: strong enough (:func:`check_password`), never one of the
user's last ``history`` (their argon2 hashes are kept in ``password_history``, never the
passwords), and a password an administrator sets is temporary: its holder must choose their
own before doing anything else, so nobody knows a password in use but its owner.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, Protocol
from zoneinfo import available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from ..cases import Actor
from ..errors import QmsflowError
from ..model import DefinitionSet
from ..problems import did_you_mean
from . import audit, user_sessions
from .audit import SYSTEM, By
from .models import LoginFailure, PasswordHistory, User, UserSession
from .records import UserRecord

MIN_PASSWORD = 10
GUESSABLE = 10**8  # zxcvbn's "safely unguessable" begins here (its score 3)
MAX_CHECKED = 100  # zxcvbn's time grows with the length; a longer password is not weaker
USER_ID = re.compile(r"^[a-z][a-z0-9._-]{1,99}$")
#: A new password may not be any of the user's last PASSWORD_HISTORY (the current one
#: included): the default of the ``PASSWORD_HISTORY`` setting.
PASSWORD_HISTORY = 5

HASHER = PasswordHasher()


class UserError(QmsflowError):
    """A user operation that cannot be done, with what to do instead.

    ``code`` names the problem for screens that say it in the user's language (``values``
    fill their text); the message is the English one, for commands and logs.
    """

    def __init__(self, message: str, code: str = "", **values: Any) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


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


class RoleHolder(Protocol):
    """What acting as a user takes from the account: a :class:`.User`, a :class:`.UserRecord`,
    or the few columns a step reads beside its case."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def roles(self) -> Collection[Any]: ...
    @property
    def disabled(self) -> bool: ...


def actor(user: RoleHolder) -> Actor:
    """The engine's view of a user."""
    return Actor(user.id, user.name, frozenset(user.roles))


def _check_names(names: Collection[str], known: Collection[str], what: str) -> None:
    for name in names:
        if name not in known:
            hint = did_you_mean(name, known) or f"known {what}s: {', '.join(sorted(known))}"
            raise UserError(f"unknown {what} '{name}' ({hint})", f"{what}_unknown", name=name)


def check_password(user_id: str, password: str, *about: str | None) -> None:
    """Refuse a password that is short, holds the user id, or is easy to guess.

    Easy to guess is zxcvbn's estimate below GUESSABLE guesses: its lists of the most common
    passwords (tens of thousands), names and words, keyboard walks, dates and l33t spellings,
    plus what is known of the person (``about``: name, e-mail) and the user id.
    """
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters",
                        "password_short", minimum=MIN_PASSWORD)
    if user_id.lower() in password.lower():
        raise UserError("the password must not contain the user id", "password_has_id")
    context = [user_id, *(word for word in about if word)]
    estimate = zxcvbn(password[:MAX_CHECKED], user_inputs=context)
    if estimate["guesses"] < GUESSABLE:
        found = {str(match.get("dictionary_name")) for match in estimate["sequence"]}
        code = ("password_common" if "passwords" in found else
                "password_personal" if "user_inputs" in found else "password_guessable")
        why = {"password_common": "is among the most common passwords",
               "password_personal": "is built from the person's name or e-mail",
               "password_guessable": "is easy to guess (common words, names, keyboard "
                                     "patterns or dates)"}[code]
        raise UserError(f"the password {why}: choose a longer one, e.g. three or four "
                        "unrelated words", code)


def add(session: Session, definition: DefinitionSet, user_id: str, name: str,
        roles: Sequence[str], password: str, now: datetime, by: By = SYSTEM,
        departments: Sequence[str] = (), locale: str | None = None,
        email: str | None = None, hasher: PasswordHasher = HASHER, *,
        temporary: bool = False) -> UserRecord:
    """Create an account; refuses an id that exists or ever existed, unknown roles, weak
    passwords. ``temporary``: an administrator chose the password, and its holder must
    choose their own at the first sign-in."""
    if not USER_ID.match(user_id):
        raise UserError(f"user id {user_id!r} is not valid: use 2-100 lower-case letters, "
                        "digits, '.', '_' or '-', starting with a letter", "id_invalid")
    existing = session.get(User, user_id)
    if existing is not None:
        state = "a disabled account" if existing.disabled else "an account"
        raise UserError(f"user id '{user_id}' belongs to {state} ({existing.name}); ids are "
                        "never reused: choose another", "id_taken", name=existing.name)
    if not name.strip():
        raise UserError("a user needs a name: it is printed on their signatures", "name_missing")
    org = definition.organisation
    if not roles:
        raise UserError("a user needs at least one role", "roles_empty")
    _check_names(roles, org.roles, "role")
    _check_names(departments, org.departments, "department")
    locale = locale or org.locales[0]
    _check_names([locale], org.locales, "locale")
    check_password(user_id, password, name, email)
    user = User(id=user_id, name=name, roles=list(roles), departments=list(departments),
                locale=locale, email=email, password_hash=hasher.hash(password),
                password_changed_at=now, failed_logins=0, locked_until=None, disabled=False,
                created_at=now, password_temporary=temporary)
    session.add(user)
    session.flush()
    _record(session, "user_added", user, now, by, data={
        "name": name, "roles": list(roles), "departments": list(departments),
        "locale": locale, "email": email, **({"temporary": True} if temporary else {})})
    return UserRecord.of(user)


def get(session: Session, user_id: str) -> UserRecord:
    """The account ``user_id``, or UserError with a did-you-mean."""
    return UserRecord.of(_row(session, user_id))


def _row(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        ids = session.execute(select(User.id)).scalars().all()
        hint = did_you_mean(user_id, ids)
        raise UserError(f"no user '{user_id}'" + (f" ({hint})" if hint else ""), "no_user")
    return user


def disable(session: Session, user_id: str, now: datetime, reason: str,
            by: By = SYSTEM) -> UserRecord:
    """Disable an account: it can no longer sign in; its history stays."""
    user = _row(session, user_id)
    if user.disabled:
        raise UserError(f"user '{user_id}' is already disabled", "user_disabled")
    if not reason.strip():
        raise UserError("disabling an account needs a reason", "reason_missing")
    user.disabled = True
    ended = user_sessions.end_all(session, user_id, now, user_sessions.DISABLED)
    _record(session, "user_disabled", user, now, by, reason=reason, old=False, new=True,
            data={"sessions_ended": ended})
    return UserRecord.of(user)


def earlier_hashes(session: Session, user_id: str,
                   history: int = PASSWORD_HISTORY) -> tuple[str, ...]:
    """The hashes a new password of ``user_id`` must not match: the current password's and
    the earlier ones', newest first, ``history`` in all (none when ``history`` is 0)."""
    if history <= 0:
        return ()
    user = _row(session, user_id)
    older = session.execute(
        select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user_id)
        .order_by(PasswordHistory.retired_at.desc(), PasswordHistory.id.desc())
        .limit(history)).scalars().all()
    current = [user.password_hash] if user.password_hash else []
    return tuple([*current, *older][:history])


def reused(hasher: PasswordHasher, hashes: Iterable[str], password: str) -> bool:
    """Whether ``password`` is the one behind any of ``hashes`` (argon2 verifications: call
    with no transaction open where it can be)."""
    for stored in hashes:
        try:
            if hasher.verify(stored, password):
                return True
        except (VerificationError, InvalidHashError):
            continue
    return False


def reuse_refusal(history: int) -> UserError:
    """The refusal of a password that repeats one of the last ``history``."""
    return UserError(f"the password must differ from the last {history} passwords of this "
                     "account: choose a new one", "password_reused", count=history)


def set_password(session: Session, user_id: str, password: str, now: datetime,
                 by: By = SYSTEM, hasher: PasswordHasher = HASHER, *,
                 history: int = PASSWORD_HISTORY, temporary: bool = False,
                 keep_session: str | None = None,
                 checked_against: tuple[str, ...] | None = None) -> UserRecord:
    """Set a new password; also unlocks the account, forgets its failed attempts and ends
    its web sessions (whoever held one must sign in with the new password) but
    ``keep_session``, the one the user changes it from.

    The password may not be any of the account's last ``history`` ones. That takes an argon2
    verification per earlier password, so a caller that already verified them outside the
    transaction passes the hashes it verified as ``checked_against``: they are verified again
    only if they changed meanwhile. ``temporary`` (an administrator's password for someone
    else) makes its holder choose their own at the next sign-in.
    """
    check_password(user_id, password)
    hashed = hasher.hash(password)  # before the first query: no lock held while hashing
    earlier = earlier_hashes(session, user_id, history)
    if earlier != checked_against and reused(hasher, earlier, password):
        raise reuse_refusal(history)
    user = _row(session, user_id)
    if user.password_hash and history > 1:
        session.add(PasswordHistory(user_id=user_id, password_hash=user.password_hash,
                                    retired_at=now))
        session.flush()
    # Keep only the newest history - 1 earlier hashes: older ones protect nothing.
    kept = select(PasswordHistory.id).where(PasswordHistory.user_id == user_id).order_by(
        PasswordHistory.retired_at.desc(), PasswordHistory.id.desc()).limit(max(history - 1, 0))
    session.execute(delete(PasswordHistory).where(PasswordHistory.user_id == user_id,
                                                  PasswordHistory.id.not_in(kept)))
    user.password_hash = hashed
    user.password_changed_at = now
    user.password_temporary = temporary
    user.failed_logins = 0
    user.locked_until = None
    session.execute(delete(LoginFailure).where(LoginFailure.user_id == user_id))
    ended = user_sessions.end_all(session, user_id, now, user_sessions.PASSWORD_CHANGED,
                                  keep=keep_session)
    # Never the password or its hash.
    _record(session, "password_set", user, now, by,
            data={"sessions_ended": ended, "temporary": temporary})
    return UserRecord.of(user)


def set_roles(session: Session, definition: DefinitionSet, user_id: str, roles: Sequence[str],
              now: datetime, by: By = SYSTEM) -> UserRecord:
    """Give an active account these roles instead of its own (at least one, each one of the
    organisation's); an audit entry holds the old and new roles. Unchanged roles write
    nothing."""
    user = _row(session, user_id)
    if user.disabled:
        raise UserError(f"user '{user_id}' is disabled: its roles stay as they were",
                        "user_disabled")
    if not roles:
        raise UserError("a user needs at least one role", "roles_empty")
    _check_names(roles, definition.organisation.roles, "role")
    wanted = sorted(set(roles))
    if wanted == sorted(user.roles):
        return UserRecord.of(user)
    old = list(user.roles)
    user.roles = wanted
    _record(session, "roles_changed", user, now, by, old=old, new=wanted)
    return UserRecord.of(user)


@cache
def timezones() -> frozenset[str]:
    """The IANA time zone names this machine knows (read once: it scans the tz database)."""
    return frozenset(available_timezones())


def check_timezone(name: str) -> None:
    """Refuse a name that is not an IANA time zone (``Asia/Shanghai``, ``Europe/Berlin``)."""
    if name not in timezones():
        hint = did_you_mean(name, timezones())
        raise UserError(f"unknown time zone {name!r}: use an IANA name such as Asia/Shanghai"
                        + (f" ({hint})" if hint else ""), "timezone_unknown", name=name)


def set_preferences(session: Session, definition: DefinitionSet, user_id: str, locale: str,
                    timezone: str | None, now: datetime, by: By = SYSTEM) -> UserRecord:
    """Set a user's language (one of the organisation's locales) and time zone (an IANA
    name; None: the organisation's). An audit entry holds what changed; nothing changed
    writes nothing."""
    if locale not in definition.organisation.locales:
        raise UserError(f"unknown locale {locale!r}: use one of "
                        f"{', '.join(definition.organisation.locales)}", "locale_unknown")
    if timezone is not None:
        check_timezone(timezone)
    user = _row(session, user_id)
    old = {"locale": user.locale, "timezone": user.timezone}
    new = {"locale": locale, "timezone": timezone}
    if old == new:
        return UserRecord.of(user)
    user.locale = locale
    user.timezone = timezone
    _record(session, "preferences_changed", user, now, by, old=old, new=new)
    return UserRecord.of(user)


def last_sign_ins(session: Session) -> dict[str, datetime]:
    """Each user's latest web sign-in: the start of their newest session (a sign-in prunes
    only that user's sessions older than ``user_sessions.KEEP_ENDED``, never the newest;
    sign-ins before revision 0004 kept no session)."""
    rows = session.execute(select(UserSession.user_id, func.max(UserSession.created_at))
                           .group_by(UserSession.user_id)).all()
    return {user_id: at for user_id, at in rows}


def sign_out_everywhere(session: Session, user_id: str, now: datetime,
                        by: By = SYSTEM, keep: str | None = None) -> int:
    """End every web session of the user, in every browser (an administrator's "sign out
    everywhere", e.g. for a lost laptop) but ``keep`` (the session id of the user's own
    browser when they sign out everywhere else); how many were live. An audit entry says
    who."""
    user = _row(session, user_id)
    ended = user_sessions.end_all(session, user_id, now, user_sessions.SIGNED_OUT_EVERYWHERE,
                                  keep=keep)
    _record(session, "sessions_ended", user, now, by,
            data={"sessions": ended, "kept_own": keep is not None})
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
