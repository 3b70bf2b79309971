"""The Cookie header is read, and the Set-Cookie header written, exactly as WebOb 1.8 does."""

import itertools
import time

import pytest
import webob
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pyramid import testing
from pyramid.config import Configurator
from pyramid.response import Response
from webob.cookies import make_cookie, parse_cookie
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory
from pyramid_nacl_session._core import CookieSpec
from pyramid_nacl_session._core._testing import find_cookie

from .helpers import SECRET


def webob_get(header, name):
    return webob.Request.blank("/", headers={"Cookie": header}).cookies.get(name)


def lenient_get(header, name):
    """WebOb's answer where it raises for a character or value we do not read (see
    src/cookie_header.rs): the same parse, decoding only the wanted value, and None when that
    fails."""
    found = None
    try:
        for key, value in parse_cookie(header):
            if key == name.encode("ascii"):
                found = value
    except UnicodeEncodeError:
        return None
    try:
        return None if found is None else found.decode("utf-8")
    except UnicodeDecodeError:
        return None


def assert_reads_as_webob(header, name):
    try:
        expected = webob_get(header, name)
    except UnicodeError:
        # The one documented difference: WebOb fails the whole request; we find our cookie
        # the same way, or start a fresh session.
        expected = lenient_get(header, name)
    assert find_cookie(header, name) == expected


HEADERS = [
    "",
    "session=abc",
    "a=1; session=abc-_; b=2",
    "a=1;session=abc;b=2",
    "xsession=1; session_x=2; sessions=3; Session=4",
    "xsession=1; session=ours; session_x=2",
    "session=first; session=second",
    "session=garbage; a=1; session=good",
    "session =spaced",
    "session= spaced",
    "session \t=\t spaced",
    " ;; ; session=x;;",
    "session=",
    "session=; session=x",
    "session",
    "session; session=x",
    "=session=x",
    "a=b=session=x",
    "session=a=b",
    "session=a,b",
    "session=a, b=c",
    "a=1, session=x",
    'session="quoted value"',
    'session="a\\"b"',
    'session="a\\073b\\101"',
    'session="\\377"',
    'session="\\303\\251"',
    'session="unterminated',
    'session="unterminated\\"x',
    'session="a\\"b\\"c; d=1',
    'x="; session=evil"; y=1',
    'x="; session=evil; session=ok',
    'x="a\\"; session=hidden"; session=seen',
    "session=a\\;b; c=d",
    "session=a\\",
    "session=\\101",
    "session=Wed, 09-Jun-2021 10:18:14 GMT; x=1",
    "session=Wed, 9-Jun-2021 10:18:14 GMT",
    "session=Wed, 09-Jun-20210 10:18:14 GMT",
    "session=Wed,\n09-Jun-2021\t10:18:14\rGMT",
    "$session=1; session=2",
    "session=x\nsession=y",
    "session=[x]",
    "session={x}",
    "session=caf\u00e9",
    "x=caf\u00e9; session=ok",
    "session=\u00c3\u00a9",
    "session=ok; x=\u20ac",
    'session=ok; bad="\\377"',
    "path=1; session=2",
]


@pytest.mark.parametrize("header", HEADERS)
def test_reads_the_session_cookie_as_webob(header):
    assert_reads_as_webob(header, "session")


@pytest.mark.parametrize("name", ["a", "x", "path", "Path", "$session", "sess", "", "b="])
def test_reads_any_name_as_webob(name):
    for header in HEADERS:
        assert_reads_as_webob(header, name)


def test_missing_header_reads_as_no_cookie():
    assert find_cookie(None, "session") is None


NAMES = ["session", "xsession", "session_x", "sessio", "Session", "$session", "path", "a", "a.b"]
VALUES = [
    "",
    "abc",
    "v4l-u3_B64",
    '"q"',
    '"a b;c"',
    '"a\\"b"',
    '"\\101\\"',
    '"open',
    '"open\\"ing',
    "a\\;b",
    "a\\",
    "x=y",
    "Wed, 09-Jun-2021 10:18:14 GMT",
    "caf\u00e9",
    "\u00c3\u00a9",
    '"\\377"',
    "[]",
]
SEPARATORS = ["; ", ";", ", ", ",", " ", "", "\t", ";;", "\n"]
SPACE = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def cookie_pairs(draw):
    name = draw(st.sampled_from(NAMES))
    value = draw(st.sampled_from(VALUES) | st.text('ab"\\;=, 0\u00e9', max_size=6))
    return name + draw(SPACE) + "=" + draw(SPACE) + value


HEADER_PIECES = st.lists(
    st.tuples(
        cookie_pairs() | st.text('session=;,"\\ x\u00e9', max_size=8),
        st.sampled_from(SEPARATORS),
    ),
    max_size=8,
).map(lambda parts: "".join(p + s for p, s in parts))


@settings(max_examples=1500, deadline=None)
@given(HEADER_PIECES, st.sampled_from(["session", "xsession", "a", "path"]))
@example('session="a\\"b\\"c; session=x', "session")
def test_reads_random_cookie_headers_as_webob(header, name):
    assert_reads_as_webob(header, name)


@settings(max_examples=1000, deadline=None)
@given(st.text('session=;,"\\ \t\n01\u00e9\u0100$-_', max_size=40))
def test_reads_random_text_as_webob(header):
    assert_reads_as_webob(header, "session")


# -- Set-Cookie ----------------------------------------------------------------------------


def in_one_second(*calls):
    """Call each of `calls`, again if the clock's second ticked over meanwhile."""
    while True:
        before = int(time.time())
        results = [call() for call in calls]
        if int(time.time()) == before:
            return results


OPTION_GRID = [
    dict(zip(("max_age", "path", "domain", "secure", "httponly", "samesite"), combo))
    for combo in itertools.product(
        [None, 0, 3600],
        [None, "/", "/foo"],
        [None, "example.com"],
        [False, True],
        [False, True],
        [None, "Lax", "Strict", "None"],
    )
    if combo[5] != "None" or combo[3]
]
VALUE = "yFaJI35x1X9A5m1WVRLR917Qq1evSVPEup8e6W0R5wOeYa5p8gE9NNVnDx8h_5M2hbWzbjoi52C5"


def spec_for(options, name="session"):
    return CookieSpec(
        name,
        options["max_age"],
        options["path"],
        options["domain"],
        options["secure"],
        options["httponly"],
        options["samesite"],
    )


@pytest.mark.parametrize("options", OPTION_GRID, ids=str)
def test_set_cookie_is_webobs_for_every_option(options):
    spec = spec_for(options)
    ours, theirs = in_one_second(
        lambda: spec.header(VALUE), lambda: make_cookie("session", VALUE, **options)
    )
    assert ours == theirs


@pytest.mark.parametrize("options", OPTION_GRID, ids=str)
def test_deleting_set_cookie_is_webobs_for_every_option(options):
    spec = spec_for(options)
    expected = make_cookie("session", None, **options)
    assert spec.delete_header() == expected


@pytest.mark.parametrize(
    "options",
    [
        dict(path="/a b;\u00e9", domain='ex"ample.com'),
        dict(samesite="lax", max_age=1),
        dict(path="", domain="", max_age=86400 * 365 * 100),
    ],
    ids=str,
)
def test_set_cookie_is_webobs_for_odd_but_valid_options(options):
    options = {
        "max_age": None,
        "path": "/",
        "domain": None,
        "secure": False,
        "httponly": False,
        "samesite": None,
        **options,
    }
    spec = spec_for(options)
    ours, theirs = in_one_second(
        lambda: spec.header(VALUE), lambda: make_cookie("session", VALUE, **options)
    )
    assert ours == theirs
    assert spec.delete_header() == make_cookie("session", None, **options)


def test_set_cookie_defaults_are_make_cookies():
    assert CookieSpec("session").header("v") == make_cookie("session", "v")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(name="path"),
        dict(name="$x"),
        dict(name="a b"),
        dict(name=""),
        dict(samesite="sometimes"),
        dict(samesite="None", secure=False),
        dict(path="/\u20ac"),
    ],
    ids=str,
)
def test_options_webob_cannot_write_are_refused_when_the_factory_is_made(kwargs):
    kwargs = {"name": "session", **kwargs}
    factory_kwargs = {("cookie_name" if k == "name" else k): v for k, v in kwargs.items()}
    with pytest.raises(ValueError) as refused:
        EncryptedCookieSessionFactory(bytes(32), **factory_kwargs)
    assert refused.value.option in factory_kwargs
    with pytest.raises((ValueError, AssertionError, IndexError)):
        make_cookie(**kwargs, value="v")


@pytest.mark.parametrize("value", ["a b", 'a"b', "a;b", "a,b", "a\\b", "caf\u00e9"])
def test_values_that_would_need_quoting_are_refused(value):
    with pytest.raises(ValueError):
        CookieSpec("session").header(value)


def test_an_expiry_past_year_9999_overflows_as_in_webob():
    max_age = 10**12
    with pytest.raises(OverflowError):
        make_cookie("session", "v", max_age=max_age)
    with pytest.raises(OverflowError):
        CookieSpec("session", max_age).header("v")
    with pytest.raises(ValueError, match="max_age: at most"):
        EncryptedCookieSessionFactory(bytes(32), max_age=max_age)


# -- Through a Pyramid app -----------------------------------------------------------------

APP_OPTIONS = dict(
    max_age=3600, path="/", domain="example.com", secure=True, httponly=True, samesite="Strict"
)


def make_app(**options):
    def count(request):
        request.session["n"] = request.session.get("n", 0) + 1
        return Response(str(request.session["n"]))

    def logout(request):
        request.session.invalidate()
        return Response("bye")

    config = Configurator()
    config.set_session_factory(EncryptedCookieSessionFactory(SECRET, **options))
    config.add_route("count", "/count")
    config.add_view(count, route_name="count")
    config.add_route("logout", "/logout")
    config.add_view(logout, route_name="logout")
    return TestApp(config.make_wsgi_app())


def cookie_value(set_cookie):
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def test_app_set_cookie_is_webobs_make_cookie():
    app = make_app(**APP_OPTIONS)
    while True:
        before = int(time.time())
        res = app.get("/count")
        if int(time.time()) == before:
            break
    header = res.headers["Set-Cookie"]
    expected = make_cookie("session", cookie_value(header), **APP_OPTIONS)
    # WebOb's response parses the expires date back out, so compare the header text as sent.
    assert [v for k, v in res.headerlist if k == "Set-Cookie"] == [expected]


def test_app_deleting_set_cookie_is_webobs_make_cookie():
    app = make_app(**APP_OPTIONS)
    res = app.get("/logout")
    assert [v for k, v in res.headerlist if k == "Set-Cookie"] == [
        make_cookie("session", None, **APP_OPTIONS)
    ]


def test_app_finds_the_session_among_other_cookies():
    app = make_app()
    value = cookie_value(app.get("/count").headers["Set-Cookie"])
    header = (
        f"xsession=junk; session=garbage; a=1; session={value}; session_x=2; "
        f'b="q; session=evil"; c=3'
    )
    assert webob_get(header, "session") == value
    app.reset()
    assert app.get("/count", headers={"Cookie": header}).text == "2"


def test_app_follows_webob_when_garbage_comes_last():
    app = make_app()
    value = cookie_value(app.get("/count").headers["Set-Cookie"])
    header = f"session={value}; session=garbage"
    assert webob_get(header, "session") == "garbage"
    app.reset()
    assert app.get("/count", headers={"Cookie": header}).text == "1"


def test_a_non_webob_request_reads_its_cookies_mapping():
    factory = EncryptedCookieSessionFactory(SECRET)
    value = cookie_value(make_app().get("/count").headers["Set-Cookie"])
    session = factory(testing.DummyRequest(cookies={"session": value}))
    assert dict(session) == {"n": 1}
