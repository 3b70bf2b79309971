"""What a revocation is, written once for the store and the command line: its time (never after
now), its member in the Redis set (``s:``, ``c:``, ``u:``, ``b:``, tags from ``_core``), the one
way a batch is written to Redis, and the Redis URL that never shows its password."""

import math
import time
from typing import Any
from urllib.parse import urlsplit

import redis

from ._core import CLOCK_SKEW, REVOCATION_TAGS, is_session_id
from .options import REVOCATION_PREFIX, OptionError

__all__ = [
    "DEFAULT_PREFIX",
    "MAX_NAME",
    "MAX_MESSAGE",
    "RedisURL",
    "before_member",
    "check_url",
    "created_member",
    "queue_writes",
    "revocation_time",
    "session_member",
    "user_member",
    "write_now",
]

DEFAULT_PREFIX = REVOCATION_PREFIX
#: The longest user name (UTF-8 bytes) a revocation may carry; the channel's messages are
#: bounded by it, so a longer message is not ours.
MAX_NAME = 1024
MAX_MESSAGE = MAX_NAME + 64

SESSION_TAG, CREATED_TAG, USER_TAG, BEFORE_TAG = REVOCATION_TAGS


def revocation_time(when: Any = None, name: str = "when") -> float:
    """The time of a revocation made now: ``when`` (seconds since the epoch; default now),
    refused with :class:`OptionError` naming ``name`` unless finite, positive and no later than
    now plus ``CLOCK_SKEW``: a cut-off in the future would reset every session made until then,
    with no undo short of restarting every worker."""
    now = time.time()
    if when is None:
        return now
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise OptionError(name, f"expected seconds since the epoch, got {type(when).__name__}")
    moment = float(when)
    if not (math.isfinite(moment) and moment > 0):
        raise OptionError(name, "expected a positive finite time")
    if moment > now + CLOCK_SKEW:
        raise OptionError(
            name, f"a revocation cannot name a time after now (more than {CLOCK_SKEW:g} s ahead)"
        )
    return moment


def session_member(sid: Any) -> str:
    """The member that revokes the session whose id is ``sid``."""
    if not isinstance(sid, str) or not is_session_id(sid):
        raise OptionError("session", "expected a session id (22 characters of URL-safe base64)")
    return SESSION_TAG + sid


def created_member(created: float) -> str:
    """The member that revokes the session without an id created at ``created``."""
    created = float(created)
    if not math.isfinite(created):
        raise OptionError("created", "expected a finite time")
    return CREATED_TAG + repr(created)


def user_member(user: Any) -> str:
    """The member that revokes every session of ``user`` (a str, or what ``str()`` names).
    Refused at the call when it cannot travel to Redis (not UTF-8, say a lone surrogate from
    ``json.loads``) or is longer than ``MAX_NAME`` bytes, so that it never jams the writer."""
    name = user if isinstance(user, str) else str(user)
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise OptionError("user", "cannot be encoded as UTF-8") from None
    if size > MAX_NAME:
        raise OptionError("user", f"longer than {MAX_NAME} bytes")
    return USER_TAG + name


def before_member() -> str:
    """The member that revokes every session created before its score."""
    return BEFORE_TAG


def _message(member: str, when: float) -> str:
    return f"{when!r} {member}"


def queue_writes(
    pipe: Any, key: str, channel: str, max_age: int, batch: "list[tuple[str, float]]"
) -> None:
    """The Redis write of a batch, the one way both the writer thread and the CLI write: the
    entries (a later time never lowered), the trim of what names only dead sessions, and one
    message per entry."""
    pipe.zadd(key, dict(batch), gt=True)
    pipe.zremrangebyscore(key, "-inf", f"({time.time() - max_age}")
    for member, when in batch:
        pipe.publish(channel, _message(member, when))


class RedisURL:
    """A Redis URL that never shows its password: ``repr`` (and so ``vars()`` of the store)
    names the host only."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        try:
            parts = urlsplit(self._text)
            where = parts.hostname or parts.path
        except ValueError:
            where = "?"
        return f"<RedisURL {where}>"

    def client(self, timeout: float) -> "redis.Redis":
        # RESP2: the load reads raw ZREVRANGE replies as a flat list.
        return redis.Redis.from_url(
            self._text,
            protocol=2,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=0,
        )


def check_url(url: Any, name: str) -> str:
    """A ``redis://``, ``rediss://`` or ``unix://`` URL; raises ``ValueError`` naming ``name``."""
    if not isinstance(url, str) or not url.strip():
        raise OptionError(name, f"expected a redis:// URL, got {type(url).__name__}")
    url = url.strip()
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        raise OptionError(name, "expected a redis://, rediss:// or unix:// URL")
    try:
        redis.ConnectionPool.from_url(url)
    except ValueError:
        # redis-py's message may quote the URL, password included: say only what is wrong.
        raise OptionError(name, "not a URL redis-py can use") from None
    return str(url)


def write_now(
    url: str, max_age: int, member: str, when: float, prefix: str = DEFAULT_PREFIX
) -> None:
    """Write one revocation to Redis and publish it, waiting for the answer (the CLI's way).
    ``member`` comes from one of the ``*_member`` functions; ``when`` is refused, as for every
    revocation, when it lies after now (:func:`revocation_time`)."""
    when = revocation_time(when, "when")
    client = RedisURL(url).client(5)
    try:
        pipe = client.pipeline(transaction=False)
        queue_writes(pipe, prefix + "revoked", prefix + "events", max_age, [(member, when)])
        pipe.execute()
    finally:
        client.close()
