"""Bounds on what a browser sends, checked before any view reads it.

Every query parameter and form value of the web screens is text a person (or an attacker)
chose. Two checks hold for all of them, before a view runs: a query parameter is short,
printable text; no value holds a character no database stores (NUL, unpaired surrogates).
Numbers a view reads (a page, an id, a row version) come through :func:`counting_number`,
which judges the text's digits before converting it. A refusal is a 400 page that names the
parameter and says how to fix it, never a 500. The JSON API has its own reader (``api.inputs``).
"""

from __future__ import annotations

import re
from typing import NoReturn

from flask import Flask, abort, request

from qmsflow.engine.errors import QmsflowError
from qmsflow.engine.values import BIDI_CONTROLS, INTEGER_MAX

from .i18n import gettext as _

#: The longest query parameter (name or value) any screen reads.
MAX_PARAMETER = 1_000


class BadInput(QmsflowError, ValueError):
    """A query parameter or form value that cannot be read; the message says how to fix it."""


# Control characters (Unicode category Cc), lone surrogates (Cs) and the bidirectional
# controls, as one character class: a regular expression finds them at C speed. The walk over
# every character in Python it replaces was two thirds of the hostile-input sweep's time.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff"
                          + "".join(sorted(re.escape(char) for char in BIDI_CONTROLS)) + "]")
# What a form value may not hold at all: NUL, and lone surrogates (not text).
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def _unprintable(text: str) -> bool:
    return _UNPRINTABLE.search(text) is not None


def counting_number(text: str | None, name: str, high: int = INTEGER_MAX) -> int | None:
    """The whole number from 1 to ``high`` written in ``text`` (None when it is empty), or
    BadInput naming ``name``: only ASCII digits, and no more of them than ``high`` has, are
    converted ('²' is a digit to str.isdigit but not to int; 5,000 digits cost int() time)."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))
            and 1 <= int(text) <= high):
        raise BadInput(_("'%(name)s' must be a whole number from 1 to %(high)s.", name=name,
                         high=high))
    return int(text)


def version_number(text: str | None) -> int | None:
    """A posted row version (0 or more, in 64 bits), or None when it is not one."""
    if text is None or not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    number = int(text)
    return number if number <= INTEGER_MAX else None


def refuse(error: BadInput) -> NoReturn:
    """Answer 400 with the error's message."""
    abort(400, description=str(error))


def _check_request() -> None:
    """Refuse unreadable query parameters and form values before any web view reads them."""
    if request.path.startswith(("/api/", "/static/")):
        return  # the API reads its own (api.inputs); static files take no input
    for name, value in request.args.items(multi=True):
        if len(name) > MAX_PARAMETER or len(value) > MAX_PARAMETER:
            refuse(BadInput(_("The address has a parameter longer than %(count)s characters. "
                              "Shorten it, e.g. search for fewer words.",
                              count=MAX_PARAMETER)))
        if _unprintable(name) or _unprintable(value):
            refuse(BadInput(_("The parameter '%(name)s' holds control characters. Remove "
                              "them from the address.", name=name[:40])))
    if request.method == "POST" and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if "\x00" in name or _NOT_TEXT.search(value):
                refuse(BadInput(_("The form value '%(name)s' holds a character that is not "
                                  "text (NUL). Remove it and send the form again.",
                                  name=name[:40].replace("\x00", ""))))


def init_app(app: Flask) -> None:
    """Check every web request's parameters before its view."""
    app.before_request(_check_request)
