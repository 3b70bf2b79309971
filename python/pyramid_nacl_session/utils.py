"""Where 1.0 defined ``session_factory_from_settings``; kept so its import path still works."""

from .settings import session_factory_from_settings

__all__ = ["session_factory_from_settings"]
