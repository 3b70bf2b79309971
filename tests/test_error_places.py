"""Errors that say where: a value JSON cannot hold is named by its key path, and a 1.0 pickle
cookie that cannot move to JSON under ``migrate_pickle`` is logged once, with its session key."""

import base64
import datetime
import logging
import pickle
import time

import nacl.secret
import pytest

from pyramid_nacl_session import (
    CookieTooLarge,
    EncryptedCookieSessionFactory,
    EncryptedSerializer,
    RefusedPickle,
)

from .helpers import SECRET, session_app

NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)


def app_storing(value, key="when"):
    def extra(config):
        def store(request):
            request.session[key] = value
            return {}

        config.add_route("store", "/store")
        config.add_view(store, route_name="store", renderer="json")

    return session_app(EncryptedCookieSessionFactory(SECRET, serializer="json"), extra)


@pytest.mark.parametrize(
    "value, place",
    [
        (NOW, "session['when']"),
        ({"at": [1, 2, {"seen": NOW}]}, "session['when']['at'][2]['seen']"),
        ((1, {2, 3}), "session['when'][1]"),
    ],
)
def test_a_value_json_cannot_hold_is_named_by_its_path_in_the_session(value, place):
    with pytest.raises(TypeError) as e:
        app_storing(value).get("/store")
    assert str(e.value).startswith(f"{place}: Object of type ")
    assert "is not JSON serializable" in str(e.value)


def test_a_bad_key_names_the_dict_that_holds_it():
    with pytest.raises(TypeError) as e:
        app_storing({"ok": {(1, 2): "tuple key"}}).get("/store")
    assert str(e.value).startswith("session['when']['ok']: keys must be str")


def test_the_serializer_names_the_path_in_what_it_was_given():
    with pytest.raises(TypeError) as e:
        EncryptedSerializer(SECRET, "json").dumps((1.0, 2.0, {"a": [NOW]}))
    assert str(e.value) == (
        "appstruct[2]['a'][0]: Object of type datetime is not JSON serializable"
    )


def test_a_json_error_raised_twice_is_named_afresh():
    # The path is gathered on the exception as it goes up: a second failure starts anew.
    serializer = EncryptedSerializer(SECRET, "json")
    for key in ("x", "y"):
        with pytest.raises(TypeError, match=rf"^appstruct\['{key}'\]: "):
            serializer.dumps({key: NOW})


def test_a_cookie_too_large_is_not_given_a_path():
    with pytest.raises(CookieTooLarge) as e:
        app_storing({"big": "x" * 5000}).get("/store")
    assert "session[" not in str(e.value)


# --- migrate_pickle ---


def one_oh_cookie(state, protocol):
    """A cookie as pyramid_nacl_session 1.0.0 sealed it (PyNaCl over a pickle)."""
    now = time.time()
    box = nacl.secret.SecretBox(SECRET)
    sealed = box.encrypt(pickle.dumps((now, now, state), protocol))
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_a_refused_pickle_names_its_session_key(protocol):
    cookie = one_oh_cookie({"user": "ann", "last_seen": NOW}, protocol)
    with pytest.raises(RefusedPickle, match=r'\(under session key "last_seen"\)'):
        EncryptedSerializer(SECRET, "json", migrate_pickle=True).loads(cookie)


def test_a_pickle_that_cannot_move_to_json_is_logged_once_with_its_key(caplog):
    factory = EncryptedCookieSessionFactory(SECRET, serializer="json", migrate_pickle=True)
    browser = session_app(factory)
    caplog.set_level(logging.WARNING, logger="pyramid_nacl_session")
    for user in ("ann", "bob"):
        browser.set_cookie("session", one_oh_cookie({"user": user, "last_seen": NOW}, 2))
        assert browser.get("/show").json == {}  # a fresh session, as before
    warnings = [r for r in caplog.records if "cannot move to JSON" in r.getMessage()]
    assert len(warnings) == 1
    assert 'under session key "last_seen"' in warnings[0].getMessage()
    # A cookie that is plain data moves without a word.
    browser.set_cookie("session", one_oh_cookie({"user": "cid"}, 2))
    assert browser.get("/show").json == {"user": "cid"}
