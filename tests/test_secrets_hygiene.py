"""No representation, copy, error message or log line gives away a key, in any spelling.

Zeroization of the keys in memory is not tested here: the Rust side keeps them in
crypto_secretbox's XSalsa20Poly1305, whose Drop zeroizes them, and the only way to observe
freed memory from a test is undefined behaviour.
"""

import base64
import copy
import hashlib
import json
import logging
import pickle
import traceback

import pytest

from pyramid_nacl_session import (
    CookieError,
    CookieTooLarge,
    EncryptedCookieSessionFactory,
    EncryptedSerializer,
    session_factory_from_settings,
)
from pyramid_nacl_session.cli import main as cli_main

from .helpers import nacl_seal, session_app

KEY = hashlib.sha256(b"pyramid_nacl_session secrets hygiene").digest()
OLD_KEY = hashlib.sha256(b"pyramid_nacl_session secrets hygiene, old").digest()


def spellings(key):
    """Every way a leaked key (or a telling part of it) could be written out."""
    b64 = base64.b64encode(key).decode()
    b64url = base64.urlsafe_b64encode(key).decode()
    whole = [
        key.hex(),
        key.hex().upper(),
        b64.rstrip("="),
        b64url.rstrip("="),
        repr(key)[2:-1],
        key.decode("latin-1"),
    ]
    # A prefix is a leak too ("secret starts with ..."): 6 bytes' worth in each spelling.
    parts = [key.hex()[:12], key.hex()[:12].upper(), b64[:8], b64url[:8], repr(key)[2:14]]
    return whole + parts


NEEDLES = spellings(KEY) + spellings(OLD_KEY)


def assert_no_key_in(text):
    if isinstance(text, bytes):
        for needle in NEEDLES:
            assert needle.encode("latin-1", "backslashreplace") not in text
        return
    for needle in NEEDLES:
        assert needle not in text, f"key material {needle!r} in {text!r}"


def everything_about(error):
    """An exception as a user would see it: message, repr and the whole chained traceback."""
    return (
        str(error)
        + repr(error)
        + "".join(traceback.format_exception(type(error), error, error.__traceback__))
    )


SECRET_FORMS = {
    "bytes": KEY,
    "bytearray": bytearray(KEY),
    "memoryview": memoryview(KEY),
    "hex-str": KEY.hex(),
    "hex-bytes": KEY.hex().encode(),
    "hex-upper": KEY.hex().upper(),
    "list": [KEY, OLD_KEY],
    "tuple-of-hex": (KEY.hex(), OLD_KEY.hex()),
}


class Custom:
    def dumps(self, value):
        return json.dumps(value).encode()

    def loads(self, data):
        return json.loads(data)


@pytest.mark.parametrize("form", SECRET_FORMS.values(), ids=SECRET_FORMS.keys())
@pytest.mark.parametrize("serializer", [None, "json", Custom()], ids=["pickle", "json", "custom"])
def test_serializer_repr_str_and_attributes_show_no_key(form, serializer):
    s = EncryptedSerializer(form, serializer)
    texts = [repr(s), str(s), format(s)]
    # Every attribute, so a future property holding key material cannot slip by.
    texts += [f"{name}={getattr(s, name)!r}" for name in dir(s) if not name.startswith("__")]
    for text in texts:
        assert_no_key_in(text)


@pytest.mark.parametrize(
    "operation",
    [copy.copy, copy.deepcopy] + [lambda obj, p=p: pickle.dumps(obj, protocol=p) for p in range(6)],
    ids=["copy", "deepcopy"] + [f"pickle-{p}" for p in range(6)],
)
def test_serializer_and_factory_cannot_be_copied_or_pickled_into_the_open(operation):
    s = EncryptedSerializer([KEY, OLD_KEY], "json")
    with pytest.raises(TypeError) as info:
        operation(s)
    assert_no_key_in(everything_about(info.value))

    # A factory is a class: copies are the class itself and pickles name it, or they fail.
    factory = EncryptedCookieSessionFactory([KEY, OLD_KEY], serializer="json")
    try:
        out = operation(factory)
    except Exception as error:
        assert_no_key_in(everything_about(error))
    else:
        assert out is factory or isinstance(out, bytes)
        assert_no_key_in(out if isinstance(out, bytes) else repr(out))
    assert_no_key_in(repr(factory) + repr(vars(factory)))


BAD_SECRETS = {
    "bytes-31": KEY[:31],
    "bytes-33": KEY + b"!",
    "bytes-64-not-hex": KEY.hex()[:63].encode() + b"g",
    "hex-63": KEY.hex()[:63],
    "hex-65": KEY.hex() + "0",
    "hex-with-non-hex": KEY.hex()[:63] + "g",
    "hex-with-space": KEY.hex()[:32] + " " + KEY.hex()[32:],
    "two-keys-in-one-str": KEY.hex() + " " + OLD_KEY.hex(),
    "latin-1-str-32": KEY.decode("latin-1"),
    "good-then-bad": [KEY, OLD_KEY[:31]],
    "bad-then-good": (OLD_KEY.hex()[:63], KEY.hex()),
    "nested-list": [[KEY]],
    "dict": {"key": KEY},
    "set": {KEY},
    "int": int.from_bytes(KEY, "big"),
}


@pytest.mark.parametrize("secret", BAD_SECRETS.values(), ids=BAD_SECRETS.keys())
def test_refused_secrets_are_not_echoed_in_the_error(secret):
    with pytest.raises((TypeError, ValueError)) as info:
        EncryptedSerializer(secret, "json")
    assert_no_key_in(everything_about(info.value))
    with pytest.raises((TypeError, ValueError)) as info:
        EncryptedCookieSessionFactory(secret)
    assert_no_key_in(everything_about(info.value))


@pytest.mark.parametrize(
    "setting",
    [
        KEY.hex()[:63],
        KEY.hex() + "\n" + OLD_KEY.hex()[:63],
        KEY.hex()[:63] + "g",
        OLD_KEY.hex() + KEY.hex(),
    ],
    ids=["hex-63", "second-key-short", "non-hex", "two-keys-run-together"],
)
def test_refused_secret_settings_are_not_echoed_in_the_error(setting):
    with pytest.raises(ValueError) as info:
        session_factory_from_settings({"session.secret": setting})
    assert "session.secret" in str(info.value)
    assert_no_key_in(everything_about(info.value))


def test_unreadable_cookies_and_bad_serializers_say_nothing_of_the_key():
    s = EncryptedSerializer([KEY, OLD_KEY], "json")
    good = s.dumps({"user": "alice"})
    cookies = [
        good[:-1] + (b"B" if good[-1:] == b"A" else b"A"),  # tampered
        good[:30],  # too short
        good + b"*",  # not base64
        EncryptedSerializer(hashlib.sha256(b"another").digest(), "json").dumps({}),  # foreign
        nacl_seal(KEY, b"{not json"),  # bad payload
        nacl_seal(KEY, KEY),  # a payload that *is* key bytes: still not echoed
    ]
    for cookie in cookies:
        with pytest.raises(CookieError) as info:
            s.loads(cookie)
        assert_no_key_in(everything_about(info.value))

    for serializer, kwargs in [("yaml", {}), (object(), {}), ("pickle", {"migrate_pickle": True})]:
        with pytest.raises((TypeError, ValueError)) as info:
            EncryptedSerializer(KEY, serializer, **kwargs)
        assert_no_key_in(everything_about(info.value))

    class ReturnsText(Custom):
        def dumps(self, value):
            return json.dumps(value)

    with pytest.raises(TypeError) as info:
        EncryptedSerializer(KEY, ReturnsText()).dumps({})
    assert_no_key_in(everything_about(info.value))


def test_logs_of_requests_with_oversized_and_unreadable_cookies_hold_no_key(caplog):
    def store(config):
        def view(request):
            request.session["blob"] = "x" * int(request.params["size"])
            return {}

        config.add_route("store", "/store")
        config.add_view(view, route_name="store", renderer="json")

    factory = EncryptedCookieSessionFactory([KEY, OLD_KEY], serializer="json")
    app = session_app(factory, store)
    caplog.set_level(logging.DEBUG)

    app.get("/store", params={"size": "2500"})  # near the limit: a warning is logged
    assert any("limit" in r.getMessage() for r in caplog.records)
    with pytest.raises(CookieTooLarge) as info:
        app.get("/store", params={"size": "5000"})
    assert_no_key_in(everything_about(info.value))
    app.set_cookie("session", "tampered" * 20)
    app.get("/show")

    assert_no_key_in(caplog.text)
    for record in caplog.records:
        assert_no_key_in(record.getMessage() + str(record.exc_text) + repr(record.args))


@pytest.mark.parametrize(
    "secret",
    [KEY.hex()[:63], KEY.hex() + "0", KEY.hex()[:63] + "g", OLD_KEY.hex()],
    ids=["hex-63", "hex-65", "non-hex", "wrong-key"],
)
def test_cli_decode_does_not_print_the_keys_it_was_given(secret, capsys):
    cookie = EncryptedSerializer(KEY, "json").dumps([1.0, 1.0, {}]).decode()
    status = cli_main(["decode", "--secret", secret, cookie])
    out, err = capsys.readouterr()
    assert status != 0
    assert_no_key_in(out + err)


def test_cli_decode_does_not_echo_a_malformed_ini_line_holding_a_key(tmp_path, capsys):
    ini = tmp_path / "app.ini"
    # The key pasted on its own line after a bare setting name: not valid ini.
    ini.write_text(f"[app:main]\nuse = egg:pyramid\nsession.secret\n{KEY.hex()}\n")
    status = cli_main(["decode", "--ini", str(ini), "AAAA"])
    out, err = capsys.readouterr()
    assert status == 2
    assert_no_key_in(out + err)
