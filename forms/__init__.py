"""Builds WTForms classes from compiled form layouts, validates them, and makes engine inputs.

The web layer codes against these names only. Nothing here imports Flask: the same forms work
in any WSGI framework, and in tests with a plain ``MultiDict``.
"""

from .build import build_form
from .checks import attach_reasons, files, inputs, unexpected, validate
from .conditions import client_condition
from .fields import FileLimits
from .layout import Layout, LayoutField, LayoutSection, print_layout, step_layout
from .registers import EntryForm, build_register_form

__all__ = [
    "EntryForm",
    "FileLimits",
    "Layout",
    "LayoutField",
    "LayoutSection",
    "attach_reasons",
    "build_form",
    "build_register_form",
    "client_condition",
    "files",
    "inputs",
    "print_layout",
    "step_layout",
    "unexpected",
    "validate",
]
