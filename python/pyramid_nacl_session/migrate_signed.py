"""Moving off Pyramid's ``SignedCookieSessionFactory``: the ``migrate_signed_*`` options.

While the window is open, a request without a readable cookie of ours may bring the old signed
cookie instead; if its signature verifies (natively, see ``src/signed.rs``) and it is inside the
old factory's timeout, its session is loaded and resealed as ours on the same response.
"""

import datetime
import logging
import math
import time
from typing import Any, Optional

from ._core import DEFAULT_HASHALG, DEFAULT_SALT, SignedCookieReader
from .options import OptionError, as_cookie_name, as_seconds

__all__ = [
    "SignedMigration",
    "signed_migration",
    "read_signed",
    "MIGRATE_SIGNED_OPTIONS",
    "as_instant",
]

log = logging.getLogger("pyramid_nacl_session")

#: The options, as keywords of ``EncryptedCookieSessionFactory`` (``session.<name>`` settings).
MIGRATE_SIGNED_OPTIONS = (
    "migrate_signed_secret",
    "migrate_signed_salt",
    "migrate_signed_hashalg",
    "migrate_signed_serializer",
    "migrate_signed_cookie_name",
    "migrate_signed_timeout",
    "migrate_signed_until",
)

#: Pyramid's ``SignedCookieSessionFactory`` defaults (salt and hashalg: ``_core``, from signed.rs).
DEFAULT_TIMEOUT = 1200


class SignedMigration:
    """The configured move: where the old cookie is, how to verify it, and until when."""

    __slots__ = ("reader", "cookie_name", "timeout", "until", "_closed")

    def __init__(
        self,
        reader: SignedCookieReader,
        cookie_name: str,
        timeout: Optional[int],
        until: Optional[float],
    ) -> None:
        self.reader = reader
        self.cookie_name = cookie_name
        self.timeout = timeout
        self.until = until
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<SignedMigration cookie_name={self.cookie_name!r} {self.reader!r} "
            f"timeout={self.timeout} until={self.until}>"
        )

    def is_open(self, now: float) -> bool:
        """Whether the window is still open at ``now``; logs once when it has just closed."""
        if self._closed:
            return False
        if self.until is not None and now >= self.until:
            self._closed = True
            log.warning(
                "migrate_signed_until (%s) has passed: Pyramid signed session cookies are no "
                "longer read; remove the migrate_signed_* settings",
                _utc_text(self.until),
            )
            return False
        return True

    def in_time(self, renewed: float, now: float) -> bool:
        """The old factory's own check: past its timeout, the session was already empty."""
        return self.timeout is None or now - renewed <= self.timeout


def read_signed(request: Any, migration: SignedMigration, now: float, stock: bool) -> Any:
    """``(state, renewed, created)`` from a valid Pyramid signed cookie in the request, or
    ``None``. Read as ours is read: from ``environ['HTTP_COOKIE']`` when ``stock`` (the request
    class has WebOb's own ``cookies``), else through the app's own ``request.cookies``. A
    session dated ahead of now is refused by the reader itself (``_core.CLOCK_SKEW``), so the
    old factory's timeout and ``migrate_signed_until`` bound every session moved."""
    if not migration.is_open(now):
        return None
    reader = migration.reader
    # As for ours, an error from the app's own request.cookies is the app's: not caught here.
    value = None if stock else request.cookies.get(migration.cookie_name)
    try:
        if stock:
            moved = reader.read_header(request.environ.get("HTTP_COOKIE"), migration.cookie_name)
        else:
            moved = None if value is None else reader.read_value(value)
    except ValueError:
        return None  # tampered, another secret, or not a session: a fresh session
    if moved is None or not migration.in_time(moved[1], now):
        return None
    return moved


def signed_migration(
    secret: Any,
    salt: Any = DEFAULT_SALT,
    hashalg: Any = DEFAULT_HASHALG,
    serializer: Any = "json",
    cookie_name: Any = None,
    timeout: Any = DEFAULT_TIMEOUT,
    until: Any = None,
    *,
    default_cookie_name: str,
) -> Optional[SignedMigration]:
    """Check the ``migrate_signed_*`` keywords and return the move they configure, or ``None``
    when ``secret`` is ``None`` or the window has closed (logged as a warning)."""
    if secret is None:
        check_needs_secret(
            {
                "migrate_signed_salt": salt != DEFAULT_SALT,
                "migrate_signed_hashalg": hashalg != DEFAULT_HASHALG,
                "migrate_signed_serializer": serializer != "json",
                "migrate_signed_cookie_name": cookie_name is not None,
                "migrate_signed_timeout": timeout != DEFAULT_TIMEOUT,
                "migrate_signed_until": until is not None,
            }
        )
        return None
    reader = SignedCookieReader(
        as_signing_secret(secret, "migrate_signed_secret"),
        salt=as_salt(salt, "migrate_signed_salt"),
        hashalg=as_hashalg(hashalg, "migrate_signed_hashalg"),
        serializer=as_signed_serializer(serializer, "migrate_signed_serializer"),
    )
    migration = SignedMigration(
        reader,
        as_cookie_name(
            default_cookie_name if cookie_name is None else cookie_name,
            "migrate_signed_cookie_name",
        ),
        as_seconds(timeout, "migrate_signed_timeout"),
        as_instant(until, "migrate_signed_until"),
    )
    if not migration.is_open(time.time()):
        return None
    return migration


def check_needs_secret(given: "dict[str, bool]", names: "Optional[dict[str, str]]" = None) -> None:
    """Fail on the first option in ``given`` (option -> whether it was set) when the signing
    secret is not set; ``names`` maps options to the names to blame."""
    names = names or {}
    for option, is_given in given.items():
        if is_given:
            secret_name = names.get("migrate_signed_secret", "migrate_signed_secret")
            raise OptionError(
                names.get(option, option),
                f"set without {secret_name}, the old factory's signing secret",
            )


def as_signing_secret(value: Any, name: str) -> "str | bytes":
    """The old factory's ``secret``: a non-empty str (or bytes), taken as it is."""
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
    """One of ``SignedCookieReader.HASHALGS``, in any case (as ``hashlib.new`` takes it)."""
    if isinstance(value, str) and value.strip().lower() in SignedCookieReader.HASHALGS:
        return value.strip().lower()
    raise OptionError(
        name, f"expected one of {', '.join(SignedCookieReader.HASHALGS)}, got {value!r}"
    )


def as_signed_serializer(value: Any, name: str) -> str:
    """``'json'`` or ``'pickle'``; Pyramid's own serializer objects are taken by their class."""
    if isinstance(value, str) and value.strip().lower() in SignedCookieReader.SERIALIZERS:
        return value.strip().lower()
    cls = type(value)
    if (cls.__module__, cls.__qualname__) == ("webob.cookies", "JSONSerializer"):
        return "json"
    if (cls.__module__, cls.__qualname__) == ("pyramid.session", "PickleSerializer"):
        return "pickle"
    raise OptionError(
        name, f"expected json or pickle (the old factory's serializer), got {value!r}"
    )


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
                name,
                f"expected a date or time in ISO 8601 (2027-03-31 or 2027-03-31T12:00Z), "
                f"got {value!r}",
            ) from None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return float(value.timestamp())
    if isinstance(value, datetime.date):
        midnight = datetime.datetime.combine(value, datetime.time(), datetime.timezone.utc)
        return midnight.timestamp()
    raise OptionError(name, f"expected a date, a datetime or ISO 8601 text, got {value!r}")


def _utc_text(instant: float) -> str:
    return datetime.datetime.fromtimestamp(instant, datetime.timezone.utc).isoformat()
