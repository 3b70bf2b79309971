import json
import logging
import re
import time

import pytest
from pyramid.request import Request
from pyramid.response import Response
from webtest import TestApp

from pyramid_nacl_session import (
    CookieTooLarge,
    EncryptedCookieSessionFactory,
    session_factory_from_settings,
)
from pyramid_nacl_session.options import OptionError

from .helpers import (
    OTHER_SECRET,
    SECRET,
    add_json_views,
    nacl_open,
    nacl_seal,
    session_app,
    set_cookie_value,
)

NEW, OLD = OTHER_SECRET, SECRET


def json_cookie(secret, state, accessed=None, created=None):
    now = time.time()
    return nacl_seal(secret, json.dumps([accessed or now, created or now, state]).encode())


# -- key rotation ------------------------------------------------------------------------------


def test_cookie_under_an_old_key_is_read_and_resealed_under_the_first_key():
    app = session_app(
        EncryptedCookieSessionFactory([NEW, OLD], serializer="json", reissue_time=None)
    )
    app.set_cookie("session", json_cookie(OLD, {"user": "alice"}))
    response = app.get("/show")  # reads the session; reissue is off
    assert response.json == {"user": "alice"}
    assert json.loads(nacl_open(NEW, set_cookie_value(response)))[2] == {"user": "alice"}
    # Once moved, reading sets no cookie.
    response = app.get("/show")
    assert response.json == {"user": "alice"} and set_cookie_value(response) is None


def test_rolling_rotation_across_a_fleet_keeps_users_logged_in():
    """Two servers share one client while the new key rolls out in three steps."""
    client_cookie = {}

    def visit(factory, path, **params):
        app = session_app(factory)
        if client_cookie:
            app.set_cookie("session", client_cookie["value"])
        response = app.get(path, params=params)
        value = set_cookie_value(response)
        if value:
            client_cookie["value"] = value
        return response

    only_old = EncryptedCookieSessionFactory([OLD], serializer="json")
    old_first = EncryptedCookieSessionFactory([OLD, NEW], serializer="json")
    new_first = EncryptedCookieSessionFactory([NEW, OLD], serializer="json")
    only_new = EncryptedCookieSessionFactory([NEW], serializer="json")

    visit(only_old, "/put", user="alice")
    # Step 1: the new key is added second everywhere; servers still seal with the old one.
    assert visit(old_first, "/show").json == {"user": "alice"}
    assert visit(only_old, "/show").json == {"user": "alice"}
    # Step 2: servers switch to sealing with the new key one by one; mixed fleet.
    assert visit(new_first, "/show").json == {"user": "alice"}
    assert visit(old_first, "/show").json == {"user": "alice"}
    assert visit(new_first, "/show").json == {"user": "alice"}
    # Step 3: the old key is dropped; the cookie was already resealed under the new key.
    assert visit(only_new, "/show").json == {"user": "alice"}
    assert json.loads(nacl_open(NEW, client_cookie["value"]))[2] == {"user": "alice"}


# -- absolute timeout --------------------------------------------------------------------------


def test_absolute_timeout_resets_an_active_session():
    factory = EncryptedCookieSessionFactory(SECRET, serializer="json", absolute_timeout=3600)
    app = session_app(factory)
    now = time.time()
    app.set_cookie(
        "session", json_cookie(SECRET, {"user": "alice"}, accessed=now, created=now - 3601)
    )
    assert app.get("/show").json == {}
    app.set_cookie(
        "session", json_cookie(SECRET, {"user": "alice"}, accessed=now, created=now - 3500)
    )
    assert app.get("/show").json == {"user": "alice"}


def test_absolute_timeout_restarts_the_clock_for_the_new_session():
    factory = EncryptedCookieSessionFactory(SECRET, serializer="json", absolute_timeout=60)
    app = session_app(factory)
    now = time.time()
    app.set_cookie("session", json_cookie(SECRET, {"user": "old"}, accessed=now, created=now - 120))
    response = app.get("/put", params={"user": "new"})
    accessed, created, state = json.loads(nacl_open(SECRET, set_cookie_value(response)))
    assert state == {"user": "new"} and created > now - 5


def test_without_absolute_timeout_an_old_but_active_session_lives_on():
    app = session_app(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    now = time.time()
    app.set_cookie(
        "session", json_cookie(SECRET, {"user": "alice"}, accessed=now, created=now - 10**7)
    )
    assert app.get("/show").json == {"user": "alice"}


# -- cookie size -------------------------------------------------------------------------------


def test_too_large_session_names_size_limit_and_largest_keys():
    app = session_app(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    with pytest.raises(CookieTooLarge) as info:
        app.get("/put", params={"big": "x" * 5000, "small": "y", "medium": "z" * 300})
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "over the 4096-byte limit" in message
    assert message.index("'big'") < message.index("'medium'") < message.index("'small'")
    assert "xxxx" not in message


def test_cookie_near_the_limit_logs_a_warning(caplog):
    app = session_app(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    with caplog.at_level(logging.WARNING, logger="pyramid_nacl_session"):
        app.get("/put", params={"blob": "x" * 2400})
    assert "of the 4096-byte limit" in caplog.text and "'blob'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pyramid_nacl_session"):
        app.get("/put", params={"blob": "x" * 100})
    assert caplog.text == ""


# -- invalidate --------------------------------------------------------------------------------


def test_invalidate_deletes_the_cookie():
    app = session_app(
        EncryptedCookieSessionFactory(
            SECRET, serializer="json", path="/", secure=True, httponly=True
        )
    )
    app.get("/put", params={"user": "alice"}, extra_environ={"wsgi.url_scheme": "https"})
    header = app.get("/logout", extra_environ={"wsgi.url_scheme": "https"}).headers["Set-Cookie"]
    assert header.startswith("session=;") and "Max-Age=0" in header
    assert "secure" in header and "HttpOnly" in header
    assert "session" not in app.cookies


def test_invalidate_then_store_sets_a_new_session():
    app = session_app(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    app.get("/put", params={"user": "alice", "cart": "3"})
    response = app.get("/relogin")
    assert json.loads(nacl_open(SECRET, set_cookie_value(response)))[2] == {"user": "again"}


# -- configuration checked when the factory is made ---------------------------------------------


@pytest.mark.parametrize(
    "options, says",
    [
        ({"samesite": "Loose"}, "samesite: expected one of Strict, Lax, None"),
        ({"samesite": "None"}, "samesite: SameSite=None needs secure"),
        ({"timeout": "soon"}, "timeout: expected a number of seconds"),
        ({"absolute_timeout": -5}, "absolute_timeout: expected a number of seconds"),
        ({"secure": "maybe"}, "secure: expected true or false"),
        ({"cookie_name": "bad name"}, "cookie_name: expected a cookie name"),
        ({"serializer": "yaml"}, "serializer: expected json, pickle or the dotted name"),
    ],
)
def test_bad_option_fails_when_the_factory_is_made(options, says):
    with pytest.raises(ValueError, match=says):
        EncryptedCookieSessionFactory(SECRET, **options)


def test_default_options_behave_as_1_0():
    factory = EncryptedCookieSessionFactory(SECRET)
    app = TestApp(session_app(factory).app)
    header = app.get("/put", params={"a": "1"}).headers["Set-Cookie"]
    assert header.endswith("; Path=/; SameSite=Lax")
    assert factory._timeout == 1200 and factory._reissue_time == 0
    assert factory._serializer.serializer_name == "pickle"


# -- writing the cookie ------------------------------------------------------------------------


@pytest.mark.parametrize("serializer", ["json", None, "custom"])
def test_writing_the_cookie_does_not_go_through_the_per_key_accessors(serializer, monkeypatch):
    from pyramid import testing
    from pyramid.session import JSONSerializer
    from webob import Response

    if serializer == "custom":

        class Custom(JSONSerializer):  # a subclass: used as a custom serializer
            def dumps(self, appstruct):
                assert type(appstruct[2]) is dict  # a plain dict, as Pyramid's dict(session)
                return super().dumps(appstruct)

        serializer = Custom()
    factory = EncryptedCookieSessionFactory(SECRET, serializer=serializer)
    session = factory(testing.DummyRequest())
    session.update({f"key{i}": i for i in range(70)})
    calls = []
    monkeypatch.setattr(type(session), "_access", lambda self: calls.append(1), raising=False)
    response = Response()
    assert session._set_cookie(response) is True
    assert calls == []
    cookie = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    assert factory(testing.DummyRequest(cookies={"session": cookie})) == session


@pytest.mark.parametrize(
    "value",
    [
        [10**400, 0, {"a": 1}],  # float() overflows
        [float("nan"), 0, {"a": 1}],
        [0, float("inf"), {"a": 1}],
        ["x", 0, {"a": 1}],
        [0, 0, ["not", "a", "dict"]],
        "abc",
        [1, 2],
    ],
)
def test_sealed_value_that_is_not_a_session_gives_a_fresh_session(value):
    # Only a holder of the key can make these; they still must not crash or outlive timeouts.
    payload = json.dumps(value).encode()
    app = session_app(EncryptedCookieSessionFactory(SECRET, serializer="json", timeout=None))
    app.set_cookie("session", nacl_seal(SECRET, payload))
    assert app.get("/show").json == {}


# -- Vary, Partitioned, a lifetime per session, in-place changes ------------------------------
#
# Each on both paths: WebOb's own classes (the native path) and an app's request and response
# classes with their own ``cookies`` and ``set_cookie`` (the hooks); and from Python keywords
# and from ``session.*`` settings.


class HookRequest(Request):
    """A request class with its own ``cookies``: the session is read through it."""

    @property
    def cookies(self):
        return dict(super().cookies)


class HookResponse(Response):
    """A response class with its own ``set_cookie``, which takes ``partitioned`` (WebOb 1.8's
    does not) and records every call."""

    calls: list = []

    def set_cookie(self, name, value="", partitioned=False, **kw):
        HookResponse.calls.append(dict(kw, name=name, value=value, partitioned=partitioned))
        super().set_cookie(name, value, **kw)
        if partitioned:
            key, header = self.headerlist[-1]
            self.headerlist[-1] = (key, header + "; Partitioned")


PATHS = ["webob", "hooks"]
SOURCES = ["python", "settings"]


def make_factory(source, **options):
    if source == "python":
        return EncryptedCookieSessionFactory(SECRET, **options)
    settings = {"session.secret": SECRET.hex()}
    for key, value in options.items():
        settings["session." + key] = "" if value is None else str(value).lower()
    return session_factory_from_settings(settings)


def feature_app(path, factory):
    def extra(config):
        if path == "hooks":
            config.set_request_factory(HookRequest)
            config.set_response_factory(lambda request: HookResponse())

        def varied(request):
            request.response.vary = request.params["vary"].split(",")
            return dict(request.session)

        def append(request):
            request.session["cart"].append(request.params["item"])  # no changed()
            return {}

        def append_then_undo(request):
            request.session["cart"].append("x")
            request.session["cart"].pop()
            return {}

        def remember(request):
            request.session.adjust_timeout_for_session(int(request.params["seconds"]))
            return {}

        add_json_views(config, varied, append, append_then_undo, remember)

    return session_app(factory, extra)


def session_header(response):
    headers = [h for h in response.headers.getall("Set-Cookie") if h.startswith("session=")]
    assert len(headers) <= 1, headers
    return headers[0] if headers else None


@pytest.fixture(params=PATHS)
def path(request):
    HookResponse.calls = []
    return request.param


@pytest.fixture(params=SOURCES)
def source(request):
    return request.param


# Vary: Cookie


def test_vary_cookie_on_every_response_that_read_or_wrote_the_session(path, source):
    app = feature_app(path, make_factory(source, serializer="json", reissue_time=None))
    written = app.get("/put", params={"user": "ann"})
    assert written.headers.getall("Vary") == ["Cookie"] and session_header(written)
    read = app.get("/show")
    assert read.json == {"user": "ann"} and session_header(read) is None
    assert read.headers.getall("Vary") == ["Cookie"]
    deleted = app.get("/logout")
    assert "Max-Age=0" in session_header(deleted)
    assert deleted.headers.getall("Vary") == ["Cookie"]


def test_no_vary_on_a_response_that_did_not_touch_the_session(path, source):
    app = feature_app(path, make_factory(source, serializer="json"))
    app.get("/put", params={"user": "ann"})
    response = app.get("/untouched")
    assert "Vary" not in response.headers and session_header(response) is None


@pytest.mark.parametrize(
    "vary, expected",
    [
        ("Accept-Encoding", "Accept-Encoding, Cookie"),
        ("Accept-Encoding,cookie", "Accept-Encoding, cookie"),
        ("COOKIE", "COOKIE"),
        ("*", "*"),
    ],
)
def test_vary_is_merged_with_what_the_view_set_without_duplicates(path, vary, expected):
    app = feature_app(path, make_factory("python", serializer="json"))
    response = app.get("/varied", params={"vary": vary})
    assert response.headers.getall("Vary") == [expected]


# Partitioned


def test_partitioned_cookie_and_its_deletion(path, source):
    app = feature_app(path, make_factory(source, serializer="json", secure=True, partitioned=True))
    header = session_header(app.get("/put", params={"user": "ann"}))
    assert header.endswith("; Partitioned") and "; secure" in header
    deletion = session_header(app.get("/logout"))
    assert "Max-Age=0" in deletion and deletion.endswith("; Partitioned")
    if path == "hooks":
        assert [call["partitioned"] for call in HookResponse.calls] == [True, True]


def test_partitioned_is_off_by_default_and_not_passed_to_an_apps_set_cookie(path):
    app = feature_app(path, make_factory("python", secure=True))
    assert "Partitioned" not in session_header(app.get("/put", params={"user": "ann"}))
    if path == "hooks":
        assert [call["partitioned"] for call in HookResponse.calls] == [False]


def test_partitioned_native_header_is_what_the_hook_path_writes():
    headers = []
    for path in PATHS:
        app = feature_app(path, make_factory("python", secure=True, partitioned=True))
        header = session_header(app.get("/put", params={"user": "ann"}))
        headers.append(re.sub("session=[^;]*", "session=V", header))
    assert headers[0] == headers[1]


@pytest.mark.parametrize(
    "source, option", [("python", "partitioned"), ("settings", "session.partitioned")]
)
def test_partitioned_without_secure_is_refused_at_start_up_naming_the_setting(source, option):
    with pytest.raises(OptionError, match="needs (session.)?secure") as raised:
        make_factory(source, partitioned=True)
    assert raised.value.option == option


# adjust_timeout_for_session ("remember me")


class Clock:
    def __init__(self, monkeypatch):
        self.now = time.time()
        monkeypatch.setattr(time, "time", lambda: self.now)


def max_age_of(header):
    found = re.search(r"Max-Age=(\d+)", header)
    return found and int(found.group(1))


def test_a_remembered_session_outlives_the_factory_timeout_with_its_own_max_age(
    path, source, monkeypatch
):
    clock = Clock(monkeypatch)
    app = feature_app(path, make_factory(source, serializer="json", timeout=1200))
    app.get("/put", params={"user": "ann"})
    remembered = app.get("/remember", params={"seconds": "86400"})
    assert max_age_of(session_header(remembered)) == 86400
    if path == "hooks":
        assert HookResponse.calls[-1]["max_age"] == 86400
    clock.now += 80000  # far past timeout=1200, inside the session's own 86400
    again = app.get("/show")
    assert again.json == {"user": "ann"}
    assert max_age_of(session_header(again)) == 86400  # on every later write
    clock.now += 86401
    assert app.get("/show").json == {}


def test_without_adjusting_the_factory_timeout_applies(path, monkeypatch):
    clock = Clock(monkeypatch)
    app = feature_app(path, make_factory("python", serializer="json", timeout=1200))
    assert max_age_of(session_header(app.get("/put", params={"user": "ann"}))) is None
    clock.now += 1201
    assert app.get("/show").json == {}


def test_absolute_timeout_still_ends_a_remembered_session(path, monkeypatch):
    clock = Clock(monkeypatch)
    factory = make_factory("python", serializer="json", absolute_timeout=3600)
    app = feature_app(path, factory)
    app.get("/put", params={"user": "ann"})
    app.get("/remember", params={"seconds": "86400"})
    clock.now += 3000
    assert app.get("/show").json == {"user": "ann"}
    clock.now += 601
    reset = app.get("/show")
    assert reset.json == {}
    clock.now += 1201  # the fresh session has the factory's timeout again
    app.get("/put", params={"user": "bob"})
    clock.now += 1201
    assert app.get("/show").json == {}


def test_the_own_timeout_is_not_a_key_of_the_session_and_ends_with_it(path):
    app = feature_app(path, make_factory("python", serializer="json"))
    app.get("/put", params={"user": "ann"})
    app.get("/remember", params={"seconds": "86400"})
    assert app.get("/show").json == {"user": "ann"}
    app.get("/logout")
    assert max_age_of(session_header(app.get("/put", params={"user": "bob"}))) is None


@pytest.mark.parametrize("seconds", [0, -1, 1.5, "x", None, 100 * 365 * 24 * 3600 + 1])
def test_adjust_timeout_refuses_a_bad_number_of_seconds(seconds):
    from pyramid import testing

    session = EncryptedCookieSessionFactory(SECRET)(testing.DummyRequest())
    with pytest.raises(ValueError):
        session.adjust_timeout_for_session(seconds)
    assert not session._dirty


@pytest.mark.parametrize("stored", [0, -5, 1.5, "86400", True, 100 * 365 * 24 * 3600 + 1])
def test_an_own_timeout_out_of_bounds_in_a_cookie_is_not_trusted(stored, monkeypatch):
    clock = Clock(monkeypatch)
    app = feature_app("webob", make_factory("python", serializer="json", timeout=1200))
    app.set_cookie("session", json_cookie(SECRET, {"user": "ann", "_timeout_": stored}))
    response = app.get("/show")
    # Dropped: the app cannot set the key, so it is not the app's data either.
    assert response.json == {"user": "ann"}
    assert max_age_of(session_header(response)) is None
    clock.now += 1201
    assert app.get("/show").json == {}


# detect_changes


@pytest.mark.parametrize("serializer", ["json", "pickle"])
def test_an_in_place_change_is_written_without_changed(path, source, serializer):
    factory = make_factory(source, serializer=serializer, reissue_time=600)
    app = feature_app(path, factory)
    app.set_cookie("session", _sealed(factory, {"cart": []}))
    response = app.get("/append", params={"item": "apple"})
    assert session_header(response) is not None
    assert response.headers.getall("Vary") == ["Cookie"]
    assert app.get("/show").json == {"cart": ["apple"]}


def test_an_unchanged_session_is_not_written(path, source):
    factory = make_factory(source, serializer="json", reissue_time=600)
    app = feature_app(path, factory)
    app.set_cookie("session", _sealed(factory, {"cart": ["apple"]}))
    assert session_header(app.get("/show")) is None
    assert session_header(app.get("/append_then_undo")) is None


def test_detect_changes_off_loses_an_in_place_change_as_1_0_did(path, source):
    factory = make_factory(source, serializer="json", reissue_time=600, detect_changes=False)
    app = feature_app(path, factory)
    app.set_cookie("session", _sealed(factory, {"cart": []}))
    response = app.get("/append", params={"item": "apple"})
    assert session_header(response) is None and response.headers.getall("Vary") == ["Cookie"]
    assert app.get("/show").json == {"cart": []}


def test_detect_changes_keeps_a_remembered_sessions_own_timeout(path, monkeypatch):
    clock = Clock(monkeypatch)
    factory = make_factory("python", serializer="json", reissue_time=None)
    app = feature_app(path, factory)
    app.set_cookie("session", _sealed(factory, {"cart": []}))
    app.get("/remember", params={"seconds": "86400"})
    assert session_header(app.get("/show")) is None  # the own timeout compares as read
    response = app.get("/append", params={"item": "apple"})
    assert max_age_of(session_header(response)) == 86400
    clock.now += 80000
    assert app.get("/show").json == {"cart": ["apple"]}


def _sealed(factory, state):
    now = time.time()
    return factory._codec.write(None, now, now, state, None, None, None)


def test_an_in_place_change_too_large_to_write_fails_the_request_and_keeps_the_cookie(path):
    factory = make_factory("python", serializer="json", reissue_time=600)
    app = feature_app(path, factory)
    app.set_cookie("session", _sealed(factory, {"cart": []}))
    with pytest.raises(CookieTooLarge):
        app.get("/append", params={"item": "x" * 5000})
    assert app.get("/show").json == {"cart": []}  # the browser still has the session
