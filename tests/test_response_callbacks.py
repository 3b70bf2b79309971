"""A change made in a response callback of the app's is written, as 1.0.0 writes it, whenever
that callback runs: before the session's own end of request or after it (Pyramid runs callbacks
added while it runs callbacks). On both cookie paths (the stock response, and an app's own
``set_cookie``), with JSON and pickle; and the session still lets go of the request."""

import gc
import json
import pickle
import time
import weakref

import pytest
from pyramid.config import Configurator
from pyramid.response import Response
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory

from .differential.harness import NOW, SECRET, SECRET_HEX, Pair, nacl_open, set_cookie_value
from .helpers import set_cookie_value as session_value


class OwnSetCookieResponse(Response):
    """An app's response class with its own ``set_cookie``: records each call, then sets."""

    def set_cookie(self, name, value="", **kw):
        self.calls = getattr(self, "calls", []) + [value]
        super().set_cookie(name, value, **kw)


def callback_app(serializer, response_class=None, **options):
    """Views that read, write or invalidate the session, each then registering a response
    callback that sets ``late`` in it."""
    factory = EncryptedCookieSessionFactory(SECRET, serializer=serializer, **options)
    config = Configurator()
    config.set_session_factory(factory)
    if response_class is not None:
        config.set_response_factory(lambda request: response_class())

    def late_write(request):
        request.add_response_callback(
            lambda req, resp: req.session.__setitem__("late", request.params.get("v", "x"))
        )

    def read(request):
        seen = request.session.get("user")
        late_write(request)
        return {"user": seen}

    def write(request):
        request.session["user"] = "alice"
        late_write(request)
        return {}

    def relogin(request):
        request.session.invalidate()
        late_write(request)
        return {}

    def untouched(request):
        late_write(request)
        return {}

    def late_read_only(request):
        request.session.get("user")
        request.add_response_callback(lambda req, resp: req.session.peek_flash())
        request.add_response_callback(lambda req, resp: req.session.get("user"))
        return {}

    for view in (read, write, relogin, untouched, late_read_only):
        config.add_route(view.__name__, "/" + view.__name__)
        config.add_view(view, route_name=view.__name__, renderer="json")
    return TestApp(config.make_wsgi_app())


def state_of(cookie, serializer):
    plain = nacl_open(cookie)
    return (json.loads(plain) if serializer == "json" else pickle.loads(plain))[2]


def session_headers(response):
    return [h for h in response.headers.getall("Set-Cookie") if h.startswith("session=")]


SERIALIZERS = ["json", "pickle"]
VIEWS = ["read", "write", "relogin", "untouched"]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("reissue_time", [0, None])
@pytest.mark.parametrize("detect_changes", [False, True])  # True: its own unchanged-check path
def test_a_change_in_a_later_response_callback_is_written_once(
    serializer, view, reissue_time, detect_changes
):
    app = callback_app(serializer, reissue_time=reissue_time, detect_changes=detect_changes)
    app.get("/write")
    before = app.cookies["session"]
    res = app.get(f"/{view}", params={"v": "late"})
    headers = session_headers(res)
    assert len(headers) == 1, headers  # the last state, not one cookie per write
    state = state_of(session_value(res), serializer)
    assert state["late"] == "late"
    assert ("user" in state) == (view != "relogin")
    assert app.cookies["session"] != before
    assert "Cookie" in res.headers["Vary"]


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("view", VIEWS)
def test_on_an_apps_own_set_cookie_the_last_call_carries_the_change(serializer, view):
    app = callback_app(serializer, OwnSetCookieResponse)
    app.get("/write")
    res = app.get(f"/{view}", params={"v": "late"})
    # The browser keeps the last Set-Cookie of a name: that one holds the change.
    state = state_of(session_headers(res)[-1].split(";", 1)[0].split("=", 1)[1], serializer)
    assert state["late"] == "late"
    assert "Cookie" in res.headers["Vary"]


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_a_read_in_a_later_callback_writes_nothing_more(serializer, monkeypatch):
    # (Through an app's own set_cookie, where a second write would be a second header.)
    app = callback_app(serializer, OwnSetCookieResponse, reissue_time=1)
    app.get("/write")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5)  # past reissue_time
    res = app.get("/late_read_only")
    # The reissue after the view's read is written once; a read after that is no new reason.
    assert len(session_headers(res)) == 1
    app = callback_app(serializer, reissue_time=None)
    app.get("/write")
    res = app.get("/late_read_only")
    assert session_headers(res) == []  # nothing changed: no cookie at all
    assert "Cookie" in res.headers["Vary"]


def test_the_session_lets_go_of_the_request():
    # No reference cycle between the request and its session, even though the session can
    # still schedule a write after its callback ran: both go as soon as the request ends.
    requests = []

    def keep(request):
        requests.append(weakref.ref(request))
        request.session.get("user")
        return {}

    config = Configurator()
    config.set_session_factory(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    config.add_route("keep", "/keep")
    config.add_view(keep, route_name="keep", renderer="json")
    app = TestApp(config.make_wsgi_app())
    gc.disable()
    try:
        app.get("/keep")
        assert requests[0]() is None
    finally:
        gc.enable()


# -- side by side with 1.0.0 ------------------------------------------------------------------


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("first", [[], [{"op": "get", "k": "user"}]])
def test_a_callback_write_after_a_read_is_sent_as_1_0_sends_it(sides, serializer, first):
    kwargs = {"secret": SECRET_HEX, "reissue_time": None}
    if serializer == "json":
        kwargs["serializer_object"] = "json"
    pair = Pair(sides, {"kwargs": kwargs})
    login = [{"op": "set", "k": "user", "v": "alice"}]
    cookie = set_cookie_value(pair.base(login))
    ops = first + [{"op": "callback_set", "k": "late", "v": "bob"}]
    ours, base = (
        pair.ours(ops, "session=" + cookie, NOW + 5),
        pair.base(ops, "session=" + cookie, NOW + 5),
    )
    assert len(ours["set_cookie"]) == len(base["set_cookie"]) == 1
    mine, theirs = (state_of(set_cookie_value(a), serializer) for a in (ours, base))
    assert mine == theirs == {"user": "alice", "late": "bob"}


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_a_callback_write_after_the_views_write_is_kept_where_1_0_lost_it(sides, serializer):
    # 1.0 registered its write at the view's change and never again: the callback's change,
    # made after that write, was dropped. 2.0 writes the session's last state.
    kwargs = {"secret": SECRET_HEX}
    if serializer == "json":
        kwargs["serializer_object"] = "json"
    pair = Pair(sides, {"kwargs": kwargs})
    ops = [{"op": "set", "k": "user", "v": "alice"}, {"op": "callback_set", "k": "late", "v": 1}]
    ours, base = pair.ours(ops), pair.base(ops)
    assert len(ours["set_cookie"]) == len(base["set_cookie"]) == 1
    assert state_of(set_cookie_value(base), serializer) == {"user": "alice"}
    assert state_of(set_cookie_value(ours), serializer) == {"user": "alice", "late": 1}


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_without_set_on_exception_a_later_write_after_an_error_is_not_sent(serializer):
    class Boom(Exception):
        pass

    factory = EncryptedCookieSessionFactory(SECRET, serializer=serializer, set_on_exception=False)
    config = Configurator()
    config.set_session_factory(factory)

    def fails(request):
        request.session.get("user")
        request.add_response_callback(lambda req, resp: req.session.__setitem__("late", 1))
        raise Boom()

    config.add_route("fails", "/fails")
    config.add_view(fails, route_name="fails", renderer="json")
    config.add_view(lambda exc, request: {"error": True}, context=Boom, renderer="json")
    res = TestApp(config.make_wsgi_app()).get("/fails")
    assert res.json == {"error": True}
    assert session_headers(res) == []
