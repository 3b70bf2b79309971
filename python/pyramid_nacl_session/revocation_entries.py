"""What a revocation is, written once for the store and the command line: its time (never after
now), its member in the Redis set (``s:``, ``c:``, ``u:``, ``b:``, tags from ``_core``), the one
way a batch is written to Redis (a script, on Redis's clock), and what a session that could not
be checked still names, for its logout."""

import math
import time
from typing import Any, Literal, Optional

from ._core import CLOCK_SKEW, REVOCATION_TAGS, is_session_id
from .options import REVOCATION_PREFIX, OptionError
from .redis_url import NotReplicated, RedisURL, error_code, redis

__all__ = [
    "UNCHECKED",
    "Unchecked",
    "DEFAULT_PREFIX",
    "MAX_NAME",
    "MAX_MESSAGE",
    "WRITE_SCRIPT",
    "before_member",
    "confirm_replicated",
    "created_member",
    "write_batch",
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


def revocation_time(when: Any = None, name: str = "when", now: Optional[float] = None) -> float:
    """The time of a revocation made now: ``when`` (seconds since the epoch; default now),
    refused with :class:`OptionError` naming ``name`` unless finite, positive and no later than
    now plus ``CLOCK_SKEW``: a cut-off in the future would reset every session made until then,
    with no undo short of restarting every worker. ``now``: the clock to judge by (a store
    passes its estimate of Redis's; default this host's)."""
    if now is None:
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


class Unchecked:
    """What ``RevocationStore.check`` returns under ``refuse`` when the set is stale: the
    session is refused for this request and its cookie left as it is, unless the app
    invalidates it: :meth:`revoke` then queues the revocation of what named it (its id, or its
    creation time), so the copy is refused once Redis answers."""

    __slots__ = ("session_id", "created")

    def __init__(self, session_id: Optional[str], created: float) -> None:
        self.session_id = session_id
        self.created = created

    def __repr__(self) -> str:
        return "UNCHECKED"

    def revoke(self, store: Any) -> "Literal[False]":
        """Revoke the session this cookie held, through ``store``; returns ``False``, what the
        session then holds in its place: nothing left unchecked, so the response deletes the
        cookie (``session._unchecked = session._unchecked and session._unchecked.revoke()``)."""
        if self.session_id is not None:
            store.revoke_session(self.session_id)
        else:
            store.revoke_created(self.created)
        return False


#: A session that could not be checked (policy ``refuse``, set stale); see :class:`Unchecked`.
UNCHECKED = Unchecked(None, 0.0)


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


#: The one write of a batch, run in Redis so that every decision other hosts depend on is taken
#: by Redis's clock (``TIME``), never by the writer's. KEYS[1]: the set. ARGV: the channel,
#: ``max_age``, ``CLOCK_SKEW``, ``strict`` ("1": refuse a time after now, the CLI's way; else
#: take it as now), the time to heal to ("": now), then ``member, time`` pairs, the time ""
#: for "now".
#:
#: 1. Entries dated after now plus the skew (a host with a fast clock, a hand-written score) are
#:    healed: rewritten to the time given (the moment a worker first saw them; never after
#:    now), at most ``HEAL_PAGE`` per call, so that none blocks a genuine later revocation
#:    (``ZADD GT``) or outlives its trim; the count comes back to be logged.
#: 2. Each entry is added (a later time never lowered) and published.
#: 3. What names only dead sessions (older than now minus ``max_age``) is trimmed.
#:
#: Returns ``{healed, now}``, ``now`` as text (Lua would truncate a number to an integer); a
#: strict call with a time after now returns the error ``FUTURE`` and writes nothing.
WRITE_SCRIPT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local key, channel = KEYS[1], ARGV[1]
local max_age, limit = tonumber(ARGV[2]), now + tonumber(ARGV[3])
local strict = ARGV[4] == '1'
local heal_at = math.min(tonumber(ARGV[5]) or now, now)
local times = {}
for i = 6, #ARGV, 2 do
    local when = tonumber(ARGV[i + 1])
    if when == nil then
        when = now
    elseif when > limit then
        if strict then
            return redis.error_reply('FUTURE a revocation time after now by Redis')
        end
        when = now
    end
    times[i] = when
end
local future = redis.call('ZRANGEBYSCORE', key, '(' .. string.format('%.17g', limit), '+inf',
    'LIMIT', 0, 1000)
for _, member in ipairs(future) do
    redis.call('ZADD', key, string.format('%.17g', heal_at), member)
end
for i = 6, #ARGV, 2 do
    local when = string.format('%.17g', times[i])
    redis.call('ZADD', key, 'GT', when, ARGV[i])
    redis.call('PUBLISH', channel, when .. ' ' .. ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%.17g', now - max_age))
return {#future, string.format('%.17g', now)}
"""
#: Future entries healed per write, at most (the next write heals the next ones).
HEAL_PAGE = 1000


def write_batch(
    client: Any,
    key: str,
    channel: str,
    max_age: int,
    batch: "list[tuple[str, Optional[float]]]",
    strict: bool = False,
    heal_at: Optional[float] = None,
) -> "tuple[int, float]":
    """The Redis write of a batch of ``(member, time)`` (the time ``None`` for Redis's now),
    the one way both the writer thread and the CLI write (:data:`WRITE_SCRIPT`); future
    entries are healed to ``heal_at`` (default, and at the latest, Redis's now). Returns
    ``(healed, now)``: how many future entries were healed, and Redis's clock."""
    heal = "" if heal_at is None else repr(float(heal_at))
    args: list[Any] = [channel, max_age, repr(CLOCK_SKEW), "1" if strict else "0", heal]
    for member, when in batch:
        args.append(member)
        args.append("" if when is None else repr(float(when)))
    # EVALSHA, and EVAL once per server when it does not know the script (after a failover).
    healed, now = _SCRIPT(keys=[key], args=args, client=client)
    return int(healed), float(now)


#: Milliseconds a write waits for a replica to confirm it (``WAIT``), when the primary has one.
REPLICA_WAIT_MS = 500


def confirm_replicated(client: Any) -> None:
    """Return once a replica holds what ``client``'s connection wrote, when the primary has
    one; else raise :class:`NotReplicated`, a fault that passes (the batch is written again)."""
    role: Any = client.execute_command("ROLE")
    if not role or role[0] not in (b"master", "master") or not role[2]:
        return  # no replica: nothing to wait for (and WAIT would wait for its timeout)
    if int(client.execute_command("WAIT", 1, REPLICA_WAIT_MS)) < 1:
        raise NotReplicated("no replica confirmed the write")


def write_now(
    url: str, max_age: int, member: str, when: Optional[float], prefix: str = DEFAULT_PREFIX
) -> float:
    """Write one revocation to Redis and publish it, waiting for the answer (the CLI's way);
    returns its time. ``member`` comes from one of the ``*_member`` functions; ``when``
    (``None``: now by Redis's clock) is refused when it lies after now, by this host's clock
    (:func:`revocation_time`) and then by Redis's (``FUTURE``, nothing written)."""
    if when is not None:
        when = revocation_time(when, "when")
    client = RedisURL(url).client(5)
    try:
        try:
            _, now = write_batch(
                client, prefix + "revoked", prefix + "events", max_age, [(member, when)], True
            )
            confirm_replicated(client)
        except redis.ResponseError as e:
            if error_code(e) == "FUTURE":
                raise OptionError(
                    "when",
                    f"a revocation cannot name a time after now by Redis's clock (more than "
                    f"{CLOCK_SKEW:g} s ahead)",
                ) from None
            raise
        return now if when is None else when
    finally:
        client.close()


#: redis-py's Script: holds the text and its SHA1, and no client (each call passes its own, and
#: the script is loaded into whichever server answers it).
_SCRIPT = redis.commands.core.Script(None, WRITE_SCRIPT.encode())  # type: ignore[arg-type]
