"""Session revocation shared through Redis and mirrored in every worker (opt-in).

Imported only when ``revocation_url`` is set; it needs redis-py
(``pip install 'pyramid-nacl-session[redis]'``).

Redis holds one sorted set, ``<prefix>revoked``, scored by revocation time (seconds since the
epoch, the revoking host's clock). Its members say what was revoked:

- ``s:<session id>``: one session (``invalidate()``, or the ``revoke session`` command);
- ``u:<user>``: every session of that user created before the score ("log out everywhere");
- ``b:``: every session created before the score (an incident).

A session lives at most ``absolute_timeout`` seconds, so an entry older than that names only dead
sessions: every writer trims the set below ``now - absolute_timeout``, and every worker sweeps its
copy the same way. Each revocation is also published on ``<prefix>events`` so that every worker
applies it within a second; a periodic resync of the entries added since the last one (with a
margin for clock skew) heals any message a worker missed.

Each serving process keeps the set in a native table (:class:`RevocationSet`, at most 22.5 bytes
a revoked session) and checks it without leaving the process. Two background threads per process,
started on the first request it serves (so a ``gunicorn --preload`` master holds none, and a
forked child starts its own), talk to Redis: one follows the channel and resyncs, one writes the
revocations this process makes. The request path never waits on the network, with one exception:
the first session checked in a process waits up to ``CONNECT_TIMEOUT`` for the first sync.
"""

import collections
import logging
import os
import threading
import time
from typing import Any, Optional
from urllib.parse import urlsplit

import redis

from ._core import SESSION_ID_KEY, RevocationSet, new_session_id
from .options import (
    REVOCATION_POLICIES,
    REVOCATION_POLICY,
    REVOCATION_PREFIX,
    REVOCATION_RESYNC,
    REVOCATION_STALE_AFTER,
    OptionError,
    UserGetter,
    as_positive_seconds,
    as_revocation_policy,
    as_revocation_prefix,
    as_revocation_user,
)

__all__ = ["RevocationStore", "POLICIES", "SESSION_ID_KEY", "new_session_id"]

log = logging.getLogger("pyramid_nacl_session.revocation")

POLICIES = REVOCATION_POLICIES
DEFAULT_PREFIX = REVOCATION_PREFIX
#: Seconds a Redis connection or command may take before it counts as failed.
CONNECT_TIMEOUT = 1.0
#: Re-read this many seconds before the last resync, so a writer whose clock lags ours (or a
#: write that lands while we read) is still seen.
SKEW_MARGIN = 120.0
#: Revocations waiting for Redis beyond this many are dropped (oldest first), loudly; they still
#: hold in the process that made them.
MAX_PENDING = 100_000
#: Entries read from Redis per round trip when loading the set.
SYNC_PAGE = 10_000
#: Seconds between two "still failing" log lines.
LOG_EVERY = 60.0


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


class RevocationStore:
    """The revocation set of one app: a native mirror in this process, kept current from Redis.

    ``url``
      The Redis URL (``redis://host:6379/0``; ``rediss://`` for TLS, ``unix://`` for a socket).

    ``max_age``
      Seconds a session can live (the factory's ``absolute_timeout``): how long entries are kept.

    ``prefix``
      Prefix of the Redis keys and channel; one per app. Default: ``'pyramid_nacl_session:'``.

    ``policy``
      ``'serve'`` (default): when Redis cannot be reached, keep checking against the last known
      set and log an error every minute. ``'refuse'``: when the set has not been confirmed
      current for ``stale_after`` seconds, refuse every existing session (each request goes on
      with a fresh one).

    ``stale_after``
      Seconds without a successful sync after which ``'refuse'`` refuses. Default: ``30``.

    ``resync``
      Seconds between two resyncs (which also check that Redis answers). Default: ``5``.
    """

    def __init__(
        self,
        url: str,
        max_age: int,
        *,
        prefix: str = DEFAULT_PREFIX,
        policy: str = REVOCATION_POLICY,
        stale_after: float = REVOCATION_STALE_AFTER,
        resync: float = REVOCATION_RESYNC,
    ) -> None:
        self.url = check_url(url, "revocation_url")
        self.max_age = int(max_age)
        self.prefix = prefix
        self.key = prefix + "revoked"
        self.channel = prefix + "events"
        self.policy = policy
        self.stale_after = float(stale_after)
        self.resync_interval = float(resync)
        self.set = RevocationSet(self.max_age)
        self._reset_process_state()
        os.register_at_fork(after_in_child=self._reset_process_state)

    def __repr__(self) -> str:
        # The URL may hold a password: never shown.
        return f"<RevocationStore prefix={self.prefix!r} policy={self.policy!r} {self.set!r}>"

    def _reset_process_state(self) -> None:
        """State that belongs to one process: a forked child starts its own threads."""
        self.__dict__.pop("check", None)
        self.running = False
        self.closed = False
        self._start_lock = threading.Lock()
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._pending: collections.deque[tuple[str, float]] = collections.deque()
        self._wake = threading.Event()
        self._last_sync: Optional[float] = None  # monotonic time of the last successful sync
        self._since: Optional[float] = None  # Redis time of the last sync, for the next one
        self._failing_since: Optional[float] = None
        self._last_log = 0.0
        self._threads: list[threading.Thread] = []
        self._pubsub: Any = None

    # -- the request path ------------------------------------------------------------------

    def check(self, state: dict[Any, Any], user: Any, created: float) -> Any:
        """The session's check, in one native call: takes the id out of ``state`` (as a cookie
        opened it), finds its user (``user``: ``None``, a state key or a callable) and returns
        ``False`` when the session must not be accepted, else its id (``None`` if it has none).
        """
        if not self.running:
            self.start()
        if self.policy == "refuse":
            if self._stale():
                state.pop(SESSION_ID_KEY, None)
                return False
            return self.set.check_state(state, user, created)
        # Once started under 'serve', the answer is the native set's: skip this frame from now on
        # (the instance attribute shadows this method until a fork resets it).
        self.check = self.set.check_state  # type: ignore[method-assign]
        return self.set.check_state(state, user, created)

    def _stale(self) -> bool:
        last = self._last_sync
        return last is None or time.monotonic() - last > self.stale_after

    # -- revoking (from any thread; never waits on the network) ----------------------------

    def revoke_session(self, sid: str, when: Optional[float] = None) -> None:
        """Revoke the session whose id is ``sid``; it holds here at once, everywhere within a
        second of Redis receiving it."""
        when = time.time() if when is None else float(when)
        self.set.revoke_session(sid, when)
        self._send("s:" + sid, when)

    def revoke_user(self, user: Any, when: Optional[float] = None) -> None:
        """Revoke every session of ``user`` created before ``when`` (default: now)."""
        when = time.time() if when is None else float(when)
        self.set.revoke_user(user, when)
        self._send("u:" + str(user), when)

    def revoke_before(self, when: Optional[float] = None) -> None:
        """Revoke every session created before ``when`` (default: now)."""
        when = time.time() if when is None else float(when)
        self.set.revoke_before(when)
        self._send("b:", when)

    def _send(self, member: str, when: float) -> None:
        if not self.running:
            self.start()
        if len(self._pending) >= MAX_PENDING:
            self._pending.popleft()
            log.error("revocation: %d revocations wait for Redis; dropping the oldest", MAX_PENDING)
        self._pending.append((member, when))
        self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every revocation made here has reached Redis; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.01)
        return not self._pending

    # -- background ------------------------------------------------------------------------

    def start(self) -> None:
        """Start this process's threads (once), then wait for the first sync, at most
        ``CONNECT_TIMEOUT`` seconds."""
        with self._start_lock:
            if self.running:
                return
            for target in (self._follow, self._write):
                thread = threading.Thread(
                    target=target, name=f"revocation-{target.__name__[1:]}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
            self.running = True
        if not self._synced.wait(CONNECT_TIMEOUT):
            self._failing("first sync", None)

    def close(self) -> None:
        """Stop the threads (tests, and apps that make factories on the fly)."""
        self._stop.set()
        self._wake.set()
        pubsub = self._pubsub
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:
                pass
        for thread in self._threads:
            thread.join(5)
        self.closed = True

    def _client(self) -> "redis.Redis":
        return redis.Redis.from_url(
            self.url,
            socket_timeout=CONNECT_TIMEOUT,
            socket_connect_timeout=CONNECT_TIMEOUT,
            health_check_interval=0,
        )

    def _follow(self) -> None:
        """Subscribe, load everything, then apply messages and resync now and then; after any
        failure, reconnect and load everything again."""
        while not self._stop.is_set():
            client = pubsub = None
            try:
                client = self._client()
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                # Subscribed before loading, so nothing revoked in between is missed.
                pubsub.subscribe(self.channel)
                self._pubsub = pubsub
                self._sync(client, full=True)
                next_sync = time.monotonic() + self.resync_interval
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=min(self.resync_interval, 0.5))
                    if message is not None and message.get("type") == "message":
                        self._apply_message(message["data"])
                    if time.monotonic() >= next_sync:
                        self._sync(client, full=False)
                        next_sync = time.monotonic() + self.resync_interval
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._failing("follow", exc)
                self._stop.wait(min(self.resync_interval, 1.0))
            finally:
                for thing in (pubsub, client):
                    if thing is not None:
                        try:
                            thing.close()
                        except Exception:
                            pass

    def _sync(self, client: "redis.Redis", full: bool) -> None:
        seconds, micros = client.time()
        now = seconds + micros / 1e6
        low: Any = "-inf" if full or self._since is None else self._since - SKEW_MARGIN
        # In pages, so that loading a million entries never holds them all as Python objects.
        # The next page starts at the last score seen (inclusive: applying twice is harmless);
        # a page of one score only moves on by offset, so equal scores cannot loop for ever.
        offset = 0
        while True:
            page: Any = client.zrangebyscore(
                self.key, low, "+inf", start=offset, num=SYNC_PAGE, withscores=True
            )
            for member, score in page:
                self._apply(member.decode("utf-8", "replace"), score)
            if len(page) < SYNC_PAGE:
                break
            if page[0][1] == page[-1][1]:
                offset += len(page)
            else:
                low, offset = page[-1][1], 0
        self._since = now
        self.set.sweep(time.time())
        self._last_sync = time.monotonic()
        self._synced.set()
        failing_since = self._failing_since
        if failing_since is not None:
            log.warning(
                "revocation: Redis answers again after %.0f s; set resynced",
                time.monotonic() - failing_since,
            )
            self._failing_since = None

    def _apply_message(self, data: bytes) -> None:
        try:
            score, member = data.decode("utf-8").split(" ", 1)
            self._apply(member, float(score))
        except (UnicodeDecodeError, ValueError):
            log.warning("revocation: ignored a message that is not ours on %s", self.channel)

    def _apply(self, member: str, when: float) -> None:
        kind, _, name = member.partition(":")
        try:
            if kind == "s":
                self.set.revoke_session(name, when)
            elif kind == "u":
                self.set.revoke_user(name, when)
            elif kind == "b":
                self.set.revoke_before(when)
        except ValueError:
            log.warning("revocation: ignored an entry that is not ours in %s", self.key)

    def _write(self) -> None:
        """Move revocations made here into Redis: the entry, then the message."""
        client = None
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            if not self._pending:
                continue
            try:
                if client is None:
                    client = self._client()
                batch = list(self._pending)
                pipe = client.pipeline(transaction=False)
                horizon = time.time() - self.max_age
                pipe.zadd(self.key, {m: w for m, w in batch}, gt=True)
                pipe.zremrangebyscore(self.key, "-inf", f"({horizon}")
                for member, when in batch:
                    pipe.publish(self.channel, f"{when!r} {member}")
                pipe.execute()
                for _ in batch:
                    self._pending.popleft()
            except Exception as exc:
                self._failing("write", exc)
                if client is not None:
                    try:
                        client.close()
                    except Exception:
                        pass
                client = None
                self._stop.wait(min(self.resync_interval, 1.0))
                self._wake.set()

    def _failing(self, what: str, exc: Optional[BaseException]) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        failing_since = self._failing_since
        if now - self._last_log >= LOG_EVERY or self._last_log == 0.0:
            self._last_log = now
            action = (
                "refusing sessions that cannot be checked"
                if self.policy == "refuse"
                else "serving with the last known revocation set"
            )
            # The exception's type only: its text may carry the URL and its password.
            log.error(
                "revocation: Redis unreachable (%s: %s) for %.0f s; %s",
                what,
                type(exc).__name__ if exc is not None else "timed out",
                now - failing_since,
                action,
            )


def write_now(
    url: str, max_age: int, member: str, when: float, prefix: str = DEFAULT_PREFIX
) -> None:
    """Write one revocation to Redis and publish it, waiting for the answer (the CLI's way)."""
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.zadd(prefix + "revoked", {member: when}, gt=True)
        pipe.zremrangebyscore(prefix + "revoked", "-inf", f"({time.time() - max_age}")
        pipe.publish(prefix + "events", f"{when!r} {member}")
        pipe.execute()
    finally:
        client.close()


def from_options(
    url: Any,
    absolute_timeout: Optional[int],
    *,
    user: Any = None,
    policy: Any = REVOCATION_POLICY,
    stale_after: Any = REVOCATION_STALE_AFTER,
    resync: Any = REVOCATION_RESYNC,
    prefix: Any = REVOCATION_PREFIX,
) -> "tuple[RevocationStore, Optional[UserGetter]]":
    """The store and user getter for a factory's ``revocation_*`` options, checked; each error
    names its option."""
    url = check_url(url, "revocation_url")
    if absolute_timeout is None:
        raise OptionError(
            "absolute_timeout",
            "required when revocation_url is set (revocation entries live as long as a session "
            "can; set it to the longest a session may live, e.g. 86400)",
        )
    policy = as_revocation_policy(policy, "revocation_policy")
    stale_after = as_positive_seconds(stale_after, "revocation_stale_after")
    resync = as_positive_seconds(resync, "revocation_resync")
    prefix = as_revocation_prefix(prefix, "revocation_prefix")
    getter = as_revocation_user(user, "revocation_user")
    store = RevocationStore(
        url,
        absolute_timeout,
        prefix=prefix,
        policy=policy,
        stale_after=stale_after,
        resync=resync,
    )
    return store, getter
