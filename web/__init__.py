"""Flask application and the ``qmsflow`` command line."""

from .app import create_app

__all__ = ["create_app"]
