"""Attacks where crossing processes matters, each on real pserve processes
(tests/revocation_app.py under waitress) sharing one real redis-server, over HTTP on 127.0.0.1:
what process A revokes must hold in process B, including a B started afterwards."""

import threading
import time

import pytest
import redis

from pyramid_nacl_session import EncryptedSerializer
from pyramid_nacl_session._core import SESSION_ID_KEY, new_session_id

from .fleet import KEY, PATIENCE, REVOKED, log_in, request, session_cookie, signed_cookie, user_on
from .helpers import eventually

pytest.importorskip("waitress")
pytestmark = pytest.mark.redis

# -- sessions without an id survive logout ----------------------------------------------------


@pytest.mark.parametrize("kind", ["written before revocation was on", "Pyramid signed cookie"])
def test_a_logout_in_a_of_a_session_without_an_id_makes_a_stolen_copy_fail_in_b(fleet, kind):
    _, start = fleet
    a, b = start("a"), start("b")
    if kind == "Pyramid signed cookie":
        cookie = signed_cookie("alice")
    else:
        cookie = session_cookie({"user": "alice"})
    # The browser uses it on A, which rewrites it (still without an id); the thief's copy works
    # on B, for now.
    _, data, rewritten = request(a, "/whoami", cookie)
    assert data["user"] == "alice" and rewritten and rewritten != cookie
    assert SESSION_ID_KEY not in EncryptedSerializer(KEY, "json").loads(rewritten)[2]
    assert user_on(b, cookie) == "alice"
    _, _, deleted = request(a, "/logout", rewritten)
    assert deleted == ""
    assert user_on(a, cookie) is None
    assert eventually(lambda: user_on(b, cookie) is None), "B still accepts the stolen copy"
    assert user_on(b, rewritten) is None
    # Only that session: a new login of the same user, on either process, works on the other.
    assert user_on(a, log_in(b, "alice")) == "alice"


# -- a burst of revocations is lost while Redis is healthy ------------------------------------


@pytest.mark.slow
def test_a_mass_logout_of_200000_sessions_in_a_is_all_seen_by_a_new_process_b(fleet):
    server, start = fleet
    a = start("a")
    status, data, _ = request(a, "/mass-logout?n=200000&step=997", timeout=150)
    assert status == 200 and data["flushed"] is True
    assert redis.Redis.from_url(server.url).zcard(REVOKED) == 200_000
    sample = data["sample"]
    assert len(sample) == 201
    b = start("b")
    kept = session_cookie({"user": "carol", SESSION_ID_KEY: new_session_id()})
    assert user_on(b, kept) == "carol"
    accepted = [
        sid for sid in sample if user_on(b, session_cookie({"user": "x", SESSION_ID_KEY: sid}))
    ]
    assert accepted == []


# -- one bad name jams every later logout -----------------------------------------------------


def test_a_user_name_that_cannot_be_encoded_is_refused_in_a_and_a_later_logout_reaches_b(fleet):
    server, start = fleet
    a, b = start("a"), start("b")
    alice = log_in(a, "alice")
    assert user_on(b, alice) == "alice"
    status, data, _ = request(a, "/revoke-user", alice, {"user": "\ud800"})
    assert (status, data) == (400, {"refused": "user"})
    status, data, _ = request(a, "/revoke-user", alice, {"user": "x" * 5000})
    assert (status, data) == (400, {"refused": "user"})
    assert redis.Redis.from_url(server.url).zcard(REVOKED) == 0
    _, _, deleted = request(a, "/logout", alice)
    assert deleted == ""
    assert eventually(lambda: user_on(b, alice) is None), "the logout in A never reached B"
    # And a good name after the bad ones goes through too.
    bob = log_in(b, "bob")
    status, data, _ = request(a, "/revoke-user", None, {"user": "bob"})
    assert (status, data) == (200, {"flushed": True})
    assert eventually(lambda: user_on(b, bob) is None)


# -- refuse destroys sessions -----------------------------------------------------------------


def test_refuse_with_redis_stopped_keeps_a_cookie_it_reads_but_a_logout_in_b_holds_in_a(fleet):
    server, start = fleet
    a = start("a")
    b = start("b", revocation_policy="refuse", revocation_stale_after=1)
    alice, carol = log_in(a, "alice"), log_in(a, "carol")
    assert user_on(b, alice) == "alice"
    server.stop()
    assert eventually(lambda: user_on(b, alice) is None), "B never saw Redis go away"
    # A request that only reads leaves the cookie as it is; a logout deletes it.
    status, _, set_cookie = request(b, "/whoami", carol)
    assert (status, set_cookie) == (200, None)
    status, _, set_cookie = request(b, "/logout", alice)
    assert (status, set_cookie) == (200, "")
    server.start()  # the same port, empty: only what B queued during the outage reaches it
    assert eventually(lambda: user_on(b, carol) == "carol"), "the session never came back"
    assert eventually(lambda: user_on(a, alice) is None), "the logout made in B was undone"
    assert user_on(b, alice) is None and user_on(a, carol) == "carol"


# -- a new worker is blind while it loads -----------------------------------------------------


def fill(url, count, now):
    """``count`` revoked sessions newer than anything else in the set, sharing ten scores (the
    case that was quadratic), written in pipelined chunks."""
    client = redis.Redis.from_url(url)
    for _ in range(count // 10_000):
        entries = {f"s:{new_session_id()}": now - (i % 10) for i in range(10_000)}
        client.zadd(REVOKED, entries)
    return client.zcard(REVOKED)


@pytest.mark.slow
def test_a_new_process_b_refuses_on_its_first_requests_what_a_revoked_before_a_large_set(fleet):
    server, start = fleet
    a = start("a")
    victims = [log_in(a, f"user{i}") for i in range(4)]
    for cookie in victims:
        request(a, "/logout", cookie)
    client = redis.Redis.from_url(server.url)
    assert eventually(lambda: client.zcard(REVOKED) == len(victims))
    # Backdate them a minute: loaded newest first, they come last, after the large set.
    client.zadd(REVOKED, {m: s - 60 for m, s in client.zrange(REVOKED, 0, -1, withscores=True)})
    assert fill(server.url, 500_000, time.time()) == 500_000 + len(victims)
    kept = log_in(a, "carol")
    b = start("b")
    # B's very first requests, at once: each waits for the first full load (docs/revocation.rst,
    # How it works), so none accepts a session whose entry is the last one loaded.
    results = {}

    def ask(i, cookie):
        results[i] = user_on(b, cookie)

    threads = [threading.Thread(target=ask, args=(i, c)) for i, c in enumerate(victims + [kept])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE * 2)
    assert results == {0: None, 1: None, 2: None, 3: None, 4: "carol"}


def test_a_new_process_while_redis_does_not_answer_serves_or_refuses_as_its_policy_says(fleet):
    # Redis frozen when B starts: the first load gives up after a second without an answer;
    # then (docs/revocation.rst, How it works) ``serve`` checks against what it has, nothing,
    # and ``refuse`` refuses without touching the cookie. Once Redis answers, both know.
    server, start = fleet
    a = start("a")
    alice, carol = log_in(a, "alice"), log_in(a, "carol")
    request(a, "/logout", alice)
    client = redis.Redis.from_url(server.url)
    assert eventually(lambda: client.zcard(REVOKED) == 1)
    serve, refuse = start("serve"), start("refuse", revocation_policy="refuse")
    server.pause()
    try:
        assert request(serve, "/whoami", alice)[1]["user"] == "alice"  # blind, as documented
        status, data, set_cookie = request(refuse, "/whoami", carol)
        assert (status, data["user"], set_cookie) == (200, None, None)
    finally:
        server.resume()
    assert eventually(lambda: user_on(serve, alice) is None)
    assert eventually(lambda: user_on(refuse, carol) == "carol")
    assert user_on(refuse, alice) is None and user_on(serve, carol) == "carol"
