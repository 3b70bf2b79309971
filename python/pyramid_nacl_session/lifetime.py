"""A session's own lifetime ("remember me", ``adjust_timeout_for_session``): its bounds, and
where it travels in the sealed state."""

from typing import Any, Optional

from ._core import TIMEOUT_KEY
from .options import OptionError, as_seconds

__all__ = ["MAX_AGE_LIMIT", "TIMEOUT_KEY", "as_own_timeout", "read_own_timeout", "max_age_len"]

#: A hundred years: a larger max_age would put the cookie's expiry date past the year 9999.
MAX_AGE_LIMIT = 100 * 365 * 24 * 3600


def as_own_timeout(seconds: Any) -> int:
    """``seconds`` checked as a session's own timeout: a whole number from 1 to
    ``MAX_AGE_LIMIT``; anything else raises :class:`OptionError` (a ``ValueError``)."""
    checked: Optional[int] = as_seconds(seconds, "seconds", most=MAX_AGE_LIMIT)
    if not checked:
        raise OptionError("seconds", f"expected at least 1 second, got {seconds!r}")
    return checked


def read_own_timeout(state: dict[Any, Any]) -> Optional[int]:
    """Take the session's own timeout out of the state read from a cookie: a whole number of
    seconds from 1 to ``MAX_AGE_LIMIT``, else ``None``. Anything else under the key is never
    trusted as a timeout, nor cut to one: it stays in the state as the app's own data."""
    seconds = state.get(TIMEOUT_KEY)
    if type(seconds) is int and 0 < seconds <= MAX_AGE_LIMIT:
        del state[TIMEOUT_KEY]
        return seconds
    return None


def max_age_len(max_age: Optional[int]) -> int:
    """What ``max_age`` adds to a Set-Cookie header: ``; Max-Age=N; expires=<29-byte date>``."""
    return 0 if max_age is None else len(f"; Max-Age={max_age}; expires=") + 29
