"""What many test modules share: the keys, the PyNaCl oracle that stands in for 1.0.0, a small
Pyramid app, and the check for the example app. Fixtures stay in conftest.py."""

import base64
import os
import pickle
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

    for name, view in [
        ("show", show),
        ("put", put),
        ("logout", logout),
        ("relogin", relogin),
        ("untouched", untouched),
    ]:
        config.add_route(name, "/" + name)
        config.add_view(view, route_name=name, renderer="json")
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
