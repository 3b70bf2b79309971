"""The session honours an app's own request and response classes, as Pyramid's cookie session
and 1.0.0 do: a request class's ``cookies`` and a response class's ``set_cookie`` are called
whenever they are not WebOb's own. Only the stock classes take the native fast path."""

import logging
import pickle
import time

import pytest
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from webob.cookies import make_cookie
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer

from .helpers import OTHER_SECRET, SECRET, nacl_seal, set_cookie_value


class HeaderSessionRequest(Request):
    """Takes the session cookie from an ``X-Session`` header, as an API client sends it."""

    @property
    def cookies(self):
        cookies = dict(super().cookies)
        if "HTTP_X_SESSION" in self.environ:
            cookies["session"] = self.environ["HTTP_X_SESSION"]
        return cookies


class PartitionedResponse(Response):
    """Forces ``secure`` and adds ``Partitioned`` to every cookie it sets."""

    def set_cookie(self, name, value="", **kw):
        kw["secure"] = True
        kw["samesite"] = "None"
        super().set_cookie(name, value, **kw)
        if value is not None:
            key, header = self.headerlist[-1]
            self.headerlist[-1] = (key, header + "; Partitioned")


def app_with(factory, request_factory=None, response_factory=None):
    config = Configurator()
    config.set_session_factory(factory)
    if request_factory:
        config.set_request_factory(request_factory)
    if response_factory:
        config.set_response_factory(lambda request: response_factory())

    def put(request):
        request.session.update(request.params)
        return dict(request.session)

    def show(request):
        return dict(request.session)

    def logout(request):
        request.session.invalidate()
        return {}

    def own_response(request):
        request.session["own"] = "yes"
        response = PartitionedResponse(json_body={})
        return response

    for name, view in [("put", put), ("show", show), ("logout", logout)]:
        config.add_route(name, "/" + name)
        config.add_view(view, route_name=name, renderer="json")
    config.add_route("own", "/own")
    config.add_view(own_response, route_name="own")
    return TestApp(config.make_wsgi_app())


def test_a_request_class_with_its_own_cookies_is_read_through_them():
    app = app_with(EncryptedCookieSessionFactory(SECRET), request_factory=HeaderSessionRequest)
    cookie = set_cookie_value(app.get("/put", params={"user": "ann"}))
    app.reset()  # no Cookie header: only the app's request.cookies can find the session
    assert app.get("/show", headers={"X-Session": cookie}).json == {"user": "ann"}


def test_a_stock_request_ignores_a_header_only_a_custom_class_reads():
    app = app_with(EncryptedCookieSessionFactory(SECRET))
    cookie = set_cookie_value(app.get("/put", params={"user": "ann"}))
    app.reset()
    assert app.get("/show", headers={"X-Session": cookie}).json == {}


def test_a_response_class_with_its_own_set_cookie_adds_its_attributes():
    app = app_with(
        EncryptedCookieSessionFactory(SECRET, httponly=True),
        response_factory=PartitionedResponse,
    )
    header = app.get("/put", params={"user": "ann"}).headers["Set-Cookie"]
    assert header.endswith("; Partitioned")
    assert "; secure" in header and "SameSite=None" in header and "HttpOnly" in header
    value = set_cookie_value_of(header)
    assert EncryptedSerializer(SECRET).loads(value)[2] == {"user": "ann"}


def test_a_view_returning_its_own_response_subclass_gets_its_set_cookie():
    app = app_with(EncryptedCookieSessionFactory(SECRET))
    assert app.get("/own").headers["Set-Cookie"].endswith("; Partitioned")


def test_deleting_the_cookie_goes_through_the_apps_set_cookie():
    calls = []

    class Recording(Response):
        def set_cookie(self, name, value="", **kw):
            calls.append((name, value, kw))
            super().set_cookie(name, value, **kw)

    app = app_with(
        EncryptedCookieSessionFactory(SECRET, secure=True, samesite="None"),
        response_factory=Recording,
    )
    app.get("/put", params={"user": "ann"})
    response = app.get("/logout")
    name, value, kw = calls[-1]
    assert (name, value) == ("session", None)
    assert kw["secure"] is True and kw["samesite"] == "None" and kw["path"] == "/"
    assert "Max-Age=0" in response.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"max_age": 3600, "domain": "example.com", "secure": True, "httponly": True},
        {"path": None, "samesite": None},
    ],
    ids=["defaults", "every-attribute", "no-path"],
)
def test_the_hook_path_passes_set_cookie_what_pyramid_passes(options):
    seen = []

    class Recording(Response):
        def set_cookie(self, name, value="", **kw):
            seen.append(kw)
            super().set_cookie(name, value, **kw)

    factory = EncryptedCookieSessionFactory(SECRET, **options)
    app = app_with(factory, response_factory=Recording)
    header = app.get("/put", params={"user": "ann"}).headers["Set-Cookie"]
    assert seen == [
        dict(
            max_age=factory._cookie_max_age,
            path=factory._cookie_path,
            domain=factory._cookie_domain,
            secure=factory._cookie_secure,
            httponly=factory._cookie_httponly,
            samesite=factory._cookie_samesite,
        )
    ]
    # And the stock path writes what that call wrote.
    stock = app_with(factory).get("/put", params={"user": "ann"}).headers["Set-Cookie"]
    value = set_cookie_value(app.get("/put", params={"user": "ann"}))
    strip = lambda h: h.replace(set_cookie_value_of(h), "V").split("; expires=")[0]  # noqa: E731
    assert strip(stock) == strip(header)
    assert value


def set_cookie_value_of(header):
    return header.split(";", 1)[0].split("=", 1)[1]


def test_a_response_that_is_not_webobs_gets_set_cookie_called():
    class NotWebOb:
        def __init__(self):
            self.cookies = {}

        def set_cookie(self, name, value, **kw):
            self.cookies[name] = value

    from pyramid import testing

    factory = EncryptedCookieSessionFactory(SECRET, serializer="json")
    session = factory(testing.DummyRequest())
    session["user"] = "ann"
    response = NotWebOb()
    assert session._set_cookie(response) is True
    opened = EncryptedSerializer(SECRET, "json").loads(response.cookies["session"])
    assert opened[2] == {"user": "ann"}


def test_a_dummy_request_is_read_through_its_cookies_dict():
    from pyramid import testing

    factory = EncryptedCookieSessionFactory(SECRET, serializer="json")
    now = time.time()
    request = testing.DummyRequest()
    request.cookies["session"] = EncryptedSerializer(SECRET, "json").dumps((now, now, {"a": 1}))
    assert dict(factory(request)) == {"a": 1}


def test_set_on_exception_false_writes_nothing_for_a_custom_response_either():
    config = Configurator()
    config.set_session_factory(EncryptedCookieSessionFactory(SECRET, set_on_exception=False))
    config.set_response_factory(lambda request: PartitionedResponse())

    def boom(request):
        request.session["user"] = "ann"
        raise KeyError("boom")

    def handled(exc, request):
        return PartitionedResponse("handled", status=500)

    config.add_route("boom", "/boom")
    config.add_view(boom, route_name="boom")
    config.add_view(handled, context=KeyError)
    app = TestApp(config.make_wsgi_app())
    assert "Set-Cookie" not in app.get("/boom", status=500).headers


def test_stock_classes_write_what_webobs_set_cookie_writes():
    factory = EncryptedCookieSessionFactory(SECRET, max_age=60, httponly=True)
    app = app_with(factory)
    header = app.get("/put", params={"user": "ann"}).headers["Set-Cookie"]
    value = set_cookie_value_of(header)
    expected = make_cookie("session", value, max_age=60, path="/", httponly=True, samesite="Lax")
    if isinstance(expected, bytes):
        expected = expected.decode()
    assert header.split("; expires=")[0] == expected.split("; expires=")[0]


# -- writes the app did not ask for never fail the request -------------------------------------


def test_a_legacy_cookie_too_large_to_migrate_gives_a_fresh_session_and_no_500(caplog):
    now = time.time()
    state = {"q": "\x01" * 2500}  # small as a pickle, six times larger as JSON
    cookie = nacl_seal(SECRET, pickle.dumps((now, now, state), 2))
    app = app_with(EncryptedCookieSessionFactory(SECRET, serializer="json", migrate_pickle=True))
    for _ in range(2):
        app.set_cookie("session", cookie)
        with caplog.at_level(logging.WARNING, logger="pyramid_nacl_session"):
            response = app.get("/show", status=200)
        assert "Max-Age=0" in response.headers["Set-Cookie"]
    assert caplog.text.count("could not be written again") == 1
    assert "\x01" not in caplog.text


def test_a_cookie_under_an_old_key_too_large_to_reseal_gives_a_fresh_session():
    now = time.time()
    # Over the limit already (no browser sends such a cookie back, but any client can).
    cookie = nacl_seal(OTHER_SECRET, pickle.dumps((now, now, {"b": "x" * 3100})))
    assert len("session") + len(cookie) > 4096
    app = app_with(EncryptedCookieSessionFactory([SECRET, OTHER_SECRET]))
    app.set_cookie("session", cookie)
    response = app.get("/show", status=200)
    assert "Max-Age=0" in response.headers["Set-Cookie"]


def test_a_session_the_app_changed_that_is_too_large_still_fails_loudly():
    from pyramid_nacl_session import CookieTooLarge

    app = app_with(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    with pytest.raises(CookieTooLarge) as info:
        app.get("/put", params={"big": "x" * 5000})
    assert info.value.size > info.value.limit == 4096


# -- the warning zone -----------------------------------------------------------------------


class CountingJSON:
    def __init__(self):
        self.dumps_calls = 0

    def dumps(self, value):
        import json

        self.dumps_calls += 1
        return json.dumps(value).encode()

    def loads(self, data):
        import json

        return json.loads(data)


def test_the_size_warning_is_logged_once_per_factory(caplog):
    app = app_with(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    other = app_with(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    with caplog.at_level(logging.WARNING, logger="pyramid_nacl_session"):
        for _ in range(3):
            app.get("/put", params={"blob": "x" * 2400})
        other.get("/put", params={"blob": "x" * 2400})
    assert caplog.text.count("of the 4096-byte limit") == 2


def test_sizes_of_keys_are_measured_only_when_a_warning_is_written(caplog):
    serializer = CountingJSON()
    app = app_with(EncryptedCookieSessionFactory(SECRET, serializer=serializer))
    logging.getLogger("pyramid_nacl_session").disabled = True
    try:
        app.get("/put", params={"blob": "x" * 2400, "a": "1", "b": "2"})
    finally:
        logging.getLogger("pyramid_nacl_session").disabled = False
    assert serializer.dumps_calls == 1  # the cookie itself, no key measured
