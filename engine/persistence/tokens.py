"""Bearer tokens of integration users for the JSON API: issue, check, revoke, list.

A token is shown once, when it is issued; only its SHA-256 is stored, so a copy of the database
holds no working token. A token acts as its user, with that user's roles and approval limits,
and stops working when it is revoked or its user is disabled (or locked, while the lock lasts).
Issuing and revoking are audit entries: the record shows who could act through the API, and
from when to when.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, users
from .audit import SYSTEM, By
from .models import ApiToken, User
from .records import TokenRecord, UserRecord
from .users import UserError

PREFIX = "qmsflow_"  # lets secret scanners and people recognise a leaked token
TOKEN_BYTES = 32
MAX_LENGTH = 200  # longer is not a token of ours: refused before hashing
MAX_LABEL = 200
# How exactly ``last_used_at`` is kept: writing it on every request would cost every request.
TOUCH_EVERY = timedelta(minutes=1)


class TokenRefused(UserError):
    """A token that lets nobody in; ``why`` says which case: unknown, revoked, disabled or
    locked (its user, after too many failed sign-ins, until the lock ends)."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


@dataclass(frozen=True)
class Bearer:
    """Who a checked token acts for: the token's id and label, and its (active) user."""

    token_id: int
    label: str
    user: UserRecord


def digest(token: str) -> str:
    """The SHA-256 of a token, as stored (a token is random: no salt or slow hash needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(session: Session, user_id: str, label: str, now: datetime,
          by: By = SYSTEM) -> tuple[TokenRecord, str]:
    """A new token for the active user ``user_id``: its record and the plain token, which is
    never stored and cannot be shown again."""
    user = users.get(session, user_id)
    if user.disabled:
        raise UserError(f"user '{user_id}' is disabled: a token for it would not work")
    label = label.strip()
    if not label:
        raise UserError("a token needs a label saying what it is for, e.g. 'website intake'")
    if len(label) > MAX_LABEL:
        raise UserError(f"the label may have at most {MAX_LABEL} characters")
    plain = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken(user_id=user.id, label=label, token_hash=digest(plain), created_at=now,
                   last_used_at=None, revoked_at=None)
    session.add(row)
    session.flush()
    audit.append(session, [audit.Entry("api_token_issued", "api_token", now, by.id, by.name,
                                       field=user.id, new=label, data={"token": row.id})])
    return TokenRecord.of(row), plain


def check(session: Session, token: str, now: datetime) -> Bearer:
    """The user a token acts for, or TokenRefused; notes when the token was last used."""
    if not token.startswith(PREFIX) or len(token) > MAX_LENGTH:
        raise TokenRefused("this is not a qmsflow API token", "unknown")
    found = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                            .where(ApiToken.token_hash == digest(token))).first()
    if found is None:
        raise TokenRefused("unknown token", "unknown")
    row, user = found
    if row.revoked_at is not None:
        raise TokenRefused(f"token {row.id} was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC",
                           "revoked")
    if user.disabled:
        raise TokenRefused(f"the user '{user.id}' of token {row.id} is disabled", "disabled")
    if user.locked_until is not None and user.locked_until > now:
        # A lock stops every way in, so a token cannot be used to go on guessing around it.
        raise TokenRefused(f"the user '{user.id}' of token {row.id} is locked until "
                           f"{user.locked_until:%Y-%m-%d %H:%M} UTC", "locked")
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
    return Bearer(row.id, row.label, UserRecord.of(user))


def revoke(session: Session, token_id: int, now: datetime, by: By = SYSTEM) -> TokenRecord:
    """Revoke a token for good (its row stays, with when it was revoked)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise UserError(f"no token {token_id}: 'qmsflow users token list' shows the ids")
    if row.revoked_at is not None:
        raise UserError(f"token {token_id} was already revoked on "
                        f"{row.revoked_at:%Y-%m-%d %H:%M} UTC")
    row.revoked_at = now
    audit.append(session, [audit.Entry("api_token_revoked", "api_token", now, by.id, by.name,
                                       field=row.user_id, old=row.label,
                                       data={"token": row.id})])
    return TokenRecord.of(row)


def listed(session: Session) -> list[tuple[TokenRecord, UserRecord]]:
    """Every token with its user, oldest first (revoked ones too: they are part of the record)."""
    rows = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                           .order_by(ApiToken.id)).all()
    return [(TokenRecord.of(token), UserRecord.of(user)) for token, user in rows]
