"""Checks for every session option, so that bad configuration fails when the app starts.

This is the one place their rules live, whichever way an option arrives (a keyword from Python
code, or a setting's text from an .ini file): the core writes the Set-Cookie header from what these
return without checking again. Each check takes the option's value and the name to blame
(``timeout`` from Python code, ``session.timeout`` from an .ini file) and returns the value in
its working form; a bad value raises :class:`OptionError`, which carries that name.
"""

import math
import re
from typing import Any, Callable, Optional, Union

from pyramid.settings import falsey, truthy

__all__ = [
    "OptionError",
    "as_bool",
    "as_seconds",
    "as_positive_seconds",
    "as_samesite",
    "as_cookie_name",
    "as_cookie_attr",
    "as_cookie_path",
    "as_cookie_domain",
    "as_revocation_policy",
    "as_revocation_prefix",
    "as_revocation_user",
    "as_session_label",
    "as_track_sessions",
    "REVOCATION_POLICIES",
    "REVOCATION_POLICY",
    "REVOCATION_STALE_AFTER",
    "REVOCATION_RESYNC",
    "REVOCATION_PREFIX",
    "UserGetter",
    "as_partitioned",
    "as_url_without_fragment",
]

SAMESITE_VALUES = ("Strict", "Lax", "None")

#: What to do when the revocation set cannot be kept current: serve with the last known set,
#: or refuse every session that cannot be checked.
REVOCATION_POLICIES = ("serve", "refuse")
#: The defaults of the ``revocation_*`` options, written once for the factory, the store and
#: the command line.
REVOCATION_POLICY = "serve"
REVOCATION_STALE_AFTER = 30
REVOCATION_RESYNC = 5
REVOCATION_PREFIX = "pyramid_nacl_session:"

# RFC 6265 token characters: what WebOb accepts in a cookie name. fullmatch, since "$" would
# also match before a final newline and let "session\n" put a raw LF into Set-Cookie.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
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
# What a browser drops a Path attribute for, or reads as the end of it (RFC 6265 path-value:
# no controls and no ";"); whitespace besides, since it only ever comes from a pasted comment.
_BAD_PATH_CHAR = re.compile(r"[\x00-\x20\x7f-\xa0;]")
# A host name or an IPv4 address, with the leading dot some apps still write.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_DOMAIN = re.compile(rf"\.?{_LABEL}(?:\.{_LABEL})*\.?")


class OptionError(ValueError):
    """A bad option value, raised when the factory is made (from Python code or an .ini file).

    ``option`` is the name it was given under (a keyword such as ``timeout``, or the setting such
    as ``session.timeout``); ``reason`` is the message without that name. The native core raises
    this same class.
    """

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        #: The keyword or setting the value was given under.
        self.option = option
        #: The message without the option's name, for re-raising under another name.
        self.reason = reason

    def __reduce__(self) -> "tuple[type[OptionError], tuple[str, str]]":
        # Picklable (multiprocessing, logging handlers) with both arguments.
        return (type(self), (self.option, self.reason))


def as_bool(value: Any, name: str) -> bool:
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


def as_seconds(value: Any, name: str, most: Optional[int] = None) -> Optional[int]:
    """A whole number of seconds, or ``None``; never negative, and at most ``most``.

    The same rule for Python values and settings text: ``30``, ``'30'``, ``30.0`` and ``'30.0'``
    are 30 seconds; ``1.5`` and ``'1.5'`` are refused rather than cut to 1.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    number: Optional[int] = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, (float, str)):
        try:
            real = float(value)
        except ValueError:
            real = None
        if real is not None and math.isfinite(real) and real.is_integer():
            number = int(real)
        elif real is not None:
            raise OptionError(name, f"expected a whole number of seconds, got {value!r}")
    if number is None or number < 0:
        raise OptionError(name, f"expected a number of seconds or None, got {value!r}")
    if most is not None and number > most:
        raise OptionError(name, f"at most {most} seconds, got {value!r}")
    return number


def as_samesite(value: Any, name: str, secure: bool) -> Optional[str]:
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


def as_cookie_name(value: Any, name: str) -> str:
    """A name WebOb both writes and reads back: a token that is not an attribute's name and does
    not start with ``$``."""
    if not isinstance(value, str) or not _COOKIE_NAME.fullmatch(value):
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


def as_cookie_attr(value: Any, name: str) -> Optional[str]:
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


def as_cookie_path(value: Any, name: str) -> Optional[str]:
    """A Path attribute (see :func:`as_cookie_attr`) with no control character, whitespace or
    ``;``, which a browser would reject or cut it at."""
    path = as_cookie_attr(value, name)
    if path is not None and _BAD_PATH_CHAR.search(path):
        raise OptionError(
            name, f"a cookie path holds no whitespace, control character or ';', got {path!r}"
        )
    return path


def as_cookie_domain(value: Any, name: str) -> Optional[str]:
    """A Domain attribute (see :func:`as_cookie_attr`): a host name or an IPv4 address."""
    domain = as_cookie_attr(value, name)
    if domain is not None and not _DOMAIN.fullmatch(domain):
        raise OptionError(
            name, f"expected a host name (letters, digits, '-' and dots), got {domain!r}"
        )
    return domain


def as_positive_seconds(value: Any, name: str) -> float:
    """A positive, finite number of seconds, fractions allowed: ``5``, ``0.5``, ``'0.5'``."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
    if number is None or not math.isfinite(number) or number <= 0:
        raise OptionError(name, f"expected a positive number of seconds, got {value!r}")
    return number


def as_revocation_policy(value: Any, name: str) -> str:
    """``'serve'`` or ``'refuse'``."""
    word = value.strip() if isinstance(value, str) else value
    if word not in REVOCATION_POLICIES:
        raise OptionError(name, f"expected serve or refuse, got {value!r}")
    return str(word)


def as_revocation_prefix(value: Any, name: str) -> str:
    """A non-empty prefix for the Redis keys and channel, without whitespace or controls (which
    only a pasted comment would bring)."""
    if not isinstance(value, str) or not value:
        raise OptionError(name, "expected a non-empty string")
    if any(char.isspace() or not char.isprintable() for char in value):
        raise OptionError(name, f"expected no whitespace or control characters, got {value!r}")
    return value


#: How a session names its user: a state key, or a callable given the session's state dict.
UserGetter = Union[str, Callable[[dict[Any, Any]], Any]]


def as_revocation_user(value: Any, name: str) -> Optional[UserGetter]:
    """A state key (str), a callable taking the session's state dict, or ``None`` (as is a blank
    string, so that an empty setting means none)."""
    return _name_or_callable(value, name, "a state key")


def as_session_label(value: Any, name: str) -> "Optional[str | Callable[[Any], Any]]":
    """``track_sessions_label``: a request header's name (str), a callable taking the request,
    or ``None`` (as is a blank string)."""
    return _name_or_callable(value, name, "a header name")


def as_track_sessions(
    value: Any, label: Any, revocation: bool, user: Any
) -> "tuple[bool, Optional[str | Callable[[Any], Any]]]":
    """``track_sessions`` and ``track_sessions_label``, checked together: the list needs
    revocation (``revocation``: whether ``revocation_url`` is set) and ``revocation_user``, and
    a label needs the list."""
    track: bool = as_bool(value, "track_sessions")
    labeler = as_session_label(label, "track_sessions_label")
    if track and (not revocation or as_revocation_user(user, "revocation_user") is None):
        raise OptionError(
            "track_sessions",
            "needs revocation_url and revocation_user (the list lives in the revocation "
            "store's Redis, one per user)",
        )
    if labeler is not None and not track:
        raise OptionError("track_sessions_label", "needs track_sessions = true")
    return track, labeler


def _name_or_callable(value: Any, name: str, what: str) -> "Optional[str | Callable[..., Any]]":
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if callable(value):
        return value  # type: ignore[no-any-return]
    raise OptionError(name, f"expected {what} or a callable, got {type(value).__name__}")


def as_partitioned(value: object, name: str, secure: bool) -> bool:
    """``partitioned`` as a boolean; ``True`` needs ``secure``, as browsers do (CHIPS)."""
    partitioned: bool = as_bool(value, name)
    if partitioned and not secure:
        raise OptionError(
            name, "Partitioned needs secure = true (browsers drop such cookies otherwise)"
        )
    return partitioned


def as_url_without_fragment(value: Any, name: str) -> Any:
    """``value`` unchanged, unless it is text holding a ``#``: a URL's fragment, which redis-py
    drops with whatever follows it (say, the rest of a password). The message says how to
    write one, and never quotes the URL."""
    if isinstance(value, str) and "#" in value:
        raise OptionError(
            name,
            "holds a '#', which starts a URL's fragment, so what follows it (the rest of a "
            "password, say) never reaches Redis; percent-encode it as %23, written %%23 in an "
            ".ini file, where configparser reads '%' as its own",
        )
    return value
