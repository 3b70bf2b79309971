import json

import pytest
from pyramid.config import Configurator
from pyramid.interfaces import ISessionFactory
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, session_factory_from_settings

from .helpers import OTHER_SECRET, SECRET, nacl_open, session_app, set_cookie_value

HEX = SECRET.hex()


def make(**settings):
    settings = {k.replace("__", "."): v for k, v in settings.items()}
    settings.setdefault("session.secret", HEX)
    return session_factory_from_settings(settings)


def test_settings_configure_every_cookie_attribute():
    factory = make(
        session__cookie_name="sid",
        session__max_age="60",
        session__path="/x",
        session__domain="example.com",
        session__secure="true",
        session__httponly="yes",
        session__samesite="Strict",
        session__timeout="30",
        session__reissue_time="5",
        session__set_on_exception="off",
        session__serializer="json",
        session__absolute_timeout="3600",
    )
    assert (factory._cookie_name, factory._cookie_max_age, factory._cookie_path) == (
        "sid",
        60,
        "/x",
    )
    assert factory._cookie_domain == "example.com"
    assert (factory._cookie_secure, factory._cookie_httponly) == (True, True)
    assert (factory._timeout, factory._reissue_time, factory._absolute_timeout) == (30, 5, 3600)
    assert factory._cookie_on_exception is False and factory._cookie_samesite == "Strict"
    assert factory._serializer.serializer_name == "json"


def test_pynacl_prefix_wins_over_session_prefix():
    factory = make(session__cookie_name="a", pynacl__session__cookie_name="b")
    assert factory._cookie_name == "b"


def test_none_and_empty_mean_no_value():
    factory = make(session__timeout="none", session__max_age="", session__samesite="")
    assert (factory._timeout, factory._cookie_max_age, factory._cookie_samesite) == (
        None,
        None,
        None,
    )


def test_several_hex_keys_rotate():
    factory = make(session__secret=f"{OTHER_SECRET.hex()}\n    {HEX}", session__serializer="json")
    assert factory._serializer.key_count == 2


def test_serializer_by_dotted_name():
    factory = make(session__serializer="pyramid.session.JSONSerializer")
    assert factory._serializer.serializer_name == "json"
    factory = make(session__serializer="tests.test_settings.UpperJSON")
    assert factory._serializer.serializer_name == "custom"


class UpperJSON:
    def dumps(self, value):
        return json.dumps(value).upper().encode()

    def loads(self, data):
        return json.loads(data)


@pytest.mark.parametrize(
    "settings, says",
    [
        ({"session.secret": "invalid"}, "session.secret: secret must be 32 random bytes or 64 hex"),
        ({"session.secret": "  "}, "session.secret: empty"),
        ({"session.secret": HEX + " abc"}, "session.secret: secret[1]: secret must be"),
        ({}, "session.secret: missing"),
        (
            {"session.timeout": "soon"},
            "session.timeout: expected a number of seconds or None, got 'soon'",
        ),
        ({"session.max_age": "-1"}, "session.max_age: expected a number of seconds"),
        (
            {"pynacl.session.secure": "ture"},
            "pynacl.session.secure: expected true or false, got 'ture'",
        ),
        ({"session.samesite": "Loose"}, "session.samesite: expected one of Strict, Lax, None"),
        ({"session.samesite": "None"}, "session.samesite: SameSite=None needs secure = true"),
        (
            {"session.serializer": "yaml"},
            "session.serializer: expected json, pickle or a dotted name",
        ),
        (
            {"session.serializer": "pickle", "session.migrate_pickle": "true"},
            "session.migrate_pickle: migrate_pickle works only with the JSON serializer",
        ),
        (
            {"session.timout": "10"},
            "session.timout: not a pyramid_nacl_session setting; did you mean session.timeout?",
        ),
        ({"session.cookie_name": "a b"}, "session.cookie_name: expected a cookie name"),
        ({"session.cookie_name": "path"}, "session.cookie_name: 'path' is a cookie attribute's"),
        ({"session.cookie_name": "$x"}, "session.cookie_name: '$x' is a cookie attribute's"),
        ({"session.timeout": "1.5"}, "session.timeout: expected a whole number of seconds"),
        ({"session.path": "/\u20ac"}, "session.path: expected latin-1 text"),
        (
            {"session.type": "file"},
            "session.type: not a pyramid_nacl_session setting; session.type looks like a "
            "pyramid_beaker setting left behind",
        ),
        (
            {"session.secret": "g" * 64},
            "session.secret: secret must be 32 random bytes or 64 hex digits, got str of length "
            "64 that is not all hex digits",
        ),
    ],
)
def test_bad_setting_fails_at_start_up_naming_the_setting(settings, says):
    if "session.secret" not in settings and says != "session.secret: missing":
        settings["session.secret"] = HEX
    with pytest.raises(ValueError) as info:
        session_factory_from_settings(settings)
    assert str(info.value).startswith(says)
    assert info.value.option == says.split(":")[0]
    assert HEX not in str(info.value) and "g" * 64 not in str(info.value)


@pytest.mark.parametrize("value", [1.5, "1.5", "1,5", float("nan"), float("inf")])
def test_seconds_are_whole_numbers_from_python_and_from_settings_alike(value):
    with pytest.raises(ValueError, match="timeout: expected a") as from_python:
        EncryptedCookieSessionFactory(HEX, timeout=value)
    assert from_python.value.option == "timeout"
    with pytest.raises(ValueError, match="session.timeout: expected a"):
        session_factory_from_settings({"session.secret": HEX, "session.timeout": str(value)})


@pytest.mark.parametrize("value", [30, "30", 30.0, "30.0", " 30 "])
def test_whole_seconds_read_the_same_from_python_and_settings(value):
    assert EncryptedCookieSessionFactory(HEX, timeout=value)._timeout == 30
    assert make(session__timeout=str(value))._timeout == 30


def test_samesite_none_with_secure_is_accepted():
    factory = make(session__samesite="None", session__secure="true")
    assert factory._cookie_samesite == "None"


def test_includeme_sets_the_factory_from_settings():
    config = Configurator(
        settings={"session.secret": HEX, "session.serializer": "json", "session.cookie_name": "inc"}
    )
    config.include("pyramid_nacl_session")

    def view(request):
        request.session["x"] = 1
        return "ok"

    config.add_view(view, renderer="string")
    app = TestApp(config.make_wsgi_app())
    response = app.get("/")
    assert json.loads(nacl_open(SECRET, set_cookie_value(response, "inc")))[2] == {"x": 1}
    assert config.registry.getUtility(ISessionFactory)._cookie_name == "inc"


def test_ini_style_app_with_pyramid_includes(tmp_path):
    from pyramid.paster import get_app

    ini = tmp_path / "app.ini"
    ini.write_text(
        "[app:main]\n"
        "use = call:tests.test_settings:ini_app\n"
        "pyramid.includes = pyramid_nacl_session\n"
        f"session.secret = {HEX}\n"
        "session.serializer = json\n"
        "session.httponly = true\n"
    )
    app = TestApp(get_app(str(ini)))
    response = app.get("/")
    assert "HttpOnly" in response.headers["Set-Cookie"]
    assert app.get("/").text == "visits: 2"


def ini_app(global_config, **settings):
    config = Configurator(settings=settings)

    def view(request):
        request.session["visits"] = request.session.get("visits", 0) + 1
        return f"visits: {request.session['visits']}"

    config.add_view(view, renderer="string")
    return config.make_wsgi_app()


def test_settings_factory_serves_a_real_app():
    app = session_app(make(session__serializer="json"))
    app.get("/put", params={"a": "b"})
    assert app.get("/show").json == {"a": "b"}
