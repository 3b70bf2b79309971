"""Fixtures, settings and markers for the whole suite; plain helpers live in tests/helpers.py."""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from .helpers import SECRET

# Hypothesis's default 200 ms deadline is a speed assertion, which the suite never makes (speed
# is measured in benchmarks/): on CI's two shared cores an example now and then misses it.
settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")

# Levels a contributor can pick with -m (registered in pyproject.toml), given here by where a
# test lives or which fixture it takes, so that a new test lands in its level without a decorator.
TESTS = Path(__file__).resolve().parent
BROWSER_DIRS = {TESTS / "e2e"}
REDIS_FIXTURES = {"redis_server", "redis_url", "fleet"}
DIFFERENTIAL_FIXTURES = {"sides"}
# Modules that take seconds each (on two shared cores): memory over a million cycles, real
# servers in child processes, and mypy run over the stubs and the example app.
SLOW_MODULES = {
    "test_resources.py",
    "test_server.py",
    "test_revocation_server.py",
    "test_mypy.py",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(str(item.fspath)).resolve()
        fixtures = set(getattr(item, "fixturenames", ()))
        if any(d in path.parents for d in BROWSER_DIRS):
            item.add_marker(pytest.mark.browser)
        if fixtures & REDIS_FIXTURES:
            item.add_marker(pytest.mark.redis)
        if fixtures & DIFFERENTIAL_FIXTURES:
            item.add_marker(pytest.mark.differential)
        if path.name in SLOW_MODULES or item.get_closest_marker("differential"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def secret():
    return SECRET


@pytest.fixture
def redis_server(tmp_path):
    """A redis-server of this test's own (tests/redis_server.py), stopped at its end."""
    from .redis_server import RedisServer

    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The URL of this test's redis-server."""
    return redis_server.url


@pytest.fixture
def fleet(tmp_path):
    """One redis-server; yields ``(redis, start)``, where ``start(name, **settings)`` runs a
    pserve process of tests/revocation_app.py on it (tests/fleet.py) and returns its port.
    Everything stops at the end."""
    from .fleet import starter, stop_all
    from .redis_server import RedisServer

    server = RedisServer(tmp_path).start()
    procs = []
    try:
        yield server, starter(tmp_path, server.url, procs)
    finally:
        stop_all(procs)
        server.stop()


@pytest.fixture
def apps():
    """``make(url, **options) -> (app, factory)``: apps with revocation on
    (tests/revocation_apps.py), their revocation threads closed at the test's end."""
    from .revocation_apps import make_app

    made = []

    def make(url, **options):
        app, factory = make_app(url, **options)
        made.append(factory)
        return app, factory

    yield make
    for factory in made:
        factory.revocation.close()


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


@pytest.fixture
def busy_switching():
    """Make the interpreter switch threads as often as it can, so calls really interleave (on a
    GIL build; a free-threaded one runs them at once anyway)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)
