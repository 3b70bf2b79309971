"""migrate_pickle: the JSON serializer reads 1.0 pickle cookies of plain data, and nothing else.

Cookies are made exactly as pyramid_nacl_session 1.0.0 made them: PyNaCl's SecretBox over
pickle.dumps(value, protocol), urlsafe base64 without padding.
"""

import base64
import datetime
import json
import os
import pickle
import pickletools
import time

import nacl.secret
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyramid_nacl_session
from pyramid_nacl_session import BadPayload, EncryptedSerializer

from .helpers import SECRET, canon, migrating_app

PROTOCOLS = [2, 3, 4, 5]
SERIALIZER = EncryptedSerializer(SECRET, "json", migrate_pickle=True)


def seal(payload):
    box = nacl.secret.SecretBox(SECRET)
    return base64.urlsafe_b64encode(box.encrypt(payload)).rstrip(b"=")


def unseal(cookie):
    box = nacl.secret.SecretBox(SECRET)
    return box.decrypt(base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4)))


def read(payload):
    return SERIALIZER.loads(seal(payload))


CODE_OPCODES = {
    "GLOBAL",
    "STACK_GLOBAL",
    "REDUCE",
    "INST",
    "OBJ",
    "NEWOBJ",
    "NEWOBJ_EX",
    "BUILD",
    "EXT1",
    "EXT2",
    "EXT4",
    "PERSID",
    "BINPERSID",
}


def pickle_loads_without_globals(payload):
    """pickle.loads itself, run only once pickletools has shown that no opcode names or calls
    anything. (Not an Unpickler over a file: reading from memory, pickle.loads takes FRAME
    lengths as read-ahead hints, as our reader does, where a file-reading Unpickler refuses a
    pickle whose opcodes cross a frame's end.)"""
    assert not {op.name for op, _, _ in pickletools.genops(payload)} & CODE_OPCODES
    return pickle.loads(payload)


SHARED = ["shared", 1]
PLAIN_VALUES = [
    (time.time(), time.time(), {"user": "alice"}),
    (1, 2, {}),
    (0.0, -0.0, {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "x": 1e-308}),
    (
        1,
        2,
        {
            "big": 2**64,
            "neg": -(2**100),
            "huge": 7**1000,
            "small": [-1, 0, 255, 256, 65535, 65536, 2**31, -(2**31)],
        },
    ),
    (
        1,
        2,
        {
            "unicode": "h\xe9llo \u2603 \U0001f600",
            "empty": "",
            "long": "x" * 300,
            "surrogate": "\ud800",
        },
    ),
    (1, 2, {"a": SHARED, "b": SHARED, "c": [SHARED, (SHARED,)]}),
    (1, 2, {"t": ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((((None,),),),))}),
    (1, 2, {"flags": [True, False, None], "nested": {"d": {"e": [{"f": []}]}}}),
    (1, 2, {"many": list(range(2500)), "keys": {str(i): i for i in range(1200)}}),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("value", PLAIN_VALUES, ids=range(len(PLAIN_VALUES)))
def test_plain_session_pickles_read_as_pickle_reads_them(protocol, value):
    payload = pickle.dumps(value, protocol)
    assert canon(read(payload)) == canon(pickle.loads(payload))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_memo_references_stay_shared_as_in_pickle(protocol):
    _, _, state = read(pickle.dumps(PLAIN_VALUES[5], protocol))
    assert state["a"] is state["b"] is state["c"][0] is state["c"][1][0]


def test_pickle_written_by_pickle_mode_migrates():
    pickled = EncryptedSerializer(SECRET, "pickle").dumps((1.5, 2.5, {"k": ["v"]}))
    assert SERIALIZER.loads(pickled) == (1.5, 2.5, {"k": ["v"]})
    state, renewed, created, key_index, migrated = SERIALIZER.open_session(pickled)
    assert (state, renewed, created, key_index, migrated) == ({"k": ["v"]}, 1.5, 2.5, 0, True)


class OpensFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class RunsShell:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("evil", [OpensFile, RunsShell])
def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path, protocol, evil):
    target = tmp_path / "pwned"
    payload = pickle.dumps((1, 2, {"x": evil(str(target))}), protocol)
    with pytest.raises(BadPayload, match="GLOBAL refused"):
        read(payload)
    assert not target.exists()
    # The payload is live: pickle itself would have created the file.
    pickle.loads(payload)
    assert target.exists()


class UserClass:
    pass


REFUSED = {
    "set": {1},
    "frozenset": frozenset([1]),
    "bytes": b"x",
    "bytearray": bytearray(b"x"),
    "instance": UserClass(),
    "int key": {1: "one"},
    "tuple key": {(1,): "one"},
    "datetime": datetime.datetime(2020, 1, 2, 3, 4, 5),
    "complex": 1j,
    "builtin function": len,
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", list(REFUSED))
def test_non_plain_values_are_refused(protocol, name):
    payload = pickle.dumps((1, 2, {"x": REFUSED[name]}), protocol)
    with pytest.raises(BadPayload, match="refused"):
        read(payload)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_recursive_structures_are_refused(protocol):
    loop = []
    loop.append(loop)
    with pytest.raises(BadPayload, match="contains itself"):
        read(pickle.dumps((1, 2, {"loop": loop}), protocol))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_truncation_is_refused(protocol):
    payload = pickle.dumps(PLAIN_VALUES[3], protocol)
    for end in range(1, len(payload)):
        with pytest.raises(BadPayload):
            read(payload[:end])


@pytest.mark.parametrize("tail", [b"x", b".", b"\x80\x02N."])
def test_bytes_after_the_pickle_are_refused(tail):
    with pytest.raises(BadPayload, match="after the end"):
        read(pickle.dumps((1, 2, {}), 4) + tail)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b".",  # [[[...]]]
        b"\x80\x02)" + b"\x85" * 100_000 + b".",  # ((((),),),)
        b"\x80\x02}" + b"X\x01\x00\x00\x00k}" * 60_000 + b"s" * 60_000 + b".",  # {'k': {'k': ...}}
        b"\x80\x02" + b"(" * 100_000 + b"t" * 100_000 + b".",
    ],
    ids=["lists", "tuples", "dicts", "marks"],
)
def test_deep_nesting_is_refused_without_crashing(payload):
    with pytest.raises(BadPayload, match="nested deeper"):
        read(payload)


def test_exponential_sharing_is_refused_before_it_is_copied_out():
    # x0 = []; x(k+1) = [xk, xk]: 2**60 leaves if references were copied out.
    payload = (
        b"\x80\x02]q\x000" + b"".join(b"(h%ch%clq%c0" % (k, k, k + 1) for k in range(60)) + b"h<."
    )
    with pytest.raises(pyramid_nacl_session.RefusedPickle, match="shared references expand"):
        read(payload)


def test_shared_references_read_shared():
    # Ten levels: 5 * 2**10 - 3 bytes of JSON once copied out, well within the bound.
    payload = (
        b"\x80\x02]q\x000" + b"".join(b"(h%ch%clq%c0" % (k, k, k + 1) for k in range(10)) + b"h\n."
    )
    value = read(payload)
    assert value[0] is value[1]


def test_a_frame_shorter_than_its_opcodes_reads_as_pickle_loads_reads_it():
    # Found by test_property_damaged_pickles_...: a FRAME length cut below a LONG4 inside it.
    # pickle.loads (what 1.0 ran) reads it, taking the length as a hint; so do we.
    payload = bytearray(pickle.dumps((1, 2, {"k": [7**1000]}), 4))
    payload[3:11] = (0x100).to_bytes(8, "little")
    assert canon(read(bytes(payload))) == canon(pickle.loads(bytes(payload)))


def test_refusal_says_what_was_refused():
    with pytest.raises(BadPayload) as info:
        read(pickle.dumps({1, 2}, 2))
    assert "pickle opcode GLOBAL refused: only plain data is read" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, pyramid_nacl_session.CookieError)


plain_data = st.recursive(
    st.none()
    | st.booleans()
    # Every integer opcode's range: BININT1, BININT2, BININT, LONG1 and LONG4.
    | st.integers(0, 2**8)
    | st.integers(0, 2**16)
    | st.integers(-(2**31), 2**31)
    | st.integers(-(2**80), 2**80)
    | st.integers(-(2**2100), 2**2100)
    | st.floats()
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(deadline=None)
@given(value=plain_data, protocol=st.sampled_from(PROTOCOLS))
def test_property_plain_data_reads_as_pickle_reads_it(value, protocol):
    payload = pickle.dumps((time.time(), 0, value), protocol)
    assert canon(read(payload)) == canon(pickle.loads(payload))


def check_only_bad_payload_or_pickles_value(payload):
    try:
        value = read(payload)
    except BadPayload:
        return
    assert canon(value) == canon(pickle_loads_without_globals(payload))


@settings(deadline=None, max_examples=300)
@given(protocol=st.sampled_from([0, 1, 2, 3, 4, 5, 6]), body=st.binary(max_size=64))
def test_property_random_bytes_give_bad_payload_or_a_value(protocol, body):
    check_only_bad_payload_or_pickles_value(bytes([0x80, protocol]) + body)


@settings(deadline=None, max_examples=300)
@given(value=plain_data, protocol=st.sampled_from(PROTOCOLS), data=st.data())
def test_property_damaged_pickles_give_bad_payload_or_a_value(value, protocol, data):
    payload = bytearray(pickle.dumps(value, protocol))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(2, len(payload)))
        kind = data.draw(st.sampled_from(["set", "insert", "delete"]))
        byte = data.draw(st.integers(0, 255))
        if kind == "set" and at < len(payload):
            payload[at] = byte
        elif kind == "insert":
            payload.insert(at, byte)
        elif at < len(payload):
            del payload[at]
    check_only_bad_payload_or_pickles_value(bytes(payload))


# Through a real Pyramid app.


@pytest.fixture
def app():
    return migrating_app()


def session_cookie_value(response):
    for header in response.headers.getall("Set-Cookie"):
        name, _, rest = header.partition("=")
        if name == "session":
            return rest.split(";", 1)[0]
    return None


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pyramid_app_reads_a_1_0_cookie_and_rewrites_it_as_json(app, protocol):
    now = time.time()
    cookie = seal(pickle.dumps((now, now, {"user": "alice"}), protocol)).decode()
    response = app.get("/", headers={"Cookie": f"session={cookie}"})
    assert app.seen == [{"user": "alice"}]
    plaintext = unseal(session_cookie_value(response))
    assert plaintext[:1] != b"\x80"
    accessed, created, state = json.loads(plaintext.decode("utf-8"))
    assert state == {"user": "alice"}
    assert created == pytest.approx(now)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pyramid_app_gives_a_fresh_session_for_a_hostile_cookie(app, tmp_path, protocol):
    target = tmp_path / "pwned"
    now = time.time()
    cookie = seal(pickle.dumps((now, now, {"user": RunsShell(str(target))}), protocol)).decode()
    app.get("/", headers={"Cookie": f"session={cookie}"})
    assert app.seen == [{}]
    assert not target.exists()
