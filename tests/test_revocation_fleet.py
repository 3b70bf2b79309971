"""Revocation in a real fleet: hosts whose clocks disagree (libfaketime fakes one process's
clock, Rust's included), a Redis that refuses writes for a while (out of memory, read-only,
short of replicas, a replica without its primary), a Sentinel failover during a burst of
revocations, faults named by cause and place, and an install without redis-py. Real redis-server
processes throughout; real pserve processes where crossing processes matters."""

import collections
import glob
import logging
import os
import subprocess
import sys
import threading

import pytest
import redis
import redis.backoff
import redis.retry
from webtest import TestApp

from pyramid_nacl_session import EncryptedSerializer
from pyramid_nacl_session._core import CLOCK_SKEW, SESSION_ID_KEY

from .fleet import KEY as SESSION_KEY
from .fleet import (
    log_in,
    request,
    session_cookie,
    starter,
    stop_all,
    user_on,
)
from .helpers import ROOT, eventually, free_port
from .redis_server import RedisServer, SentinelSet
from .revocation_apps import cookie_of, run_cli, sid_of, user_seen, write_ini

#: How long flush() may wait for Redis: a guard against a hang, not a speed bound.
PATIENCE = 30

pytestmark = pytest.mark.redis

KEY = "pyramid_nacl_session:revoked"
CHANNEL = "pyramid_nacl_session:events"
YEAR_2100 = 4102444800.0

LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))), None)


def faked_clock(offset):
    """The environment that runs a process with its wall clock ``offset`` away (libfaketime,
    e.g. "+2h"; Python's and Rust's clocks alike). Skips when Debian's faketime is absent,
    unless CI_REQUIRE_FAKETIME=1 (CI sets it)."""
    if LIBFAKETIME is None:
        if os.environ.get("CI_REQUIRE_FAKETIME") == "1":
            pytest.fail("CI_REQUIRE_FAKETIME=1 but libfaketime is not installed")
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    return {
        "LD_PRELOAD": LIBFAKETIME,
        "FAKETIME": offset,
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def member(cookie):
    """The member that revokes the session of ``cookie`` (sealed with the fleet's key)."""
    state = EncryptedSerializer(SESSION_KEY, "json").loads(cookie)[2]
    return b"s:" + state[SESSION_ID_KEY].encode()


def redis_now(client):
    seconds, micros = client.time()
    return seconds + micros / 1e6


# -- one host with a fast clock ---------------------------------------------------------------


def test_a_worker_and_an_operator_two_hours_ahead_erase_no_revocation(fleet, tmp_path):
    server, start = fleet
    client = redis.Redis.from_url(server.url)
    a = start("a")  # absolute_timeout 3600: under the two hours
    alice = log_in(a, "alice")
    assert request(a, "/logout", alice)[2] == ""
    assert eventually(lambda: client.zcard(KEY) == 1)
    # A worker two hours ahead logs a user out (its own cookie, read by its own clock) ...
    fast = start("fast", env=faked_clock("+2h"))
    bob = log_in(fast, "bob")
    assert request(fast, "/logout", bob)[2] == ""
    assert eventually(lambda: client.zcard(KEY) >= 2)
    # ... and so does an operator's laptop two hours ahead, with the command line.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(ROOT), **faked_clock("+2h"))
    cli = [sys.executable, "-m", "pyramid_nacl_session", "revoke", "--ini", "a.ini"]
    done = subprocess.run(
        [*cli, "user", "mallory"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    # A cut-off that is in the past by the laptop's clock but an hour ahead of Redis's: refused
    # by Redis's clock, with nothing written.
    ahead = str(redis_now(client) + 3600)
    done = subprocess.run(
        [*cli, "before", ahead], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "after now by Redis's clock" in done.stderr, done.stderr
    members = dict(client.zrange(KEY, 0, -1, withscores=True))
    assert sorted(members) == sorted([member(alice), member(bob), b"u:mallory"])
    # Every entry is dated by Redis's clock: none ahead of it, so none outlives its trim.
    assert max(members.values()) <= redis_now(client) + CLOCK_SKEW
    # A worker started afterwards still refuses the session logged out first.
    late = start("late")
    assert user_on(late, alice) is None
    assert user_on(late, log_in(a, "carol")) == "carol"


def test_a_future_entry_in_redis_is_healed_once_and_fools_no_worker_started_later(
    redis_server, apps, caplog
):
    client = redis.Redis.from_url(redis_server.url)
    old, _ = apps(redis_server.url)
    old.get("/login", params={"user": "alice"})
    alice = cookie_of(old)
    # A cut-off in 2100 (a host whose clock ran far ahead, or a hand-written score).
    client.zadd(KEY, {"b:": YEAR_2100})
    caplog.set_level(logging.WARNING, "pyramid_nacl_session.revocation")
    first, factory = apps(redis_server.url)
    factory.revocation.start()  # its first sync heals the entry in Redis
    assert client.zscore(KEY, "b:") <= redis_now(client) + CLOCK_SKEW
    assert user_seen(first, alice) is None  # made before it was seen: reset
    first.get("/login", params={"user": "carol"})
    carol = cookie_of(first)
    later, factory = apps(redis_server.url)
    factory.revocation.start()
    assert user_seen(later, carol) == "carol"  # not logged out by a worker's own start
    assert user_seen(later, alice) is None
    # A genuine cut-off later on still moves it forward.
    factory.revocation.revoke_before()
    assert factory.revocation.flush()
    assert user_seen(later, carol) is None
    healed = [r for r in caplog.records if "healed" in r.getMessage()]
    assert len(healed) == 1 and "healed 1 entries" in healed[0].getMessage()


def test_the_cap_on_future_entries_is_per_resync_not_for_the_life_of_the_worker(
    redis_server, apps, monkeypatch
):
    from pyramid_nacl_session import revocation

    monkeypatch.setattr(revocation, "MAX_FUTURE", 2)
    client = redis.Redis.from_url(redis_server.url)
    app, factory = apps(redis_server.url)
    store = factory.revocation
    store.start()
    app.get("/login", params={"user": "alice"})
    alice = cookie_of(app)
    for sid in ("A" * 22, "B" * 22):  # fill this window's cap
        client.publish(CHANNEL, f"{YEAR_2100!r} s:{sid}")
    resynced = store._last_sync
    assert eventually(lambda: store._last_sync != resynced)
    client.publish(CHANNEL, f"{YEAR_2100!r} s:{sid_of(alice)}")
    assert eventually(lambda: user_seen(app, alice) is None)


# -- refusals that pass are retried, and flush() says so --------------------------------------


def _replica_of_nothing(stale):
    return (
        [("CONFIG", "SET", "replica-serve-stale-data", stale)]
        + [("REPLICAOF", "127.0.0.1", str(free_port()))],
        [("REPLICAOF", "NO", "ONE"), ("CONFIG", "SET", "replica-serve-stale-data", "yes")],
    )


def _failing_save(server, client):
    """Snapshots on, and one that fails (its file's name taken by a directory): Redis then
    refuses writes until saving is off or succeeds (``stop-writes-on-bgsave-error``)."""
    (server.directory / "dump.rdb").mkdir()
    client.config_set("save", "3600 1")
    client.bgsave()
    status = lambda: client.info("persistence")["rdb_last_bgsave_status"]  # noqa: E731
    assert eventually(lambda: status() == "err")


FAULTS = {
    "out of memory (OOM)": (
        [("CONFIG", "SET", "maxmemory", "1")],
        [("CONFIG", "SET", "maxmemory", "0")],
    ),
    "short of replicas (min-replicas-to-write) (NOREPLICAS)": (
        [("CONFIG", "SET", "min-replicas-to-write", "1")],
        [("CONFIG", "SET", "min-replicas-to-write", "0")],
    ),
    "read-only (a replica, or a primary being demoted) (READONLY)": _replica_of_nothing("yes"),
    "a replica that lost its primary (MASTERDOWN)": _replica_of_nothing("no"),
    "refusing writes after a failed save (MISCONF)": (
        [_failing_save],
        [("CONFIG", "SET", "save", "")],
    ),
}


def _run(step, server, client):
    """One step of a fault: a Redis command, or a function of the server and a client."""
    if callable(step):
        step(server, client)
    else:
        client.execute_command(*step)


@pytest.mark.parametrize("cause", FAULTS)
def test_a_write_redis_refuses_for_a_while_is_retried_and_flush_says_so(
    redis_server, apps, caplog, cause
):
    on, off = FAULTS[cause]
    client = redis.Redis.from_url(redis_server.url)
    app, factory = apps(redis_server.url)
    store = factory.revocation
    app.get("/login", params={"user": "alice"})
    sid = sid_of(cookie_of(app))
    caplog.set_level(logging.ERROR, "pyramid_nacl_session.revocation")
    for step in on:
        _run(step, redis_server, client)
    try:
        app.get("/logout")
        assert store.flush(timeout=1.5) is False  # not in Redis: not "flushed"
    finally:
        for step in off:
            _run(step, redis_server, client)
    assert store.flush(timeout=PATIENCE) is True
    assert client.zscore(KEY, "s:" + sid) is not None
    named = f"Redis at 127.0.0.1:{redis_server.port} is {cause}"
    assert any(named in r.getMessage() for r in caplog.records), caplog.text


def test_a_write_while_redis_loads_its_data_is_retried_and_flush_says_so(
    redis_server, apps, caplog
):
    client = redis_server.client()
    # Data that takes Redis seconds to read back after a restart (a millisecond a key).
    client.eval("for i = 1, 5000 do redis.call('SET', 'filler:' .. i, 'x') end", 0)
    client.save()
    redis_server.stop()
    redis_server.args += [
        "--key-load-delay",
        "1000",
        "--loading-process-events-interval-bytes",
        "1024",
    ]
    redis_server.start(until_loaded=False)
    caplog.set_level(logging.ERROR, "pyramid_nacl_session.revocation")
    app, factory = apps(redis_server.url)
    once = redis.retry.Retry(redis.backoff.NoBackoff(), 0)  # redis-py would retry LOADING
    with pytest.raises(redis.BusyLoadingError):
        redis.Redis(port=redis_server.port, retry=once).ping()
    app.get("/login", params={"user": "alice"})  # the store's first load meets LOADING
    sid = sid_of(cookie_of(app))
    app.get("/logout")
    assert factory.revocation.flush(timeout=PATIENCE) is True
    assert client.zscore(KEY, "s:" + sid) is not None
    # The write was refused while loading (EVALSHA, or EVAL for a server without the script),
    # and retried until it went in.
    stats = client.info("commandstats")
    rejected = sum(
        stats.get(f"cmdstat_{c}", {}).get("rejected_calls", 0) for c in ("evalsha", "eval")
    )
    assert rejected >= 1
    named = f"Redis at 127.0.0.1:{redis_server.port} is loading its data (LOADING)"
    assert named in caplog.text, caplog.text


#: Redis's error replies that pass by themselves, as a server sends them; TRYAGAIN comes only
#: from a cluster, BUSY from a script that runs too long.
TRANSIENT_REPLIES = {
    "OOM command not allowed when used memory > 'maxmemory'.": "out of memory",
    "READONLY You can't write against a read only replica.": "read-only",
    "NOREPLICAS Not enough good replicas to write.": "short of replicas",
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to "
    "disk.": "a failed save",
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.": (
        "lost its primary"
    ),
    "LOADING Redis is loading the dataset in memory": "loading its data",
    "BUSY Redis is busy running a script.": "busy running a script",
    "TRYAGAIN Multiple keys request during rehashing of slot": "try again",
}


@pytest.mark.parametrize("reply", TRANSIENT_REPLIES)
def test_every_refusal_that_passes_as_redis_py_raises_it_is_retried_and_named(reply):
    # The exception redis-py makes of the reply (its own class for some, a ResponseError for
    # others, depending on its release), judged as the writer judges it.
    from pyramid_nacl_session.redis_url import describe_fault, is_transient

    try:
        from redis._parsers import BaseParser  # redis-py 5.0 on: a class method

        parse = BaseParser.parse_error
    except ImportError:
        from redis.connection import BaseParser

        parse = BaseParser().parse_error
    exc = parse(reply)
    assert is_transient(exc), type(exc)
    described = describe_fault(exc, "10.0.0.1:6380")
    assert described.startswith("Redis at 10.0.0.1:6380 is ")
    assert TRANSIENT_REPLIES[reply] in described and reply.split()[0] in described


# -- faults named by cause and place ----------------------------------------------------------


def test_a_wrong_password_is_named_as_such_with_host_and_port_not_unreachable(
    tmp_path, apps, caplog
):
    server = RedisServer(tmp_path, args=["--requirepass", "right"]).start()
    try:
        url = f"redis://:wrong@127.0.0.1:{server.port}/0"
        _, factory = apps(url)
        with caplog.at_level(logging.ERROR, "pyramid_nacl_session.revocation"):
            factory.revocation.start()  # the first load gives up
        named = f"Redis at 127.0.0.1:{server.port} refused the credentials"
        assert named in caplog.text and "unreachable" not in caplog.text
        assert "wrong" not in caplog.text
    finally:
        server.stop()


def test_the_cli_names_the_cause_and_place_of_a_fault(tmp_path, capsys):
    pytest.importorskip("session_demo")
    server = RedisServer(tmp_path, args=["--requirepass", "right"]).start()
    try:
        ini = write_ini(
            tmp_path,
            absolute_timeout=60,
            revocation_url=f"redis://:wrong@127.0.0.1:{server.port}/0",
        )
        assert run_cli("revoke", "--ini", ini, "before") == 1
        err = capsys.readouterr().err
        assert f"Redis at 127.0.0.1:{server.port} refused the credentials" in err
        assert "wrong" not in err
    finally:
        server.stop()


def test_without_redis_py_the_factory_names_the_extra_that_brings_it():
    code = (
        "import sys; sys.modules['redis'] = None\n"
        "from pyramid_nacl_session import EncryptedCookieSessionFactory\n"
        "try:\n"
        "    EncryptedCookieSessionFactory(bytes(32), revocation_url='redis://localhost/0',"
        " absolute_timeout=60)\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ModuleNotFoundError revocation_url needs redis-py")
    assert "pip install 'pyramid-nacl-session[redis]'" in out.stdout


# -- flush() under races ----------------------------------------------------------------------


def test_flush_is_not_true_between_the_writer_taking_the_last_batch_and_writing_it(
    redis_server, apps
):
    client = redis.Redis.from_url(redis_server.url)
    _, factory = apps(redis_server.url)
    store = factory.revocation
    store.start()
    said = []

    class Queue(collections.deque):
        """The store's queue, asking flush() at the moment the writer empties it: the batch
        is taken, and not yet in Redis."""

        def popleft(self):
            item = super().popleft()
            if not self:
                said.append((store.flush(timeout=0), client.zscore(KEY, "u:alice")))
            return item

    store._pending = Queue()
    store.revoke_user("alice")
    assert store.flush(timeout=PATIENCE) is True
    assert said == [(False, None)]
    assert client.zscore(KEY, "u:alice") is not None


# -- a Sentinel failover during a burst -------------------------------------------------------


@pytest.fixture
def sentinel_set(tmp_path):
    watched = SentinelSet(tmp_path)
    try:
        assert eventually(watched.ready), "the sentinel never saw the replica"
        yield watched
    finally:
        watched.stop()


@pytest.mark.slow
def test_killing_the_primary_during_a_burst_of_revocations_loses_none(tmp_path, sentinel_set):
    procs = []
    start = starter(tmp_path, sentinel_set.url, procs)
    try:
        a, b = start("a"), start("b")
        carol = log_in(a, "carol")
        sids, done = [], threading.Event()

        def burst():  # 100 logouts every 50 ms, each request back once they are queued
            while not done.wait(0.05):
                sids.extend(request(a, "/revoke-many?n=100")[1]["sids"])

        thread = threading.Thread(target=burst)
        thread.start()
        try:
            assert eventually(lambda: len(sids) >= 1000)
            old = sentinel_set.primary.port
            sentinel_set.primary.kill()
            assert eventually(lambda: sentinel_set.primary_port() != old), "no failover"
            after = len(sids)
            assert eventually(lambda: len(sids) > after)  # and one more after the promotion
        finally:
            done.set()
            thread.join(PATIENCE)
        assert request(a, "/flush?timeout=60", timeout=90)[1] == {"flushed": True}
        primary = redis.Redis(port=sentinel_set.primary_port())
        scores = []
        for i in range(0, len(sids), 10_000):
            scores += primary.zmscore(KEY, ["s:" + sid for sid in sids[i : i + 10_000]])
        assert scores.count(None) == 0, f"{scores.count(None)} of {len(sids)} lost"
        # B, running through the failover, follows the new primary: it refuses what A revoked
        # last; C, started after it, refuses them all.
        cookie = lambda sid: session_cookie({"user": "x", SESSION_ID_KEY: sid})  # noqa: E731
        assert eventually(lambda: user_on(b, cookie(sids[-1])) is None)
        c = start("c")
        sample = sids[:: max(1, len(sids) // 40)] + [sids[-1]]
        assert [sid for sid in sample if user_on(c, cookie(sid)) is not None] == []
        assert user_on(c, carol) == "carol" and user_on(b, carol) == "carol"
    finally:
        stop_all(procs)


def test_a_sentinel_url_that_names_no_service_fails_at_start_up_without_quoting_it():
    from pyramid_nacl_session import EncryptedCookieSessionFactory
    from pyramid_nacl_session.options import OptionError

    for url in (
        "redis+sentinel://:s3cret@127.0.0.1:26379/",
        "redis+sentinel://:s3cret@127.0.0.1:26379,127.0.0.1:x/service",
    ):
        with pytest.raises(OptionError) as raised:
            EncryptedCookieSessionFactory(bytes(32), revocation_url=url, absolute_timeout=60)
        assert raised.value.option == "revocation_url" and "s3cret" not in str(raised.value)


def test_an_app_reaches_redis_through_tls_with_a_ca_file(tmp_path, apps):
    ca, cert, key = (tmp_path / name for name in ("ca.pem", "cert.pem", "key.pem"))
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [
            *openssl, "-keyout", str(tmp_path / "ca.key"), "-out", str(ca), "-subj", "/CN=test CA",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [
            *openssl[:2], "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
            "-out", str(tmp_path / "req.pem"), "-subj", "/CN=localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    # What CPython 3.13's strict verification (VERIFY_X509_STRICT) asks of the certificates:
    # key usages on both, the issuer's key identifier on the server's, among the rest.
    (tmp_path / "ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    subprocess.run(
        [
            "openssl", "x509", "-req", "-in", str(tmp_path / "req.pem"), "-CA", str(ca),
            "-CAkey", str(tmp_path / "ca.key"), "-CAcreateserial", "-out", str(cert),
            "-days", "1", "-extfile", str(tmp_path / "ext"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    tls_port = free_port()
    server = RedisServer(
        tmp_path,
        args=[
            "--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file",
            str(key), "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
        ],
    ).start()  # fmt: skip
    try:
        app, factory = apps(f"rediss://localhost:{tls_port}/0?ssl_ca_certs={ca}")
        app.get("/login", params={"user": "alice"})
        sid = sid_of(cookie_of(app))
        app.get("/logout")
        assert factory.revocation.flush()
        assert redis.Redis(port=server.port).zscore(KEY, "s:" + sid) is not None
        other = TestApp(app.app)
        other.get("/login", params={"user": "bob"})
        assert other.get("/whoami").json["user"] == "bob"
    finally:
        server.stop()
