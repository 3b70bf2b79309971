"""Two pserve processes (the example app, waitress) share one redis-server: a session revoked
through one is then refused by the other, and so is a revocation from the CLI."""

import re
import subprocess
import sys
import time

import pytest

from pyramid_nacl_session import generate_secret

from .helpers import clock_passes, eventually, free_port, redis_now, require_examples
from .redis_server import RedisServer
from .servers import INI, log_in, log_out, page, serve, stop

pytest.importorskip("waitress")
require_examples()

USER = re.compile(r"<b id='user'>([^<]*)</b>")
KEY = generate_secret().decode()  # one key for every server of a test, as in a fleet


def revocation_ini(tmp_path, port, redis_url, name):
    """development.ini on a free port, with revocation on."""
    server = f"[server:main]\nuse = egg:waitress#main\nlisten = 127.0.0.1:{port}\nthreads = 4\n\n"
    text, n = re.subn(r"^\[server:main\]\n(?:(?!^\[).*\n)*", server, INI.read_text(), flags=re.M)
    assert n == 1
    # The servers and the revoke command all read KEY from the key file the .ini names
    # (session.secret_file, beside it).
    key_file = tmp_path / "demo-secret.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    extra = (
        f"session.revocation_url = {redis_url}\n"
        "session.revocation_user = user\n"
        "session.revocation_resync = 1\n\n[server:main]"
    )
    text = text.replace("\n[server:main]", "\n" + extra, 1)
    path = tmp_path / f"{name}.ini"
    path.write_text(text)
    return path


def user_on(port, cookie):
    status, text, _ = page(port, "/", cookie)
    assert status == 200
    match = USER.search(text)
    return match.group(1) if match else None


def refused_eventually(port, cookie):
    """Whether the server at ``port`` comes to refuse ``cookie``."""
    return eventually(lambda: user_on(port, cookie) is None)


@pytest.fixture
def fleet(tmp_path):
    """One redis-server and two pserve processes on it; yields (redis, port_a, port_b, ini_a)."""
    redis = RedisServer(tmp_path).start()
    procs = []
    try:
        ports, inis = [], []
        for name in ("a", "b"):
            port = free_port()
            ini = revocation_ini(tmp_path, port, redis.url, name)
            directory = tmp_path / name
            directory.mkdir()
            procs.append(
                serve([sys.executable, "-m", "pyramid.scripts.pserve", str(ini)], port, directory)
            )
            ports.append(port)
            inis.append(ini)
        yield redis, ports[0], ports[1], inis[0]
    finally:
        for proc, log in procs:
            stop(proc, log)
        redis.stop()


def test_a_session_logged_out_on_one_pserve_is_refused_by_the_other(fleet):
    _, a, b, _ = fleet
    cookie = log_in(a, "alice")
    assert user_on(b, cookie) == "alice"
    assert log_out(a, cookie)[0] == 303
    assert user_on(a, cookie) is None
    assert refused_eventually(b, cookie), "the other server still accepts the logged-out session"


def test_log_out_everywhere_from_the_cli_is_refused_by_both_servers(fleet):
    _, a, b, ini = fleet
    alice_a, alice_b, bob = log_in(a, "alice"), log_in(b, "alice"), log_in(b, "bob")
    assert user_on(a, alice_b) == "alice" and user_on(b, alice_a) == "alice"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyramid_nacl_session",
            "revoke",
            "--ini",
            str(ini),
            "user",
            "alice",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert refused_eventually(a, alice_b)
    assert refused_eventually(b, alice_a)
    assert user_on(a, bob) == "bob"


def test_revoke_before_from_the_cli_refuses_every_earlier_session_on_both_servers(fleet):
    redis, a, b, ini = fleet
    first = log_in(a, "alice")
    # The cut-off is Redis's now: wait until it is after the login.
    assert clock_passes(time.time(), lambda: redis_now(redis.client()))
    done = subprocess.run(
        [sys.executable, "-m", "pyramid_nacl_session", "revoke", "--ini", str(ini), "before"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert refused_eventually(b, first)
    later = log_in(b, "carol")
    assert user_on(a, later) == "carol"


def test_a_cut_off_in_the_future_from_the_cli_is_refused_and_locks_no_one_out(fleet):
    _, a, b, ini = fleet
    alice = log_in(a, "alice")
    for value in ("2099-01-01", "1e12"):
        done = subprocess.run(
            [sys.executable, "-m", "pyramid_nacl_session", "revoke", "--ini", str(ini)]
            + ["before", value],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert user_on(b, alice) == "alice"


def test_a_cut_off_in_the_future_written_into_redis_resets_each_server_once_not_for_ever(fleet):
    import redis as redis_py

    server, a, b, _ = fleet
    before = log_in(a, "alice")
    assert user_on(b, before) == "alice"
    client = redis_py.Redis.from_url(server.url)
    client.zadd("pyramid_nacl_session:revoked", {"b:": 4102444800.0})
    client.publish("pyramid_nacl_session:events", "4102444800.0 b:")
    # Each server resets once, at the moment it first sees the entry: both have, before the
    # next login (on a server yet to see it, that login could be the one reset).
    assert refused_eventually(b, before) and refused_eventually(a, before)
    later = log_in(a, "bob")
    # Each resync reads the set with ZREVRANGE: wait for two more per server (resync = 1 s),
    # which read the entry again.
    reads = zrevrange_calls(client)
    assert eventually(lambda: zrevrange_calls(client) >= reads + 4)
    assert user_on(a, later) == "bob" and user_on(b, later) == "bob"


def zrevrange_calls(client):
    """How many ZREVRANGE commands the redis-server has run: one or more per sync."""
    return client.info("commandstats").get("cmdstat_zrevrange", {}).get("calls", 0)
