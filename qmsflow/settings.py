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
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qmsflow.engine.errors import QmsflowError

CONFIG_FILE = "qmsflow.cfg"
DEFAULT_INSTANCE = "instance"
PREFIX = "QMSFLOW_"

DEFAULT_SECRET = "qmsflow-development-key-do-not-use-in-production"

DEFAULTS: Mapping[str, Any] = {
    "SECRET_KEY": DEFAULT_SECRET,  # signs sessions and survey links; refused in production
    "DEFINITIONS": "definitions/default",  # the definition set this deployment serves
    "DATABASE_URL": None,  # None: a SQLite file in the instance folder
    "ENV": "development",  # "production" turns on secure cookies and refuses unsafe settings
    "SESSION_TIMEOUT_MINUTES": 30,  # inactivity log-off
    "SESSION_MAX_HOURS": 12,  # the longest a web session lasts, however active
    "TRUST_PROXY_HOPS": 0,  # reverse proxies whose X-Forwarded-For is believed (0: none)
    "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    "PUBLIC_URL": "http://127.0.0.1:5000",  # where customers' survey links point
}


class SettingsError(QmsflowError):
    """``qmsflow.cfg`` cannot be read; the message names the file and the problem."""


def load(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings, read in the documented order; ``INSTANCE`` is the instance folder."""
    env = os.environ if environ is None else environ
    instance = instance_folder(env)
    settings: dict[str, Any] = dict(DEFAULTS)
    settings.update(_from_file(instance / CONFIG_FILE))
    settings.update(_from_environment(env))
    if env.get("DATABASE_URL"):
        settings["DATABASE_URL"] = env["DATABASE_URL"]
    settings["INSTANCE"] = str(instance)
    return settings


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
        if not name.startswith(PREFIX) or name == f"{PREFIX}INSTANCE":
            continue
        try:
            found[name[len(PREFIX):]] = json.loads(raw)
        except ValueError:
            found[name[len(PREFIX):]] = raw
    return found
