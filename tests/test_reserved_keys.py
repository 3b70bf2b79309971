"""The keys the session keeps for itself (its id ``_sid_`` and its own timeout ``_timeout_``)
cannot be set by the app, whichever method sets them: a :class:`ReservedKeyError` (a
``ValueError``), raised before anything changes."""

import json

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, ReservedKeyError
from pyramid_nacl_session._core import RESERVED_KEYS

from .helpers import SECRET, nacl_open, set_cookie_value

HUNDRED_YEARS = 3153600000

#: Every way a dict's keys are set, as the app would write them.
SETTERS = {
    "setitem": lambda s, k, v: s.__setitem__(k, v),
    "update_dict": lambda s, k, v: s.update({"a": 1, k: v}),
    "update_pairs": lambda s, k, v: s.update([("a", 1), (k, v)]),
    "update_keywords": lambda s, k, v: s.update(a=1, **{k: v}),
    "setdefault": lambda s, k, v: s.setdefault(k, v),
    "ior": lambda s, k, v: s.__ior__({"a": 1, k: v}),
}


def reserved_app(**options):
    """A view that applies one setter with a key from the query, as an app copying a JSON body
    into the session would; it answers what the session then holds."""
    factory = EncryptedCookieSessionFactory(SECRET, serializer="json", **options)
    config = Configurator()
    config.set_session_factory(factory)

    def put(request):
        session = request.session
        try:
            SETTERS[request.params["how"]](session, request.params["k"], HUNDRED_YEARS)
        except ReservedKeyError as e:
            return {"refused": str(e), "state": dict(session)}
        return {"state": dict(session)}

    def login(request):
        request.session["user"] = "alice"
        return {}

    def copy_body(request):
        request.session.update(request.json_body)
        return {}

    config.add_route("put", "/put")
    config.add_view(put, route_name="put", renderer="json")
    config.add_route("login", "/login")
    config.add_view(login, route_name="login", renderer="json")
    config.add_route("copy_body", "/copy_body")
    config.add_view(copy_body, route_name="copy_body", renderer="json")
    return TestApp(config.make_wsgi_app())


def test_the_reserved_keys_are_the_id_and_the_timeout():
    assert set(RESERVED_KEYS) == {"_sid_", "_timeout_"}
    assert issubclass(ReservedKeyError, ValueError)


@pytest.mark.parametrize("how", sorted(SETTERS))
@pytest.mark.parametrize("key", RESERVED_KEYS)
def test_every_setter_refuses_a_reserved_key_and_changes_nothing(how, key):
    app = reserved_app(reissue_time=None)
    app.get("/login")
    res = app.get("/put", params={"how": how, "k": key})
    assert repr(key) in res.json["refused"]
    assert res.json["state"] == {"user": "alice"}  # not even the other keys of the same call
    assert set_cookie_value(res) is None  # nothing to write


@pytest.mark.parametrize("how", sorted(SETTERS))
def test_every_setter_still_sets_other_keys_and_writes_the_cookie(how):
    app = reserved_app()
    res = app.get("/put", params={"how": how, "k": "_timeout"})
    assert res.json["state"]["_timeout"] == HUNDRED_YEARS
    assert json.loads(nacl_open(SECRET, set_cookie_value(res)))[2]["_timeout"] == HUNDRED_YEARS


def test_a_json_body_cannot_give_a_session_a_hundred_year_timeout():
    app = reserved_app(timeout=1200)
    body = json.dumps({"theme": "dark", "_timeout_": HUNDRED_YEARS})
    # Unhandled by the app: the error reaches the server (WebTest re-raises it).
    with pytest.raises(ReservedKeyError, match="_timeout_"):
        app.post("/copy_body", body, content_type="application/json")
    assert "session" not in app.cookies


def test_adjust_timeout_for_session_still_sets_the_sessions_own_timeout():
    def remember(request):
        request.session.adjust_timeout_for_session(86400)
        return {}

    factory = EncryptedCookieSessionFactory(SECRET, serializer="json")
    config = Configurator()
    config.set_session_factory(factory)
    config.add_route("remember", "/remember")
    config.add_view(remember, route_name="remember", renderer="json")
    res = TestApp(config.make_wsgi_app()).get("/remember")
    assert "Max-Age=86400" in res.headers["Set-Cookie"]
    assert json.loads(nacl_open(SECRET, set_cookie_value(res)))[2] == {"_timeout_": 86400}


def test_1_0_stored_a_reserved_key_the_app_set_where_2_0_refuses_it(sides):
    from .differential.harness import SECRET_HEX, Pair
    from .differential.harness import set_cookie_value as answer_cookie

    pair = Pair(sides, {"kwargs": {"secret": SECRET_HEX, "serializer_object": "json"}})
    ops = [{"op": "set", "k": "_timeout_", "v": HUNDRED_YEARS}]
    base = pair.base(ops)
    assert json.loads(nacl_open(SECRET, answer_cookie(base)))[2] == {"_timeout_": HUNDRED_YEARS}
    assert pair.ours(ops)["error"] == "ReservedKeyError"


def test_writing_the_reserved_keys_calls_none_of_the_apps_accessors(monkeypatch):
    # The core seals the id and the timeout with a copy of the state made from the dict's
    # storage: the session's own keys() (an accessor, which notes a read) is never called.
    from pyramid_nacl_session.session import EncryptedCookieSession

    calls = []
    real_keys = EncryptedCookieSession.keys

    def keys(self):
        calls.append(1)
        return real_keys(self)

    def remember(request):
        request.session["user"] = "ann"
        request.session.adjust_timeout_for_session(86400)
        return {}

    monkeypatch.setattr(EncryptedCookieSession, "keys", keys)
    config = Configurator()
    config.set_session_factory(EncryptedCookieSessionFactory(SECRET, serializer="json"))
    config.add_route("remember", "/remember")
    config.add_view(remember, route_name="remember", renderer="json")
    res = TestApp(config.make_wsgi_app()).get("/remember")
    assert json.loads(nacl_open(SECRET, set_cookie_value(res)))[2] == {
        "user": "ann",
        "_timeout_": 86400,
    }
    assert calls == []
