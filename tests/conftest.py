import base64
import os
import pickle
import time

import pytest
from hypothesis import settings
from nacl.secret import SecretBox
from pyramid.config import Configurator
from webtest import TestApp

# Hypothesis's default 200 ms deadline is a speed assertion, which the suite never makes (speed
# is measured in benchmarks/): on CI's two shared cores an example now and then misses it.
settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")

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


@pytest.fixture
def secret():
    return SECRET


_UNAVAILABLE = []


@pytest.fixture(scope="session")
def sides():
    """``(ours, base)``: worker processes running real Pyramid apps on this package and on the
    real pyramid-nacl-session 1.0.0 (installed from PyPI into .venv-1.0 on first use). Skipped
    when 1.0.0 cannot be installed, unless PNS_REQUIRE_1_0=1 makes that a failure (CI)."""
    from .differential.harness import REQUIRE_ENV, BaselineUnavailable, start_sides

    try:
        if _UNAVAILABLE:  # pytest retries a failed fixture for each test: try pip only once
            raise _UNAVAILABLE[0]
        ours, base = start_sides()
    except BaselineUnavailable as e:
        _UNAVAILABLE[:] = [e]
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 and 1.0.0 is not installable: {e}")
        pytest.skip(f"pyramid-nacl-session 1.0.0 is not installable here: {e}")
    yield ours, base
    ours.close()
    base.close()
