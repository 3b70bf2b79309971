"""regenerate() at login and each user's list of sessions (track_sessions), on real pserve
processes (tests/revocation_app.py under waitress) sharing one real redis-server, over HTTP:
what one process does must hold in the other."""

import http.client
import json

import pytest
import redis

from .fleet import PATIENCE
from .helpers import eventually

pytest.importorskip("waitress")
pytestmark = pytest.mark.redis

TRACK = {"track_sessions": "true", "track_sessions_label": "User-Agent"}


class Browser:
    """One browser: its own cookie, its own user agent, sent to whichever process it is told."""

    def __init__(self, agent):
        self.agent = agent
        self.cookie = None

    def get(self, port, path, cookie=None, status=200):
        """The JSON answer of ``path`` on ``port``; keeps the cookie the response sets (or
        deletes). ``cookie`` sends that cookie instead of the browser's own, keeping neither."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE)
        sent = self.cookie if cookie is None else cookie
        headers = {"User-Agent": self.agent}
        if sent:
            headers["Cookie"] = f"session={sent}"
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            data = json.loads(response.read())
            assert response.status == status, (path, response.status, data)
            set_cookie = response.getheader("Set-Cookie")
        finally:
            conn.close()
        if set_cookie is not None and cookie is None:
            self.cookie = set_cookie.split(";", 1)[0].split("=", 1)[1].strip('"') or None
        return data

    def listed(self, port):
        return self.get(port, "/sessions")["sessions"]


def test_regenerate_at_login_keeps_the_cart_and_created_and_the_old_copy_is_refused_in_b(fleet):
    _, start = fleet
    a, b = start("a"), start("b")
    browser = Browser("Firefox")
    browser.get(a, "/cart?item=book")
    browser.get(a, "/cart?item=pen")
    csrf_before = browser.get(a, "/csrf")["csrf"]
    before = browser.get(a, "/state")
    pre_login = browser.cookie  # what a fixation attacker planted, or a thief copied
    assert before["session_id"] and before["user"] is None

    assert browser.get(a, "/login-keep?user=alice") == {"user": "alice"}
    after = browser.get(b, "/state")
    assert after["user"] == "alice"
    assert after["cart"] == ["book", "pen"]
    assert after["created"] == before["created"]
    assert after["session_id"] != before["session_id"]
    assert after["csrf"] and after["csrf"] != csrf_before
    # The copy from before login: refused by the other process (a fresh session there), and
    # by the one that regenerated.
    assert eventually(lambda: browser.get(b, "/state", cookie=pre_login)["cart"] is None)
    assert browser.get(a, "/state", cookie=pre_login)["cart"] is None
    assert browser.get(a, "/state")["user"] == "alice"


def ids(listed):
    return sorted(info["session_id"] for info in listed)


def test_two_browsers_of_one_user_and_one_of_another_list_end_one_and_empty_on_logout(fleet):
    _, start = fleet
    a, b = start("a", **TRACK), start("b", **TRACK)
    laptop, phone, other = Browser("Laptop/1.0"), Browser("Phone/2.0"), Browser("Tablet/3.0")
    laptop.get(a, "/login-keep?user=alice")
    phone.get(b, "/login-keep?user=alice")
    other.get(a, "/login-keep?user=bob")
    laptop_id = laptop.get(a, "/state")["session_id"]
    phone_id = phone.get(b, "/state")["session_id"]

    # Each process lists what the other wrote (its own queue is written before it lists).
    def listed_by_both():
        return all(
            ids(browser.listed(port)) == sorted([laptop_id, phone_id])
            for browser in (laptop, phone)
            for port in (a, b)
        )

    assert eventually(listed_by_both)
    listed = laptop.listed(b)
    assert {info["label"] for info in listed} == {"Laptop/1.0", "Phone/2.0"}
    assert [info["current"] for info in listed if info["session_id"] == laptop_id] == [True]
    for info in listed:
        assert info["created"] <= info["last_seen"]
    assert [info["label"] for info in other.listed(b)] == ["Tablet/3.0"]

    # Bob cannot end Alice's sessions: only his own list is his.
    assert other.get(a, f"/end?session_id={phone_id}", status=404) == {}
    assert phone.get(b, "/state")["user"] == "alice"

    # The laptop ends the phone, on process A; the phone is out on B, the laptop stays in.
    assert laptop.get(a, f"/end?session_id={phone_id}") == {"flushed": True}
    assert eventually(lambda: phone.get(b, "/state", cookie=phone.cookie)["user"] is None)
    assert laptop.get(b, "/state")["user"] == "alice"
    assert ids(laptop.listed(a)) == [laptop_id]
    assert eventually(lambda: ids(laptop.listed(b)) == [laptop_id])

    # Logout: the list is empty, in both processes, and Bob's is untouched.
    laptop_cookie = laptop.cookie
    laptop.get(a, "/logout")
    assert laptop.cookie is None
    assert laptop.get(a, "/sessions", cookie=laptop_cookie) == {"sessions": []}
    assert other.get(a, "/sessions?user=alice") == {"sessions": []}
    assert eventually(lambda: other.get(b, "/sessions?user=alice") == {"sessions": []})
    again = Browser("Laptop/1.0")
    again.get(b, "/login-keep?user=alice")
    assert eventually(lambda: ids(again.listed(b)) == [again.get(b, "/state")["session_id"]])
    assert [info["label"] for info in other.listed(a)] == ["Tablet/3.0"]


def test_log_out_all_others_keeps_the_current_session_only(fleet):
    _, start = fleet
    a, b = start("a", **TRACK), start("b", **TRACK)
    browsers = [Browser(f"Browser/{i}") for i in range(3)]
    for i, browser in enumerate(browsers):
        browser.get((a, b)[i % 2], "/login-keep?user=alice")
    keep = browsers[1]
    assert eventually(lambda: len(keep.listed(b)) == 3)
    assert keep.get(b, "/logout-others") == {"ended": 2, "flushed": True}
    for port in (a, b):
        for ended in (browsers[0], browsers[2]):
            assert eventually(lambda: ended.get(port, "/state")["user"] is None)  # noqa: B023
        assert keep.get(port, "/state")["user"] == "alice"
    assert [info["label"] for info in keep.listed(a)] == ["Browser/1"]


def test_entries_live_in_redis_with_a_deadline_no_later_than_absolute_timeout(fleet):
    server, start = fleet
    a = start("a", **TRACK)
    browser = Browser("Firefox")
    browser.get(a, "/login-keep?user=alice")
    browser.listed(a)  # flushes this process's queue
    client = redis.Redis.from_url(server.url)
    key = "pyramid_nacl_session:sessions:alice"
    ((sid, deadline),) = client.zrange(key, 0, -1, withscores=True)
    now = float(client.time()[0])
    # The deadline is Redis's clock plus the idle timeout and the write window (1200 + 60), so
    # an idle session leaves the list; both keys expire with absolute_timeout (3600 here).
    assert now + 1200 < deadline <= now + 1200 + 60 + 1
    assert 0 < client.ttl(key) <= 3600
    assert 0 < client.ttl("pyramid_nacl_session:session-info:alice") <= 3600
    assert sid.decode() == browser.get(a, "/state")["session_id"]
