"""README's first set-up command, ``./scripts/run-example``, serves the example app.

The script builds into the clone's ``.venv`` (seconds when nothing changed) before it serves, so
this runs only when the suite itself runs in that virtualenv, as ``./scripts/run-tests`` has it:
anywhere else it would make a second virtualenv from scratch.
"""

import http.client
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import eventually, free_port, require_examples

require_examples()

ROOT = Path(__file__).resolve().parent.parent
VISITS = re.compile(r'<b id="visits">(\d+)</b>')
# Generous: a cold cargo cache on two shared cores; the server usually answers within seconds.
START_SECONDS = 300


def get(port, path, headers=None):
    conn = http.client.HTTPConnection("localhost", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Set-Cookie") or "", response.read().decode()
    finally:
        conn.close()


def answer(port):
    """The first page, once something serves it on ``port``; else None."""
    try:
        return get(port, "/")
    except OSError:
        return None


@pytest.mark.slow
@pytest.mark.skipif(
    Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
    reason="run-example builds into the clone's .venv, and this suite runs in another one",
)
def test_run_example_serves_the_example_on_the_port_it_is_given(tmp_path):
    port = free_port()
    log = open(tmp_path / "run-example.log", "w+")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.Popen(
        ["./scripts/run-example", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        first = eventually(lambda: proc.poll() is not None or answer(port), START_SECONDS)
        assert proc.poll() is None, "run-example stopped before it served"
        assert first, "run-example never served"
        status, set_cookie, body = first
        assert status == 200
        assert VISITS.search(body).group(1) == "1"
        cookie = set_cookie.split(";", 1)[0]
        assert cookie.startswith("demo_session=")
        status, _, body = get(port, "/", {"Cookie": cookie})
        assert VISITS.search(body).group(1) == "2"
    except BaseException:
        log.seek(0)
        print(log.read()[-3000:])
        raise
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
