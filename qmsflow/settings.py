"""The one settings loader: the web application and every command read their settings here.

Settings are read in this order, each overriding the one before:

1. the defaults below;
2. ``qmsflow.cfg`` in the instance folder (a Python file of ``UPPER_CASE = value`` lines);
3. ``QMSFLOW_*`` environment variables, without the prefix (``QMSFLOW_DEFINITIONS`` sets
   ``DEFINITIONS``); a value that reads as JSON (``30``, ``true``) is taken as that value,
   as Flask's ``from_prefixed_env`` does;
4. ``DATABASE_URL`` from the environment (the name hosting platforms set).

The instance folder itself comes from ``QMSFLOW_INSTANCE`` (default ``./instance``): it is where
``qmsflow.cfg``, the SQLite database and the uploads live. So ``qmsflow serve``, ``qmsflow db
upgrade``, ``sweep``, ``worker`` and ``definitions publish`` all work on the same database,
whichever of the file or the environment names it.

This module reads files and the environment only (no Flask, no SQLAlchemy): the light
commands (``validate``, ``simulate``) stay light.

Settings refuse to be unsafe: a name no part of qmsflow reads (``QMSFLOW_SECRETKEY``, a typo
that would leave the key unset) is refused with the names it may have meant; ``ENV`` is one of
:data:`ENVIRONMENTS`, exactly (``Production`` is refused, not taken for development); and the
key that signs sessions and customers' survey links is never one anybody else knows (see
:func:`signing_keys`).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.problems import did_you_mean

CONFIG_FILE = "qmsflow.cfg"
DEFAULT_INSTANCE = "instance"
PREFIX = "QMSFLOW_"
KEY_FILE = "secret_key"  # development only: a random key made once per instance folder
AUDIT_KEY_FILE = "audit_key"  # the same, for the audit trail's seal
MIN_KEY_BYTES = 32  # production: a key shorter than this can be guessed offline

#: The environments, exactly as spelled. ``production`` turns on secure cookies and needs a
#: key of at least MIN_KEY_BYTES; ``development`` makes a random key in the instance folder
#: when none is set.
ENVIRONMENTS = ("production", "development")

DEFAULTS: Mapping[str, Any] = {
    "SECRET_KEY": None,  # signs sessions and survey links: see signing_keys()
    "SECRET_KEY_FALLBACKS": None,  # earlier keys, still accepted while links signed with them live
    "AUDIT_KEY": None,  # seals the audit trail (HMAC), kept outside the database: audit_keys()
    "AUDIT_KEY_FALLBACKS": None,  # earlier audit keys, which still verify the entries they sealed
    "DEFINITIONS": "definitions/default",  # the definition set this deployment serves
    "DATABASE_URL": None,  # None: a SQLite file in the instance folder
    "ENV": "development",  # one of ENVIRONMENTS
    "SESSION_TIMEOUT_MINUTES": 30,  # inactivity log-off
    "SESSION_MAX_HOURS": 12,  # the longest a web session lasts, however active
    "PASSWORD_HISTORY": 5,  # a new password may not repeat any of the last this many
    "PASSWORD_MAX_AGE_DAYS": 0,  # a password older than this must be changed (0: never)
    "TRUST_PROXY_HOPS": 0,  # reverse proxies whose X-Forwarded-For is believed (0: none)
    "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    "UPLOAD_FOLDER": None,  # None: uploads/ in the instance folder
    "PUBLIC_URL": "http://127.0.0.1:5000",  # where customers' survey links point
}

#: The web application's own settings (Flask's), with their defaults; a deployment may set them
#: in ``qmsflow.cfg`` or the environment like the others.
WEB_DEFAULTS: Mapping[str, Any] = {
    "PER_PAGE": 25,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": None,  # None: secure (HTTPS only) in production
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "qmsflow_session",
    # The cookie's content does not change per request (the server keeps the time of the last
    # one): no new cookie on every response.
    "SESSION_REFRESH_EACH_REQUEST": False,
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session, which times out
    "BABEL_DEFAULT_LOCALE": "zh_CN",
}

#: The mail server's settings (read by qmsflow.web.mail; no default means its own default).
MAIL_SETTINGS = ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD",
                 "SMTP_FROM", "SMTP_TIMEOUT")

#: ``QMSFLOW_*`` variables other programs read: deploy/gunicorn.conf.py and the test suite.
READ_ELSEWHERE = ("INSTANCE", "BIND", "WORKERS", "PROXIES", "TEST_PG")

KNOWN = frozenset([*DEFAULTS, *WEB_DEFAULTS, *MAIL_SETTINGS])

MAKE_KEY = "e.g. the output of 'python -c \"import secrets; print(secrets.token_hex(32))\"'"

#: Keys published with qmsflow (the built-in development key of releases before 2026-12):
#: anybody can sign with them, so they are refused wherever they are set.
PUBLIC_KEYS = frozenset({"qmsflow-development-key-do-not-use-in-production"})


class SettingsError(QmsflowError):
    """``qmsflow.cfg`` cannot be read; the message names the file and the problem."""


def load(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings, read in the documented order; ``INSTANCE`` is the instance folder."""
    env = os.environ if environ is None else environ
    instance = instance_folder(env)
    settings: dict[str, Any] = dict(DEFAULTS)
    settings.update(_known(_from_file(instance / CONFIG_FILE), instance / CONFIG_FILE, ""))
    settings.update(_known(_from_environment(env), "the environment", PREFIX))
    if env.get("DATABASE_URL"):
        settings["DATABASE_URL"] = env["DATABASE_URL"]
    settings["INSTANCE"] = str(instance)
    environment(settings)
    return settings


def environment(settings: Mapping[str, Any]) -> str:
    """The settings' ``ENV``, one of ENVIRONMENTS exactly, or SettingsError saying which to use."""
    chosen = settings.get("ENV")
    if chosen not in ENVIRONMENTS:
        raise SettingsError(
            f"QMSFLOW_ENV is {chosen!r}, which is not an environment of qmsflow: use "
            f"{' or '.join(ENVIRONMENTS)}, spelled exactly so")
    return str(chosen)


def signing_keys(settings: Mapping[str, Any]) -> list[str]:
    """The keys that sign sessions and survey links: the earlier ones (still accepted), then
    the current one, which signs.

    In production the key must be set and hold at least MIN_KEY_BYTES bytes: every web worker
    and command must sign with the same key, so none may make its own. In development a key
    that is not set is made once, at random, and kept in the instance folder (readable by its
    owner only), where every command and worker of that instance finds it: no key anybody
    else knows ever signs a session or a customer's survey link.
    """
    key = _key(settings, "SECRET_KEY", KEY_FILE,
               "production needs a random key of at least {n} bytes, the same for every worker")
    if key in PUBLIC_KEYS:
        raise SettingsError(
            "QMSFLOW_SECRET_KEY is the development key published with earlier qmsflow "
            f"releases, with which anybody can forge a session: set a random key of your own "
            f"({MAKE_KEY}), or, outside production, leave it unset to have one made")
    earlier = _earlier(settings, "SECRET_KEY_FALLBACKS")
    if PUBLIC_KEYS.intersection(earlier):
        raise SettingsError("QMSFLOW_SECRET_KEY_FALLBACKS holds the development key published "
                            "with earlier qmsflow releases: remove it (anybody can sign with it)")
    return [*earlier, key]


def audit_keys(settings: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The key that seals new audit entries and the earlier ones that still verify theirs.

    The key lives outside the database, so that someone who can write the tables cannot
    recompute the chain. Production needs one of at least MIN_KEY_BYTES bytes, other than the
    key that signs sessions (whoever reads one should not hold the other); development makes
    one in the instance folder when none is set.
    """
    key = _key(settings, "AUDIT_KEY", AUDIT_KEY_FILE,
               "production seals its audit trail with a random key of at least {n} bytes "
               "kept outside the database")
    if environment(settings) == "production" and key == settings.get("SECRET_KEY"):
        raise SettingsError("QMSFLOW_AUDIT_KEY is the same as QMSFLOW_SECRET_KEY: give the "
                            f"audit trail a key of its own ({MAKE_KEY})")
    return key, _earlier(settings, "AUDIT_KEY_FALLBACKS")


def _key(settings: Mapping[str, Any], name: str, file: str, needed: str) -> str:
    """The key setting ``name``: in production set and at least MIN_KEY_BYTES long (``needed``
    says why, ``{n}`` standing for the length); in development, when unset, the random key
    kept in the instance folder's ``file``."""
    key = settings.get(name)
    production = environment(settings) == "production"
    if key is None or key == "":
        if production:
            raise SettingsError(f"{PREFIX}{name} is not set: "
                                + needed.format(n=MIN_KEY_BYTES) + f" ({MAKE_KEY})")
        return _instance_key(Path(str(settings.get("INSTANCE", DEFAULT_INSTANCE))), file,
                             PREFIX + name)
    if not isinstance(key, str):
        raise SettingsError(f"{PREFIX}{name} must be text, not {type(key).__name__}")
    if production and len(key.encode("utf-8")) < MIN_KEY_BYTES:
        raise SettingsError(
            f"{PREFIX}{name} has {len(key.encode('utf-8'))} bytes: production needs at "
            f"least {MIN_KEY_BYTES} random bytes ({MAKE_KEY})")
    return key


def _earlier(settings: Mapping[str, Any], name: str) -> list[str]:
    """The list setting ``name`` of earlier keys (rotation)."""
    earlier = settings.get(name) or []
    if isinstance(earlier, str) or not all(isinstance(old, str) and old for old in earlier):
        raise SettingsError(f"{PREFIX}{name} must be a list of earlier keys, "
                            'e.g. ["the-key-before"]')
    return list(earlier)


def _instance_key(instance: Path, name: str, setting: str) -> str:
    path = instance / name
    try:
        instance.mkdir(parents=True, exist_ok=True)
        # Created exclusively: two workers starting together keep the one key written first.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as error:
        raise SettingsError(f"cannot keep a development key in {path} ({error.strerror}): set "
                            f"{setting}, or make the instance folder writable") from None
    else:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(MIN_KEY_BYTES) + "\n")
    try:
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"cannot read the development key {path} ({error}): delete it "
                            f"to have a new one made, or set {setting}") from None
    if len(key) < MIN_KEY_BYTES:
        raise SettingsError(f"the development key {path} is empty or too short: delete it to "
                            f"have a new one made, or set {setting}")
    return key


def _known(found: dict[str, Any], where: object, prefix: str) -> dict[str, Any]:
    # A misspelt name would otherwise be ignored and its setting quietly left at its default
    # (QMSFLOW_SECRETKEY leaves the key unset): refuse it, naming the closest known name.
    for name in sorted(found):
        if name not in KNOWN:
            hint = did_you_mean(prefix + name, [prefix + known for known in KNOWN])
            raise SettingsError(
                f"{where}: {prefix}{name} is not a qmsflow setting"
                + (f" ({hint})" if hint else "")
                + "; the settings are listed in the README's Configuration table")
    return found


def instance_folder(environ: Mapping[str, str] | None = None) -> Path:
    """The instance folder: ``QMSFLOW_INSTANCE``, else ``./instance``, as an absolute path."""
    env = os.environ if environ is None else environ
    return Path(env.get(f"{PREFIX}INSTANCE") or DEFAULT_INSTANCE).resolve()


def _from_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    namespace: dict[str, Any] = {"__file__": str(path)}
    try:
        exec(compile(path.read_bytes(), str(path), "exec"), namespace)
    except Exception as error:  # a broken file must stop the start, saying where
        raise SettingsError(f"{path}: cannot be read as settings: {error}") from None
    return {key: value for key, value in namespace.items() if key.isupper()}


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(PREFIX) or name[len(PREFIX):] in READ_ELSEWHERE:
            continue
        try:
            found[name[len(PREFIX):]] = json.loads(raw)
        except ValueError:
            found[name[len(PREFIX):]] = raw
    return found
