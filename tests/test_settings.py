import json

import pytest
from pyramid.config import Configurator
from pyramid.interfaces import ISessionFactory
from webtest import TestApp

from pyramid_nacl_session import (
    EncryptedCookieSessionFactory,
    EncryptedSerializer,
    OptionError,
    session_factory_from_settings,
)
from pyramid_nacl_session.registry import OPTIONS

from .helpers import OTHER_SECRET, SECRET, nacl_open, session_app, set_cookie_value

HEX = SECRET.hex()


def make(**settings):
    settings = {k.replace("__", "."): v for k, v in settings.items()}
    settings.setdefault("session.secret", HEX)
    return session_factory_from_settings(settings)


# Each setting's text, and what the factory then holds: read together, from one app's settings.
EVERY_COOKIE_SETTING = {
    "cookie_name": ("sid", "_cookie_name", "sid"),
    "max_age": ("60", "_cookie_max_age", 60),
    "path": ("/x", "_cookie_path", "/x"),
    "domain": ("example.com", "_cookie_domain", "example.com"),
    "secure": ("true", "_cookie_secure", True),
    "httponly": ("yes", "_cookie_httponly", True),
    "samesite": ("Strict", "_cookie_samesite", "Strict"),
    "timeout": ("30", "_timeout", 30),
    "reissue_time": ("5", "_reissue_time", 5),
    "set_on_exception": ("off", "_cookie_on_exception", False),
    "absolute_timeout": ("3600", "_absolute_timeout", 3600),
}


def test_settings_configure_every_cookie_attribute():
    factory = make(
        session__serializer="json",
        **{f"session__{name}": text for name, (text, _, _) in EVERY_COOKIE_SETTING.items()},
    )
    held = {name: getattr(factory, attr) for name, (_, attr, _) in EVERY_COOKIE_SETTING.items()}
    assert held == {name: value for name, (_, _, value) in EVERY_COOKIE_SETTING.items()}
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
        ({"session.secret": f'"{HEX}"'}, "session.secret: secret must be 32 random bytes"),
        ({"session.secret": "  "}, "session.secret: empty"),
        ({"session.secret": HEX + " abc"}, "session.secret: secret[1]: secret must be"),
        ({}, "session.secret: missing"),
        (
            {"session.timeout": "soon"},
            "session.timeout: expected a number of seconds (0 or more) or None",
        ),
        ({"session.max_age": "-1"}, "session.max_age: expected a number of seconds"),
        (
            {"pynacl.session.secure": "ture"},
            "pynacl.session.secure: expected true or false",
        ),
        ({"session.samesite": "Loose"}, "session.samesite: expected one of Strict, Lax, None"),
        (
            {"session.samesite": "None"},
            "session.samesite: SameSite=None needs session.secure = true",
        ),
        (
            {"session.serializer": "yaml"},
            "session.serializer: expected json, pickle or the dotted name of a serializer",
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
        ({"session.cookie_name": "path"}, "session.cookie_name: a cookie attribute's name"),
        (
            {"session.cookie_name": "$x"},
            "session.cookie_name: a cookie attribute's name (or starts with $)",
        ),
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


# -- inline comments, and values a browser would reject ---------------------------------------


def ini_factory(tmp_path, *lines, secret=HEX):
    """The app from an .ini file, loaded by PasteDeploy as pserve loads it."""
    from pyramid.paster import get_app

    ini = tmp_path / "app.ini"
    body = ["[app:main]", "use = call:tests.test_settings:ini_app"]
    body += ["pyramid.includes = pyramid_nacl_session", f"session.secret = {secret}", *lines]
    ini.write_text("\n".join(body) + "\n")
    return get_app(str(ini))


@pytest.mark.parametrize(
    "line, setting",
    [
        ("session.path = /app   # where the app lives", "session.path"),
        ("session.domain = example.com   # the cookie's domain", "session.domain"),
        ("session.revocation_user = user_id   # the state key", "session.revocation_user"),
        ("session.timeout = 60 ; one minute", "session.timeout"),
        ("pynacl.session.cookie_name = sid  # short", "pynacl.session.cookie_name"),
    ],
)
def test_an_inline_comment_in_an_ini_value_stops_the_app_naming_the_setting(
    tmp_path, line, setting
):
    with pytest.raises(OptionError) as info:
        ini_factory(tmp_path, line)
    assert info.value.option == setting
    assert "inline comment" in info.value.reason and "own" in info.value.reason


@pytest.mark.parametrize("option", [o.name for o in OPTIONS if not o.as_written])
def test_every_setting_refuses_an_inline_comment_without_showing_the_value(option):
    key = f"session.{option}"
    value = f"{HEX}   # the production key" if option == "secret" else "x\t# why"
    with pytest.raises(OptionError) as info:
        session_factory_from_settings({"session.secret": HEX, key: value})
    assert info.value.option == key
    assert "inline comment" in str(info.value)
    assert "# why" not in str(info.value) and HEX not in str(info.value)


def test_a_hash_or_semicolon_inside_a_value_is_not_a_comment():
    # Only whitespace before '#' or ';' makes configparser's inline comment: a Redis password
    # or a key prefix may hold them.
    pytest.importorskip("redis")
    factory = session_factory_from_settings(
        {
            "session.secret": HEX,
            "session.absolute_timeout": "60",
            "session.revocation_url": "redis://:pa;ss%23word@127.0.0.1:1/0",
            "session.revocation_prefix": "app#1;",
        }
    )
    assert factory.revocation.prefix == "app#1;"


def test_a_multi_line_secret_with_a_comment_line_reads_every_key(tmp_path):
    app = ini_factory(
        tmp_path,
        "session.serializer = json",
        f"pynacl.session.secret =\n    {HEX}\n    # the old key, kept to open its cookies\n"
        f"    {OTHER_SECRET.hex()}",
    )
    assert TestApp(app).get("/").text == "visits: 1"


@pytest.mark.parametrize(
    "option, value",
    [
        ("path", "/app;x"),
        ("path", "/a b"),
        ("path", "/a\x07"),
        ("path", "/a\n"),
        ("domain", "example.com/x"),
        ("domain", "exa mple.com"),
        ("domain", "example.com;"),
        ("domain", "a..b"),
        ("cookie_name", "session\n"),
    ],
)
def test_cookie_attributes_a_browser_would_reject_are_refused_from_python_and_settings(
    option, value
):
    with pytest.raises(OptionError) as from_python:
        EncryptedCookieSessionFactory(HEX, **{option: value})
    assert from_python.value.option == option
    with pytest.raises(OptionError) as from_settings:
        session_factory_from_settings({"session.secret": HEX, f"session.{option}": value})
    assert from_settings.value.option == f"session.{option}"


@pytest.mark.parametrize("domain", ["example.com", ".example.com", "localhost", "127.0.0.1"])
def test_host_names_are_cookie_domains(domain):
    assert make(session__domain=domain)._cookie_domain == domain


# -- one error model, one rule per option ------------------------------------------------------


def test_the_core_raises_the_one_public_option_error():
    class NoLoads:
        def dumps(self, value):
            return b""

    for args, option in [
        (("short",), "secret"),
        ((HEX, "yaml"), "serializer"),
        ((HEX, NoLoads()), "serializer"),
    ]:
        with pytest.raises(OptionError) as info:
            EncryptedSerializer(*args)
        assert info.value.option == option and isinstance(info.value, ValueError)
    with pytest.raises(OptionError) as info:
        EncryptedSerializer(HEX, "pickle", migrate_pickle=True)
    assert info.value.option == "migrate_pickle"


def test_option_error_survives_pickling_with_its_option():
    import pickle

    error = pickle.loads(pickle.dumps(OptionError("session.timeout", "expected a number")))
    assert (error.option, error.reason) == ("session.timeout", "expected a number")
    assert str(error) == "session.timeout: expected a number"


def test_a_missing_or_short_key_names_the_command_that_makes_one():
    for settings in ({}, {"session.secret": "abc"}, {"session.secret": " "}):
        with pytest.raises(OptionError, match="pyramid-nacl-session secret"):
            session_factory_from_settings(settings)


def test_a_quoted_key_is_told_about_its_quotes_without_showing_it(tmp_path):
    with pytest.raises(OptionError) as info:
        ini_factory(tmp_path, secret=f'"{HEX}"')
    assert info.value.option == "session.secret"
    assert "quote" in info.value.reason and HEX not in str(info.value)


REDIS = "redis://127.0.0.1:1/0"  # never connected to: making the factory does not


@pytest.mark.parametrize(
    "option, value, working",
    [
        ("revocation_stale_after", 0.5, 0.5),
        ("revocation_stale_after", "0.5", 0.5),
        ("revocation_resync", 2, 2.0),
        ("revocation_resync", "2.5", 2.5),
        ("revocation_policy", "refuse", "refuse"),
        ("revocation_prefix", "app2:", "app2:"),
    ],
)
def test_revocation_options_read_the_same_from_python_and_settings(option, value, working):
    pytest.importorskip("redis")
    from_python = EncryptedCookieSessionFactory(
        HEX, absolute_timeout=60, revocation_url=REDIS, **{option: value}
    )
    from_settings = make(
        session__absolute_timeout="60",
        session__revocation_url=REDIS,
        **{f"session__{option}": str(value)},
    )
    attribute = {
        "revocation_stale_after": "stale_after",
        "revocation_resync": "resync_interval",
        "revocation_policy": "policy",
        "revocation_prefix": "prefix",
    }[option]
    assert getattr(from_python.revocation, attribute) == working
    assert getattr(from_settings.revocation, attribute) == working


@pytest.mark.parametrize(
    "option, value",
    [
        ("revocation_stale_after", 0),
        ("revocation_stale_after", None),
        ("revocation_stale_after", "soon"),
        ("revocation_resync", -1),
        ("revocation_resync", float("inf")),
        ("revocation_policy", "sometimes"),
        ("revocation_prefix", ""),
        ("revocation_prefix", "a b"),
    ],
)
def test_bad_revocation_options_are_refused_from_python_and_settings(option, value):
    pytest.importorskip("redis")
    with pytest.raises(OptionError) as from_python:
        EncryptedCookieSessionFactory(
            HEX, absolute_timeout=60, revocation_url=REDIS, **{option: value}
        )
    assert from_python.value.option == option
    settings = {"session.secret": HEX, "session.absolute_timeout": "60"}
    settings |= {"session.revocation_url": REDIS, f"session.{option}": str(value)}
    with pytest.raises(OptionError) as from_settings:
        session_factory_from_settings(settings)
    assert from_settings.value.option == f"session.{option}"
    assert from_settings.value.reason == from_python.value.reason.replace(
        repr(value), repr(str(value))
    )


@pytest.mark.parametrize(
    "option, value",
    [("revocation_policy", "sometimes"), ("revocation_resync", 0), ("revocation_prefix", "")],
)
def test_revocation_options_are_checked_even_before_revocation_is_on(option, value):
    with pytest.raises(OptionError) as from_python:
        EncryptedCookieSessionFactory(HEX, **{option: value})
    assert from_python.value.option == option
    with pytest.raises(OptionError) as from_settings:
        session_factory_from_settings({"session.secret": HEX, f"session.{option}": str(value)})
    assert from_settings.value.option == f"session.{option}"
