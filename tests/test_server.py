"""The example app under real WSGI servers on loopback: waitress (through pserve) and, when it is
installed, gunicorn with two forked workers. Several clients, each with its own cookie jar, must
each see their visit counter go 1, 2, 3, ... with no error, whichever worker answers.
benchmarks/load/ does the same at length under wrk; this is the short version for CI."""

import http.client
import re
import sys
import threading

import pytest

from .helpers import free_port, require_examples
from .servers import INI, serve, stop

pytest.importorskip("waitress")
require_examples()

CLIENTS = 6
REQUESTS_EACH = 50
VISITS = re.compile(r'<b id="visits">(\d+)</b>')


def ini_on_port(tmp_path, port):
    """development.ini with [server:main] moved to a free loopback port."""
    server = f"[server:main]\nuse = egg:waitress#main\nlisten = 127.0.0.1:{port}\nthreads = 4\n\n"
    text, n = re.subn(r"^\[server:main\]\n(?:(?!^\[).*\n)*", server, INI.read_text(), flags=re.M)
    assert n == 1
    path = tmp_path / "server.ini"
    path.write_text(text)
    return path


def browse(port, counters, problems):
    """One client: a cookie jar and a connection, reopened whenever the server closes it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    cookie = None
    seen = []
    try:
        for _ in range(REQUESTS_EACH):
            conn.request("GET", "/", headers={"Cookie": cookie} if cookie else {})
            response = conn.getresponse()
            body = response.read().decode()
            if response.status != 200:
                problems.append(f"status {response.status}")
                return
            set_cookie = response.getheader("Set-Cookie")
            if set_cookie:
                cookie = set_cookie.split(";", 1)[0]
            match = VISITS.search(body)
            seen.append(int(match.group(1)) if match else None)
    except Exception as exc:  # a socket error is a failure to report, not to hide
        problems.append(repr(exc))
    finally:
        conn.close()
        counters.append(seen)


def load(port):
    counters, problems = [], []
    clients = [
        threading.Thread(target=browse, args=(port, counters, problems)) for _ in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join(60)
    return counters, problems


def assert_every_client_counted_1_to_n(counters, problems):
    assert problems == []
    assert len(counters) == CLIENTS
    for seen in counters:
        assert seen == list(range(1, REQUESTS_EACH + 1))


def test_waitress_keeps_each_clients_visit_count_under_concurrent_load(tmp_path):
    port = free_port()
    ini = ini_on_port(tmp_path, port)
    proc, log = serve([sys.executable, "-m", "pyramid.scripts.pserve", str(ini)], port, tmp_path)
    try:
        counters, problems = load(port)
    finally:
        stop(proc, log)
    assert_every_client_counted_1_to_n(counters, problems)


def test_gunicorn_workers_open_each_others_cookies(tmp_path):
    gunicorn_config = pytest.importorskip("gunicorn.config")
    port = free_port()
    ini = ini_on_port(tmp_path, port)
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--paste",
        str(ini),
        "-w",
        "2",
        "--preload",
        "-b",
        f"127.0.0.1:{port}",
    ]
    if hasattr(gunicorn_config, "ControlSocketDisable"):
        cmd.append("--no-control-socket")  # gunicorn >= 27 would share one socket per user
    proc, log = serve(cmd, port, tmp_path)
    try:
        counters, problems = load(port)
        assert proc.poll() is None
    finally:
        stop(proc, log)
    assert_every_client_counted_1_to_n(counters, problems)
