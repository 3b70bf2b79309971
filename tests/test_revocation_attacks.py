"""Revocation and the move off signed cookies under attack: each case the review
reproduced, through real Pyramid apps (WebTest) sharing one real redis-server; each app is one
worker with its own native set and threads, as in another process."""

import logging
import math
import threading
import time

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer
from pyramid_nacl_session._core import CLOCK_SKEW, new_session_id
from pyramid_nacl_session._core._testing import is_revoked
from pyramid_nacl_session.options import OptionError

from .helpers import SECRET, clock_passes, eventually
from .revocation_apps import (
    MAX_AGE,
    as_thief,
    cookie_of,
    make_app,
    run_cli,
    sid_of,
    user_seen,
    write_ini,
)

KEY = "pyramid_nacl_session:revoked"
CHANNEL = "pyramid_nacl_session:events"
TEN_YEARS = 10 * 365 * 24 * 3600


def sealed(renewed, created, state):
    return EncryptedSerializer(SECRET, "json").dumps((renewed, created, state)).decode()


def seen(app, cookie):
    """The user a browser holding ``cookie`` is logged in as, on ``app``."""
    return as_thief(app, cookie).get("/whoami").json["user"]


# -- a session dated in the future never ends -------------------------------------------------


def plain_app(**options):
    from pyramid.config import Configurator

    factory = EncryptedCookieSessionFactory(SECRET, serializer="json", **options)
    config = Configurator()
    config.set_session_factory(factory)
    config.add_route("whoami", "/whoami")
    config.add_view(
        lambda request: {"user": request.session.get("user")},
        route_name="whoami",
        renderer="json",
    )
    return TestApp(config.make_wsgi_app())


def test_our_cookie_created_ten_years_ahead_is_a_fresh_session_not_one_that_never_ends(
    monkeypatch,
):
    # Whoever holds a leaked key can mint this; absolute_timeout must still hold.
    app = plain_app(absolute_timeout=3600)
    now = time.time()
    assert seen(app, sealed(now, now + TEN_YEARS, {"user": "mallory"})) is None
    # Renewed ten years ahead: taken as renewed when created, so the timeout still ends it.
    later = plain_app(timeout=1, reissue_time=None)  # never rewritten: the cookie's own times
    cookie = sealed(now + TEN_YEARS, now, {"user": "alice"})
    assert seen(later, cookie) == "alice"
    # Two seconds on, on the one clock the core and the session share.
    monkeypatch.setattr(time, "time", lambda: now + 2.1)
    assert seen(later, cookie) is None
    # Within the documented clock skew a cookie is taken as it is.
    assert seen(app, sealed(now, now + CLOCK_SKEW / 2, {"user": "alice"})) == "alice"


def test_a_signed_cookie_created_ten_years_ahead_is_not_moved():
    from pyramid.session import SignedCookieSessionFactory
    from webob.cookies import SignedSerializer

    old_secret = "the weak old secret"
    app = plain_app(
        absolute_timeout=3600,
        migrate_signed_secret=old_secret,
        migrate_signed_until="2999-01-01",
    )
    assert SignedCookieSessionFactory  # the factory whose cookies these are
    signer = SignedSerializer(old_secret, "pyramid.session.", "sha512")
    now = time.time()
    forged = signer.dumps((now, now + TEN_YEARS, {"user": "mallory"})).decode()
    assert seen(app, forged) is None
    honest = signer.dumps((now, now, {"user": "alice"})).decode()
    assert seen(app, honest) == "alice"


@pytest.fixture(scope="module")
def property_app(tmp_path_factory):
    from .redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    app, factory = make_app(server.url, absolute_timeout=MAX_AGE)
    cutoff = time.time() - 100
    factory.revocation.revoke_before(cutoff)
    yield app, cutoff
    factory.revocation.close()
    server.stop()


@pytest.mark.redis  # property_app starts its own redis-server
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    renewed=st.floats(-1e10, 1e11, allow_nan=False),
    created=st.floats(-1e10, 1e11, allow_nan=False),
)
def test_no_cookie_whatever_its_times_outlives_absolute_timeout_or_revoke_before(
    property_app, renewed, created
):
    app, cutoff = property_app
    now = time.time()
    if seen(app, sealed(renewed, created, {"user": "alice"})) == "alice":
        after = time.time()
        assert created >= cutoff, "revoke_before() did not hold"
        assert after - created <= MAX_AGE, "absolute_timeout did not hold"
        assert created <= after + CLOCK_SKEW
        assert now - renewed <= 1200 + 1  # timeout


# -- a cut-off in the future is a lock-out with no undo ---------------------------------------


@pytest.mark.parametrize("when", [4102444800.0, 1e12, math.inf, math.nan, -1.0, "soon"])
def test_a_revocation_with_a_time_after_now_or_no_time_is_refused_at_the_call(
    redis_server, apps, when
):
    _, factory = apps(redis_server.url)
    store = factory.revocation
    for call in (
        lambda: store.revoke_before(when),
        lambda: store.revoke_user("alice", when),
        lambda: store.revoke_session(new_session_id(), when),
    ):
        with pytest.raises(OptionError) as raised:
            call()
        assert raised.value.option == "when"
    assert store.flush()
    assert redis.Redis.from_url(redis_server.url).zcard(KEY) == 0


def test_the_cli_write_path_refuses_a_time_after_now_before_asking_redis():
    from pyramid_nacl_session.revocation import before_member, write_now

    # Port 1: nothing listens, so only a refusal before any connection can raise OptionError.
    with pytest.raises(OptionError):
        write_now("redis://127.0.0.1:1/0", MAX_AGE, before_member(), 4102444800.0)


def test_the_cli_refuses_revoke_before_2099_with_a_usage_error(tmp_path, capsys):
    pytest.importorskip("session_demo")
    ini = write_ini(tmp_path, absolute_timeout=60, revocation_url="redis://127.0.0.1:1/0")
    for value in ("2099-01-01", "1e12"):
        assert run_cli("revoke", "--ini", ini, "before", value) == 2
        assert "when: a revocation cannot name a time after now" in capsys.readouterr().err


def test_a_future_cut_off_already_in_redis_resets_only_the_sessions_made_before_it_was_seen(
    redis_server, apps
):
    client = redis.Redis.from_url(redis_server.url)
    first, _ = apps(redis_server.url)
    first.get("/login", params={"user": "alice"})
    before = cookie_of(first)
    client.zadd(KEY, {"b:": 4102444800.0})  # 2100: a typo, or a hostile writer
    client.publish(CHANNEL, "4102444800.0 b:")
    worker, factory = apps(redis_server.url)
    factory.revocation.start()
    assert seen(worker, before) is None  # made before: reset, once
    # The entry now stands for when the worker first saw it: the next login is later.
    assert clock_passes(time.time())
    later, _ = apps(redis_server.url)
    later.get("/login", params={"user": "bob"})
    after = cookie_of(later)
    assert seen(worker, after) == "bob"
    # Resyncs read the entry again (resync is 1 s): it still stands for when it was first seen.
    resynced = factory.revocation._last_sync
    assert eventually(lambda: factory.revocation._last_sync != resynced)
    client.publish(CHANNEL, "4102444800.0 b:")
    # A message published after it is read after it: once that one is in, so is the first.
    marker = new_session_id()
    client.publish(CHANNEL, f"{time.time()} s:{marker}")
    assert eventually(lambda: is_revoked(factory.revocation.set, marker, None, time.time()))
    assert seen(worker, after) == "bob"


# -- one bad name jams every later logout -----------------------------------------------------


def test_a_user_name_that_cannot_be_encoded_is_refused_and_later_logouts_still_reach_redis(
    redis_server, apps
):
    app, factory = apps(redis_server.url)
    store = factory.revocation
    with pytest.raises(OptionError) as raised:
        store.revoke_user("\ud800")  # a lone surrogate, as json.loads can give
    assert raised.value.option == "user"
    with pytest.raises(OptionError):
        store.revoke_user("x" * 5000)
    app.get("/login", params={"user": "alice"})
    app.get("/logout")
    assert store.flush()
    assert redis.Redis.from_url(redis_server.url).zcard(KEY) == 1


def test_an_entry_redis_refuses_is_dropped_with_one_error_and_the_rest_go_on(
    redis_server, apps, caplog, monkeypatch
):
    from pyramid_nacl_session import revocation

    _, factory = apps(redis_server.url)
    store = factory.revocation
    store.start()
    real = revocation.write_batch

    def refuse_alice(client, key, channel, max_age, batch):
        if any(member == "u:alice" for member, _ in batch):
            raise redis.ResponseError("WRONGTYPE refused")
        return real(client, key, channel, max_age, batch)

    monkeypatch.setattr(revocation, "write_batch", refuse_alice)
    caplog.set_level(logging.ERROR, "pyramid_nacl_session.revocation")
    sids = [new_session_id() for _ in range(5)]
    store.revoke_session(sids[0])
    store.revoke_user("alice")
    for sid in sids[1:]:
        store.revoke_session(sid)
    # Not every revocation is in Redis, so flush() says so, once; the rest went on.
    assert store.flush() is False
    assert store.flush() is True
    members = redis.Redis.from_url(redis_server.url).zrange(KEY, 0, -1)
    assert sorted(members) == sorted(("s:" + sid).encode() for sid in sids)
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1


# -- a burst of revocations is lost while Redis is healthy ------------------------------------


@pytest.mark.slow
def test_a_mass_logout_of_200000_sessions_reaches_redis_whole_and_a_new_worker_refuses_them(
    redis_server, apps
):
    _, factory = apps(redis_server.url)
    store = factory.revocation
    sids = [new_session_id() for _ in range(200_000)]
    for sid in sids:
        store.revoke_session(sid)
    assert store.flush(timeout=120)
    assert redis.Redis.from_url(redis_server.url).zcard(KEY) == len(sids)
    _, later = apps(redis_server.url)
    later.revocation.start()
    assert later.revocation.set.session_count == len(sids)
    now = time.time()
    assert all(is_revoked(later.revocation.set, sid, None, now) for sid in sids[::1000])


def test_flush_is_false_while_redis_is_away_and_nothing_queued_is_dropped(redis_server, apps):
    _, factory = apps(redis_server.url)
    store = factory.revocation
    store.start()
    redis_server.stop()
    sids = [new_session_id() for _ in range(300)]
    for sid in sids:
        store.revoke_session(sid)
    assert store.flush(timeout=0.3) is False
    redis_server.start()
    assert store.flush(timeout=30)
    assert redis.Redis.from_url(redis_server.url).zcard(KEY) == len(sids)


# -- refuse destroys sessions -----------------------------------------------------------------


def test_refuse_leaves_an_unchecked_cookie_as_it_is_but_a_logout_deletes_and_revokes_it(
    redis_server, apps
):
    app, factory = apps(redis_server.url, revocation_policy="refuse", revocation_stale_after=1)
    app.get("/login", params={"user": "alice"})
    cookie = cookie_of(app)
    carol = TestApp(app.app)
    carol.get("/login", params={"user": "carol"})
    redis_server.stop()
    assert eventually(factory.revocation._stale)
    browser = as_thief(app, cookie)
    response = browser.get("/whoami")
    assert response.json["user"] is None  # refused: cannot be checked
    assert "Set-Cookie" not in response.headers  # and left as it is
    # A logout during the outage (a shared computer): the cookie goes, and its id is revoked
    # as soon as Redis answers, so no copy of it logs in again.
    response = browser.get("/logout")
    assert response.headers["Set-Cookie"].startswith("session=;")
    redis_server.start()  # empty: only what this process queued reaches it
    assert eventually(lambda: not factory.revocation._stale())
    assert factory.revocation.flush()
    assert user_seen(app, cookie) is None
    assert redis.Redis.from_url(redis_server.url).zscore(KEY, "s:" + sid_of(cookie)) is not None
    assert carol.get("/whoami").json["user"] == "carol"  # only that one


# -- a new worker is blind while it loads -----------------------------------------------------


def test_a_new_worker_waits_for_its_first_load_while_it_moves_on_and_refuses_the_oldest_entry(
    redis_server, apps, monkeypatch
):
    from pyramid_nacl_session import revocation

    # Pages of 100 and a 200 ms timeout: the first load (601 pages) outlasts the timeout, and
    # moves on a page at a time. (A shorter timeout measures the machine's scheduler: a page
    # late by 50 ms on a loaded machine is not a stalled load.)
    monkeypatch.setattr(revocation, "SYNC_PAGE", 100)
    monkeypatch.setattr(revocation, "CONNECT_TIMEOUT", 0.2)
    seed, _ = apps(redis_server.url)
    seed.get("/login", params={"user": "alice"})
    cookie = cookie_of(seed)
    client = redis.Redis.from_url(redis_server.url)
    now = time.time()
    victim = EncryptedSerializer(SECRET, "json").loads(cookie.strip('"'))[2]["_sid_"]
    pipe = client.pipeline(transaction=False)
    # Loaded newest first: the victim's entry, the oldest, comes last; many share a score.
    pipe.zadd(KEY, {"s:" + victim: now - 60})
    for chunk in range(60):
        pipe.zadd(KEY, {f"s:{new_session_id()}": now - (chunk % 3) for _ in range(1000)})
    pipe.execute()
    worker, factory = apps(redis_server.url)
    assert seen(worker, cookie) is None
    assert factory.revocation.set.session_count == 60_001


def test_the_redis_url_password_is_not_in_vars_of_the_store(apps):
    _, factory = apps("redis://:hunter2@127.0.0.1:1/0")
    store = factory.revocation
    assert "hunter2" not in repr(vars(store))
    assert "hunter2" not in repr(store)


# -- junk and floods --------------------------------------------------------------------------


def test_junk_entries_in_redis_give_one_warning_per_resync_not_one_per_entry(
    redis_server, apps, caplog
):
    client = redis.Redis.from_url(redis_server.url)
    now = time.time()
    client.zadd(KEY, {f"junk:{i}": now for i in range(2000)})
    client.zadd(KEY, {f"s:not-an-id-{i}": now for i in range(2000)})
    caplog.set_level(logging.WARNING, "pyramid_nacl_session.revocation")
    _, factory = apps(redis_server.url)
    factory.revocation.start()
    synced = factory.revocation._last_sync
    assert eventually(lambda: factory.revocation._last_sync != synced)
    junk = [r for r in caplog.records if "not ours" in r.getMessage()]
    assert 1 <= len(junk) <= 3, len(junk)
    assert "4000" in junk[0].getMessage()


def test_a_flood_of_messages_is_coalesced_and_an_oversized_one_ignored(redis_server, apps, caplog):
    app, factory = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    cookie = cookie_of(app)
    worker, other = apps(redis_server.url)
    assert seen(worker, cookie) == "alice"
    caplog.set_level(logging.WARNING, "pyramid_nacl_session.revocation")
    client = redis.Redis.from_url(redis_server.url)
    client.publish(CHANNEL, b"1 u:" + b"x" * 4_000_000)
    pipe = client.pipeline(transaction=False)
    for i in range(30_000):
        pipe.publish(CHANNEL, f"{time.time()!r} s:not-an-id-{i}")
    pipe.execute()
    app.get("/logout")
    assert factory.revocation.flush()
    assert eventually(lambda: seen(worker, cookie) is None)
    warnings = [r for r in caplog.records if r.name == "pyramid_nacl_session.revocation"]
    assert len(warnings) <= 10, len(warnings)


def test_the_request_path_makes_no_redis_call_while_redis_is_frozen(
    redis_server, apps, monkeypatch
):
    # Counted, not timed: every command redis-py sends from a request thread is recorded.
    from redis.connection import AbstractConnection

    app, _ = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    cookie = cookie_of(app)
    request_thread = threading.current_thread()
    calls = []
    send = AbstractConnection.send_packed_command

    def counting(self, *args, **kw):
        if threading.current_thread() is request_thread:
            calls.append(args)
        return send(self, *args, **kw)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    bob = TestApp(app.app)
    redis_server.pause()
    try:
        for _ in range(10):
            bob.get("/login", params={"user": "bob"})
            bob.get("/logout")  # a revocation queued for a Redis that does not answer
            assert seen(app, cookie) == "alice"
    finally:
        redis_server.resume()
    assert calls == []
