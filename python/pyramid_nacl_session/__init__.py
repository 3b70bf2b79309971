"""Encrypted cookie sessions for Pyramid, sealed with NaCl secretbox by a Rust core."""

from importlib.metadata import version as _version
from typing import Any

from ._core import (
    BadPayload,
    BadSignature,
    CookieError,
    CookieTooLarge,
    CookieTooShort,
    DecryptionFailed,
    EncryptedSerializer,
    MalformedCookie,
    RefusedPickle,
    ReservedKeyError,
    generate_secret,
)
from .options import OptionError
from .session import EncryptedCookieSessionFactory
from .settings import session_factory_from_settings

__version__ = _version("pyramid-nacl-session")

__all__ = [
    "BadPayload",
    "BadSignature",
    "CookieError",
    "CookieTooLarge",
    "CookieTooShort",
    "DecryptionFailed",
    "EncryptedCookieSessionFactory",
    "EncryptedSerializer",
    "MalformedCookie",
    "OptionError",
    "RefusedPickle",
    "ReservedKeyError",
    "generate_secret",
    "includeme",
    "session_factory_from_settings",
]


def includeme(config: Any) -> None:
    """Set the app's session factory from its ``session.*`` settings.

    Used by ``config.include('pyramid_nacl_session')`` and by ``pyramid.includes`` in an .ini.
    """
    config.set_session_factory(session_factory_from_settings(config.registry.settings))
