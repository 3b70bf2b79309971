import json
import logging
import time

import pytest
from webtest import TestApp

from pyramid_nacl_session import CookieTooLarge, EncryptedCookieSessionFactory

from .helpers import OTHER_SECRET, SECRET, nacl_open, nacl_seal, session_app, set_cookie_value

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
        ({"serializer": "yaml"}, "serializer must be 'json', 'pickle'"),
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
