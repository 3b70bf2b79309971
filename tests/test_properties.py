"""Property tests (hypothesis): random sessions round-trip through every serializer, and any
tampering with a cookie (one flipped bit, truncation, extension) is refused with a CookieError.
"""

import base64
import json
import pickle

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyramid.config import Configurator
from pyramid.request import Request
from webtest import TestApp

from pyramid_nacl_session import (
    BadPayload,
    CookieError,
    EncryptedCookieSessionFactory,
    EncryptedSerializer,
)
from pyramid_nacl_session._core import CookieSpec, SessionCodec
from pyramid_nacl_session.lifetime import TIMEOUT_KEY

from .helpers import SECRET


class WrappedJsonSerializer:
    """An app's own serializer (JSON with sorted keys, wrapped), to cover the custom path."""

    def dumps(self, value):
        return b"custom:" + json.dumps(value, sort_keys=True).encode()

    def loads(self, data):
        if not data.startswith(b"custom:"):
            raise ValueError("not ours")
        return json.loads(data[len(b"custom:") :])


SERIALIZERS = {
    "pickle": lambda: EncryptedSerializer(SECRET, "pickle"),
    "json": lambda: EncryptedSerializer(SECRET, "json"),
    "json-migrate": lambda: EncryptedSerializer(SECRET, "json", migrate_pickle=True),
    "custom": lambda: EncryptedSerializer(SECRET, WrappedJsonSerializer()),
}

# What JSON carries (and so every serializer here): NaN is left out only because NaN != NaN.
leaves = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
values = st.recursive(
    leaves,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)
# TIMEOUT_KEY is the session's own (adjust_timeout_for_session), as "_csrft_" is Pyramid's.
states = st.dictionaries(
    st.text(max_size=12).filter(lambda k: k != TIMEOUT_KEY), values, max_size=8
)
timestamps = st.floats(min_value=0, max_value=4e9)


def as_json_reads_it(value):
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("kind", SERIALIZERS)
@given(accessed=timestamps, created=timestamps, state=states)
def test_random_sessions_round_trip_through_every_serializer(kind, accessed, created, state):
    serializer = SERIALIZERS[kind]()
    value = (accessed, created, state)
    expected = value if kind == "pickle" else as_json_reads_it(value)
    assert serializer.loads(serializer.dumps(value)) == expected
    codec = SessionCodec(serializer, CookieSpec("session"))
    header = codec.write([], accessed, created, state, None, None, None)
    assert header.endswith("; Path=/")
    assert serializer.loads(header[len("session=") : -len("; Path=/")]) == expected
    assert (
        serializer.loads(codec.write(None, accessed, created, state, None, None, None)) == expected
    )


def state_app(serializer):
    config = Configurator()
    config.set_session_factory(
        EncryptedCookieSessionFactory(SECRET, serializer=serializer, timeout=None)
    )

    def put(request):
        request.session.clear()
        request.session.update(json.loads(request.body))
        return {}

    def show(request):
        return dict(request.session)

    config.add_route("put", "/put")
    config.add_view(put, route_name="put", renderer="json")
    config.add_route("show", "/show")
    config.add_view(show, route_name="show", renderer="json")
    return TestApp(config.make_wsgi_app())


@pytest.mark.parametrize("kind", ["pickle", "json", "custom"])
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=states)
def test_random_sessions_survive_a_request_round_trip(kind, state):
    app = state_app({"pickle": None, "json": "json", "custom": WrappedJsonSerializer()}[kind])
    body = json.dumps(state)
    # Browsers drop cookies over 4096 bytes and the factory refuses to write them.
    assume(len(body) < 1500)
    app.post("/put", body, content_type="application/json")
    assert app.get("/show").json == as_json_reads_it(state)


# -- tampering ---------------------------------------------------------------------------------

B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def decode(cookie):
    return base64.urlsafe_b64decode(cookie + b"=" * (-len(cookie) % 4))


def encode(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


@st.composite
def cookies(draw):
    kind = draw(st.sampled_from(sorted(SERIALIZERS)))
    serializer = SERIALIZERS[kind]()
    value = (draw(timestamps), draw(timestamps), draw(states))
    return serializer, serializer.dumps(value)


@given(cookies(), st.data())
def test_any_single_flipped_bit_is_refused(made, data):
    serializer, cookie = made
    raw = bytearray(decode(cookie))
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CookieError):
        serializer.loads(encode(bytes(raw)))


@given(cookies(), st.data())
def test_any_truncation_of_the_text_or_the_bytes_is_refused(made, data):
    serializer, cookie = made
    cut = data.draw(st.integers(0, len(cookie) - 1))
    with pytest.raises(CookieError):
        serializer.loads(cookie[:cut])
    raw = decode(cookie)
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(CookieError):
        serializer.loads(encode(raw[:cut]))


@given(cookies(), st.text(B64_CHARS, min_size=1, max_size=12), st.binary(min_size=1, max_size=12))
def test_any_extension_of_the_text_or_the_bytes_is_refused(made, more_text, more_bytes):
    # Appending '=' padding is left out on purpose: 1.0 read padded cookies, and so do we.
    serializer, cookie = made
    with pytest.raises(CookieError):
        serializer.loads(cookie + more_text.encode())
    with pytest.raises(CookieError):
        serializer.loads(encode(decode(cookie) + more_bytes))


@given(cookies())
def test_padding_is_the_one_accepted_extension(made):
    serializer, cookie = made
    padded = cookie + b"=" * (-len(cookie) % 4)
    assert serializer.loads(padded) == serializer.loads(cookie)


# -- found while fuzzing -----------------------------------------------------------------------


class Passthrough:
    def dumps(self, value):
        return value

    def loads(self, value):
        return value


@pytest.mark.parametrize(
    "payload", [b"[1%s, 0, {}]" % (b"0" * 400), b"[0, 1%s, {}]" % (b"0" * 400)]
)
def test_a_cookie_with_an_absurd_timestamp_gives_a_fresh_session(payload):
    cookie = EncryptedSerializer(SECRET, Passthrough()).dumps(payload).decode()
    factory = EncryptedCookieSessionFactory(SECRET, serializer="json")
    request = Request.blank("/", environ={"HTTP_COOKIE": "session=" + cookie})
    session = factory(request)
    assert session.new and dict(session) == {}


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\x80\x05\x8c\x02\x80\x030N.", id="popped-str-not-utf8"),
        pytest.param(b"\x80\x05}]Ns0N.", id="popped-dict-with-list-key"),
    ],
)
def test_migrate_pickle_refuses_what_pickle_refuses_even_when_discarded(payload):
    with pytest.raises((UnicodeDecodeError, TypeError)):  # what pickle.loads raises for each
        pickle.loads(payload)
    cookie = EncryptedSerializer(SECRET, Passthrough()).dumps(payload)
    with pytest.raises(BadPayload):
        EncryptedSerializer(SECRET, "json", migrate_pickle=True).loads(cookie)
