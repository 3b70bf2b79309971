"""migrate_signed_*: an app moving off Pyramid's SignedCookieSessionFactory keeps its users.

Real Pyramid is the oracle: an app on ``SignedCookieSessionFactory`` mints the cookies, an app on
ours reads them through WebTest and answers with an encrypted cookie holding the same session.
"""

import copy
import datetime
import json
import logging
import os
import pickle
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyramid.config import Configurator
from pyramid.interfaces import IRequestFactory, IResponseFactory
from pyramid.paster import get_app
from pyramid.router import Router
from pyramid.session import PickleSerializer, SignedCookieSessionFactory
from webob.cookies import SignedSerializer
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer, _core
from pyramid_nacl_session._core import (
    BadPayload,
    BadSignature,
    CookieError,
    CookieTooShort,
    MalformedCookie,
    SignedCookieReader,
)
from pyramid_nacl_session.utils import session_factory_from_settings

from .helpers import SECRET, eventually, nacl_open, set_cookie_value

OLD_SECRET = "the old signing secret, as a Pyramid tutorial would have it"


def app(factory):
    """A Pyramid app that logs a user in (with flash messages and a CSRF token) and shows the
    session."""
    config = Configurator()
    config.set_session_factory(factory)

    def login(request):
        session = request.session
        session["user"] = request.params.get("user", "alice")
        session["roles"] = ["admin", "editor"]
        session["n"] = 3
        session.flash("welcome back")
        session.flash("check your settings", "warnings")
        session.new_csrf_token()
        return {}

    def show(request):
        session = request.session
        return {
            "state": dict(session),
            "flash": session.peek_flash(),
            "warnings": session.peek_flash("warnings"),
            "csrf": session.get_csrf_token(),
            "new": session.new,
        }

    def store(request):
        request.session["thing"] = request.registry.settings["thing"]
        return {}

    config.add_settings(thing=None)
    for name, view in [("login", login), ("show", show), ("store", store)]:
        config.add_route(name, "/" + name)
        config.add_view(view, route_name=name, renderer="json")
    return TestApp(config.make_wsgi_app())


def mint(old_factory, cookie_name="session", view="/login"):
    """A cookie from a real app on Pyramid's SignedCookieSessionFactory, and what it holds."""
    old = app(old_factory)
    old.get(view)
    shown = old.get("/show").json
    assert shown["new"] is False
    return old.cookies[cookie_name], shown


def ours(**options):
    return app(EncryptedCookieSessionFactory(SECRET, **options))


def visit(our_app, cookie, cookie_name="session"):
    our_app.set_cookie(cookie_name, cookie)
    return our_app.get("/show")


def sealed_state(response, serializer=None):
    """What our Set-Cookie holds, opened with PyNaCl (the oracle) and read by ``serializer``."""
    value = set_cookie_value(response)
    assert value is not None, response.headers.getall("Set-Cookie")
    plaintext = nacl_open(SECRET, value)
    return (serializer or pickle.loads)(plaintext)


def assert_moved(shown, response, serializer=None):
    """Our app saw the old session, and resealed exactly it as ours."""
    got = response.json
    assert got["new"] is False
    assert got["state"] == shown["state"]
    assert got["flash"] == ["welcome back"]
    assert got["warnings"] == ["check your settings"]
    assert got["csrf"] == shown["csrf"]
    _, _, state = sealed_state(response, serializer)
    assert state == shown["state"]


def test_a_default_signed_cookie_moves_over_with_flash_queues_and_csrf_token():
    cookie, shown = mint(SignedCookieSessionFactory(OLD_SECRET))
    ours_app = ours(migrate_signed_secret=OLD_SECRET)
    response = visit(ours_app, cookie)
    assert_moved(shown, response)
    # The next request carries only our cookie, and the user is still logged in.
    assert ours_app.cookies["session"] == set_cookie_value(response) != cookie
    assert ours_app.get("/show").json["state"] == shown["state"]


def test_the_moved_session_keeps_its_times():
    before = int(time.time())  # Pyramid notes access times in whole seconds
    cookie, _ = mint(SignedCookieSessionFactory(OLD_SECRET))
    accessed, created, _ = sealed_state(visit(ours(migrate_signed_secret=OLD_SECRET), cookie))
    assert before <= created <= time.time() and before <= accessed <= time.time()


@pytest.mark.parametrize(
    "old_options, our_options",
    [
        ({"serializer": PickleSerializer()}, {"migrate_signed_serializer": "pickle"}),
        (
            {"serializer": PickleSerializer(protocol=2)},
            {"migrate_signed_serializer": PickleSerializer()},
        ),
        ({"salt": "my.app."}, {"migrate_signed_salt": "my.app."}),
        ({"salt": ""}, {"migrate_signed_salt": ""}),
        ({"hashalg": "sha256"}, {"migrate_signed_hashalg": "sha256"}),
        ({"hashalg": "sha1"}, {"migrate_signed_hashalg": "SHA1"}),
        ({"hashalg": "sha384"}, {"migrate_signed_hashalg": "sha384"}),
        ({"hashalg": "sha224"}, {"migrate_signed_hashalg": "sha224"}),
        (
            {"salt": "s.", "hashalg": "sha256", "serializer": PickleSerializer()},
            {
                "migrate_signed_salt": "s.",
                "migrate_signed_hashalg": "sha256",
                "migrate_signed_serializer": "pickle",
            },
        ),
    ],
)
@pytest.mark.parametrize("our_serializer", ["pickle", "json"])
def test_signed_cookies_of_every_supported_shape_move_over(
    old_options, our_options, our_serializer
):
    cookie, shown = mint(SignedCookieSessionFactory(OLD_SECRET, **old_options))
    response = visit(
        ours(serializer=our_serializer, migrate_signed_secret=OLD_SECRET, **our_options), cookie
    )
    assert_moved(shown, response, json.loads if our_serializer == "json" else pickle.loads)


@pytest.mark.parametrize("secret", ["sécret", "s€cret", b"bytes secret"])
@pytest.mark.parametrize("salt", ["pyramid.session.", "sälz.", "€."])
def test_the_signing_key_is_encoded_as_webob_encodes_it(secret, salt):
    signer = SignedSerializer(secret, salt, "sha512")
    value = signer.dumps([1.0, 2.0, {"user": "é"}]).decode()
    reader = SignedCookieReader(secret, salt=salt)
    assert reader.loads(value) == [1.0, 2.0, {"user": "é"}]
    with pytest.raises(BadSignature):
        SignedCookieReader(secret, salt=salt + "x").loads(value)


def test_another_old_cookie_name_is_read_and_deleted():
    cookie, shown = mint(SignedCookieSessionFactory(OLD_SECRET, cookie_name="pyrsess"), "pyrsess")
    ours_app = ours(migrate_signed_secret=OLD_SECRET, migrate_signed_cookie_name="pyrsess")
    response = visit(ours_app, cookie, "pyrsess")
    assert_moved(shown, response)
    deletions = [h for h in response.headers.getall("Set-Cookie") if h.startswith("pyrsess=")]
    assert len(deletions) == 1
    assert "Max-Age=0" in deletions[0] and "Path=/" in deletions[0]
    # With only our cookie, the user is still logged in.
    ours_app.reset()
    ours_app.set_cookie("session", set_cookie_value(response))
    assert ours_app.get("/show").json["state"] == shown["state"]


def test_our_cookie_wins_over_an_old_one():
    cookie, _ = mint(SignedCookieSessionFactory(OLD_SECRET, cookie_name="pyrsess"), "pyrsess")
    ours_app = ours(migrate_signed_secret=OLD_SECRET, migrate_signed_cookie_name="pyrsess")
    ours_app.get("/show")  # a fresh session of ours, sealed
    ours_app.set_cookie("pyrsess", cookie)
    shown = ours_app.get("/show").json
    assert shown["new"] is False and shown["state"] == {"_csrft_": shown["csrf"]}


def test_an_empty_old_session_is_still_moved_so_the_old_cookie_goes():
    old = app(SignedCookieSessionFactory(OLD_SECRET, cookie_name="pyrsess"))
    old.get("/login")
    cookie = old.cookies["pyrsess"]
    ours_app = app(
        EncryptedCookieSessionFactory(
            SECRET, migrate_signed_secret=OLD_SECRET, migrate_signed_cookie_name="pyrsess"
        )
    )
    ours_app.set_cookie("pyrsess", cookie)
    response = ours_app.get("/login")
    assert set_cookie_value(response) is not None
    assert any(h.startswith("pyrsess=;") for h in response.headers.getall("Set-Cookie"))


def test_without_the_option_a_signed_cookie_is_a_fresh_session():
    cookie, _ = mint(SignedCookieSessionFactory(OLD_SECRET))
    shown = visit(ours(), cookie).json
    assert shown["new"] is True and shown["state"] == {}


def tampered(cookie):
    middle = len(cookie) // 2
    return cookie[:middle] + ("A" if cookie[middle] != "A" else "B") + cookie[middle + 1 :]


@pytest.mark.parametrize(
    "spoil, options",
    [
        (tampered, {}),
        (lambda c: c[: len(c) // 2], {}),
        (lambda c: c[:40], {}),
        (lambda c: c + "AAAA", {}),
        (lambda c: "", {}),
        (lambda c: c, {"migrate_signed_secret": "not the old secret"}),
        (lambda c: c, {"migrate_signed_salt": "another.salt."}),
        (lambda c: c, {"migrate_signed_hashalg": "sha256"}),
        (lambda c: c, {"migrate_signed_serializer": "pickle"}),
    ],
    ids=[
        "tampered",
        "truncated",
        "shorter-than-tag",
        "extended",
        "empty",
        "wrong-secret",
        "wrong-salt",
        "wrong-hashalg",
        "wrong-serializer",
    ],
)
def test_a_spoiled_signed_cookie_is_a_fresh_session(spoil, options):
    cookie, _ = mint(SignedCookieSessionFactory(OLD_SECRET))
    shown = visit(ours(**{"migrate_signed_secret": OLD_SECRET, **options}), spoil(cookie)).json
    assert shown["new"] is True and "user" not in shown["state"]


def minted_at(monkeypatch, seconds_ago, **old_options):
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - seconds_ago)
    try:
        return mint(SignedCookieSessionFactory(OLD_SECRET, **old_options))
    finally:
        monkeypatch.setattr(time, "time", real_time)


def test_an_expired_signed_cookie_is_a_fresh_session(monkeypatch):
    cookie, _ = minted_at(monkeypatch, 1300)
    # Our own timeout is off, so only the old factory's timeout (1200) can refuse it.
    shown = visit(ours(timeout=None, migrate_signed_secret=OLD_SECRET), cookie).json
    assert shown["new"] is True and "user" not in shown["state"]
    # Pyramid itself agrees that the session is gone.
    old = app(SignedCookieSessionFactory(OLD_SECRET))
    old.set_cookie("session", cookie)
    assert "user" not in old.get("/show").json["state"]


def test_a_signed_cookie_inside_the_old_timeout_moves(monkeypatch):
    cookie, shown = minted_at(monkeypatch, 1100)
    response = visit(ours(timeout=None, migrate_signed_secret=OLD_SECRET), cookie)
    assert response.json["state"] == shown["state"]


def test_the_old_timeout_is_configurable(monkeypatch):
    cookie, shown = minted_at(monkeypatch, 5000, timeout=None)
    refused = visit(ours(timeout=None, migrate_signed_secret=OLD_SECRET), cookie).json
    assert "user" not in refused["state"]
    options = {"timeout": None, "migrate_signed_secret": OLD_SECRET}
    for timeout in (None, 6000):
        response = visit(ours(migrate_signed_timeout=timeout, **options), cookie)
        assert response.json["state"] == shown["state"]


def test_our_timeouts_apply_to_a_moved_session(monkeypatch):
    cookie, _ = minted_at(monkeypatch, 1100)
    shown = visit(ours(timeout=600, migrate_signed_secret=OLD_SECRET), cookie).json
    assert "user" not in shown["state"]


class CreatesAFile:
    """Unpickling this runs ``open(path, 'w')``: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_that_is_not_plain_data_is_refused_and_runs_no_code(tmp_path):
    marker = tmp_path / "code-ran"
    old_factory = SignedCookieSessionFactory(OLD_SECRET, serializer=PickleSerializer())
    old = app(old_factory)
    old.app.registry.settings["thing"] = CreatesAFile(str(marker))
    old.get("/store")
    cookie = old.cookies["session"]
    assert not marker.exists()

    shown = visit(
        ours(migrate_signed_secret=OLD_SECRET, migrate_signed_serializer="pickle"), cookie
    ).json
    assert shown["new"] is True and "thing" not in shown["state"]
    assert not marker.exists()

    # The oracle: Pyramid's own factory runs that code when it reads the same cookie.
    old_reader = app(old_factory)
    old_reader.set_cookie("session", cookie)
    with pytest.raises(TypeError):  # the view's JSON renderer cannot write a file object
        old_reader.get("/show")
    assert marker.exists()


def test_the_reader_refuses_a_code_running_pickle_with_a_cookie_error(tmp_path):
    marker = tmp_path / "code-ran"
    signer = SignedSerializer(OLD_SECRET, "pyramid.session.", serializer=PickleSerializer())
    value = signer.dumps((1.0, 2.0, {"x": CreatesAFile(str(marker))}))
    with pytest.raises(CookieError):
        SignedCookieReader(OLD_SECRET, serializer="pickle").loads(value)
    assert not marker.exists()


def test_reader_errors_are_cookie_errors_that_say_why():
    reader = SignedCookieReader(OLD_SECRET)
    signer = SignedSerializer(OLD_SECRET, "pyramid.session.")
    good = signer.dumps([1, 2, {}]).decode()
    assert reader.loads(good) == [1, 2, {}]
    with pytest.raises(MalformedCookie):
        reader.loads("not*base64")
    with pytest.raises(CookieTooShort):
        reader.loads("AAAA")
    with pytest.raises(BadSignature):
        reader.loads(tampered(good))
    raw = SignedSerializer(OLD_SECRET, "pyramid.session.", serializer=_Raw())
    with pytest.raises(BadPayload):
        reader.loads(raw.dumps(b"{not json"))
    with pytest.raises(BadPayload):
        reader.loads(raw.dumps(b"\xff"))
    for error in (MalformedCookie, CookieTooShort, BadSignature, BadPayload):
        assert issubclass(error, ValueError)


class _Raw:
    def dumps(self, appstruct):
        return appstruct

    def loads(self, bstruct):
        return bstruct


def test_the_reader_never_shows_its_secret():
    reader = SignedCookieReader(OLD_SECRET, salt="my.salt.", hashalg="sha256")
    assert OLD_SECRET not in repr(reader) and "my.salt." not in repr(reader)
    assert reader.hashalg == "sha256" and reader.serializer == "json"
    for copier in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            copier(reader)
    factory = EncryptedCookieSessionFactory(SECRET, migrate_signed_secret=OLD_SECRET)
    assert OLD_SECRET not in repr(factory._migrate_signed)


# The window


def test_an_end_in_the_past_turns_the_option_off_with_a_warning(caplog):
    cookie, _ = mint(SignedCookieSessionFactory(OLD_SECRET))
    with caplog.at_level(logging.WARNING, "pyramid_nacl_session"):
        ours_app = ours(migrate_signed_secret=OLD_SECRET, migrate_signed_until="2020-01-01")
    assert "migrate_signed_until" in caplog.text and "has passed" in caplog.text
    assert OLD_SECRET not in caplog.text
    assert visit(ours_app, cookie).json["new"] is True


@pytest.mark.parametrize(
    "until",
    [
        datetime.date.today() + datetime.timedelta(days=30),
        # Naive means UTC.
        datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        + datetime.timedelta(hours=1),
        (datetime.date.today() + datetime.timedelta(days=2)).isoformat(),
        (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime(
            "%Y-%m-%dT%H:%MZ"
        ),
        time.time() + 3600,  # computed when the tests are collected, long before they run
    ],
)
def test_an_end_in_the_future_keeps_the_window_open(until):
    cookie, shown = mint(SignedCookieSessionFactory(OLD_SECRET))
    response = visit(ours(migrate_signed_secret=OLD_SECRET, migrate_signed_until=until), cookie)
    assert response.json["state"] == shown["state"]


def test_the_window_closes_while_the_app_runs_with_one_warning(monkeypatch, caplog):
    cookie, _ = mint(SignedCookieSessionFactory(OLD_SECRET))
    ours_app = ours(migrate_signed_secret=OLD_SECRET, migrate_signed_until=time.time() + 5)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 10)
    with caplog.at_level(logging.WARNING, "pyramid_nacl_session"):
        for _ in range(3):
            ours_app.reset()
            assert visit(ours_app, cookie).json["new"] is True
    assert caplog.text.count("has passed") == 1


# Configuration


def test_settings_from_a_paste_ini_configure_the_move():
    cookie, shown = mint(
        SignedCookieSessionFactory(
            OLD_SECRET,
            salt="app.",
            hashalg="sha256",
            cookie_name="old",
            serializer=PickleSerializer(),
        ),
        "old",
    )
    factory = session_factory_from_settings(
        {
            "session.secret": SECRET.hex(),
            "session.serializer": "json",
            "session.migrate_signed_secret": OLD_SECRET,
            "session.migrate_signed_salt": "app.",
            "session.migrate_signed_hashalg": "sha256",
            "session.migrate_signed_serializer": "pickle",
            "session.migrate_signed_cookie_name": "old",
            "session.migrate_signed_timeout": "3600",
            "session.migrate_signed_until": "2999-01-01",
        }
    )
    response = visit(app(factory), cookie, "old")
    assert_moved(shown, response, json.loads)


def test_only_the_secret_setting_is_needed_for_pyramid_defaults():
    cookie, shown = mint(SignedCookieSessionFactory(OLD_SECRET))
    factory = session_factory_from_settings(
        {"session.secret": SECRET.hex(), "session.migrate_signed_secret": OLD_SECRET}
    )
    assert_moved(shown, visit(app(factory), cookie))


@pytest.mark.parametrize(
    "settings, says",
    [
        ({"session.migrate_signed_salt": "x."}, "session.migrate_signed_salt: set without"),
        ({"session.migrate_signed_until": "2030-01-01"}, "session.migrate_signed_until: set"),
        ({"session.migrate_signed_secret": ""}, "session.migrate_signed_secret: empty"),
        (
            {"pynacl.session.migrate_signed_secret": "s", "session.migrate_signed_hashalg": "x"},
            "session.migrate_signed_hashalg: expected",
        ),
    ],
)
def test_bad_migrate_signed_settings_fail_at_start_up_naming_the_setting(settings, says):
    with pytest.raises(ValueError) as raised:
        session_factory_from_settings({"session.secret": SECRET.hex(), **settings})
    assert str(raised.value).startswith(says)


@pytest.mark.parametrize(
    "option, text, says",
    [
        ("hashalg", "md5", "expected one of sha512"),
        ("serializer", "yaml", "expected json or pickle"),
        ("cookie_name", "a b", "expected a cookie name"),
        ("timeout", "-1", "expected a number of seconds"),
        ("until", "next week", "expected a date or time in ISO 8601"),
    ],
)
def test_a_bad_migrate_signed_setting_beside_the_secret_fails_naming_it(option, text, says):
    setting = f"session.migrate_signed_{option}"
    settings = {"session.migrate_signed_secret": "s", setting: text}
    with pytest.raises(ValueError) as raised:
        session_factory_from_settings({"session.secret": SECRET.hex(), **settings})
    assert str(raised.value).startswith(f"{setting}: {says}")


@pytest.mark.parametrize(
    "options, says",
    [
        ({"migrate_signed_hashalg": "sha256"}, "migrate_signed_hashalg: set without"),
        ({"migrate_signed_secret": 12}, "migrate_signed_secret: expected str or bytes"),
        ({"migrate_signed_secret": "s", "migrate_signed_salt": None}, "migrate_signed_salt"),
        ({"migrate_signed_secret": "s", "migrate_signed_until": "x"}, "migrate_signed_until"),
        ({"migrate_signed_secret": "s", "migrate_signed_serializer": json}, "migrate_signed_s"),
    ],
)
def test_bad_migrate_signed_keywords_fail_at_start_up_naming_the_option(options, says):
    with pytest.raises(ValueError) as raised:
        EncryptedCookieSessionFactory(SECRET, **options)
    assert str(raised.value).startswith(says)


def test_the_serializer_of_ours_is_untouched_by_the_option():
    factory = EncryptedCookieSessionFactory(SECRET, migrate_signed_secret=OLD_SECRET)
    assert isinstance(factory._serializer, EncryptedSerializer)
    assert factory._serializer.serializer_name == "pickle"


# Through the app's own request and response classes, and a reseal that cannot be written


def test_the_old_cookie_is_read_through_the_apps_own_request_cookies():
    from pyramid.request import Request
    from webob.cookies import RequestCookies

    class HeaderCookies(Request):
        """Takes cookies from X-Session-Cookies (say, a native client that cannot send Cookie)."""

        @property
        def cookies(self):
            return RequestCookies({"HTTP_COOKIE": self.headers.get("X-Session-Cookies", "")})

    cookie, shown = mint(SignedCookieSessionFactory(OLD_SECRET))
    custom = TestApp(_with_request_factory(HeaderCookies))
    # In the Cookie header it is not seen; in the app's own header it is.
    custom.set_cookie("session", cookie)
    assert "user" not in custom.get("/show").json["state"]
    custom.reset()
    response = custom.get("/show", headers={"X-Session-Cookies": f"session={cookie}"})
    assert_moved(shown, response)


def _with_request_factory(request_factory, response_factory=None, **options):
    """``app()``'s views on our factory, with the app's own request and response classes."""
    inner = app(
        EncryptedCookieSessionFactory(SECRET, migrate_signed_secret=OLD_SECRET, **options)
    ).app
    registry = inner.registry
    registry.registerUtility(request_factory, IRequestFactory)
    if response_factory is not None:
        registry.registerUtility(lambda request: response_factory(), IResponseFactory)
    return Router(registry)


def test_the_old_cookie_deletion_and_ours_go_through_the_apps_own_set_cookie():
    from pyramid.request import Request
    from pyramid.response import Response

    class SecureCookies(Response):
        def set_cookie(self, name, value="", **kw):
            kw["secure"] = True
            super().set_cookie(name, value, **kw)

    cookie, shown = mint(SignedCookieSessionFactory(OLD_SECRET, cookie_name="pyrsess"), "pyrsess")
    ours_app = TestApp(
        _with_request_factory(Request, SecureCookies, migrate_signed_cookie_name="pyrsess")
    )
    ours_app.set_cookie("pyrsess", cookie)
    response = ours_app.get("/login")  # a view whose response comes from the response factory
    headers = response.headers.getall("Set-Cookie")
    ours_header = [h for h in headers if h.startswith("session=")]
    old_header = [h for h in headers if h.startswith("pyrsess=")]
    assert len(ours_header) == 1 and "secure" in ours_header[0].lower()
    assert len(old_header) == 1 and "Max-Age=0" in old_header[0]
    assert "secure" in old_header[0].lower()


def test_a_moved_session_too_large_for_our_cookie_is_dropped_without_failing_the_request(
    caplog,
):
    # 500 floats: about 2.5 KB of JSON in the signed cookie, 4.5 KB once pickled for ours.
    old = app(SignedCookieSessionFactory(OLD_SECRET, cookie_name="pyrsess"))
    old.app.registry.settings["thing"] = [0.5] * 500
    old.get("/login")  # a CSRF token, so that showing the session changes nothing
    old.get("/store")
    cookie = old.cookies["pyrsess"]
    assert len(cookie) < 4064  # Pyramid wrote it
    ours_app = ours(migrate_signed_secret=OLD_SECRET, migrate_signed_cookie_name="pyrsess")
    ours_app.set_cookie("pyrsess", cookie)
    with caplog.at_level(logging.WARNING, "pyramid_nacl_session"):
        response = ours_app.get("/show", status=200)
    # The view saw the session; the response could not carry it, so the user starts afresh.
    assert response.json["state"]["user"] == "alice"
    assert "could not be written again" in caplog.text and OLD_SECRET not in caplog.text
    headers = response.headers.getall("Set-Cookie")
    assert any(h.startswith("pyrsess=;") for h in headers)  # the old cookie goes all the same
    assert not any(h.startswith("session=") and "Max-Age=0" not in h for h in headers)


# pyramid-nacl-session decode --signed


@pytest.fixture
def cli(monkeypatch, capsys):
    from pyramid_nacl_session.cli import ENV_VAR, SIGNED_ENV_VAR, main

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv(SIGNED_ENV_VAR, raising=False)

    def run(*argv, signed_secret=None):
        if signed_secret is not None:
            monkeypatch.setenv(SIGNED_ENV_VAR, signed_secret)
        status = main(list(argv))
        out, err = capsys.readouterr()
        assert OLD_SECRET not in out + err
        return status, out, err

    return run


def test_decode_signed_shows_a_signed_session_given_the_signing_secret(cli):
    cookie, shown = mint(SignedCookieSessionFactory(OLD_SECRET))
    status, out, _ = cli("decode", "--signed", f"session={cookie}", signed_secret=OLD_SECRET)
    assert status == 0
    report = json.loads(out)
    assert report["state"] == shown["state"] and report["payload"] == "json (signed)"


def test_decode_signed_reads_pickles_as_plain_data_and_takes_salt_and_hashalg(cli):
    factory = SignedCookieSessionFactory(
        OLD_SECRET, salt="app.", hashalg="sha256", serializer=PickleSerializer()
    )
    cookie, shown = mint(factory)
    status, out, _ = cli(
        "decode", "--signed", "--salt", "app.", "--hashalg", "sha256", cookie,
        signed_secret=OLD_SECRET,
    )  # fmt: skip
    assert status == 0
    assert json.loads(out)["state"] == shown["state"]
    assert json.loads(out)["payload"] == "pickle (plain data, signed)"


def test_decode_signed_takes_the_move_settings_from_the_ini(cli, tmp_path):
    examples = os.path.join(os.path.dirname(__file__), os.pardir, "examples")
    # Copies beside no key file: --signed needs the signing secret alone, so the app's own keys
    # (session.secret_file, which names a file that is not there) are not read.
    for name in ("development.ini", "migrate-signed.ini"):
        with open(os.path.join(examples, name)) as f:
            (tmp_path / name).write_text(f.read())
    ini = str(tmp_path / "migrate-signed.ini")
    old = TestApp(get_app(os.path.join(examples, "signed.ini")))
    form = old.get("/").forms[0]
    form["username"], form["password"] = "ann", "demo"
    form.submit()
    status, out, _ = cli("decode", "--signed", "--ini", ini, old.cookies["session"])
    assert status == 0 and json.loads(out)["state"]["user"] == "ann"


@pytest.mark.parametrize(
    "argv, secret, says",
    [
        ((), "not the old secret", "the signature does not verify"),
        (("--salt", "other."), OLD_SECRET, "the signature does not verify"),
        (("--hashalg", "md5"), OLD_SECRET, "hashalg: expected one of"),
        ((), None, "no signing secret"),
    ],
)
def test_decode_signed_says_why_it_cannot(cli, argv, secret, says):
    cookie, _ = mint(SignedCookieSessionFactory(OLD_SECRET))
    status, out, err = cli("decode", "--signed", *argv, cookie, signed_secret=secret)
    assert status in (1, 2) and out == "" and says in err


def test_a_signed_pickle_of_shared_references_is_a_fresh_session_at_once():
    # 40 levels of [x, x]: a few hundred bytes that expand to 2**40 leaves if copied out.
    x = []
    for _ in range(40):
        x = [x, x]
    signer = SignedSerializer(OLD_SECRET, "pyramid.session.", serializer=PickleSerializer())
    now = time.time()
    cookie = signer.dumps((now, now, {"x": x})).decode()
    assert len(cookie) < 4064
    # Copied out, it would never finish: that the request ends at all is the check (the reader
    # refuses shared references, as the last lines show), with no time asserted.
    shown = visit(
        ours(
            serializer="json",
            migrate_signed_secret=OLD_SECRET,
            migrate_signed_serializer="pickle",
        ),
        cookie,
    ).json
    assert shown["new"] is True and "x" not in shown["state"]
    with pytest.raises(_core.RefusedPickle):
        SignedCookieReader(OLD_SECRET, serializer="pickle").read_value(cookie)


# Properties: any session WebOb signs reads back the same; any change to it is refused.

_json_leaves = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
_json_values = st.recursive(
    _json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
_states = st.dictionaries(st.text(), _json_values, max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    state=_states,
    # Up to now: a session dated ahead is refused (see the test after this one).
    renewed=st.floats(0, time.time()),
    salt=st.text(max_size=12),
    secret=st.text(min_size=1, max_size=80),
    hashalg=st.sampled_from(SignedCookieReader.HASHALGS),
    pickled=st.booleans(),
)
def test_every_session_webob_signs_reads_back_the_same(
    state, renewed, salt, secret, hashalg, pickled
):
    serializer = PickleSerializer() if pickled else None
    signer = SignedSerializer(secret, salt, hashalg, serializer=serializer)
    value = signer.dumps((renewed, renewed, state)).decode()
    reader = SignedCookieReader(
        secret, salt=salt, hashalg=hashalg, serializer="pickle" if pickled else "json"
    )
    assert reader.read_value(value) == (state, renewed, renewed)


@settings(max_examples=200, deadline=None)
@given(state=_states, data=st.data())
def test_every_changed_character_is_refused(state, data):
    signer = SignedSerializer(OLD_SECRET, "pyramid.session.")
    value = signer.dumps((1.0, 2.0, state)).decode()
    at = data.draw(st.integers(0, len(value) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/. "
    other = data.draw(st.sampled_from([c for c in alphabet if c != value[at]]))
    changed = value[:at] + other + value[at + 1 :]
    with pytest.raises(CookieError):
        SignedCookieReader(OLD_SECRET).read_value(changed)


# With revocation on: a moved session is checked like any other, and gets an id.


def test_with_revocation_a_moved_session_stays_without_an_id_and_a_revoked_user_is_refused(
    redis_server, apps
):
    cookie, shown = mint(SignedCookieSessionFactory(OLD_SECRET))
    ours_app, factory = apps(redis_server.url, migrate_signed_secret=OLD_SECRET)
    ours_app.set_cookie("session", cookie)
    assert ours_app.get("/whoami").json["user"] == "alice"
    sealed = ours_app.cookies["session"]
    _, _, state = EncryptedSerializer(SECRET, "json").loads(sealed)
    # Named by its creation time, which the old cookie shares: see the next test.
    assert state["user"] == "alice" and "_sid_" not in state

    factory.revocation.revoke_user("alice")
    for value in (cookie, sealed):  # the old signed cookie, and the moved one
        ours_app.reset()
        ours_app.set_cookie("session", value)
        assert ours_app.get("/whoami").json["user"] is None


def test_with_revocation_logging_out_of_a_moved_session_ends_the_old_signed_cookie_too(
    redis_server, apps
):
    # A signed cookie carries no session id: a stolen copy used to survive invalidate() there.
    cookie, _ = mint(SignedCookieSessionFactory(OLD_SECRET))
    browser, _ = apps(redis_server.url, migrate_signed_secret=OLD_SECRET)
    worker, _ = apps(redis_server.url, migrate_signed_secret=OLD_SECRET)
    browser.set_cookie("session", cookie)
    assert browser.get("/whoami").json["user"] == "alice"
    browser.get("/logout")

    def refused():
        thief = TestApp(worker.app)
        thief.set_cookie("session", cookie)
        return thief.get("/whoami").json["user"] is None

    assert eventually(refused)


def test_decode_signed_refuses_keys_given_for_our_cookies_without_showing_them(cli):
    cookie, _ = mint(SignedCookieSessionFactory(OLD_SECRET))
    key = "ab" * 32
    status, out, err = cli("decode", "--signed", "--secret", key, cookie, signed_secret=OLD_SECRET)
    assert status == 2 and out == "" and "--signed takes its signing secret" in err
    assert key not in err
