"""Real pserve processes of tests/revocation_app.py sharing one real redis-server, as a fleet
runs: their .ini, requests over HTTP on 127.0.0.1, cookies they take, and starting and stopping
them. The ``fleet`` fixture (conftest.py) gives a test one such set."""

import http.client
import json
import os
import subprocess
import sys
import time

import pytest
from webtest import TestApp

from pyramid_nacl_session import EncryptedSerializer, generate_secret

from .helpers import ROOT, eventually, free_port
from .servers import accepts, stop

KEY = generate_secret()  # one key for every process of a test, as in a fleet
OLD_SECRET = "the old signing secret of a Pyramid signed cookie"
REVOKED = "pyramid_nacl_session:revoked"

#: How long to poll for what the docs say happens within a second, or for a server to start: a
#: guard against a hang on a loaded machine, not a speed bound (the suite asserts none).
PATIENCE = 30


def ini(tmp_path, name, port, redis_url, **settings):
    lines = {
        "use": "call:tests.revocation_app:main",
        "session.secret": KEY.decode(),
        "session.serializer": "json",
        "session.absolute_timeout": "3600",
        "session.revocation_url": redis_url,
        "session.revocation_user": "user",
        "session.revocation_resync": "1",
        "session.migrate_signed_secret": OLD_SECRET,
    }
    lines.update({f"session.{k}": str(v) for k, v in settings.items()})
    text = "[app:main]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items())
    text += f"\n[server:main]\nuse = egg:waitress#main\nlisten = 127.0.0.1:{port}\nthreads = 4\n"
    path = tmp_path / f"{name}.ini"
    path.write_text(text)
    return path


def request(port, path, cookie=None, body=None, timeout=PATIENCE):
    """``(status, json, set_cookie)``: one request to the server on ``port``; ``set_cookie`` is
    the new cookie value, "" when the response deletes it, None when it writes none."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Cookie": f"session={cookie}"} if cookie else {}
    method = "GET" if body is None else "POST"
    if body is not None:
        body = json.dumps(body)  # ASCII: a lone surrogate travels as its \u escape
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = json.loads(response.read())
        set_cookie = response.getheader("Set-Cookie")
        if set_cookie is not None:
            set_cookie = set_cookie.split(";", 1)[0].split("=", 1)[1].strip('"')
        return response.status, data, set_cookie
    finally:
        conn.close()


def user_on(port, cookie):
    status, data, _ = request(port, "/whoami", cookie)
    assert status == 200
    return data["user"]


def log_in(port, user):
    status, data, cookie = request(port, f"/login?user={user}")
    assert status == 200 and data["user"] == user and cookie
    return cookie


def session_cookie(state):
    """A cookie of ours sealed with KEY, created now and issued ten seconds ago (so a read
    reissues it)."""
    now = time.time()
    return EncryptedSerializer(KEY, "json").dumps((now - 10, now, state)).decode()


def signed_cookie(user):
    """A cookie from a real app on Pyramid's SignedCookieSessionFactory (under OLD_SECRET)."""
    from pyramid.config import Configurator
    from pyramid.session import SignedCookieSessionFactory

    config = Configurator()
    config.set_session_factory(SignedCookieSessionFactory(OLD_SECRET))

    def login(request):
        request.session["user"] = user
        return {}

    config.add_route("login", "/login")
    config.add_view(login, route_name="login", renderer="json")
    app = TestApp(config.make_wsgi_app())
    app.get("/login")
    return app.cookies["session"]


def starter(tmp_path, redis_url, procs):
    """``start(name, env=None, **settings)``: runs a pserve process of the app on
    ``redis_url`` (``env``: more environment, say a faked clock) and returns its port; each
    process is added to ``procs`` for ``stop_all``."""

    def start(name, env=None, **settings):
        port = free_port()
        path = ini(tmp_path, name, port, redis_url, **settings)
        environ = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        environ["PYTHONPATH"] = str(ROOT)  # for tests.revocation_app, and nothing else
        environ.update(env or {})
        log = open(tmp_path / f"{name}.log", "w+")
        cmd = [sys.executable, "-m", "pyramid.scripts.pserve", str(path)]
        proc = subprocess.Popen(
            cmd, cwd=tmp_path, env=environ, stdout=log, stderr=subprocess.STDOUT
        )
        procs.append((proc, log))
        if not eventually(lambda: proc.poll() is not None or accepts(port)):
            pytest.fail(f"{name} did not start")
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"{name} did not start:\n{log.read()[-3000:]}")
        return port

    return start


def stop_all(procs):
    for proc, log in procs:
        stop(proc, log)
