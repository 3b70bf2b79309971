"""What many test modules share: the keys, the PyNaCl oracle that stands in for 1.0.0, a small
Pyramid app, and the check for the example app. Fixtures stay in conftest.py."""

import base64
import os
import pickle
import socket
import threading
import time
import traceback
from pathlib import Path

import pytest
from nacl.secret import SecretBox
from pyramid.config import Configurator
from webtest import TestApp

#: The clone's (or the unpacked sdist's) root.
ROOT = Path(__file__).resolve().parent.parent
SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(100, 132))


def free_port():
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(predicate, timeout=30.0, interval=0.02):
    """Poll ``predicate`` until it returns something true, and return that, or ``False`` once
    ``timeout`` seconds have passed: the one way the suite waits for another thread or process
    (``assert eventually(...)``). The timeout is a guard against a hang on a loaded machine,
    not a speed bound; nothing waits a fixed time instead."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def clock_passes(moment, now=time.time):
    """Wait until the clock ``now`` (default this host's; :func:`redis_now` for Redis's) reads
    later than ``moment``: for a test whose next step must be timed after something it did."""
    return eventually(lambda: now() > moment)


def redis_now(client):
    """Redis's clock (``TIME``), in POSIX seconds: what a revocation's cut-off is taken by."""
    seconds, micros = client.time()
    return seconds + micros / 1e6


def nacl_seal(secret, payload):
    """A cookie as pyramid_nacl_session 1.0.0 wrote it, made with PyNaCl (the oracle)."""
    return base64.urlsafe_b64encode(SecretBox(secret).encrypt(payload)).rstrip(b"=").decode()


def nacl_open(secret, cookie):
    """What 1.0.0 does to read a cookie: PyNaCl opens it."""
    if isinstance(cookie, str):
        cookie = cookie.encode()
    return SecretBox(secret).decrypt(base64.urlsafe_b64decode(cookie + b"=" * (-len(cookie) % 4)))


def pickle_cookie(secret, state, accessed=None, created=None):
    now = time.time()
    value = (accessed or now, created or now, state)
    return nacl_seal(secret, pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def add_json_views(config, *views):
    """Each view at ``/<its name>``, rendered as JSON."""
    for view in views:
        config.add_route(view.__name__, "/" + view.__name__)
        config.add_view(view, route_name=view.__name__, renderer="json")


def session_app(factory, extra=None):
    """A Pyramid app with views that read, write, flash into and invalidate the session."""
    config = Configurator()
    config.set_session_factory(factory)

    def show(request):
        return dict(request.session)

    def put(request):
        request.session.update(request.params)
        return dict(request.session)

    def logout(request):
        request.session.invalidate()
        return {}

    def relogin(request):
        request.session.invalidate()
        request.session["user"] = "again"
        return dict(request.session)

    def untouched(request):
        return {}

    add_json_views(config, show, put, logout, relogin, untouched)
    if extra:
        extra(config)
    return TestApp(config.make_wsgi_app())


def set_cookie_value(response, name="session"):
    """The value our response sets for cookie ``name`` (None when it sets none)."""
    for header in response.headers.getall("Set-Cookie"):
        if header.startswith(name + "="):
            return header.split(";", 1)[0].split("=", 1)[1]
    return None


def require_examples():
    """Skip the calling module (with the reason) unless the example app in ``examples/`` is
    installed; under ``CI=true`` or ``CI_REQUIRE_EXAMPLES=1`` (.ci/run sets it) fail instead,
    so that CI never passes by skipping it."""
    try:
        import session_demo  # noqa: F401
    except ImportError:
        reason = "needs the example app installed: pip install -e examples/"
        if os.environ.get("CI") == "true" or os.environ.get("CI_REQUIRE_EXAMPLES") == "1":
            pytest.fail(f"CI requires the example app, and this {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)


def run_together(count, work):
    """Run ``work(index)`` in ``count`` threads released at once; re-raise the first failure."""
    barrier = threading.Barrier(count)
    failures = []

    def body(index):
        try:
            barrier.wait()
            work(index)
        except BaseException:
            failures.append(traceback.format_exc())

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]


def canon(x):
    """A form of ``x`` that compares equal exactly when the values are the same: NaN equals
    NaN, 1 differs from 1.0 and -0.0 from 0.0, a tuple from a list, and a set does not depend
    on its iteration order."""
    if isinstance(x, float):
        return ("float", repr(x))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [canon(v) for v in x])
    if isinstance(x, dict):
        return ("dict", [(canon(k), canon(v)) for k, v in x.items()])
    if isinstance(x, (set, frozenset)):
        return (type(x).__name__, sorted(repr(canon(v)) for v in x))
    return (type(x).__name__, repr(x))


def migrating_app(count_visits=False):
    """A real app on JSON with ``migrate_pickle`` on, whose one view records the session it
    saw (``app.seen``), and counts visits in it when ``count_visits``."""
    seen = []

    def view(request):
        seen.append(dict(request.session))
        if count_visits:
            request.session["visits"] = request.session.get("visits", 0) + 1
        return request.response

    from pyramid_nacl_session import EncryptedCookieSessionFactory

    with Configurator() as config:
        config.set_session_factory(
            EncryptedCookieSessionFactory(SECRET, serializer="json", migrate_pickle=True)
        )
        config.add_route("home", "/")
        config.add_view(view, route_name="home")
        wsgi = config.make_wsgi_app()
    test_app = TestApp(wsgi)
    test_app.seen = seen
    return test_app
