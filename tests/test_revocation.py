"""Session revocation (revocation_url): the native set, the settings, and real Pyramid apps
(WebTest) against a real redis-server, including its faults."""

import json
import logging
import subprocess
import sys
import time

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer
from pyramid_nacl_session import session_factory_from_settings as from_settings
from pyramid_nacl_session._core import RevocationSet, new_session_id
from pyramid_nacl_session._core._testing import is_revoked

from .helpers import SECRET, clock_passes, eventually, free_port, redis_now, require_examples
from .redis_server import RedisServer
from .revocation_apps import (
    MAX_AGE,
    as_thief,
    cookie_of,
    run_cli,
    sid_of,
    user_seen,
    write_ini,
)

# -- the native set ---------------------------------------------------------------------------


def test_a_revoked_session_id_is_revoked_and_others_are_not():
    revoked = RevocationSet(MAX_AGE)
    sid, other = new_session_id(), new_session_id()
    assert revoked.revoke_session(sid, time.time())
    assert is_revoked(revoked, sid, None, time.time())
    assert not is_revoked(revoked, other, None, time.time())
    assert not is_revoked(revoked, None, None, time.time())


def test_session_ids_are_22_characters_of_urlsafe_base64_and_differ():
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 22 and set(i) <= set(_B64) for i in ids)


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_an_id_we_could_not_have_made_is_refused_when_revoking_and_never_revoked_when_read():
    revoked = RevocationSet(MAX_AGE)
    with pytest.raises(ValueError):
        revoked.revoke_session("not an id", time.time())
    assert not is_revoked(revoked, "not an id", None, time.time())
    assert not is_revoked(revoked, 12345, None, time.time())


def test_a_user_cutoff_revokes_that_users_sessions_created_before_it_only():
    revoked = RevocationSet(MAX_AGE)
    cutoff = time.time()
    revoked.revoke_user("alice", cutoff)
    assert is_revoked(revoked, None, "alice", cutoff - 0.001)
    assert not is_revoked(revoked, None, "alice", cutoff + 0.001)
    assert not is_revoked(revoked, None, "bob", cutoff - 0.001)
    revoked.revoke_user(42, cutoff)  # not a str: its str()
    assert is_revoked(revoked, None, "42", cutoff - 1)


def test_the_latest_user_cutoff_wins():
    revoked = RevocationSet(MAX_AGE)
    revoked.revoke_user("alice", 2000.0)
    revoked.revoke_user("alice", 1000.0)
    assert is_revoked(revoked, None, "alice", 1500.0)


def test_a_cutoff_for_everyone_revokes_every_session_created_before_it():
    revoked = RevocationSet(MAX_AGE)
    revoked.revoke_before(1000.0)
    revoked.revoke_before(500.0)  # an earlier one changes nothing
    assert revoked.before == 1000.0
    assert is_revoked(revoked, None, None, 999.0)
    assert not is_revoked(revoked, None, None, 1001.0)


def test_sweep_drops_entries_older_than_max_age_and_keeps_the_rest():
    revoked = RevocationSet(100)
    old, young = new_session_id(), new_session_id()
    revoked.revoke_session(old, 1000.0)
    revoked.revoke_session(young, 1200.0)
    revoked.revoke_user("alice", 1000.0)
    revoked.revoke_before(1000.0)
    assert revoked.sweep(1150.0) == 2
    assert not is_revoked(revoked, old, None, 1150.0)
    assert is_revoked(revoked, young, None, 1150.0)
    assert revoked.user_count == 0 and revoked.session_count == 1
    assert revoked.before == 0.0


def test_a_million_revoked_sessions_take_at_most_23_bytes_each_well_under_the_40_budget():
    revoked = RevocationSet(MAX_AGE)
    now = time.time()
    for _ in range(1_000_000):
        revoked.revoke_session(new_session_id(), now)
    assert revoked.session_count == 1_000_000
    assert revoked.nbytes <= 23 * 1_000_000


# -- settings ---------------------------------------------------------------------------------


def test_importing_the_package_with_revocation_off_imports_neither_revocation_nor_redis():
    code = (
        "import sys, pyramid_nacl_session as p\n"
        "p.EncryptedCookieSessionFactory(bytes(32))\n"
        "p.session_factory_from_settings({'session.secret': '00' * 32})\n"
        "print(sorted(m for m in sys.modules if m == 'redis' or m.endswith('.revocation')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_revocation_without_absolute_timeout_fails_naming_the_setting():
    with pytest.raises(ValueError, match="^absolute_timeout: required when revocation_url"):
        EncryptedCookieSessionFactory(SECRET, revocation_url="redis://127.0.0.1:1")
    with pytest.raises(ValueError, match="^session.absolute_timeout: "):
        from_settings({"session.secret": "00" * 32, "session.revocation_url": "redis://x"})


@pytest.mark.parametrize(
    "setting, value",
    [
        ("revocation_url", "http://example.com/"),
        ("revocation_policy", "maybe"),
        ("revocation_resync", "0"),
        ("revocation_stale_after", "0"),
        ("revocation_user", "no.such.module:getter"),
    ],
)
def test_a_bad_revocation_setting_fails_at_start_up_naming_it(setting, value):
    settings = {
        "session.secret": "00" * 32,
        "session.absolute_timeout": "3600",
        "session.revocation_url": "redis://127.0.0.1:1/0",
        f"session.{setting}": value,
    }
    with pytest.raises(ValueError, match=f"^session.{setting}: "):
        from_settings(settings)


def test_revocation_options_without_revocation_url_fail_naming_them():
    with pytest.raises(ValueError, match="^revocation_user: needs revocation_url"):
        EncryptedCookieSessionFactory(SECRET, revocation_user="user")


def test_the_redis_password_never_appears_in_errors_or_reprs():
    with pytest.raises(ValueError) as info:
        EncryptedCookieSessionFactory(
            SECRET, absolute_timeout=60, revocation_url="redis://:hunter2@host:notaport/0"
        )
    assert "hunter2" not in str(info.value)
    factory = EncryptedCookieSessionFactory(
        SECRET, absolute_timeout=60, revocation_url="redis://:hunter2@127.0.0.1:1/0"
    )
    assert "hunter2" not in repr(factory.revocation)


# -- real apps on a real Redis ----------------------------------------------------------------


def test_each_new_session_carries_an_id_sealed_in_the_cookie_and_hidden_from_the_app(
    redis_server, apps
):
    app, _ = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    sid = sid_of(cookie_of(app))
    assert len(sid) == 22
    assert "_sid_" not in app.get("/whoami").json["state"]
    assert sid_of(cookie_of(app)) == sid  # the same session keeps its id


def test_a_logged_out_cookie_is_refused_afterwards(redis_server, apps):
    app, _ = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    copied = cookie_of(app)
    assert user_seen(app, copied) == "alice"
    app.get("/logout")
    assert user_seen(app, copied) is None


def test_invalidate_stores_the_revocation_in_redis_scored_by_time(redis_server, apps):
    import redis

    app, factory = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    sid = sid_of(cookie_of(app))
    before = time.time()
    app.get("/logout")
    assert factory.revocation.flush()
    score = redis.Redis.from_url(redis_server.url).zscore(
        "pyramid_nacl_session:revoked", "s:" + sid
    )
    assert score is not None and before <= score <= time.time()


def test_log_out_everywhere_refuses_the_users_other_sessions_but_not_the_new_one(
    redis_server, apps
):
    app, _ = apps(redis_server.url)
    laptop = TestApp(app.app)
    laptop.get("/login", params={"user": "alice"})
    bob = TestApp(app.app)
    bob.get("/login", params={"user": "bob"})
    app.get("/login", params={"user": "alice"})
    app.get("/everywhere")
    assert laptop.get("/whoami").json["user"] is None
    assert app.get("/whoami").json["user"] == "alice"
    assert bob.get("/whoami").json["user"] == "bob"


def test_revoke_before_refuses_every_session_issued_before_the_moment(redis_server, apps):
    app, factory = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    old = cookie_of(app)
    # The cut-off is Redis's now: wait until it is after the login.
    assert clock_passes(time.time(), lambda: redis_now(redis_server.client()))
    factory.revocation.revoke_before()
    assert user_seen(app, old) is None
    fresh = TestApp(app.app)
    fresh.get("/login", params={"user": "alice"})
    assert fresh.get("/whoami").json["user"] == "alice"


def plain_cookie(user="alice", created=None):
    """A session cookie from before revocation was on (no id), as the same app wrote it."""
    now = time.time()
    created = now if created is None else created
    # Issued ten seconds ago, so the next read reissues it.
    return EncryptedSerializer(SECRET, "json").dumps((now - 10, created, {"user": user})).decode()


def test_a_session_from_before_revocation_was_on_stays_without_an_id_and_logout_revokes_every_copy(
    redis_server, apps
):
    app, _ = apps(redis_server.url)
    other, _ = apps(redis_server.url)  # another worker
    cookie = plain_cookie()
    app.set_cookie("session", cookie)
    assert app.get("/whoami").json["user"] == "alice"
    assert user_seen(other, cookie) == "alice"  # the stolen copy works, for now
    app.get("/logout")
    assert user_seen(app, cookie) is None
    assert eventually(lambda: user_seen(other, cookie) is None)
    # A session issued afterwards is untouched.
    fresh, _ = apps(redis_server.url)
    fresh.get("/login", params={"user": "alice"})
    assert user_seen(other, cookie_of(fresh)) == "alice"


def test_a_copy_of_an_id_less_cookie_is_revoked_even_after_the_browser_rewrote_its_own(
    redis_server, apps
):
    # Every reissue keeps the creation time: the rewritten cookie and the thief's copy are one
    # session, and logging out of either ends both.
    app, _ = apps(redis_server.url)
    cookie = plain_cookie()
    browser, thief = as_thief(app, cookie), as_thief(app, cookie)
    assert browser.get("/whoami").json["user"] == "alice"  # reissued (reissue_time 0)
    rewritten = browser.cookies["session"]
    assert rewritten != cookie and "_sid_" not in json.dumps(
        EncryptedSerializer(SECRET, "json").loads(rewritten.strip('"'))
    )
    browser.get("/logout")
    assert thief.get("/whoami").json["user"] is None


def test_a_revocation_made_in_another_process_is_refused_here(redis_server, apps):
    app, _ = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    cookie = cookie_of(app)
    assert user_seen(app, cookie) == "alice"  # this process now follows Redis
    code = (
        "import sys\n"
        "from pyramid_nacl_session.revocation import RevocationStore\n"
        "store = RevocationStore(sys.argv[1], 3600)\n"
        "store.revoke_session(sys.argv[2])\n"
        "assert store.flush()\n"
        "store.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, redis_server.url, sid_of(cookie)], check=True)
    assert eventually(lambda: user_seen(app, cookie) is None), "not refused"


def test_a_worker_started_later_loads_the_revocations_already_in_redis(redis_server, apps):
    first, _ = apps(redis_server.url)
    first.get("/login", params={"user": "alice"})
    cookie = cookie_of(first)
    first.get("/logout")
    assert eventually(lambda: _in_redis(redis_server.url, sid_of(cookie)))
    later, _ = apps(redis_server.url)
    assert user_seen(later, cookie) is None


def _in_redis(url, sid):
    import redis

    return redis.Redis.from_url(url).zscore("pyramid_nacl_session:revoked", "s:" + sid) is not None


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.redis  # starts its own redis-server
def test_redis_down_at_start_up_under_serve_keeps_serving_and_logs_an_error(tmp_path, apps, caplog):
    server = RedisServer(tmp_path)  # not started
    app, _ = apps(server.url, revocation_policy="serve")
    with caplog.at_level(logging.ERROR, "pyramid_nacl_session.revocation"):
        app.get("/login", params={"user": "alice"})
        assert app.get("/whoami").json["user"] == "alice"
    where = f"127.0.0.1:{server.port}"
    assert any(f"Redis at {where} is unreachable" in r.getMessage() for r in caplog.records)
    assert server.url.split("//")[1] not in caplog.text


@pytest.mark.redis  # starts its own redis-server
def test_redis_down_at_start_up_under_refuse_refuses_existing_sessions_until_it_is_back(
    tmp_path, apps
):
    server = RedisServer(tmp_path)
    app, _ = apps(server.url, revocation_policy="refuse", revocation_stale_after=1)
    app.get("/login", params={"user": "alice"})  # a new session needs no check
    cookie = cookie_of(app)
    assert user_seen(app, cookie) is None
    server.start()
    try:
        assert eventually(lambda: user_seen(app, cookie) == "alice")
    finally:
        server.stop()


def test_a_revocation_made_while_redis_is_down_holds_here_and_reaches_redis_when_back(
    redis_server, apps
):
    app, factory = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    cookie = cookie_of(app)
    redis_server.stop()
    app.get("/logout")
    assert user_seen(app, cookie) is None
    redis_server.start()  # same port, no persistence: empty
    assert factory.revocation.flush(timeout=5)
    assert _in_redis(redis_server.url, sid_of(cookie))


def test_redis_lost_mid_run_under_serve_keeps_what_was_revoked(redis_server, apps):
    app, factory = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    revoked = cookie_of(app)
    app.get("/logout")
    app.get("/login", params={"user": "bob"})
    live = cookie_of(app)
    redis_server.stop()
    # Once the store has found Redis gone (a failed resync; nothing public shows it).
    assert eventually(lambda: factory.revocation._failing_since is not None)
    assert user_seen(app, revoked) is None
    assert user_seen(app, live) == "bob"


def test_redis_lost_mid_run_under_refuse_refuses_once_stale(redis_server, apps):
    app, _ = apps(redis_server.url, revocation_policy="refuse", revocation_stale_after=1)
    app.get("/login", params={"user": "bob"})
    live = cookie_of(app)
    assert user_seen(app, live) == "bob"
    redis_server.stop()
    assert eventually(lambda: user_seen(app, live) is None)
    redis_server.start()
    assert eventually(lambda: user_seen(app, live) == "bob")


@pytest.mark.redis  # starts its own redis-server
def test_redis_restarted_with_persistence_keeps_revoked_sessions_revoked_for_new_workers(
    tmp_path, apps
):
    server = RedisServer(tmp_path, persist=True).start()
    try:
        app, factory = apps(server.url)
        app.get("/login", params={"user": "alice"})
        cookie = cookie_of(app)
        app.get("/logout")
        assert factory.revocation.flush()
        server.restart()
        later, _ = apps(server.url)
        assert user_seen(later, cookie) is None
        assert user_seen(app, cookie) is None
    finally:
        server.stop()


def test_redis_restarted_without_persistence_running_workers_keep_their_copy(redis_server, apps):
    # What the docs say: the running workers keep refusing; a worker started after the loss
    # does not know of the revocation (until the session's absolute_timeout ends it).
    app, factory = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    cookie = cookie_of(app)
    app.get("/logout")
    assert factory.revocation.flush()
    synced = factory.revocation._last_sync
    redis_server.restart()
    # The worker reconnects and resyncs against the empty set (nothing public shows a resync).
    assert eventually(lambda: factory.revocation._last_sync != synced)
    assert user_seen(app, cookie) is None
    later, _ = apps(redis_server.url)
    assert user_seen(later, cookie) == "alice"


def test_the_cookie_with_an_id_still_opens_as_a_plain_session_after_a_rollback(redis_server, apps):
    # A rollback to revocation off (or to 1.0.0, which reads the same state): the id is an
    # ordinary str key.
    app, _ = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    accessed, created, state = EncryptedSerializer(SECRET, "json").loads(cookie_of(app))
    assert state["user"] == "alice" and isinstance(state["_sid_"], str)
    json.dumps(state)


def test_a_forked_worker_starts_its_own_threads_and_follows_redis(redis_server, apps):
    # gunicorn --preload forks after the app is made; here the parent has even served first.
    import os

    app, factory = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    cookie = cookie_of(app)
    assert user_seen(app, cookie) == "alice"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        try:
            ok = not factory.revocation.running and user_seen(app, cookie) == "alice"
            ok = ok and factory.revocation.running
            os.write(write, b"1" if ok else b"0")
            ok = ok and eventually(lambda: user_seen(app, cookie) is None)
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    assert os.read(read, 1) == b"1"  # the child checked the session with its own threads
    factory.revocation.revoke_session(sid_of(cookie))  # revoked in the parent
    assert os.read(read, 1) == b"1"  # and the child learned it through Redis
    os.waitpid(pid, 0)


# -- the command line -------------------------------------------------------------------------


def test_cli_revoke_needs_an_app_with_revocation_url(tmp_path, capsys):
    require_examples()
    ini = write_ini(tmp_path, absolute_timeout=60)
    assert run_cli("revoke", "--ini", ini, "before") == 2
    assert "session.revocation_url" in capsys.readouterr().err


def test_cli_revoke_session_refuses_what_is_not_a_session_id(tmp_path, capsys):
    require_examples()
    ini = write_ini(tmp_path, absolute_timeout=60, revocation_url="redis://127.0.0.1:1/0")
    assert run_cli("revoke", "--ini", ini, "session", "short") == 2
    assert "22 characters" in capsys.readouterr().err


def test_cli_revoke_says_redis_did_not_take_it_without_echoing_the_url(tmp_path, capsys):
    require_examples()
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    ini = write_ini(tmp_path, absolute_timeout=60, revocation_url=url, revocation_user="user")
    assert run_cli("revoke", "--ini", ini, "user", "alice") == 1
    err = capsys.readouterr().err
    assert "Redis did not take the revocation" in err and "hunter2" not in err


def test_cli_revoke_session_reaches_a_running_app(redis_server, apps, tmp_path):
    require_examples()
    app, _ = apps(redis_server.url)
    app.get("/login", params={"user": "alice"})
    cookie = cookie_of(app)
    assert user_seen(app, cookie) == "alice"
    ini = write_ini(tmp_path, absolute_timeout=MAX_AGE, revocation_url=redis_server.url)
    # A session id may start with '-': the command line must still take it as the value.
    assert run_cli("revoke", "--ini", ini, "session", sid_of(cookie)) == 0
    assert eventually(lambda: user_seen(app, cookie) is None)


def test_cli_revoke_before_takes_an_iso_time(redis_server, tmp_path):
    import redis

    require_examples()
    ini = write_ini(tmp_path, absolute_timeout=MAX_AGE, revocation_url=redis_server.url)
    when = time.time() - 60
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(when))
    assert run_cli("revoke", "--ini", ini, "before", iso) == 0
    score = redis.Redis.from_url(redis_server.url).zscore("pyramid_nacl_session:revoked", "b:")
    assert abs(score - int(when)) < 1


def test_cli_revoke_takes_a_session_id_that_starts_with_a_dash(tmp_path, capsys):
    require_examples()
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: the id got through argparse
    ini = write_ini(tmp_path, absolute_timeout=60, revocation_url=url)
    assert run_cli("revoke", "--ini", ini, "session", "-" + "A" * 21) == 1
    assert "Redis did not take the revocation" in capsys.readouterr().err


def test_a_callable_can_name_the_user_for_log_out_everywhere(redis_server):
    factory2 = EncryptedCookieSessionFactory(
        SECRET,
        serializer="json",
        absolute_timeout=MAX_AGE,
        revocation_url=redis_server.url,
        revocation_user=lambda state: state.get("user", "").lower() or None,
    )
    try:
        config = Configurator()
        config.set_session_factory(factory2)
        config.add_route("login", "/login")
        config.add_route("whoami", "/whoami")
        config.add_view(
            lambda r: r.session.update(user=r.params["user"]) or {},
            route_name="login",
            renderer="json",
        )
        config.add_view(
            lambda r: {"user": r.session.get("user")}, route_name="whoami", renderer="json"
        )
        laptop = TestApp(config.make_wsgi_app())
        laptop.get("/login", params={"user": "Alice"})
        assert laptop.get("/whoami").json["user"] == "Alice"
        factory2.revocation.revoke_user("alice")
        assert laptop.get("/whoami").json["user"] is None
    finally:
        factory2.revocation.close()


def test_a_session_id_that_is_not_a_str_is_dropped_and_the_session_named_by_its_creation(
    redis_server, apps
):
    app, _ = apps(redis_server.url)
    forged = (
        EncryptedSerializer(SECRET, "json")
        .dumps((time.time() - 10, time.time(), {"user": "alice", "_sid_": 12345}))
        .decode()
    )
    browser = as_thief(app, forged)
    assert browser.get("/whoami").json["user"] == "alice"
    rewritten = EncryptedSerializer(SECRET, "json").loads(browser.cookies["session"].strip('"'))
    assert "_sid_" not in rewritten[2]
    browser.get("/logout")
    assert user_seen(app, forged) is None


def test_a_worker_loads_a_set_larger_than_one_page_from_redis(redis_server, apps, monkeypatch):
    import redis

    from pyramid_nacl_session import revocation

    monkeypatch.setattr(revocation, "SYNC_PAGE", 7)
    client = redis.Redis.from_url(redis_server.url)
    now = time.time()
    ids = [new_session_id() for _ in range(50)]
    # Some share a score, as revocations in one batch may.
    client.zadd(
        "pyramid_nacl_session:revoked", {"s:" + sid: now - (i // 10) for i, sid in enumerate(ids)}
    )
    _, factory = apps(redis_server.url)
    factory.revocation.start()
    assert factory.revocation.set.session_count == 50
    assert all(is_revoked(factory.revocation.set, sid, None, now) for sid in ids)
