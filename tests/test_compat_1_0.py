"""Cookies cross between pyramid_nacl_session 1.0.0 and this package, both ways, through real
Pyramid apps. 1.0.0's side is played by what it is made of: PyNaCl's SecretBox around pickle or
Pyramid's JSONSerializer, urlsafe base64 without padding.
"""

import json
import pickle
import time

import pytest
from pyramid.session import JSONSerializer

from pyramid_nacl_session import EncryptedCookieSessionFactory

from .helpers import SECRET, nacl_open, nacl_seal, pickle_cookie, session_app, set_cookie_value


def test_app_reads_a_1_0_pickle_cookie():
    app = session_app(EncryptedCookieSessionFactory(SECRET))
    app.set_cookie("session", pickle_cookie(SECRET, {"user": "alice", "roles": ("admin",)}))
    assert app.get("/show").json == {"user": "alice", "roles": ["admin"]}


def test_app_reads_a_1_0_json_cookie():
    app = session_app(EncryptedCookieSessionFactory(SECRET, serializer=JSONSerializer()))
    now = time.time()
    cookie = nacl_seal(SECRET, JSONSerializer().dumps((now, now, {"user": "bob"})))
    app.set_cookie("session", cookie)
    assert app.get("/show").json == {"user": "bob"}


def test_1_0_reads_our_pickle_cookie():
    app = session_app(EncryptedCookieSessionFactory(SECRET))
    response = app.get("/put", params={"user": "carol"})
    accessed, created, state = pickle.loads(nacl_open(SECRET, set_cookie_value(response)))
    assert state == {"user": "carol"}
    assert abs(accessed - time.time()) < 5 and abs(created - time.time()) < 5


@pytest.mark.parametrize("serializer", ["json", JSONSerializer()], ids=["name", "instance"])
def test_1_0_reads_our_json_cookie(serializer):
    app = session_app(EncryptedCookieSessionFactory(SECRET, serializer=serializer))
    response = app.get("/put", params={"user": "dan", "city": "Zürich"})
    accessed, created, state = JSONSerializer().loads(nacl_open(SECRET, set_cookie_value(response)))
    assert state == {"user": "dan", "city": "Zürich"}


def test_session_survives_a_round_trip_through_both_versions():
    ours = session_app(EncryptedCookieSessionFactory(SECRET))
    first = set_cookie_value(ours.get("/put", params={"step": "1"}))
    # "1.0" reads it, changes it and writes it back the way it does.
    accessed, created, state = pickle.loads(nacl_open(SECRET, first))
    state["step2"] = "1.0 was here"
    back = nacl_seal(SECRET, pickle.dumps((time.time(), created, state), pickle.HIGHEST_PROTOCOL))
    ours.set_cookie("session", back)
    assert ours.get("/show").json == {"step": "1", "step2": "1.0 was here"}


def test_cookie_under_another_key_gives_a_fresh_session():
    app = session_app(EncryptedCookieSessionFactory(SECRET))
    app.set_cookie("session", pickle_cookie(bytes(32), {"user": "mallory"}))
    assert app.get("/show").json == {}


@pytest.mark.parametrize(
    "cookie",
    ["", "garbage", "A" * 60, "x" * 5000, "ab" * 30 + "==", "%%%"],
)
def test_malformed_cookie_gives_a_fresh_session_and_the_request_goes_on(cookie):
    app = session_app(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    app.set_cookie("session", cookie)
    assert app.get("/show").json == {}
    response = app.get("/put", params={"k": "v"})
    assert json.loads(nacl_open(SECRET, set_cookie_value(response)))[2] == {"k": "v"}


def test_cookie_from_the_other_serializer_gives_a_fresh_session():
    json_app = session_app(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    json_app.set_cookie("session", pickle_cookie(SECRET, {"user": "x"}))
    assert json_app.get("/show").json == {}

    pickle_app = session_app(EncryptedCookieSessionFactory(SECRET))
    now = time.time()
    pickle_app.set_cookie("session", nacl_seal(SECRET, json.dumps([now, now, {"a": 1}]).encode()))
    assert pickle_app.get("/show").json == {}


def test_set_cookie_header_is_what_1_0_sent():
    # 1.0 handed its options to Pyramid, which called WebOb's make_cookie.
    from webob.cookies import make_cookie

    options = dict(
        max_age=600,
        path="/app",
        domain="example.com",
        secure=True,
        httponly=True,
        samesite="Strict",
    )
    app = session_app(EncryptedCookieSessionFactory(SECRET, cookie_name="sid", **options))
    for _ in range(3):  # the expires date is to the second; retry if the clock ticked over
        header = app.get("/put", params={"a": "1"}).headers["Set-Cookie"]
        expected = make_cookie("sid", header.split(";")[0].split("=", 1)[1], **options)
        if header == expected:
            break
    assert header == expected
