"""Each user's list of live sessions, kept in Redis beside the revocation set (opt-in with
``track_sessions``, which needs revocation and ``revocation_user``).

Per user, two Redis keys: ``<prefix>sessions:<user>``, a sorted set of session ids scored by the
moment the entry expires, and ``<prefix>session-info:<user>``, a hash from session id to
``[created, last_seen, label]`` as JSON. Both are written by one Lua script that reads Redis's
own clock (``TIME``), so whether an entry has expired is decided by one clock for the fleet, not
by each host's; the host gives only the session's ``created``, which the script bounds by that
clock.

A session's entry is written only when its cookie is written (never on a request that writes
no cookie), and then only when the session got an id in this request (new, ``invalidate()``
then stored again, ``regenerate()``) or when the cookie's previous issue lay in an earlier window
of ``interval`` seconds (``max(reissue_time, MIN_INTERVAL)``): at most one write per session per
window, decided by the cookie itself, so the bound holds across every process of a fleet. The
writes leave the request path: a background thread sends them in pipelines.

An entry expires ``timeout + interval`` after its ``last_seen`` (the session's last write is at
most ``interval`` after it), and never after ``created + absolute_timeout``. A revoked session
(logout, ``revoke_session``, "log out everywhere") is left out of :meth:`SessionRegistry.sessions`
as soon as this process's revocation set holds it, and its entry is removed then. A user keeps
at most ``MAX_SESSIONS`` entries: past that, those closest to expiring (the least recently
seen) are dropped from the list; a dropped session is not ended, only no longer listed.
"""

import json
import logging
import math
import os
import threading
import time
from typing import Any, NamedTuple, Optional

import redis

from ._core import SESSION_ID_KEY
from .options import OptionError
from .redis_url import describe_fault
from .revocation_entries import USER_TAG, user_member

__all__ = [
    "SessionInfo",
    "SessionRegistry",
    "registry_for",
    "MAX_SESSIONS",
    "MIN_INTERVAL",
    "MAX_LABEL",
]

log = logging.getLogger("pyramid_nacl_session.session_registry")

#: The most entries one user keeps; beyond, those closest to expiring are dropped. A user who
#: signs in from thousands of places (a script, an attack) costs at most this much.
MAX_SESSIONS = 200
#: The shortest time between two writes of one session's entry, whatever ``reissue_time``.
MIN_INTERVAL = 60
#: A label longer than this (in characters) is cut: it comes from the client (a user agent).
MAX_LABEL = 200
#: Sessions whose entry waits to be written; past that, further ones are dropped (and said once
#: a minute): an entry is a list item, never what a session depends on.
MAX_PENDING = 100_000
#: Seconds a Redis connection or command may take.
CONNECT_TIMEOUT = 1.0

# KEYS: the user's sorted set and hash. ARGV: session id, created, idle seconds, absolute
# seconds, label (JSON null or string), MAX_SESSIONS. Times are Redis's own.
_TOUCH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local created = math.min(tonumber(ARGV[2]), now)
local expiry = math.min(now + tonumber(ARGV[3]), created + tonumber(ARGV[4]))
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, sid in ipairs(dead) do redis.call('HDEL', KEYS[2], sid) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if expiry <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], expiry, ARGV[1])
local info = {string.format('%.17g', created), string.format('%.17g', now), ARGV[5]}
redis.call('HSET', KEYS[2], ARGV[1], '[' .. table.concat(info, ',') .. ']')
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[6])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[1], 0, over - 1)
  for _, sid in ipairs(old) do redis.call('HDEL', KEYS[2], sid) end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
end
local ttl = math.ceil(tonumber(ARGV[4]))
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
return 1
"""

# KEYS: the user's sorted set and hash. Returns Redis's time, then each live id and its info.
_LIST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, sid in ipairs(dead) do redis.call('HDEL', KEYS[2], sid) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {string.format('%.17g', now)}
for _, sid in ipairs(ids) do
  out[#out + 1] = sid
  out[#out + 1] = redis.call('HGET', KEYS[2], sid) or false
end
return out
"""


class SessionInfo(NamedTuple):
    """One live session of a user, as :meth:`SessionRegistry.sessions` lists it."""

    #: The session's id (``request.session.session_id`` in that browser).
    session_id: str
    #: When the session was created (seconds since the epoch), never later than now.
    created: float
    #: When its cookie was last written and the registry told (Redis's clock), at most
    #: ``interval`` before its latest use; never later than now.
    last_seen: float
    #: What ``track_sessions_label`` gave for it (say the user agent), or ``None``.
    label: Optional[str]


#: ``track_sessions_label``: a request header's name, or a callable given the request.
Labeler = Any


class SessionRegistry:
    """The users' session lists of one app, in the Redis of its revocation store.

    ``store``
      The app's :class:`~pyramid_nacl_session.revocation.RevocationStore` (its Redis, key
      prefix, ``max_age`` and revocation set).

    ``user``
      How a session names its user (``revocation_user``): a state key or a callable.

    ``label``
      ``None``, a request header's name (``'User-Agent'``), or a callable taking the request
      and returning text or ``None``. Default: ``None``.

    ``interval``
      The window of one write per session (``max(reissue_time, MIN_INTERVAL)``). Default:
      ``MIN_INTERVAL``.
    """

    def __init__(
        self, store: Any, user: Any, label: Labeler = None, interval: int = MIN_INTERVAL
    ) -> None:
        self.store = store
        self.user = user
        self.label = label
        self.interval = max(int(interval), MIN_INTERVAL)
        self._label_failed = False
        #: Entries sent to Redis by this process (each one EVALSHA), for the load benchmark.
        self.writes = 0
        self._reset_process_state()
        os.register_at_fork(after_in_child=self._reset_process_state)

    def __repr__(self) -> str:
        return f"<SessionRegistry prefix={self.store.prefix!r} interval={self.interval}>"

    def _reset_process_state(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[str, float, float, str]] = {}
        self._in_flight = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._client: Optional[redis.Redis] = None
        self._touch: Any = None
        self._list: Any = None
        self._dropped_log = self._failed_log = -60.0

    def _keys(self, user: str) -> "list[str]":
        prefix = self.store.prefix
        return [f"{prefix}sessions:{user}", f"{prefix}session-info:{user}"]

    def _redis(self) -> "redis.Redis":
        if self._client is None:
            self._client = client = self.store.redis_url.client(CONNECT_TIMEOUT)
            self._touch = client.register_script(_TOUCH)
            self._list = client.register_script(_LIST)
        return self._client

    # -- from the session, after its cookie was written --------------------------------------

    def seen(self, session: Any) -> None:
        """Note that ``session``'s cookie was just written: queue its entry when it got its id
        in this request, or when its previous cookie was issued in an earlier window."""
        sid = session.session_id
        if sid is None or not math.isfinite(session.created):
            return
        interval = self.interval
        if not session._fresh_id and int(time.time() // interval) == int(
            session.renewed // interval
        ):
            return
        state = dict.copy(session)  # the plain state: no accessor bookkeeping
        user = state.get(self.user) if isinstance(self.user, str) else self.user(state)
        if user is None:
            return
        try:
            # The user as revocation names it: text, UTF-8, at most MAX_NAME bytes; a session
            # whose user cannot be revoked by name is not listed either.
            user = user_member(user)[len(USER_TAG) :]
        except OptionError:
            return
        idle = session._own_timeout or session._timeout or self.store.max_age
        label = self._label(session.request)
        with self._lock:
            if len(self._pending) >= MAX_PENDING and sid not in self._pending:
                self._dropped()
                return
            self._pending[sid] = (user, float(session.created), idle + interval, label)
        if self._thread is None:
            self._start()
        self._wake.set()

    def _label(self, request: Any) -> str:
        """The label as JSON (``null`` for none), cut to ``MAX_LABEL`` characters."""
        label = self.label
        if label is None or request is None:
            return "null"
        if isinstance(label, str):
            text = request.headers.get(label)
        else:
            try:
                text = label(request)
            except Exception:
                # The app's callable: its failure costs the label, never the response.
                if not self._label_failed:
                    self._label_failed = True
                    log.exception("session registry: track_sessions_label raised (logged once)")
                return "null"
        if text is None:
            return "null"
        return json.dumps(str(text)[:MAX_LABEL])

    def _dropped(self) -> None:
        now = time.monotonic()
        if now - self._dropped_log >= 60:
            self._dropped_log = now
            log.error(
                "session registry: over %d entries wait for Redis; newer sessions are not "
                "listed until it answers",
                MAX_PENDING,
            )

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._failed_log >= 60:
            self._failed_log = now
            # Its cause and where, never its text: that may carry the URL and its password.
            log.error(
                "session registry: %s; the list's entries wait and are sent again",
                describe_fault(exc, self.store.redis_url.where),
            )

    # -- background --------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._write, name="session-registry-write", daemon=True
            )
            self._thread.start()

    def _write(self) -> None:
        """Send the queued entries, a pipeline at a time; a batch Redis could not take waits
        for the next round (a newer entry for the same session wins)."""
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            with self._lock:
                # In flight before the queue is emptied: a flush() in between (it takes no
                # lock) never sees both at nothing while the entries are not yet in Redis.
                self._in_flight = len(self._pending)
                batch, self._pending = self._pending, {}
            if not batch:
                continue
            try:
                client = self._redis()
                pipe = client.pipeline(transaction=False)
                absolute = self.store.max_age
                for sid, (user, created, idle, label) in batch.items():
                    self._touch(
                        keys=self._keys(user),
                        args=[sid, repr(created), idle, absolute, label, MAX_SESSIONS],
                        client=pipe,
                    )
                pipe.execute()
                self.writes += len(batch)
            except Exception as exc:
                # Every entry is checked before it is queued, so a refusal is one that can pass
                # (Redis away, failing over, out of memory): the batch waits for the next round
                # (a newer entry for the same session wins); it costs one error a minute.
                self._failed(exc)
                with self._lock:
                    for sid, entry in batch.items():
                        self._pending.setdefault(sid, entry)
                self._client = None
                self._stop.wait(1.0)
            finally:
                self._in_flight = 0

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every entry queued here is in Redis; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while self._pending or self._in_flight:
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Stop the writer thread (tests, and apps that make factories on the fly)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    # -- for the app -------------------------------------------------------------------------

    def sessions(self, user: Any) -> "list[SessionInfo]":
        """The live sessions of ``user`` (a str, or what ``str()`` names), most recently seen
        first: neither expired (by Redis's clock) nor revoked (by this process's revocation
        set, so a logout made here is left out at once). Waits for this process's queued
        entries first. Raises ``redis.RedisError`` when Redis cannot be reached."""
        name = user if isinstance(user, str) else str(user)
        self.flush(CONNECT_TIMEOUT)
        store = self.store
        if not store.running:
            store.start()
        keys = self._keys(name)
        self._redis()
        reply = self._list(keys=keys)
        now = min(float(reply[0]), time.time())
        live, gone = [], []
        for i in range(1, len(reply), 2):
            sid = reply[i].decode("ascii", "replace")
            info = reply[i + 1]
            if not info:
                gone.append(sid)
                continue
            created, last_seen, label = json.loads(info)
            created, last_seen = min(float(created), now), min(float(last_seen), now)
            # Checked as a request would be: its id, its user's cut-off, the cut-off for all.
            state = {SESSION_ID_KEY: sid, "user": name}
            if store.set.check_state(state, "user", created) is False:
                gone.append(sid)
                continue
            live.append(SessionInfo(sid, created, last_seen, label))
        if gone:
            pipe = self._redis().pipeline(transaction=False)
            pipe.zrem(keys[0], *gone)
            pipe.hdel(keys[1], *gone)
            pipe.execute()
        live.sort(key=lambda info: info.last_seen, reverse=True)
        return live

    def revoke_others(self, user: Any, session: Any) -> int:
        """End every session of ``user`` but ``session`` (the current one, which stays in): one
        revocation of the user's sessions created before it, and one per listed session created
        since. Returns how many listed sessions were ended. A session created after the current
        one and dropped from the list (past ``MAX_SESSIONS``) is not ended: ``revoke_user``
        ends them all."""
        store = self.store
        keep, created = session.session_id, float(session.created)
        listed = self.sessions(user)
        store.revoke_user(user, created)
        ended = sum(1 for info in listed if info.session_id != keep and info.created < created)
        for info in listed:
            if info.session_id != keep and info.created >= created:
                store.revoke_session(info.session_id)
                ended += 1
        return ended


def registry_for(
    store: Any, user: Any, on: bool, labeler: Any, reissue_time: Optional[int]
) -> Optional[SessionRegistry]:
    """The registry for the factory's ``track_sessions`` and ``track_sessions_label``, checked
    by their records (registry.py), attached to ``store``; ``None`` when off."""
    if not on:
        return None
    store.registry = registry = SessionRegistry(store, user, labeler, reissue_time or 0)
    return registry
