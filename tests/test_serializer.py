import copy
import json
import os
import pickle

import pytest
from pyramid.session import JSONSerializer

from pyramid_nacl_session import (
    BadPayload,
    CookieError,
    CookieTooShort,
    DecryptionFailed,
    EncryptedSerializer,
    MalformedCookie,
    generate_secret,
)

from .helpers import OTHER_SECRET, SECRET, nacl_open, nacl_seal

STATE = (1700000000.5, 1700000000, {"user": "alice", "n": 3, "tags": ["a", "b"]})


# -- secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        SECRET,
        bytearray(SECRET),
        memoryview(SECRET),
        SECRET.hex(),
        SECRET.hex().encode(),
        SECRET.hex().upper(),
    ],
    ids=["bytes", "bytearray", "memoryview", "hex-str", "hex-bytes", "hex-upper"],
)
def test_secret_forms_all_mean_the_same_key(secret):
    cookie = EncryptedSerializer(secret).dumps(STATE)
    assert pickle.loads(nacl_open(SECRET, cookie)) == STATE


def test_generate_secret_output_works_as_is():
    hex_secret = generate_secret()
    raw = generate_secret(as_hex=False)
    assert len(hex_secret) == 64 and bytes.fromhex(hex_secret.decode())
    assert len(raw) == 32 and isinstance(raw, bytes)
    assert generate_secret() != generate_secret()
    for secret in (hex_secret, hex_secret.decode(), raw):
        EncryptedSerializer(secret).loads(EncryptedSerializer(secret).dumps(STATE))


@pytest.mark.parametrize(
    "secret, says",
    [
        (b"SEEKRIT!", "bytes of length 8"),
        (b"x" * 33, "bytes of length 33"),
        ("s" * 32, "str of length 32"),
        ("z" * 64, "str of length 64"),
        (b"z" * 64, "bytes of length 64 that are not all hex digits"),
        (12345, "object of type int"),
        (None, "object of type NoneType"),
        ([], "empty list"),
        ([SECRET, b"short"], "secret[1]: secret must be 32 random bytes"),
    ],
)
def test_bad_secret_says_what_was_given_but_not_its_value(secret, says):
    with pytest.raises(ValueError) as info:
        EncryptedSerializer(secret)
    message = str(info.value)
    assert says in message
    assert "pyramid-nacl-session secret" in message
    for part in (b"SEEKRIT", b"sssss", b"zzzzz", b"short"):
        assert part.decode() not in message


def test_repr_shows_no_key_material():
    s = EncryptedSerializer(SECRET, "json")
    text = repr(s) + str(s)
    assert text == "<EncryptedSerializer serializer=json keys=1>" * 2
    assert SECRET.hex() not in text


@pytest.mark.parametrize("operation", [pickle.dumps, copy.copy, copy.deepcopy])
def test_serializer_cannot_be_pickled_or_copied(operation):
    with pytest.raises(TypeError, match="holds secret keys"):
        operation(EncryptedSerializer(SECRET))


# -- wire format, checked against PyNaCl ------------------------------------------------------


def test_dumps_is_urlsafe_base64_of_nonce_tag_ciphertext_without_padding():
    cookie = EncryptedSerializer(SECRET).dumps(STATE)
    assert isinstance(cookie, bytes)
    assert b"=" not in cookie and b"+" not in cookie and b"/" not in cookie
    assert pickle.loads(nacl_open(SECRET, cookie)) == STATE
    # 24-byte nonce + 16-byte tag + the pickle, in base64 without padding.
    payload = pickle.dumps(STATE, pickle.HIGHEST_PROTOCOL)
    assert len(cookie) == -(-(40 + len(payload)) * 4 // 3)


def test_pynacl_reads_ours_and_we_read_pynacls_at_every_size_up_to_the_cookie_limit():
    # The keystream is computed one, four or eight 64-byte blocks at a time (SSE2, AVX2) after
    # the 32 bytes Poly1305 takes from the first block: every size that ends a block or a group
    # of them differently, up to what a cookie can carry, each way against libsodium.
    s = EncryptedSerializer(SECRET, "json")
    for size in [*range(0, 1100), *range(1100, 3100, 7)]:
        text = "x" * size
        plaintext = json.dumps(text).encode()
        assert json.loads(nacl_open(SECRET, s.dumps(text))) == text, size
        assert s.loads(nacl_seal(SECRET, plaintext)) == text, size


def test_every_dumps_uses_a_fresh_nonce():
    s = EncryptedSerializer(SECRET)
    nonces = {nacl_nonce(s.dumps(STATE)) for _ in range(2000)}
    assert len(nonces) == 2000


def nacl_nonce(cookie):
    import base64

    return base64.urlsafe_b64decode(cookie + b"=" * (-len(cookie) % 4))[:24]


def test_loads_reads_pynacl_cookies_as_bytes_or_str_with_or_without_padding():
    cookie = nacl_seal(SECRET, pickle.dumps(STATE))
    s = EncryptedSerializer(SECRET)
    padded = cookie + "=" * (-len(cookie) % 4)
    for form in (cookie, cookie.encode(), padded, padded.encode()):
        assert s.loads(form) == STATE


def test_json_mode_reads_and_writes_what_json_module_does():
    s = EncryptedSerializer(SECRET, "json")
    assert json.loads(nacl_open(SECRET, s.dumps(STATE))) == json.loads(json.dumps(STATE))
    assert s.loads(nacl_seal(SECRET, json.dumps(STATE).encode())) == list(STATE)


def test_pyramid_json_serializer_instance_reads_webob_json_cookies():
    s = EncryptedSerializer(SECRET, JSONSerializer())
    cookie = nacl_seal(SECRET, JSONSerializer().dumps(STATE))
    assert s.loads(cookie) == list(STATE)
    assert s.serializer_name == "json"


# -- bad input: each failure its own ValueError subclass ------------------------------------


@pytest.mark.parametrize(
    "cookie, error, says",
    [
        (b"not*b64*data", MalformedCookie, "bad base64"),
        ("ünïcode", MalformedCookie, "bad base64"),
        (b"", CookieTooShort, "too short"),
        (b"abcd", CookieTooShort, "too short"),
        (nacl_seal(OTHER_SECRET, pickle.dumps(STATE)), DecryptionFailed, "wrong key or tampered"),
        (nacl_seal(SECRET, b"not a pickle"), BadPayload, "not a pickle"),
    ],
)
def test_bad_cookie_raises_its_own_value_error(cookie, error, says):
    with pytest.raises(error, match=says) as info:
        EncryptedSerializer(SECRET).loads(cookie)
    assert isinstance(info.value, CookieError) and isinstance(info.value, ValueError)


def test_every_single_bit_flip_is_detected():
    s = EncryptedSerializer(SECRET, "json")
    cookie = bytearray(s.dumps(STATE))
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i in range(len(cookie)):
        original = cookie[i]
        for replacement in alphabet[::7]:
            if replacement == original:
                continue
            cookie[i] = replacement
            with pytest.raises(CookieError):
                s.loads(bytes(cookie))
        cookie[i] = original
    assert s.loads(bytes(cookie)) == list(STATE)


def test_truncated_random_and_huge_input_never_crash():
    s = EncryptedSerializer(SECRET)
    cookie = s.dumps(STATE)
    for n in range(len(cookie)):
        with pytest.raises(CookieError):
            s.loads(cookie[:n])
    for _ in range(500):
        with pytest.raises(CookieError):
            s.loads(os.urandom(int.from_bytes(os.urandom(1), "big")))
    with pytest.raises(CookieError):
        s.loads(b"A" * 10_000_000)


def test_non_bytes_cookie_is_a_type_error():
    with pytest.raises(TypeError, match="bytes or str"):
        EncryptedSerializer(SECRET).loads(12)


# -- the inner serializer -------------------------------------------------------------------


class Reversed:
    """A custom serializer: honoured exactly, errors and all."""

    def dumps(self, value):
        return json.dumps(value).encode()[::-1]

    def loads(self, data):
        if data.startswith(b"!"):
            raise KeyError("custom failure")
        return json.loads(data[::-1])


def test_custom_serializer_is_used_exactly():
    s = EncryptedSerializer(SECRET, Reversed())
    cookie = s.dumps({"a": 1})
    assert nacl_open(SECRET, cookie) == b'}1 :"a"{'
    assert s.loads(cookie) == {"a": 1}
    assert s.serializer_name == "custom"
    assert isinstance(s.serializer, Reversed)


def test_custom_serializer_value_error_becomes_bad_payload_and_other_errors_pass_through():
    s = EncryptedSerializer(SECRET, Reversed())
    with pytest.raises(BadPayload) as info:
        s.loads(nacl_seal(SECRET, b"not json"))
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(KeyError, match="custom failure"):
        s.loads(nacl_seal(SECRET, b"!"))


def test_custom_serializer_must_return_bytes():
    class Text:
        def dumps(self, value):
            return "text"

        def loads(self, data):
            return data

    with pytest.raises(TypeError, match="must return bytes, got str"):
        EncryptedSerializer(SECRET, Text()).dumps({})


@pytest.mark.parametrize("bad", ["yaml", object(), 3])
def test_unknown_serializer_fails_at_construction(bad):
    with pytest.raises((TypeError, ValueError), match="serializer must be 'json', 'pickle'"):
        EncryptedSerializer(SECRET, bad)


def test_pickle_mode_pickles_any_object_like_pyramid_did():
    s = EncryptedSerializer(SECRET)
    value = {"when": __import__("datetime").date(2024, 1, 2), "set": {1, 2}}
    assert s.loads(s.dumps(value)) == value
    assert pickle.loads(nacl_open(SECRET, s.dumps(value))) == value


# Runs CODE in a fresh interpreter and prints the warnings that the package raised: those
# attributed to a file of the package, or to CODE itself (a warning with stacklevel=2 and up
# names the caller). Other projects' warnings (Pyramid's "pkg_resources is deprecated" on
# Python 3.12+ with setuptools 81, for one) name their own files and are not ours to judge.
_OUR_WARNINGS = """
import os, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    exec(sys.argv[1])
import pyramid_nacl_session
package = os.path.dirname(pyramid_nacl_session.__file__) + os.sep
for w in caught:
    if w.filename.startswith(package) or w.filename == "<string>":
        print(f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}")
"""


def _warnings_raised_by_us(code):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _OUR_WARNINGS, code], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


def test_importing_and_using_the_package_warns_of_nothing():
    code = (
        "import pyramid_nacl_session as p\n"
        "p.EncryptedSerializer(bytes(32)).dumps({})\n"
        "j = p.EncryptedSerializer(bytes(32), 'json')\n"
        "j.loads(j.dumps({}))\n"
        "p.generate_secret()\n"
    )
    assert _warnings_raised_by_us(code) == []
    # The check does see a warning that reaches the caller.
    seen = _warnings_raised_by_us(code + "import warnings; warnings.warn('ours', stacklevel=1)\n")
    assert len(seen) == 1 and seen[0].endswith("UserWarning: ours")


def test_migrate_pickle_needs_json():
    with pytest.raises(ValueError, match="migrate_pickle works only with the JSON serializer"):
        EncryptedSerializer(SECRET, migrate_pickle=True)


def test_serializer_can_be_subclassed_as_1_0s_could():
    from pyramid import testing
    from pyramid.session import BaseCookieSessionFactory

    class Counting(EncryptedSerializer):
        calls = 0

        def loads(self, bstruct):
            type(self).calls += 1
            return super().loads(bstruct)

    serializer = Counting(SECRET, "json")
    cookie = serializer.dumps((1e10, 1e10, {"a": 1}))
    request = testing.DummyRequest(cookies={"session": cookie.decode()})
    session = BaseCookieSessionFactory(serializer, timeout=None)(request)
    assert dict(session) == {"a": 1} and Counting.calls == 1
