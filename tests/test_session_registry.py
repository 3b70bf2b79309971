"""The session list (track_sessions) in one process, through a real Pyramid app (WebTest) and
a real redis-server: how often it writes, how it bounds a user's entries and its times, and when
entries leave."""

import logging
import threading
import time

import pytest
import redis
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory
from pyramid_nacl_session.session_registry import MAX_SESSIONS, MIN_INTERVAL

from .helpers import SECRET, eventually, session_app, set_cookie_value

ABSOLUTE = 3600
KEY = "pyramid_nacl_session:sessions:alice"


@pytest.fixture
def clock(monkeypatch):
    """``time.time`` under the test's hand: starts at the real time and moves only when told."""
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


@pytest.fixture
def tracked(redis_server):
    """``(app, factory, client)``: an app with track_sessions on, whose /login regenerates."""
    factory = EncryptedCookieSessionFactory(
        SECRET,
        serializer="json",
        reissue_time=0,
        absolute_timeout=ABSOLUTE,
        revocation_url=redis_server.url,
        revocation_user="user",
        track_sessions=True,
        track_sessions_label="User-Agent",
    )

    def add_routes(config):
        def login(request):
            request.session.regenerate()
            # A JSON body, as a client sends it: json.loads turns "\ud800" into a lone surrogate.
            request.session["user"] = request.json_body["user"]
            return {"id": request.session.session_id}

        config.add_route("login", "/login")
        config.add_view(login, route_name="login", renderer="json")

    yield session_app(factory, add_routes), factory, redis.Redis.from_url(redis_server.url)
    factory.revocation.close()


def log_in(app, user="alice"):
    browser = TestApp(app.app)
    return browser, browser.post_json("/login", {"user": user}).json["id"]


def test_a_session_is_written_once_per_window_whatever_the_requests(tracked, clock):
    app, factory, _ = tracked
    store = factory.revocation
    # The start of a window, three windows back: the core bounds a cookie's times by its own
    # clock (the real one), so the test's clock stays behind it.
    clock[0] = (clock[0] // MIN_INTERVAL - 3) * MIN_INTERVAL
    browser, _ = log_in(app)
    for _ in range(MIN_INTERVAL - 5):
        clock[0] += 1
        # reissue_time = 0: every one of these requests writes the cookie again.
        assert set_cookie_value(browser.get("/show")) is not None
    assert store.registry.flush()
    assert store.registry.writes == 1  # the login only
    clock[0] += MIN_INTERVAL
    for _ in range(MIN_INTERVAL - 5):
        browser.get("/show")
    assert store.registry.flush()
    assert store.registry.writes == 2
    (info,) = store.sessions("alice")
    assert info.created <= info.last_seen <= time.time()


def test_a_user_keeps_at_most_max_sessions_and_the_least_recently_seen_go(tracked):
    app, factory, client = tracked
    ids = [log_in(app)[1] for _ in range(MAX_SESSIONS + 50)]
    listed = factory.revocation.sessions("alice")
    assert len(listed) == MAX_SESSIONS
    assert {info.session_id for info in listed} == set(ids[50:])
    assert client.zcard(KEY) == client.hlen("pyramid_nacl_session:session-info:alice")
    assert client.zcard(KEY) == MAX_SESSIONS


def test_an_entry_whose_deadline_passed_on_redis_clock_is_neither_listed_nor_kept(tracked):
    app, factory, client = tracked
    _, old = log_in(app)
    _, kept = log_in(app)
    factory.revocation.registry.flush()
    seconds, _ = client.time()
    client.zadd(KEY, {old: seconds - 1})
    assert [info.session_id for info in factory.revocation.sessions("alice")] == [kept]
    assert client.zrange(KEY, 0, -1) == [kept.encode()]
    assert client.hkeys("pyramid_nacl_session:session-info:alice") == [kept.encode()]


def test_times_from_the_cookie_are_bounded_by_now_and_the_deadline_by_absolute_timeout(
    tracked, clock
):
    app, factory, client = tracked
    real = clock[0]
    clock[0] = real + 10_000  # a host far ahead (or a forged cookie): created in the future
    log_in(app)
    clock[0] = real
    (info,) = factory.revocation.sessions("alice")
    assert info.created <= time.time() and info.last_seen <= time.time()
    client.delete(KEY)
    clock[0] = real - (ABSOLUTE - 30)  # a session created long ago, still alive
    browser, sid = log_in(app)
    clock[0] = real
    browser.get("/show")  # a later window: written again
    factory.revocation.registry.flush()
    assert client.zscore(KEY, sid) <= real - (ABSOLUTE - 30) + ABSOLUTE


def test_logout_and_log_out_everywhere_take_sessions_off_the_list_at_once(tracked):
    app, factory, _ = tracked
    store = factory.revocation
    laptop, laptop_id = log_in(app)
    phone, phone_id = log_in(app)
    log_in(app, "bob")
    assert {info.session_id for info in store.sessions("alice")} == {laptop_id, phone_id}
    laptop.get("/logout")
    assert [info.session_id for info in store.sessions("alice")] == [phone_id]
    store.revoke_user("alice")
    assert store.sessions("alice") == []
    assert len(store.sessions("bob")) == 1


def test_the_label_is_the_header_cut_to_a_bounded_length(tracked):
    app, factory, _ = tracked
    TestApp(app.app).post_json("/login", {"user": "alice"}, headers={"User-Agent": "x" * 5000})
    (info,) = factory.revocation.sessions("alice")
    assert info.label == "x" * 200


def test_a_user_name_redis_cannot_take_is_not_listed_and_jams_no_other_entry(tracked):
    app, factory, _ = tracked
    log_in(app, "x" * 1500)  # longer than a revocation may name (1024 bytes)
    log_in(app, "\ud800")  # not UTF-8 (a lone surrogate, as json.loads can give)
    _, sid = log_in(app)
    assert [info.session_id for info in factory.revocation.sessions("alice")] == [sid]
    assert factory.revocation.registry.writes == 1


def test_entries_wait_while_redis_is_away_and_arrive_once_it_is_back(tracked, redis_server):
    app, factory, _ = tracked
    redis_server.stop()
    _, sid = log_in(app)
    assert not factory.revocation.registry.flush(timeout=0.5)
    redis_server.start()
    assert factory.revocation.registry.flush()
    assert [info.session_id for info in factory.revocation.sessions("alice")] == [sid]


def test_a_fault_is_logged_with_its_cause_and_where(tracked, redis_server, caplog):
    app, factory, _ = tracked
    redis_server.stop()
    with caplog.at_level(logging.ERROR, "pyramid_nacl_session.session_registry"):
        log_in(app)
        assert eventually(lambda: "session registry: " in caplog.text)
    assert f"Redis at 127.0.0.1:{redis_server.port} is unreachable" in caplog.text


def test_flush_is_not_true_between_the_writer_taking_the_entries_and_writing_them(tracked):
    app, factory, _ = tracked
    registry = factory.revocation.registry
    log_in(app)
    assert registry.flush()
    said = []

    class Pending(dict):
        """The registry's queue, asking flush() whenever the writer measures it: the entries
        are being taken, and are not yet in Redis."""

        asking = False

        def __len__(self):
            size = dict.__len__(self)
            writer = threading.current_thread().name == "session-registry-write"
            if writer and size and not Pending.asking:
                Pending.asking = True
                try:
                    said.append(registry.flush(timeout=0))
                finally:
                    Pending.asking = False
            return size

    registry._pending = Pending()
    log_in(app, "bob")
    assert registry.flush()
    assert said and not any(said), said
    assert len(factory.revocation.sessions("bob")) == 1


def test_a_label_callable_that_raises_costs_the_label_not_the_response(redis_server, caplog):
    def labeler(request):
        raise RuntimeError("the app's bug")

    factory = EncryptedCookieSessionFactory(
        SECRET,
        serializer="json",
        absolute_timeout=ABSOLUTE,
        revocation_url=redis_server.url,
        revocation_user="user",
        track_sessions=True,
        track_sessions_label=labeler,
    )
    try:
        browser = session_app(factory)
        browser.get("/put", params={"user": "alice"})
        (info,) = factory.revocation.sessions("alice")
        assert info.label is None
        assert "track_sessions_label raised" in caplog.text
    finally:
        factory.revocation.close()
