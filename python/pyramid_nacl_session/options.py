"""Checks for every session option, so that bad configuration fails when the app starts.

Each check takes the option's value and the name to blame (``timeout`` from Python code,
``session.timeout`` from an .ini file) and returns the value in its working form.
"""

import re

from pyramid.settings import falsey, truthy

__all__ = ["as_bool", "as_seconds", "as_samesite", "as_cookie_name", "as_optional_str"]

SAMESITE_VALUES = ("Strict", "Lax", "None")

# RFC 6265 token characters, which is what WebOb accepts in a cookie name.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def as_bool(value, name):
    """``True``/``False``, or a string that ``pyramid.settings.asbool`` knows; anything else fails
    instead of silently meaning ``False``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in truthy:
            return True
        if word in falsey:
            return False
    raise ValueError(f"{name}: expected true or false, got {value!r}")


def as_seconds(value, name):
    """A whole number of seconds (int or digits), or ``None``; never negative."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a number of seconds or None, got {value!r}")
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number of seconds or None, got {value!r}") from None
    if seconds < 0:
        raise ValueError(f"{name}: expected a number of seconds or None, got {value!r}")
    return seconds


def as_samesite(value, name, secure):
    """``'Strict'``, ``'Lax'``, ``'None'`` (which needs ``secure``), or ``None`` for no attribute.

    The value is written as given, as WebOb does; the check ignores case.
    """
    if value is None:
        return None
    if not isinstance(value, str) or value.capitalize() not in SAMESITE_VALUES:
        raise ValueError(f"{name}: expected one of Strict, Lax, None (or no value), got {value!r}")
    if value.lower() == "none" and not secure:
        raise ValueError(
            f"{name}: SameSite=None needs secure = true (browsers drop such cookies otherwise)"
        )
    return value


def as_cookie_name(value, name):
    if not isinstance(value, str) or not _COOKIE_NAME.match(value):
        raise ValueError(f"{name}: expected a cookie name (letters, digits, -_.), got {value!r}")
    return value


def as_optional_str(value, name):
    if value is None or isinstance(value, str):
        return value or None
    raise ValueError(f"{name}: expected a string or None, got {type(value).__name__}")
