"""Checking passwords: sign-in and signatures, throttled, without a stall or a telltale.

A password check runs in three parts, and the caller (the case service) owns the two short
transactions: :func:`prepare` reads the account and the recent failures; the caller verifies
the password with **no transaction open** (argon2 takes a good part of a second, and on SQLite
every transaction holds the write lock); :func:`conclude` (or :func:`conclude_signature`)
writes the counters and audit entries.

Every failed sign-in looks the same from outside: the same answer whether the id is unknown,
the password wrong, the account disabled or locked, or sign-in paused, and (but for a paused
address, which says nothing about any account) the same work, since an unknown id is verified
against a dummy hash. Throttling is by who tries, not only whom they try:

- one address and one account: PAIR_LIMIT wrong passwords in WINDOW pause that pair;
- one address, any ids: ADDRESS_LIMIT wrong passwords in WINDOW pause the address (a paused
  address is not even verified: it costs no argon2 time);
- one account from every address: ACCOUNT_LIMIT wrong passwords in WINDOW lock the account for
  LOCKOUT (its API tokens stop working meanwhile). It takes several addresses, since each one
  stops at PAIR_LIMIT: one stranger cannot lock a person out.

A signature (the password again, inside a signed-in session) is checked apart: neither a
pause nor a lock of sign-in stops it, so nobody else's wrong passwords keep a person from
signing. Its own wrong passwords are counted per user; SIGNATURE_LIMIT in WINDOW pause signing
for that user (only someone already signed in as them can cause that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from . import audit
from .models import LoginFailure, User
from .records import UserRecord
from .users import AuthenticationFailed

WINDOW = timedelta(minutes=15)
PAIR_LIMIT = 5
ADDRESS_LIMIT = 30
ACCOUNT_LIMIT = 20
SIGNATURE_LIMIT = 5
LOCKOUT = timedelta(minutes=15)
KEEP = timedelta(days=1)  # failures older than this are deleted: they throttle nothing
MAX_ID = 100  # the longest user id: a longer one is stored cut and marked, matching nobody

SIGN_IN = "qmsflow (sign-in)"  # the actor of throttling entries: no one is signed in yet
LOGIN = "login"
SIGNATURE = "signature"

# Why an attempt is refused whatever the password (``Attempt.blocked``).
ADDRESS = "address"
PAIR = "pair"
LOCKED = "locked"
DISABLED = "disabled"
SIGNING_PAUSED = "signing_paused"


@dataclass(frozen=True)
class Attempt:
    """What :func:`prepare` found: the stored hash to verify against (None: verify against
    a dummy), and why the attempt fails whatever the password (None: it depends on it)."""

    user_id: str
    address: str
    password_hash: str | None
    blocked: str | None
    verify: bool = True


@dataclass(frozen=True)
class Checked:
    """The password's verdict, reached with no transaction open; ``rehashed`` is a new hash
    when the stored one uses weaker parameters than the hasher's."""

    matched: bool
    rehashed: str | None = None


def refusal(why: str) -> AuthenticationFailed:
    """The one answer to every failed sign-in; ``why`` is for the record, never shown."""
    return AuthenticationFailed("wrong user id or password", why)


@cache
def _dummy(hasher: PasswordHasher) -> str:
    # A hash with the hasher's own parameters: verifying an unknown id costs the same.
    return hasher.hash("not a password of anyone: unknown ids are verified against it")


def verify(hasher: PasswordHasher, attempt: Attempt, password: str) -> Checked:
    """Verify ``password`` for ``attempt`` (call with no transaction open)."""
    if not attempt.verify:
        return Checked(False)
    stored = attempt.password_hash or _dummy(hasher)
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return Checked(False)
    if attempt.password_hash is None:
        return Checked(False)  # the dummy's own text is nobody's password
    rehashed = hasher.hash(password) if hasher.check_needs_rehash(stored) else None
    return Checked(True, rehashed)


def _count(session: Session, since: datetime, kind: str, *, address: str | None = None,
           user_id: str | None = None) -> int:
    query = select(func.count()).select_from(LoginFailure).where(
        LoginFailure.kind == kind, LoginFailure.at > since)
    if address is not None:
        query = query.where(LoginFailure.address == address)
    if user_id is not None:
        query = query.where(LoginFailure.user_id == user_id)
    return int(session.execute(query).scalar_one())


def prepare(session: Session, user_id: str, address: str, now: datetime) -> Attempt:
    """Read what a sign-in attempt needs: the account's hash and the throttling state."""
    if len(user_id) > MAX_ID:
        # Kept cut for the record, with a character no id has, so it matches no account.
        user_id = user_id[:MAX_ID - 1] + "~"
    address = address[:100]
    since = now - WINDOW
    user = session.get(User, user_id)
    stored = user.password_hash if user is not None else None
    if _count(session, since, LOGIN, address=address) >= ADDRESS_LIMIT:
        return Attempt(user_id, address, stored, ADDRESS, verify=False)
    if _count(session, since, LOGIN, address=address, user_id=user_id) >= PAIR_LIMIT:
        return Attempt(user_id, address, stored, PAIR)
    if user is None:
        # An unknown id "locks" like a known one, so a lock tells nothing about existence.
        locked = _count(session, since, LOGIN, user_id=user_id) >= ACCOUNT_LIMIT
        return Attempt(user_id, address, None, LOCKED if locked else None)
    if user.locked_until is not None and user.locked_until > now:
        return Attempt(user_id, address, stored, LOCKED)
    return Attempt(user_id, address, stored, DISABLED if user.disabled else None)


def conclude(session: Session, attempt: Attempt, checked: Checked,
             now: datetime) -> UserRecord:
    """Record a sign-in attempt: the user when it succeeds, else AuthenticationFailed (one
    text for every reason; ``why`` says which, for the caller's log)."""
    user = session.get(User, attempt.user_id, with_for_update=True)
    if attempt.blocked in (ADDRESS, PAIR, LOCKED):
        raise refusal(attempt.blocked)  # not counted: a paused attempt cannot extend a pause
    # The account may have changed while the password was verified: decide on what is true now.
    if checked.matched and user is not None and not user.disabled and not (
            user.locked_until is not None and user.locked_until > now) and (
            user.password_hash == attempt.password_hash):
        if checked.rehashed is not None:
            user.password_hash = checked.rehashed
        user.failed_logins = 0
        user.locked_until = None
        session.execute(delete(LoginFailure).where(
            LoginFailure.kind == LOGIN, LoginFailure.address == attempt.address,
            LoginFailure.user_id == attempt.user_id))
        return UserRecord.of(user)
    why = attempt.blocked or ("unknown" if user is None else "wrong")
    _failed(session, attempt, user, now)
    raise refusal(why)


def _failed(session: Session, attempt: Attempt, user: User | None, now: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - KEEP))
    session.add(LoginFailure(at=now, kind=LOGIN, address=attempt.address,
                             user_id=attempt.user_id))
    session.flush()
    since = now - WINDOW
    entries = []
    if _count(session, since, LOGIN, address=attempt.address,
              user_id=attempt.user_id) == PAIR_LIMIT:
        entries.append(_throttled(now, attempt, PAIR, PAIR_LIMIT))
    if _count(session, since, LOGIN, address=attempt.address) == ADDRESS_LIMIT:
        entries.append(_throttled(now, attempt, ADDRESS, ADDRESS_LIMIT))
    if user is not None:
        user.failed_logins += 1
        if _count(session, since, LOGIN, user_id=user.id) >= ACCOUNT_LIMIT and not (
                user.locked_until is not None and user.locked_until > now):
            user.locked_until = now + LOCKOUT
            entries.append(audit.Entry(
                "user_locked", "user", now, None, SIGN_IN, field=user.id,
                data={"until": user.locked_until, "failures": ACCOUNT_LIMIT,
                      "window_minutes": WINDOW.seconds // 60, "address": attempt.address}))
    if entries:
        audit.append(session, entries)


def _throttled(now: datetime, attempt: Attempt, scope: str, limit: int) -> audit.Entry:
    # The id as typed: it names the account tried, or shows what a guesser tried.
    return audit.Entry("login_paused", "user", now, None, SIGN_IN, field=attempt.user_id,
                       data={"scope": scope, "address": attempt.address, "failures": limit,
                             "until": now + WINDOW})


def prepare_signature(session: Session, user_id: str, now: datetime) -> Attempt:
    """Read what a signature's password check needs: the signer's hash and whether their
    signing is paused (by their own wrong signature passwords, never by sign-in failures)."""
    user = session.get(User, user_id)
    stored = user.password_hash if user is not None else None
    if user is None or user.disabled:
        return Attempt(user_id, "", stored, DISABLED)
    if _count(session, now - WINDOW, SIGNATURE, user_id=user_id) >= SIGNATURE_LIMIT:
        return Attempt(user_id, "", stored, SIGNING_PAUSED)
    return Attempt(user_id, "", stored, None)


def conclude_signature(session: Session, attempt: Attempt, checked: Checked, now: datetime,
                       address: str = "") -> None:
    """Record a signature's password check; AuthenticationFailed when it fails (``why``:
    ``wrong``, ``disabled``, or ``locked`` while signing is paused)."""
    if attempt.blocked == DISABLED:
        raise AuthenticationFailed(f"the account '{attempt.user_id}' is disabled", DISABLED)
    if attempt.blocked == SIGNING_PAUSED:
        raise AuthenticationFailed(
            f"signing is paused for '{attempt.user_id}' after {SIGNATURE_LIMIT} wrong "
            f"passwords in {WINDOW.seconds // 60} minutes; try again later", LOCKED)
    if checked.matched:
        session.execute(delete(LoginFailure).where(LoginFailure.kind == SIGNATURE,
                                                   LoginFailure.user_id == attempt.user_id))
        return
    session.add(LoginFailure(at=now, kind=SIGNATURE, address=address[:100],
                             user_id=attempt.user_id))
    session.flush()
    if _count(session, now - WINDOW, SIGNATURE, user_id=attempt.user_id) == SIGNATURE_LIMIT:
        user = session.get(User, attempt.user_id)
        audit.append(session, [audit.Entry(
            "signing_paused", "user", now, attempt.user_id, user.name if user else None,
            field=attempt.user_id, data={"failures": SIGNATURE_LIMIT, "until": now + WINDOW,
                                         "address": address[:100]})])
    raise AuthenticationFailed("the password is wrong: the signature was not given", "wrong")
