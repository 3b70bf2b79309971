"""Real WSGI servers in child processes for the server tests: the example app's .ini, starting
and stopping a server command on a loopback port, and the example's pages over HTTP (which
benchmarks/load/ drives too)."""

import http.client
import os
import re
import socket
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from .helpers import eventually

INI = Path(__file__).resolve().parent.parent / "examples" / "development.ini"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def serve(cmd, port, tmp_path, env=None):
    """Start ``cmd`` in ``tmp_path`` and wait until it accepts connections on ``port``; the
    process and its log (``server.log``). ``env``: the child's environment (default: ours,
    without ``PYTHONPATH``). Fails the test, with the log, if it exits or never listens."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    if eventually(lambda: proc.poll() is not None or accepts(port)) and proc.poll() is None:
        return proc, log
    stop(proc, log)
    log.seek(0)
    pytest.fail(f"server did not start: {cmd}\n{log.read()[-3000:]}")


def accepts(port):
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def stop(proc, log):
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def listening_on(path, port):
    """The text of the .ini at ``path`` with [server:main] listening on 127.0.0.1:``port`` and
    nothing else changed (a ConfigParser round trip would drop the comments)."""
    lines, section, replaced = [], None, False
    for line in path.read_text().splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
        elif section == "server:main" and stripped.split("=")[0].strip() == "listen":
            line = f"listen = 127.0.0.1:{port}\n"
            replaced = True
        lines.append(line)
    return "".join(lines), replaced


def page(port, path, cookie=None, form=None):
    """``(status, text, cookie)``: a GET of ``path`` from the server on ``port`` (a POST of
    ``form`` when given), sending ``cookie`` (``name=value``); the cookie the response set, else
    the one sent."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request("GET" if form is None else "POST", path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        set_cookie = response.getheader("Set-Cookie")
        return response.status, text, set_cookie.split(";", 1)[0] if set_cookie else cookie
    finally:
        conn.close()


def log_in(port, user):
    """The session cookie of ``user`` logged in through the example's login form."""
    _, text, cookie = page(port, "/")
    token = CSRF.search(text).group(1)
    form = {"username": user, "password": "demo", "csrf_token": token}
    status, _, cookie = page(port, "/login", cookie, form)
    assert status == 303, status
    return cookie


def log_out(port, cookie):
    """Visit the example's page with ``cookie`` and log out through its form: the logout's
    status, and the cookie the logout was sent with (the visit may have reissued it)."""
    _, text, current = page(port, "/", cookie)
    token = CSRF.search(text).group(1)
    status, _, _ = page(port, "/logout", current, {"csrf_token": token})
    return status, current
