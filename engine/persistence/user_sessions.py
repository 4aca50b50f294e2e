"""Web sessions on the server: start, check, end one, end all of a user's.

The browser's cookie is signed, but a signature cannot be taken back: a copied cookie would
work until it expires. So the cookie carries only a random session id, and each request reads
that session's row by primary key (the table keeps the id's SHA-256, so a copy of the database
holds no working session). Ending a session sets ``ended_at`` and a reason: signing out, a new
password, disabling the account, or an administrator's "sign out everywhere". A session also
ends after ``idle`` without a request (``last_seen_at`` is written at most once a minute, so a
busy user costs one write a minute, not one per request) and after ``lifetime`` in all.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .models import User, UserSession
from .records import UserRecord

SESSION_BYTES = 32
MAX_LENGTH = 100  # longer is not a session id of ours: refused before hashing
# How exactly ``last_seen_at`` is kept: writing it on every request would cost every request.
TOUCH_EVERY = timedelta(minutes=1)
KEEP_ENDED = timedelta(days=30)  # ended sessions stay this long (who was signed in, when)

# Why a session ended (``end_reason``).
SIGNED_OUT = "signed_out"
IDLE = "idle"
TOO_OLD = "lifetime"
PASSWORD_CHANGED = "password_changed"
DISABLED = "disabled"
SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"


@dataclass(frozen=True)
class SessionCheck:
    """What a request's session id is worth: the user, or why there is none.

    ``why`` is None for a live session, else ``unknown`` (no such session, or another
    user's), ``idle``, ``lifetime``, or the reason it was ended.
    """

    user: UserRecord | None
    why: str | None = None


def digest(session_id: str) -> str:
    """The SHA-256 of a session id, as stored."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start(session: Session, user_id: str, now: datetime, client: str | None = None,
          agent: str | None = None) -> str:
    """A new session of ``user_id``: the id for the cookie (not stored; only its hash is).
    ``client`` is the address it signs in from, ``agent`` the browser's User-Agent.

    Also forgets this user's sessions that ended or went idle more than KEEP_ENDED ago.
    """
    session.execute(delete(UserSession).where(UserSession.user_id == user_id,
                                              UserSession.last_seen_at < now - KEEP_ENDED))
    plain = secrets.token_urlsafe(SESSION_BYTES)
    session.add(UserSession(id=digest(plain), user_id=user_id, created_at=now,
                            last_seen_at=now, ended_at=None, end_reason=None,
                            client=(client or "")[:100] or None,
                            user_agent=(agent or "")[:200] or None))
    session.flush()
    return plain


def check(session: Session, session_id: str, user_id: str, now: datetime, idle: timedelta,
          lifetime: timedelta) -> SessionCheck:
    """The user of a live session, noting the time of this request; or why it is not live.

    One primary-key read (the session and its user together); a write only when the last one
    is older than TOUCH_EVERY, or when the session ends here for idleness or age.
    """
    if not session_id or len(session_id) > MAX_LENGTH:
        return SessionCheck(None, "unknown")
    found = session.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                            .where(UserSession.id == digest(session_id))).first()
    if found is None or found[0].user_id != user_id:
        return SessionCheck(None, "unknown")
    row, user = found
    if row.ended_at is not None:
        return SessionCheck(None, row.end_reason or SIGNED_OUT)
    if user.disabled:  # disabling ends sessions; this covers a row written before it did
        _end(row, now, DISABLED)
        return SessionCheck(None, DISABLED)
    if now - row.last_seen_at > idle:
        _end(row, row.last_seen_at + idle, IDLE)
        return SessionCheck(None, IDLE)
    if now - row.created_at > lifetime:
        _end(row, row.created_at + lifetime, TOO_OLD)
        return SessionCheck(None, TOO_OLD)
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return SessionCheck(UserRecord.of(user))


def end(session: Session, session_id: str, now: datetime, why: str = SIGNED_OUT) -> bool:
    """End one session (signing out); whether a live one was ended."""
    if not session_id or len(session_id) > MAX_LENGTH:
        return False
    row = session.get(UserSession, digest(session_id))
    if row is None or row.ended_at is not None:
        return False
    _end(row, now, why)
    return True


def end_all(session: Session, user_id: str, now: datetime, why: str,
            keep: str | None = None) -> int:
    """End every live session of ``user_id`` (their other browsers too) but ``keep`` (the
    session id of the browser asking, when it stays signed in); how many."""
    query = update(UserSession).where(UserSession.user_id == user_id,
                                      UserSession.ended_at.is_(None))
    if keep:
        query = query.where(UserSession.id != digest(keep))
    result = session.execute(
        query.values(ended_at=now, end_reason=why).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OpenSession:
    """A live web session as its owner sees it in their list. ``key`` names it for ending
    it (the stored SHA-256 of its id: it cannot be turned back into a working cookie)."""

    key: str
    started_at: datetime
    last_seen_at: datetime
    address: str | None
    agent: str | None

    def is_session(self, session_id: str | None) -> bool:
        """Whether this is the session of the cookie's ``session_id``."""
        return bool(session_id) and self.key == digest(session_id or "")


def listed(session: Session, user_id: str, now: datetime, idle: timedelta,
           lifetime: timedelta) -> list[OpenSession]:
    """The live sessions of ``user_id``, the most recently used first (a session past its
    idle time or lifetime is not live, whether or not a request has ended it yet)."""
    rows = session.execute(
        select(UserSession).where(UserSession.user_id == user_id,
                                  UserSession.ended_at.is_(None),
                                  UserSession.last_seen_at >= now - idle,
                                  UserSession.created_at >= now - lifetime)
        .order_by(UserSession.last_seen_at.desc(), UserSession.created_at.desc())).scalars()
    return [OpenSession(row.id, row.created_at, row.last_seen_at, row.client, row.user_agent)
            for row in rows]


def end_own(session: Session, user_id: str, key: str, now: datetime,
            why: str = SIGNED_OUT) -> bool:
    """End the live session ``key`` (see :class:`OpenSession`) of ``user_id``, and only
    theirs; whether one was ended."""
    row = session.get(UserSession, key[:64]) if key else None
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return False
    _end(row, now, why)
    return True


def _end(row: UserSession, at: datetime, why: str) -> None:
    row.ended_at = at
    row.end_reason = why
