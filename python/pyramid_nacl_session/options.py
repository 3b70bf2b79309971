"""The checks the option records (registry.py) are made of, so that bad configuration fails
when the app starts.

Each check takes the option's value and the name to blame (``timeout`` from Python code,
``session.timeout`` from an .ini file) and returns the value in its working form; a bad value
raises :class:`OptionError`, which carries that name. The same check runs whichever way the
option arrives, so a setting's text and the Python value mean the same; the core writes the
Set-Cookie header from what these return without checking again. No message quotes the value:
a key pasted into the wrong line must not reach the logs.
"""

import datetime
import math
import re
from typing import Any, Callable, Optional, Union

from pyramid.settings import falsey, truthy

from ._core import MAX_AGE_LIMIT, SignedCookieReader
from .errors import OptionError

__all__ = [
    "OptionError",
    "as_bool",
    "as_seconds",
    "as_max_age",
    "as_positive_seconds",
    "as_samesite",
    "as_cookie_name",
    "as_optional_cookie_name",
    "as_cookie_attr",
    "as_cookie_path",
    "as_cookie_domain",
    "as_text",
    "as_revocation_policy",
    "as_revocation_prefix",
    "as_revocation_user",
    "as_session_label",
    "as_serializer",
    "as_signed_serializer",
    "as_signing_secret",
    "as_salt",
    "as_hashalg",
    "as_instant",
    "as_partitioned",
    "as_is",
    "resolve",
    "REVOCATION_POLICIES",
    "REVOCATION_POLICY",
    "REVOCATION_STALE_AFTER",
    "REVOCATION_RESYNC",
    "REVOCATION_PREFIX",
    "MAX_AGE_LIMIT",
    "UserGetter",
    "as_revocation_url",
]

SAMESITE_VALUES = ("Strict", "Lax", "None")
#: What the old signed cookie factory may have used (``migrate_signed_*``), from the core.
SIGNED_HASHALGS = SignedCookieReader.HASHALGS
SIGNED_SERIALIZERS = SignedCookieReader.SERIALIZERS

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
    raise OptionError(name, "expected true or false")


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
            raise OptionError(name, "expected a whole number of seconds")
    if number is None or number < 0:
        raise OptionError(name, "expected a number of seconds (0 or more) or None")
    if most is not None and number > most:
        raise OptionError(name, f"at most {most} seconds")
    return number


def as_max_age(value: Any, name: str) -> Optional[int]:
    """A cookie's ``Max-Age``: :func:`as_seconds`, at most a hundred years (``MAX_AGE_LIMIT``,
    the core's: a larger one would put the cookie's expiry date past the year 9999)."""
    return as_seconds(value, name, most=MAX_AGE_LIMIT)


def as_samesite(value: Any, name: str) -> Optional[str]:
    """``'Strict'``, ``'Lax'``, ``'None'``, or ``None`` (or an empty string) for no attribute.

    The value is written as given, as WebOb does; the check ignores case. That ``'None'`` needs
    ``secure`` is a rule between options (registry.py).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or value.strip().capitalize() not in SAMESITE_VALUES:
        raise OptionError(name, "expected one of Strict, Lax, None (or no value)")
    return value.strip()


def as_cookie_name(value: Any, name: str) -> str:
    """A name WebOb both writes and reads back: a token that is not an attribute's name and does
    not start with ``$``."""
    if not isinstance(value, str) or not _COOKIE_NAME.fullmatch(value):
        raise OptionError(name, "expected a cookie name (letters, digits, -_.)")
    if value.startswith("$") or value.lower() in _RESERVED_NAMES:
        raise OptionError(
            name,
            "a cookie attribute's name (or starts with $), so browsers' cookies of that name "
            "are never read back; choose another",
        )
    return value


def as_optional_cookie_name(value: Any, name: str) -> Optional[str]:
    """:func:`as_cookie_name`, or ``None`` (an empty string too) for another option's value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return as_cookie_name(value, name)


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
        raise OptionError(name, "expected latin-1 text (as WebOb writes it)") from None
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
        raise OptionError(name, "a cookie path holds no whitespace, control character or ';'")
    return path


def as_cookie_domain(value: Any, name: str) -> Optional[str]:
    """A Domain attribute (see :func:`as_cookie_attr`): a host name or an IPv4 address."""
    domain = as_cookie_attr(value, name)
    if domain is not None and not _DOMAIN.fullmatch(domain):
        raise OptionError(name, "expected a host name (letters, digits, '-' and dots)")
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
        raise OptionError(name, "expected a positive number of seconds")
    return number


def as_text(value: Any, name: str) -> Optional[str]:
    """Text with the whitespace around it taken off, or ``None`` for ``None`` or empty text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    raise OptionError(name, f"expected text, got {type(value).__name__}")


def as_revocation_url(value: Any, name: str) -> Optional[str]:
    """A Redis URL as text (:func:`as_text`: empty means ``None``, off), without a ``#``: a
    URL's fragment, which redis-py drops with whatever follows it (say, the rest of a password).
    Whether redis-py can use it is judged when revocation starts (it takes redis-py to judge)."""
    url = as_text(value, name)
    if url is not None and "#" in url:
        raise OptionError(
            name,
            "holds a '#', which starts a URL's fragment, so what follows it (the rest of a "
            "password, say) never reaches Redis; percent-encode it as %23, written %%23 in an "
            ".ini file, where configparser reads '%' as its own",
        )
    return url


def as_revocation_policy(value: Any, name: str) -> str:
    """``'serve'`` or ``'refuse'``, in any case."""
    word = value.strip().lower() if isinstance(value, str) else value
    if word not in REVOCATION_POLICIES:
        raise OptionError(name, "expected serve or refuse")
    return str(word)


def as_revocation_prefix(value: Any, name: str) -> str:
    """A non-empty prefix for the Redis keys and channel, without whitespace or controls (which
    only a pasted comment would bring)."""
    if not isinstance(value, str) or not value:
        raise OptionError(name, "expected a non-empty string")
    if any(char.isspace() or not char.isprintable() for char in value):
        raise OptionError(name, "expected no whitespace or control characters")
    return value


#: How a session names its user: a state key, or a callable given the session's state dict.
UserGetter = Union[str, Callable[[dict[Any, Any]], Any]]


def as_revocation_user(value: Any, name: str) -> Optional[UserGetter]:
    """A state key (str), ``module:callable`` (a colon marks a dotted name to resolve), a
    callable taking the session's state dict, or ``None`` (as is a blank string, so that an
    empty setting means none)."""
    getter: Optional[UserGetter] = _name_or_callable(value, name, "a state key")
    return getter


def as_session_label(value: Any, name: str) -> "Optional[str | Callable[[Any], Any]]":
    """``track_sessions_label``: a request header's name (str), ``module:callable``, a callable
    taking the request, or ``None`` (as is a blank string)."""
    label: Optional[str | Callable[[Any], Any]] = _name_or_callable(value, name, "a header name")
    return label


def _name_or_callable(value: Any, name: str, what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if ":" not in text:
            return text or None
        value = resolve(text, name, f"{what} or module:callable")
    if callable(value):
        return value
    raise OptionError(name, f"expected {what} or a callable, got {type(value).__name__}")


def as_serializer(value: Any, name: str) -> Any:
    """``None`` (pickle, as 1.0), ``'json'`` or ``'pickle'`` in any case, the dotted name of an
    object (or class, made without arguments) with ``loads`` and ``dumps``, or such an object.
    Whether an object has them is for the core to judge (``EncryptedSerializer``)."""
    if not isinstance(value, str):
        return value
    word = value.strip()
    if word.lower() in ("json", "pickle"):
        return word.lower()
    obj = resolve(word, name, "json, pickle or the dotted name of a serializer")
    return obj() if isinstance(obj, type) else obj


def as_signed_serializer(value: Any, name: str) -> str:
    """``'json'`` or ``'pickle'`` in any case; Pyramid's own serializer objects are taken by
    their class."""
    if isinstance(value, str) and value.strip().lower() in SIGNED_SERIALIZERS:
        return value.strip().lower()
    cls = type(value)
    if (cls.__module__, cls.__qualname__) == ("webob.cookies", "JSONSerializer"):
        return "json"
    if (cls.__module__, cls.__qualname__) == ("pyramid.session", "PickleSerializer"):
        return "pickle"
    raise OptionError(name, "expected json or pickle (the old factory's serializer)")


def as_signing_secret(value: Any, name: str) -> "Optional[str | bytes]":
    """The old factory's ``secret``: ``None`` (off), or a non-empty str (or bytes) taken as it
    is, spaces and all."""
    if value is None:
        return None
    if not isinstance(value, (bytes, str)):
        raise OptionError(name, f"expected str or bytes, got {type(value).__name__}")
    if not value:
        raise OptionError(name, "empty")
    return value


def as_salt(value: Any, name: str) -> "str | bytes":
    """The old factory's ``salt``, a str (or bytes); may be empty."""
    if not isinstance(value, (bytes, str)):
        raise OptionError(name, f"expected str or bytes, got {type(value).__name__}")
    return value


def as_hashalg(value: Any, name: str) -> str:
    """One of :data:`SIGNED_HASHALGS`, in any case (as ``hashlib.new`` takes it)."""
    if isinstance(value, str) and value.strip().lower() in SIGNED_HASHALGS:
        return value.strip().lower()
    raise OptionError(name, f"expected one of {', '.join(SIGNED_HASHALGS)}")


def as_instant(value: Any, name: str) -> Optional[float]:
    """A moment as POSIX seconds, or ``None``: a ``datetime`` (naive means UTC), a ``date``
    (00:00 UTC that day), their ISO 8601 text (``2027-03-31``, ``2027-03-31T12:00Z``), or a
    number of POSIX seconds."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value):
            return float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"  # fromisoformat takes no Z before Python 3.11
        try:
            value = (
                datetime.date.fromisoformat(text)
                if len(text) == 10
                else datetime.datetime.fromisoformat(text)
            )
        except ValueError:
            raise OptionError(
                name, "expected a date or time in ISO 8601 (2027-03-31 or 2027-03-31T12:00Z)"
            ) from None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return float(value.timestamp())
    if isinstance(value, datetime.date):
        midnight = datetime.datetime.combine(value, datetime.time(), datetime.timezone.utc)
        return midnight.timestamp()
    raise OptionError(name, "expected a date, a datetime or ISO 8601 text")


def as_partitioned(value: object, name: str) -> bool:
    """``partitioned`` as a boolean (that ``True`` needs ``secure`` is a rule between options)."""
    return as_bool(value, name)


def as_is(value: Any, name: str) -> Any:
    """Taken as given: a value only the core can judge (the keys, which it parses itself)."""
    return value


def resolve(dotted: str, name: str, expected: str) -> Any:
    """The object a dotted name names, as Pyramid resolves it; :class:`OptionError` naming
    ``name`` when it cannot be imported (the name is not quoted: it may be a key in the wrong
    line).

    Imported here, not at the top: pyramid.path imports pkg_resources, which is slow to import
    and, with setuptools 67 to 81, prints a deprecation warning on every start (into the
    command line's stderr too). Only a setting that names an object needs it.
    """
    from pyramid.path import DottedNameResolver

    try:
        return DottedNameResolver().resolve(dotted)
    except (ImportError, ValueError, AttributeError) as e:
        raise OptionError(
            name, f"expected {expected}; the name cannot be imported ({type(e).__name__})"
        ) from None
