"""Signed, expiring survey links: the customer's only credential, without an account.

A token carries the case number and the survey id, signed with the application's secret key
(itsdangerous, under a salt of its own, so no other value the application signs can pass for
a survey link) and stamped with the time it was made. The time comes from the application's
clock, so tests and the engine agree on it. How long a token lives depends on the survey it
names (``valid_for``, possibly in working days): the caller learns the survey from the token,
then reads it again with that ``max_age``. The engine checks the validity once more, from
the time the case sent the survey.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from qmsflow.engine.errors import QmsflowError

__all__ = ["PATH", "SALT", "BadToken", "ExpiredToken", "SurveyToken", "make_token",
           "read_token", "survey_link"]

#: Keeps survey tokens apart from everything else signed with the same key.
# The salt and the path keep their old word: changing either would void every link sent.
SALT = "qmsflow.feedback.survey-link"
#: Where the surveys blueprint answers, below the public address.
PATH = "/feedback/"

SecretKey = str | bytes | Iterable[str] | Iterable[bytes]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SurveyToken:
    """What a valid token says: the case, the survey, and when the link was made (UTC)."""

    number: str
    survey: str
    issued_at: datetime


class BadToken(QmsflowError):
    """A token this application did not sign, or one that was altered or cut short."""


class ExpiredToken(BadToken):
    """A genuine token that is older than its survey allows."""


def _serializer(secret_key: SecretKey, clock: Clock) -> URLSafeTimedSerializer:
    class ClockSigner(TimestampSigner):
        """Stamps and ages tokens by the application's clock rather than the system's."""

        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    # A list of keys (newest last) keeps links made before a key rotation readable.
    return URLSafeTimedSerializer(secret_key, salt=SALT, signer=ClockSigner)


def make_token(secret_key: SecretKey, number: str, survey: str, *,
               clock: Clock = _utc_now) -> str:
    """A signed token naming case ``number`` and ``survey``, stamped now."""
    return str(_serializer(secret_key, clock).dumps([number, survey]))


def survey_link(secret_key: SecretKey, public_url: str, *,
                clock: Clock = _utc_now) -> Callable[[str, str], str]:
    """A function making the absolute survey link of (case number, survey id).

    ``public_url`` is the address customers reach the application at (PUBLIC_URL), e.g.
    ``https://service.example.com``; the link works from any e-mail, outside a request.
    """
    base = public_url.rstrip("/") + PATH

    def link(number: str, survey: str) -> str:
        return base + make_token(secret_key, number, survey, clock=clock)

    return link


def read_token(secret_key: SecretKey, token: str, *, max_age: timedelta | None = None,
               clock: Clock = _utc_now) -> SurveyToken:
    """The case and survey a token names; :class:`BadToken` unless it is genuine and whole,
    :class:`ExpiredToken` when ``max_age`` is given and the token is older."""
    serializer = _serializer(secret_key, clock)
    age = None if max_age is None else int(max_age.total_seconds())
    try:
        payload, signed_at = serializer.loads(token, max_age=age, return_timestamp=True)
    except SignatureExpired as error:
        raise ExpiredToken("the survey link has expired") from error
    except BadData as error:
        raise BadToken("not a survey link of this application") from error
    if (not isinstance(payload, list) or len(payload) != 2
            or not all(isinstance(part, str) and part for part in payload)):
        # Signed by us under this salt but not a link: never expected, never trusted.
        raise BadToken("the survey link does not name a case and a survey")
    return SurveyToken(payload[0], payload[1], signed_at)
