"""A session's own lifetime ("remember me", ``adjust_timeout_for_session``): its bounds, and
where it travels in the sealed state."""

from typing import Any, Optional

from ._core import MAX_AGE_LIMIT, TIMEOUT_KEY
from .options import OptionError, as_seconds

# MAX_AGE_LIMIT (a hundred years, past which a cookie's expiry date would pass the year 9999)
# and TIMEOUT_KEY (where the timeout travels in the sealed state, taken out and put back by the
# core) are the core's (src/session.rs).
__all__ = ["MAX_AGE_LIMIT", "TIMEOUT_KEY", "as_own_timeout"]


def as_own_timeout(seconds: Any) -> int:
    """``seconds`` checked as a session's own timeout: a whole number from 1 to
    ``MAX_AGE_LIMIT``; anything else raises :class:`OptionError` (a ``ValueError``)."""
    checked: Optional[int] = as_seconds(seconds, "seconds", most=MAX_AGE_LIMIT)
    if not checked:
        raise OptionError("seconds", f"expected at least 1 second, got {seconds!r}")
    return checked
