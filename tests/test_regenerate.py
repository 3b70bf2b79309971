"""regenerate() without revocation, the track_sessions options, and overlapping requests around
a login, through real Pyramid apps (WebTest)."""

import threading
import time

import pytest
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer, OptionError
from pyramid_nacl_session import session_factory_from_settings as from_settings

from .helpers import SECRET, session_app, set_cookie_value


def state_of(cookie):
    return EncryptedSerializer(SECRET, "json").loads(cookie)


def regenerating_app(factory):
    def add_routes(config):
        def cart(request):
            request.session.setdefault("cart", []).append(request.params["item"])
            request.session.changed()
            return {"csrf": request.session.get_csrf_token()}

        def login(request):
            request.session.regenerate()
            request.session["user"] = request.params["user"]
            return {"csrf": request.session.get_csrf_token(), "id": request.session.session_id}

        for name, view in [("cart", cart), ("login", login)]:
            config.add_route(name, "/" + name)
            config.add_view(view, route_name=name, renderer="json")

    return session_app(factory, add_routes)


def test_regenerate_without_revocation_keeps_data_and_created_with_a_new_csrf_token():
    app = regenerating_app(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    before = app.get("/cart", params={"item": "book"}).json["csrf"]
    pre_login = app.cookies["session"]
    _, created_before, _ = state_of(pre_login)
    after = app.get("/login", params={"user": "alice"}).json
    assert after["csrf"] != before
    assert after["id"] is None  # no revocation, no id
    _, created_after, state = state_of(app.cookies["session"])
    assert created_after == created_before
    assert state["cart"] == ["book"] and state["user"] == "alice"
    assert "_sid_" not in state
    # As the docs say: without revocation the copy from before login stays valid.
    thief = TestApp(app.app)
    thief.set_cookie("session", pre_login)
    assert thief.get("/show").json["cart"] == ["book"]


def test_regenerate_of_a_session_without_a_csrf_token_makes_none():
    app = regenerating_app(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    app.get("/put", params={"a": "1"})
    app.get("/login", params={"user": "alice"})  # reads a token after regenerating
    _, _, state = state_of(app.cookies["session"])
    assert state["a"] == "1" and len(state["_csrft_"]) == 40


# -- the options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, option",
    [
        ({"track_sessions": True}, "track_sessions"),
        ({"track_sessions": True, "revocation_url": "redis://127.0.0.1:1/0"}, "track_sessions"),
        ({"track_sessions": True, "revocation_user": "user"}, "track_sessions"),
        ({"track_sessions": "maybe"}, "track_sessions"),
        ({"track_sessions_label": "User-Agent"}, "track_sessions_label"),
        ({"track_sessions_label": 3}, "track_sessions_label"),
    ],
)
def test_track_sessions_without_what_it_needs_fails_at_start_up_naming_the_option(kw, option):
    with pytest.raises(OptionError) as e:
        EncryptedCookieSessionFactory(SECRET, serializer="json", absolute_timeout=3600, **kw)
    assert e.value.option == option


@pytest.mark.parametrize(
    "settings, name",
    [
        ({"session.track_sessions": "true"}, "session.track_sessions"),
        (
            {
                "session.track_sessions": "true",
                "session.revocation_url": "redis://127.0.0.1:1/0",
                "session.absolute_timeout": "3600",
            },
            "session.track_sessions",
        ),
        ({"session.track_sessions": "perhaps"}, "session.track_sessions"),
        ({"session.track_sessions_label": "User-Agent"}, "session.track_sessions_label"),
        (
            {"session.track_sessions_label": "no.such.module:labeler"},
            "session.track_sessions_label",
        ),
    ],
)
def test_track_sessions_settings_fail_at_start_up_naming_the_setting(settings, name):
    with pytest.raises(OptionError) as e:
        from_settings({"session.secret": SECRET.hex(), "session.serializer": "json", **settings})
    assert e.value.option == name


# -- overlapping requests around a login --------------------------------------------------------


def overlap_app(reissue_time, **options):
    """An app whose ``/slow`` reads the session, then waits for the test before answering: a
    slow read-only request that started before a login and ends after it. ``/login`` is the
    recommended login (``regenerate()``)."""
    read, release = threading.Event(), threading.Event()

    def add_routes(config):
        def slow(request):
            cart = request.session.get("cart")
            read.set()
            release.wait(30)
            return {"cart": cart}

        def login(request):
            request.session.regenerate()
            request.session["user"] = request.params["user"]
            return {}

        for name, view in [("slow", slow), ("login", login)]:
            config.add_route(name, "/" + name)
            config.add_view(view, route_name=name, renderer="json")

    factory = EncryptedCookieSessionFactory(
        SECRET, serializer="json", timeout=1200, reissue_time=reissue_time, **options
    )
    return factory, session_app(factory, add_routes), read, release


def overlap(request, monkeypatch, reissue_time, **options):
    """A cookie the app wrote ten seconds ago (a cart); a slow read starts with it, a login
    answers meanwhile with a new cookie, then the slow read answers. Returns (the app, the
    login's cookie, what the slow read's response sets, or None)."""
    factory, app, read, release = overlap_app(reissue_time, **options)
    if factory.revocation is not None:
        request.addfinalizer(factory.revocation.close)
    real = time.time
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: real() - 10)
        app.get("/put", params={"cart": "book"})
    before = app.cookies["session"]
    slow = {}

    def slow_request():
        browser = TestApp(app.app)
        browser.set_cookie("session", before)
        slow["response"] = browser.get("/slow")

    thread = threading.Thread(target=slow_request)
    thread.start()
    try:
        assert read.wait(30)
        login = app.get("/login", params={"user": "alice"})
    finally:
        release.set()
        thread.join(30)
    assert slow["response"].json == {"cart": "book"}
    return app, set_cookie_value(login), set_cookie_value(slow["response"])


def test_with_the_recommended_reissue_time_a_slow_read_cannot_undo_a_login(request, monkeypatch):
    # reissue_time = timeout / 10 (docs/options.rst): a cookie written less than that ago is not
    # written again by a request that only reads it, so the browser keeps the login's cookie.
    app, logged_in, from_slow = overlap(request, monkeypatch, reissue_time=120)
    assert state_of(logged_in)[2] == {"cart": "book", "user": "alice"}
    assert from_slow is None
    assert app.get("/show").json == {"cart": "book", "user": "alice"}


def test_with_reissue_time_0_the_slow_read_writes_the_cookie_from_before_the_login(
    request, monkeypatch
):
    # The race the docs name: with 1.0's default, the slow read's response reissues what it
    # read, and the browser, which keeps the last cookie it got, is logged out again.
    app, logged_in, from_slow = overlap(request, monkeypatch, reissue_time=0)
    assert state_of(logged_in)[2]["user"] == "alice"
    assert from_slow is not None and state_of(from_slow)[2] == {"cart": "book"}
    app.set_cookie("session", from_slow)
    assert app.get("/show").json == {"cart": "book"}


@pytest.mark.redis
def test_with_revocation_and_the_recommended_reissue_time_the_login_holds(
    request, monkeypatch, redis_server
):
    app, logged_in, from_slow = overlap(
        request,
        monkeypatch,
        reissue_time=120,
        revocation_url=redis_server.url,
        absolute_timeout=3600,
    )
    assert from_slow is None
    assert app.get("/show").json == {"cart": "book", "user": "alice"}


@pytest.mark.redis
def test_with_revocation_and_reissue_time_0_the_slow_read_leaves_a_refused_cookie(
    request, monkeypatch, redis_server
):
    # Revocation does not close the race: the slow read reissues the cookie from before the
    # login, whose id regenerate() revoked, so the browser ends in a fresh session, without the
    # login and without the cart (docs/usage.rst says so).
    app, logged_in, from_slow = overlap(
        request, monkeypatch, reissue_time=0, revocation_url=redis_server.url, absolute_timeout=3600
    )
    assert from_slow is not None
    assert state_of(from_slow)[2]["_sid_"] != state_of(logged_in)[2]["_sid_"]
    app.set_cookie("session", from_slow)
    assert app.get("/show").json == {}
