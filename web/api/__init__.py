"""The JSON API for other systems (``/api/v1``), with its OpenAPI document and token CLI."""

from .views import PREFIX, bp

__all__ = ["PREFIX", "bp"]
