"""Session revocation shared through Redis and mirrored in every worker (opt-in).

Imported only when ``revocation_url`` is set; it needs redis-py
(``pip install 'pyramid-nacl-session[redis]'``).

Redis holds one sorted set, ``<prefix>revoked``, scored by revocation time (seconds since the
epoch, by Redis's clock: every write is a script that reads ``TIME``), whose members say what
was revoked (one session, one session without an id, a user's or everyone's sessions before the
score: :mod:`.revocation_entries` writes them).

A session lives at most ``absolute_timeout`` seconds, so an entry older than that names only dead
sessions: every write trims the set below Redis's ``now - absolute_timeout``, and every worker
sweeps its copy the same way. Each revocation is also published on ``<prefix>events`` so that
every worker applies it within a second; a periodic resync of the entries added since the last
one (with a margin for clock skew) heals any message a worker missed.

Each serving process keeps the set in a native table (:class:`RevocationSet`, at most 22.5 bytes
a revoked session) and checks it without leaving the process. Two background threads per process,
started on the first request it serves (so a ``gunicorn --preload`` master holds none, and a
forked child starts its own), talk to Redis: one follows the channel and resyncs, one writes the
revocations this process makes. The request path never waits on the network, with one exception:
the first session checked in a process waits for the first full load while it makes progress
(a million entries load in about a second), or ``CONNECT_TIMEOUT`` when Redis does not answer.

Times are never trusted beyond now plus ``CLOCK_SKEW`` (from ``_core``), now being Redis's clock
(each worker keeps the offset of its own clock from Redis's, measured at every resync): a
revocation call with a later time is refused with :class:`OptionError`; an entry found in Redis
with a later score stands for the moment this process first saw it, and is healed in Redis to
that moment (never after Redis's now), at once and said once.

A refusal that passes (Redis unreachable, out of memory, read-only during a failover, short of
replicas, loading) is retried, never dropped; a batch counts as written once it is on a replica
too, when the primary has any (``WAIT``), so a failover right after it cannot lose it.
"""

import collections
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Optional

from ._core import CLOCK_SKEW, SESSION_ID_KEY, RevocationSet, is_session_id, new_session_id
from .options import (
    REVOCATION_POLICIES,
    REVOCATION_POLICY,
    REVOCATION_RESYNC,
    REVOCATION_STALE_AFTER,
    OptionError,
    UserGetter,
    as_positive_seconds,
    as_revocation_policy,
    as_revocation_prefix,
    as_revocation_user,
)
from .redis_url import RedisURL, check_url, describe_fault, is_transient, redis
from .revocation_entries import (
    DEFAULT_PREFIX,
    HEAL_PAGE,
    MAX_MESSAGE,
    UNCHECKED,
    Unchecked,
    before_member,
    confirm_replicated,
    created_member,
    revocation_time,
    session_member,
    user_member,
    write_batch,
    write_now,
)

if TYPE_CHECKING:
    from .session_registry import SessionInfo, SessionRegistry

__all__ = [
    "RevocationStore",
    "POLICIES",
    "SESSION_ID_KEY",
    "UNCHECKED",
    "new_session_id",
    "revocation_time",
    "session_member",
    "created_member",
    "user_member",
    "before_member",
    "write_now",
    "check_url",
    "DEFAULT_PREFIX",
    "RedisURL",
]

log = logging.getLogger("pyramid_nacl_session.revocation")

#: What to do when the set cannot be kept current (options.py): serve with the last known set,
#: or refuse every session that cannot be checked.
POLICIES = REVOCATION_POLICIES
#: Seconds a Redis connection or command may take before it counts as failed.
CONNECT_TIMEOUT = 1.0
#: Re-read this many seconds before the last resync, so a writer whose clock lags ours (or a
#: write that lands while we read) is still seen.
SKEW_MARGIN = 120.0
#: Past this many revocations waiting for a Redis that answers, a revoking thread waits for the
#: writer (back-pressure); none is ever dropped. While Redis is away they wait in memory.
MAX_PENDING = 100_000
#: Revocations sent to Redis in one pipeline.
WRITE_BATCH = 10_000
#: Entries read from Redis per round trip when loading the set (by rank: each page costs Redis
#: O(log N + page), whatever the scores).
SYNC_PAGE = 10_000
#: Seconds between two "still failing" log lines.
LOG_EVERY = 60.0
#: Channel messages applied one by one before a flood is coalesced into one resync.
FLOOD = 10_000
#: Entries dated ahead of Redis's clock newly remembered with the moment first seen, per resync
#: window (beyond: ignored until the next window; the next write heals them in Redis anyway).
MAX_FUTURE = 10_000
#: Heal calls (of ``HEAL_PAGE`` entries each) a resync makes at most; the next resync goes on.
HEAL_ROUNDS = 10


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
      with a fresh one, and leaves the cookie as it is).

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
        self.redis_url = RedisURL(check_url(url, "revocation_url"))
        self.max_age = int(max_age)
        self.prefix = prefix
        self.key = prefix + "revoked"
        self.channel = prefix + "events"
        self.policy = policy
        self.stale_after = float(stale_after)
        self.resync_interval = float(resync)
        self.set = RevocationSet(self.max_age)
        #: Entries seen dated ahead of Redis's clock: the moment each was first seen.
        self._future_seen: dict[bytes, float] = {}
        #: Redis's clock minus this host's, as measured at the last sync.
        self._offset = 0.0
        self._reset_process_state()
        os.register_at_fork(after_in_child=self._reset_process_state)

    #: The users' session lists (``track_sessions``; :mod:`.session_registry`), or ``None``.
    registry: "Optional[SessionRegistry]" = None

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
        self._pending: collections.deque[tuple[str, Optional[float]]] = collections.deque()
        self._wake = threading.Event()
        self._drained = threading.Condition()
        #: Revocations queued, and settled (in Redis, or dropped), since the process started;
        #: changed and read under ``_drained``. ``flush()`` waits for the second to reach the
        #: first, whatever the queue and the writer hold in between.
        self._queued = 0
        self._settled = 0
        #: Revocations dropped (refused on their own) that no ``flush()`` has reported yet.
        self._dropped = 0
        #: New future-dated entries remembered in this resync window.
        self._future_new = 0
        self._last_sync: Optional[float] = None  # monotonic time of the last successful sync
        self._progress: Optional[float] = None  # monotonic time the first load last moved on
        self._since: Optional[float] = None  # Redis time of the last sync, for the next one
        self._failing_since: Optional[float] = None
        self._last_log = 0.0
        self._threads: list[threading.Thread] = []
        self._pubsub: Any = None
        #: Channel messages skipped (not ours) and clamped (dated ahead) since the last resync.
        self._skipped = [0, 0]

    # -- the request path ------------------------------------------------------------------

    def check(self, state: dict[Any, Any], user: Any, created: float) -> Any:
        """The session's check, in one native call: takes the id out of ``state`` (as a cookie
        opened it), finds its user (``user``: ``None``, a state key or a callable) and returns
        ``False`` when the session must not be accepted, an :class:`Unchecked` (naming the
        session, for a logout) when it cannot be checked (``refuse``, set stale), else its id
        (``None`` if it has none).
        """
        if not self.running:
            self.start()
        if self.policy == "refuse":
            if self._stale():
                sid = state.pop(SESSION_ID_KEY, None)
                if not (isinstance(sid, str) and is_session_id(sid)):
                    sid = None  # as check_state does: named by its creation time
                return Unchecked(sid, created)
            return self.set.check_state(state, user, created)
        # Once started under 'serve', the answer is the native set's: skip this frame from now on
        # (the instance attribute shadows this method until a fork resets it).
        self.check = self.set.check_state  # type: ignore[method-assign]
        return self.set.check_state(state, user, created)

    def _now(self) -> float:
        """Redis's clock, as this process last measured it (this host's until the first
        sync)."""
        return time.time() + self._offset

    def _stale(self) -> bool:
        last = self._last_sync
        return last is None or time.monotonic() - last > self.stale_after

    # -- revoking (from any thread; never waits on the network) ----------------------------

    def revoke_session(self, sid: str, when: Optional[float] = None) -> None:
        """Revoke the session whose id is ``sid``; it holds here at once, everywhere within a
        second of Redis receiving it. ``when`` (default now) may not be later than now."""
        member, moment = session_member(sid), self._time(when)
        self.set.revoke_session(sid, moment)
        self._send(member, moment)

    def revoke_created(self, created: float, when: Optional[float] = None) -> None:
        """Revoke the session without an id that was created at ``created`` (every copy of its
        cookie)."""
        member, moment = created_member(created), self._time(when)
        self.set.revoke_created(float(created), moment)
        self._send(member, moment)

    def revoke_user(self, user: Any, when: Optional[float] = None) -> None:
        """Revoke every session of ``user`` created before ``when`` (default: now; never
        later)."""
        member, moment = user_member(user), self._time(when)
        self.set.revoke_user(user, moment)
        self._send(member, moment)

    def revoke_before(self, when: Optional[float] = None) -> None:
        """Revoke every session created before ``when`` (default: now; never later)."""
        member, moment = before_member(), self._time(when)
        self.set.revoke_before(moment)
        self._send(member, moment)

    def _time(self, when: Any) -> float:
        """``when`` checked against Redis's clock (as last measured). ``None``: now, by this
        host's clock (the one its new sessions are stamped with, so the session a view makes
        right after logging a user out everywhere is not caught) but never after Redis's; the
        write bounds it again by Redis's own clock."""
        if when is None:
            return min(time.time(), self._now())
        return revocation_time(when, "when", self._now())

    def _send(self, member: str, when: Optional[float]) -> None:
        """Queue ``member`` for Redis, revoked at ``when`` (``None``: when Redis receives it)."""
        if not self.running:
            self.start()
        if len(self._pending) >= MAX_PENDING:
            # Back-pressure while Redis answers: wait for the writer rather than drop anything.
            with self._drained:
                while (
                    len(self._pending) >= MAX_PENDING
                    and self._failing_since is None
                    and not self._stop.is_set()
                ):
                    self._wake.set()
                    self._drained.wait(CONNECT_TIMEOUT)
        with self._drained:
            self._queued += 1
            self._pending.append((member, when))
        self._wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every revocation made here so far is in Redis (on a replica too, when the
        primary has one). ``False`` on timeout (they stay queued, and are written once Redis
        takes them), or when Redis refused one since the last ``flush()`` (it was dropped with
        an error in the log)."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        with self._drained:
            target = self._queued
            while self._settled < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._drained.wait(min(left, 0.1))
            dropped, self._dropped = self._dropped, 0
        return not dropped

    # -- background ------------------------------------------------------------------------

    def start(self) -> None:
        """Start this process's threads (once), then wait for the first full load: as long as
        it moves on (a page at least every ``CONNECT_TIMEOUT``), or ``CONNECT_TIMEOUT`` when
        Redis does not answer. Until then a session is checked against what is loaded so far;
        under ``refuse`` it is refused. Every thread that asks meanwhile waits with the first."""
        with self._start_lock:
            if self.running:
                return
            if not self._threads:
                for target in (self._follow, self._write):
                    thread = threading.Thread(
                        target=target, name=f"revocation-{target.__name__[1:]}", daemon=True
                    )
                    thread.start()
                    self._threads.append(thread)
            # Running only once the load is done or given up on, and waited for under the lock:
            # the other first requests of a threaded server wait here too, instead of checking
            # a half-loaded set.
            while not self._synced.wait(CONNECT_TIMEOUT):
                progress = self._progress
                if progress is None or time.monotonic() - progress > CONNECT_TIMEOUT:
                    self._failing("first sync", None)
                    break
            self.running = True

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
        if self.registry is not None:
            self.registry.close()
        self.closed = True

    # -- the users' session lists (track_sessions) -----------------------------------------

    def sessions(self, user: Any) -> "list[SessionInfo]":
        """The live sessions of ``user``, most recently seen first, each a
        :class:`~pyramid_nacl_session.session_registry.SessionInfo` (``session_id``,
        ``created``, ``last_seen``, ``label``). Needs ``track_sessions``."""
        return self._registry().sessions(user)

    def revoke_others(self, user: Any, session: Any) -> int:
        """End every session of ``user`` but ``session`` (the current one, which stays in);
        returns how many listed sessions were ended. Needs ``track_sessions``."""
        return self._registry().revoke_others(user, session)

    def _registry(self) -> "SessionRegistry":
        if self.registry is None:
            raise OptionError("track_sessions", "is off: this app keeps no session lists")
        return self.registry

    def _client(self) -> "redis.Redis":
        return self.redis_url.client(CONNECT_TIMEOUT)

    def _follow(self) -> None:
        """Subscribe, load everything, then apply messages and resync now and then; after any
        failure, reconnect and load everything again; after a flood of messages, reconnect and
        read only what changed (the flood is then one resync, not a backlog)."""
        full = True
        while not self._stop.is_set():
            client = pubsub = None
            try:
                client = self._client()
                # redis-py annotates pubsub() from 8.2 on; older releases leave it untyped.
                pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call, unused-ignore]
                # Subscribed before loading, so nothing revoked in between is missed.
                pubsub.subscribe(self.channel)
                self._pubsub = pubsub
                self._sync(client, full=full or self._since is None)
                full = True
                next_sync = time.monotonic() + self.resync_interval
                while not self._stop.is_set():
                    if self._read_messages(pubsub) >= FLOOD:
                        if not self._flooded:
                            log.warning(
                                "revocation: over %d messages at once on %s; resyncing instead "
                                "(logged once per process)",
                                FLOOD,
                                self.channel,
                            )
                            self._flooded = True
                        full = False
                        break
                    if self._to_heal:
                        # At once, to the moment first seen: a session made after it, anywhere,
                        # is not caught by the healed entry.
                        self._heal(client)
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

    _flooded = False
    #: A future entry was newly seen: heal it in Redis now.
    _to_heal = False

    def _read_messages(self, pubsub: Any) -> int:
        """Apply the messages waiting (after waiting up to half a second for one), in one
        native call; returns how many were read, at most ``FLOOD``."""
        entries = []
        junk = 0
        count = 0
        message = pubsub.get_message(timeout=min(self.resync_interval, 0.5))
        while message is not None:
            count += 1
            if message.get("type") == "message":
                data = message["data"]
                if isinstance(data, bytes) and len(data) <= MAX_MESSAGE:
                    score, _, member = data.partition(b" ")
                    entries.append((member, score))
                else:
                    junk += 1
            if count >= FLOOD:
                break
            message = pubsub.get_message(timeout=0)
        if entries:
            more, future = self._take(entries)
            # Counted here, told once at the next resync: a flood must not become a log flood.
            self._skipped[0] += junk + more
            self._skipped[1] += future
        else:
            self._skipped[0] += junk
        return count

    def _take(
        self, entries: "Iterable[Any]", seen_now: "Optional[set[bytes]]" = None
    ) -> "tuple[int, int]":
        """Apply entries received now; returns how many were junk and how many were dated ahead
        of Redis's clock, which stand for the moment this process first saw them (so a cut-off
        in the future resets only the sessions made before it was seen, once) until a write
        heals them in Redis. ``seen_now`` collects the future members a sync found."""
        now = self._now()
        junk, future = self.set.apply_entries(entries, now)
        if future:
            seen = self._future_seen
            clamped = []
            for member, _ in future:
                first = seen.get(member)
                if first is None and self._future_new < MAX_FUTURE:
                    self._future_new += 1
                    first = seen[member] = now
                    self._to_heal = True
                if first is not None:
                    clamped.append((member, first))
                    if seen_now is not None:
                        seen_now.add(member)
            self.set.apply_entries(clamped, now)
        return junk, len(future)

    def _warn(self, junk: int, future: int, where: str) -> None:
        """One warning for what a read skipped or clamped, however many entries it was."""
        if junk:
            log.warning("revocation: ignored %d %s that are not ours", junk, where)
        if future:
            log.warning(
                "revocation: %d %s dated more than %g s ahead of Redis's clock; each taken "
                "as of when first seen",
                future,
                where,
                CLOCK_SKEW,
            )

    def _write_entries(
        self, client: "redis.Redis", batch: "list[tuple[str, Optional[float]]]", **heal: Any
    ) -> int:
        """:func:`write_batch`, saying once (in the one process whose write healed them) how
        many future entries it healed; returns that number."""
        healed, _ = write_batch(client, self.key, self.channel, self.max_age, batch, **heal)
        if healed:
            log.warning(
                "revocation: healed %d entries of %s dated more than %g s ahead of Redis's "
                "clock (a host whose clock runs ahead, or a score written by hand): each now "
                "dated when first seen, never after Redis's now",
                healed,
                self.key,
                CLOCK_SKEW,
            )
        return healed

    def _heal(self, client: "redis.Redis") -> bool:
        """Rewrite the future entries in Redis (an empty write) to the moment this process
        first saw them, as it took them; ``False`` when Redis would not (a replica, a fault),
        for the next write or resync to do."""
        self._to_heal = False
        at = min(self._future_seen.values(), default=None)
        try:
            for _ in range(HEAL_ROUNDS):
                if self._write_entries(client, [], heal_at=at) < HEAL_PAGE:
                    return True
        except Exception:
            return False
        return False

    def _sync(self, client: "redis.Redis", full: bool) -> None:
        """Read the entries added since the last sync (``full``: every live entry), newest
        first, by rank: a page costs Redis O(log N + page) whatever the scores, and an entry
        trimmed meanwhile (the oldest go) shifts no rank still to read."""
        before = time.time()
        seconds, micros = client.time()
        now = seconds + micros / 1e6
        self._offset = now - (before + time.time()) / 2
        low = now - self.max_age if full or self._since is None else self._since - SKEW_MARGIN
        junk = future = 0
        start = 0
        self._future_new = 0
        seen_now: set[bytes] = set()
        while True:
            # The raw reply, [member, score, ...] as bytes: redis-py's own pairing and float
            # parsing cost more than the native set does with the whole page.
            page: Any = client.execute_command(  # type: ignore[no-untyped-call, unused-ignore]
                "ZREVRANGE", self.key, start, start + SYNC_PAGE - 1, "WITHSCORES"
            )
            count = len(page) // 2
            if count:
                more, ahead = self._take(page, seen_now)
                junk, future = junk + more, future + ahead
                self._progress = time.monotonic()
            if count < SYNC_PAGE or float(page[-1]) < low:
                break
            start += count
        if future and self._heal(client):
            future = 0  # said by _healed, once, by whichever process healed them
        if not full:
            seen_now.update(self._future_seen)  # a partial read sees only the newest
        # Only what is still ahead stays remembered: healed entries are ordinary ones now.
        self._future_seen = {m: t for m, t in self._future_seen.items() if m in seen_now}
        self._warn(junk, future, f"entries in {self.key}")
        (junk, future), self._skipped = self._skipped, [0, 0]
        self._warn(junk, future, f"messages on {self.channel}")
        self._since = now
        self.set.sweep(self._now())
        self._last_sync = time.monotonic()
        self._synced.set()
        failing_since = self._failing_since
        if failing_since is not None:
            log.warning(
                "revocation: Redis answers again after %.0f s; set resynced",
                time.monotonic() - failing_since,
            )
            self._failing_since = None

    def _write(self) -> None:
        """Move revocations made here into Redis, a batch at a time (:func:`write_batch`). A
        batch Redis could not take (a fault that passes: unreachable, out of memory, read-only,
        short of replicas, loading) goes back to the front of the queue; a batch it refused is
        sent again entry by entry, and an entry refused on its own is dropped with one error, so
        nothing jams the ones behind it."""
        client = None
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            while self._pending and not self._stop.is_set():
                batch = self._take_batch()
                try:
                    if client is None:
                        client = self._client()
                    self._write_batch(client, batch)
                except Exception as exc:
                    self._pending.extendleft(reversed(batch))
                    self._failing("write", exc)
                    if client is not None:
                        try:
                            client.close()
                        except Exception:
                            pass
                    client = None
                    with self._drained:
                        self._drained.notify_all()
                    self._stop.wait(min(self.resync_interval, 1.0))
                    self._wake.set()
                    break

    def _take_batch(self) -> "list[tuple[str, Optional[float]]]":
        batch: list[tuple[str, Optional[float]]] = []
        pending = self._pending
        while pending and len(batch) < WRITE_BATCH:
            batch.append(pending.popleft())
        return batch

    def _write_batch(
        self, client: "redis.Redis", batch: "list[tuple[str, Optional[float]]]"
    ) -> None:
        """Write ``batch`` and count it settled; raises only for a fault that passes."""
        dropped = 0
        try:
            self._write_entries(client, batch)
        except Exception as exc:
            if is_transient(exc):
                raise
            for entry in batch:
                try:
                    self._write_entries(client, [entry])
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    dropped += 1
                    last = describe_fault(exc, self.redis_url.where)
        # Settled only once a replica has it too: a failover right after cannot lose it.
        confirm_replicated(client)
        with self._drained:
            self._settled += len(batch)
            self._dropped += dropped
            self._drained.notify_all()
        if dropped:
            log.error("revocation: %s: %d revocation(s) dropped, the rest went on", last, dropped)

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
            # Its cause and where, never its text: that may carry the URL and its password.
            log.error(
                "revocation: %s (%s) for %.0f s; %s",
                describe_fault(exc, self.redis_url.where),
                what,
                now - failing_since,
                action,
            )


def from_options(
    url: Any,
    absolute_timeout: Optional[int],
    *,
    user: Any = None,
    policy: Any = REVOCATION_POLICY,
    stale_after: Any = REVOCATION_STALE_AFTER,
    resync: Any = REVOCATION_RESYNC,
    prefix: Any = DEFAULT_PREFIX,
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
