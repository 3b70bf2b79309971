"""Checks for every session option, so that bad configuration fails when the app starts.

This is the one place their rules live: the core writes the Set-Cookie header from what these
return without checking again. Each check takes the option's value and the name to blame
(``timeout`` from Python code, ``session.timeout`` from an .ini file) and returns the value in
its working form; a bad value raises :class:`OptionError`, which carries that name.
"""

import math
import re

from pyramid.settings import falsey, truthy

__all__ = [
    "OptionError",
    "as_bool",
    "as_seconds",
    "as_samesite",
    "as_cookie_name",
    "as_cookie_attr",
    "as_partitioned",
]

SAMESITE_VALUES = ("Strict", "Lax", "None")

# RFC 6265 token characters: what WebOb accepts in a cookie name.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Names WebOb's parser takes for attributes, so a cookie called so is never read back.
_RESERVED_NAMES = (
    "path",
    "comment",
    "domain",
    "max-age",
    "expires",
    "secure",
    "httponly",
    "samesite",
)


class OptionError(ValueError):
    """A bad option value. ``option`` is the name it was given under (a keyword, or the
    setting such as ``session.timeout``)."""

    def __init__(self, option, message):
        super().__init__(f"{option}: {message}")
        self.option = option
        #: The message without the option's name, for re-raising under another name.
        self.reason = message


def as_bool(value, name):
    """``True``/``False``, or a string that ``pyramid.settings.asbool`` knows; anything else fails
    instead of silently meaning ``False``. A string is read as a word, so ``'false'`` is false."""
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
    raise OptionError(name, f"expected true or false, got {value!r}")


def as_seconds(value, name, most=None):
    """A whole number of seconds, or ``None``; never negative, and at most ``most``.

    The same rule for Python values and settings text: ``30``, ``'30'``, ``30.0`` and ``'30.0'``
    are 30 seconds; ``1.5`` and ``'1.5'`` are refused rather than cut to 1.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, (float, str)):
        try:
            number = float(value)
        except ValueError:
            pass
        if number is not None and math.isfinite(number) and number.is_integer():
            number = int(number)
        elif number is not None:
            raise OptionError(name, f"expected a whole number of seconds, got {value!r}")
    if number is None or number < 0:
        raise OptionError(name, f"expected a number of seconds or None, got {value!r}")
    if most is not None and number > most:
        raise OptionError(name, f"at most {most} seconds, got {value!r}")
    return number


def as_samesite(value, name, secure):
    """``'Strict'``, ``'Lax'``, ``'None'`` (which needs ``secure``), or ``None`` for no attribute.

    The value is written as given, as WebOb does; the check ignores case.
    """
    if value is None:
        return None
    if not isinstance(value, str) or value.capitalize() not in SAMESITE_VALUES:
        raise OptionError(name, f"expected one of Strict, Lax, None (or no value), got {value!r}")
    if value.lower() == "none" and not secure:
        raise OptionError(
            name, "SameSite=None needs secure = true (browsers drop such cookies otherwise)"
        )
    return value


def as_cookie_name(value, name):
    """A name WebOb both writes and reads back: a token that is not an attribute's name and does
    not start with ``$``."""
    if not isinstance(value, str) or not _COOKIE_NAME.match(value):
        raise OptionError(name, f"expected a cookie name (letters, digits, -_.), got {value!r}")
    if value.startswith("$") or value.lower() in _RESERVED_NAMES:
        raise OptionError(
            name,
            f"{value!r} is a cookie attribute's name, so browsers' cookies of that name are "
            "never read back; choose another",
        )
    return value


#: Browsers ignore a cookie attribute longer than this (RFC 6265bis 5.6).
ATTRIBUTE_LIMIT = 1024


def as_cookie_attr(value, name):
    """A Path or Domain: latin-1 text of at most 1024 characters, or ``None`` (an empty string
    means ``None``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise OptionError(name, f"expected a string or None, got {type(value).__name__}")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise OptionError(
            name, f"expected latin-1 text (as WebOb writes it), got {value!r}"
        ) from None
    if len(value) > ATTRIBUTE_LIMIT:
        raise OptionError(
            name, f"at most {ATTRIBUTE_LIMIT} characters (browsers ignore longer attributes)"
        )
    return value or None


def as_partitioned(value: object, name: str, secure: bool) -> bool:
    """``partitioned`` as a boolean; ``True`` needs ``secure``, as browsers do (CHIPS)."""
    partitioned: bool = as_bool(value, name)
    if partitioned and not secure:
        raise OptionError(
            name, "Partitioned needs secure = true (browsers drop such cookies otherwise)"
        )
    return partitioned
