"""Threads sharing the native objects: one session factory behind a real Pyramid app (with
revocation through a real redis-server), one EncryptedSerializer, one RevocationSet.

The module declares that it does not need the GIL (``gil_used = false`` in src/lib.rs), so on a
free-threaded CPython (3.14t, run by the CI workflow's free-threaded job) these threads really
run at once; on a GIL build the same tests run with the interpreter switching threads as often
as it can, so the calls interleave there too.
"""

import os
import subprocess
import sys
import sysconfig
import threading

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer
from pyramid_nacl_session._core import RevocationSet, new_session_id
from pyramid_nacl_session._core._testing import is_revoked

from .helpers import SECRET, run_together

MAX_AGE = 3600
THREADS = 12
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def revoking_app(url):
    factory = EncryptedCookieSessionFactory(
        SECRET,
        serializer="json",
        absolute_timeout=MAX_AGE,
        revocation_url=url,
        revocation_user="user",
    )
    config = Configurator()
    config.set_session_factory(factory)

    def login(request):
        request.session.invalidate()
        request.session["user"] = request.params["user"]
        request.session["visits"] = 0
        return {}

    def visit(request):
        if "user" in request.session:
            request.session["visits"] += 1
        return {"user": request.session.get("user"), "visits": request.session.get("visits")}

    def logout(request):
        request.session.invalidate()
        return {}

    for name, view in [("login", login), ("visit", visit), ("logout", logout)]:
        config.add_route(name, "/" + name)
        config.add_view(view, route_name=name, renderer="json")
    return config.make_wsgi_app(), factory


def test_threads_sharing_one_app_keep_their_sessions_and_every_logout_is_revoked_everywhere(
    redis_server, busy_switching
):
    import redis

    app, factory = revoking_app(redis_server.url)
    rounds, visits = 15, 4

    def work(index):
        user = f"user{index}"
        browser = TestApp(app)
        for r in range(rounds):
            browser.get("/login", params={"user": user})
            for n in range(1, visits + 1):
                assert browser.get("/visit").json == {"user": user, "visits": n}
            copied = browser.cookies["session"]
            browser.get("/logout")
            thief = TestApp(app)
            thief.set_cookie("session", copied)
            assert thief.get("/visit").json == {"user": None, "visits": None}, (index, r)

    try:
        run_together(THREADS, work)
        logouts = THREADS * rounds
        assert factory.revocation.set.session_count == logouts
        # Every revocation made by any thread reached Redis: none was lost on the way.
        assert factory.revocation.flush()
        stored = redis.Redis.from_url(redis_server.url).zcard("pyramid_nacl_session:revoked")
        assert stored == logouts
    finally:
        factory.revocation.close()


def test_threads_sharing_one_serializer_while_another_changes_the_dict_it_writes(busy_switching):
    serializer = EncryptedSerializer(SECRET, "json")
    shared = {f"k{i}": [i, {"n": i}] for i in range(64)}
    stop = threading.Event()
    cookies = [[] for _ in range(THREADS)]

    def churn():
        # Keys come and go while the others write the same dict: each written cookie must still
        # hold only keys with their own values (on 3.14t this is what the dict's critical
        # section in the JSON writer guarantees).
        i = 0
        while not stop.is_set():
            key = f"t{i % 50}"
            shared[key] = [i % 50, {"n": i % 50}]
            shared.pop(f"t{(i + 25) % 50}", None)
            i += 1

    def work(index):
        for i in range(300):
            own = {"thread": index, "i": i, "pad": "x" * ((index * 7 + i) % 200)}
            cookie = serializer.dumps(own)
            assert serializer.loads(cookie) == own
            cookies[index].append(serializer.dumps(shared))

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        run_together(THREADS, work)
    finally:
        stop.set()
        churner.join()

    for per_thread in cookies:
        for cookie in per_thread:
            state = serializer.loads(cookie)
            assert {f"k{i}" for i in range(64)} <= state.keys()
            for key, value in state.items():
                n = int(key[1:])
                assert value == [n, {"n": n}], (key, value)


def test_threads_sharing_one_revocation_set_lose_no_entry(busy_switching):
    revoked = RevocationSet(MAX_AGE)
    per_thread = 400
    now = 1_700_000_000.0
    ids = [[new_session_id() for _ in range(per_thread)] for _ in range(THREADS)]
    never = [new_session_id() for _ in range(per_thread)]

    def work(index):
        for n, sid in enumerate(ids[index]):
            assert revoked.revoke_session(sid, now)
            assert is_revoked(revoked, sid, None, now - 1)
            assert not is_revoked(revoked, never[n], None, now - 1)
            revoked.revoke_user(f"user{index}", now - 10)
            if n % 50 == 0:
                # Sweeping as of now drops nothing younger than max_age: all of ours stay.
                revoked.sweep(now)
                assert len(revoked) >= n + 1

    run_together(THREADS, work)
    assert revoked.session_count == THREADS * per_thread
    assert revoked.user_count == THREADS
    assert all(is_revoked(revoked, sid, None, now - 1) for row in ids for sid in row)
    assert not any(is_revoked(revoked, sid, None, now - 1) for sid in never)
    assert is_revoked(revoked, never[0], "user3", now - 11)
    assert not is_revoked(revoked, never[0], "user3", now - 9)


@pytest.mark.skipif(not FREE_THREADED, reason="a GIL build: there is no GIL to keep off")
def test_importing_the_module_keeps_the_gil_off_on_a_free_threaded_cpython():
    # A module that did not declare gil_used = false would turn the GIL back on at import, with
    # a RuntimeWarning; PYTHON_GIL would override what the module declares, so it is unset.
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = (
        "import sys, pyramid_nacl_session, pyramid_nacl_session._core\n"
        "sys.exit(0 if not sys._is_gil_enabled() else 'the GIL was turned back on')\n"
    )
    subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code], env=env, check=True)
