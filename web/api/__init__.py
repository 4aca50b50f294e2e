"""The JSON API for other systems (``/api/v1``), with its OpenAPI document and token CLI."""

from . import registers  # noqa: F401 - the register endpoints, on the same blueprint
from .views import PREFIX, bp

__all__ = ["PREFIX", "bp"]
