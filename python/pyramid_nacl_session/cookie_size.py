"""The session cookie's size: the limit browsers keep, the warning before it, and what the
error and the warning say about the largest keys."""

import logging
from typing import Any

from ._core import CookieTooLarge

__all__ = ["COOKIE_LIMIT", "WARN_SIZE", "check_size", "cookie_size"]

log = logging.getLogger("pyramid_nacl_session")

#: Browsers drop a cookie whose name and value together are longer (RFC 6265bis 5.6; Chromium
#: and Firefox count so, and limit each attribute to 1024 bytes, which options.py enforces).
COOKIE_LIMIT = 4096
#: Past this size a warning is logged, once per factory and process, so operators see it coming.
WARN_SIZE = COOKIE_LIMIT * 3 // 4


def cookie_size(name: str, cookie: str, header: bool) -> int:
    """What browsers count of a cookie: its name and value, from the whole Set-Cookie
    ``cookie`` (``header``: ``name=value`` and the attributes after the first ``;``, which
    neither a name nor our base64 holds) or from the bare value."""
    if not header:
        return len(name) + len(cookie)
    end = cookie.find(";")
    return (len(cookie) if end < 0 else end) - 1  # less the "="


def check_size(session: Any, size: int) -> None:
    """Raise ``CookieTooLarge`` for a cookie (name and value) of ``size`` bytes over the limit;
    under it, log the warning once per factory (the session's class) and process."""
    if size > COOKIE_LIMIT:
        error = CookieTooLarge(
            f"session cookie {session._cookie_name!r} is {size} bytes (name and value), over "
            f"the {COOKIE_LIMIT}-byte limit browsers keep; largest keys: {_LargestKeys(session)}"
        )
        error.size, error.limit = size, COOKIE_LIMIT  # type: ignore[attr-defined]
        raise error
    factory = type(session)
    if not factory._size_warned:
        factory._size_warned = True
        log.warning(
            "session cookie %r is %d bytes (name and value), %d%% of the %d-byte limit; "
            "largest keys: %s "
            "(logged once per process)",
            session._cookie_name,
            size,
            100 * size // COOKIE_LIMIT,
            COOKIE_LIMIT,
            _LargestKeys(session),
        )


class _LargestKeys:
    """The session's largest keys, measured only if a log record or error is really written:
    each key is sealed on its own to size it, which costs as much as writing the cookie."""

    def __init__(self, session: Any, count: int = 3) -> None:
        self.session = session
        self.count = count

    def __str__(self) -> str:
        session = self.session
        sizes = []
        for key, value in dict.items(session):
            try:
                sizes.append((len(session._serializer.dumps({key: value})), key))
            except Exception:  # a value this serializer cannot write at all
                continue
        sizes.sort(key=lambda pair: pair[0], reverse=True)
        return ", ".join(f"{key!r} (~{size} bytes)" for size, key in sizes[: self.count]) or "none"
