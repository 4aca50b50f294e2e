"""Languages: which one a request gets, and labels from the definitions in it.

Definitions name locales as BCP 47 tags (``zh-CN``); Babel names them ``zh_CN``. UI strings come
from the message catalogs in ``translations/``; every label of a case, field or step comes from
the definitions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

import flask_babel
from flask import Flask, current_app, g, has_request_context, session
from flask import request as flask_request
from flask_login import current_user

from qmsflow.engine import values
from qmsflow.engine.model import DefinitionSet, text

# How each locale names itself in the language switch.
NATIVE_NAMES = {"zh-CN": "中文", "en": "English"}


class Gettext(Protocol):
    """A UI string translated into the request's language, with ``%(name)s`` values filled."""

    def __call__(self, string: str, /, **variables: Any) -> str: ...


#: Flask-Babel's ``gettext`` (imported as ``_``) with its type: Flask-Babel has no type hints.
gettext: Gettext = flask_babel.gettext


def definition() -> DefinitionSet:
    """The definition set this deployment serves."""
    runtime = current_app.extensions["qmsflow"]
    result: DefinitionSet = runtime.definition
    return result


def locales() -> tuple[str, ...]:
    """The locales the served organisation works in, preferred first."""
    return definition().organisation.locales


def locale() -> str:
    """The request's locale as the definitions name it (e.g. ``zh-CN``)."""
    if "locale" not in g:
        g.locale = _choose()
    chosen: str = g.locale
    return chosen


def _choose() -> str:
    # A language picked in this browser (the header's switch) wins for the session; else the
    # signed-in user's own (their preferences); else what the browser asks for.
    known = locales()
    chosen = session.get("locale")
    if chosen in known:
        return str(chosen)
    if current_user and current_user.is_authenticated and current_user.locale in known:
        return str(current_user.locale)
    if has_request_context():
        best = flask_request.accept_languages.best_match(
            [*known, *(tag.replace("-", "_") for tag in known)])
        if best:
            return best.replace("_", "-")
    return known[0]


@contextmanager
def in_locale(tag: str) -> Iterator[None]:
    """Render in locale ``tag`` whatever the reader's language: a regulator's form is printed
    in the authority's language."""
    before = g.get("locale")
    g.locale = tag
    try:
        with flask_babel.force_locale(tag.replace("-", "_")):
            yield
    finally:
        if before is None:
            g.pop("locale", None)
        else:
            g.locale = before


def select_locale() -> str:
    """Flask-Babel's locale selector: the request's locale in Babel's spelling."""
    return locale().replace("-", "_")


def label(labels: Mapping[str, str] | None) -> str:
    """A definition label in the request's locale."""
    return text(labels or {}, locale())


def role_label(role_id: str | None) -> str:
    """A role by its label in the request's locale ('' for none, the id for an unknown one)."""
    if role_id is None:
        return ""
    role = definition().organisation.roles.get(role_id)
    return label(role.label) if role is not None else role_id


def timezone() -> str:
    """The time zone times are shown in: the signed-in user's own, else the organisation's."""
    own = getattr(current_user, "timezone", None) if has_request_context() else None
    return str(own) if own else definition().organisation.timezone


def local_time(moment: datetime | None, with_zone: bool = False) -> str:
    """A UTC time in the reader's time zone (:func:`timezone`), as staff read it."""
    if moment is None:
        return ""
    zone = timezone()
    return values.local_time(moment, zone) + (f" ({zone})" if with_zone else "")


def meaning_label(meaning: str) -> str:
    """A signature meaning as the organisation labels it (its id when it has no label)."""
    found = definition().organisation.signature_meanings.get(meaning)
    return label(found.label) if found is not None else meaning


def init_app(app: Flask) -> None:
    """Template helpers: ``t(labels)``, ``locale()``, ``local_time(dt)``, the locales."""

    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {"t": label, "locale": locale, "local_time": local_time,
                "locales": locales, "native_names": NATIVE_NAMES,
                "organisation": definition().organisation, "meaning_label": meaning_label}
