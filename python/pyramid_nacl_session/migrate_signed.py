"""Moving off Pyramid's ``SignedCookieSessionFactory``: the ``migrate_signed_*`` options.

While the window is open, a request without a readable cookie of ours may bring the old signed
cookie instead; if its signature verifies (natively, see ``src/signed.rs``) and it is inside the
old factory's timeout, its session is loaded and resealed as ours on the same response.
"""

import datetime
import logging
import time
from typing import Any, Optional

from ._core import SignedCookieReader

__all__ = [
    "SignedMigration",
    "signed_migration",
    "read_signed",
]

log = logging.getLogger("pyramid_nacl_session")


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


def signed_migration(options: "dict[str, Any]") -> Optional[SignedMigration]:
    """The move that the checked ``migrate_signed_*`` options configure (registry.py), or
    ``None`` when ``migrate_signed_secret`` is ``None`` or the window has closed (logged as a
    warning)."""
    secret = options["migrate_signed_secret"]
    if secret is None:
        return None
    reader = SignedCookieReader(
        secret,
        salt=options["migrate_signed_salt"],
        hashalg=options["migrate_signed_hashalg"],
        serializer=options["migrate_signed_serializer"],
    )
    cookie_name = options["migrate_signed_cookie_name"]
    migration = SignedMigration(
        reader,
        options["cookie_name"] if cookie_name is None else cookie_name,
        options["migrate_signed_timeout"],
        options["migrate_signed_until"],
    )
    if not migration.is_open(time.time()):
        return None
    return migration


def _utc_text(instant: float) -> str:
    return datetime.datetime.fromtimestamp(instant, datetime.timezone.utc).isoformat()
