"""A leaked key: pickle cookies built to hurt the plain-data reader (``migrate_pickle``).

Each cookie is sealed under the app's own key, so it authenticates; what it carries must be
refused with ``RefusedPickle`` (a ``BadPayload``, so a ``ValueError``), cheaply, and a real app
must answer with a fresh session, never a 500.
"""

import pickle
import struct

import pytest

from pyramid_nacl_session import (
    BadPayload,
    CookieError,
    EncryptedSerializer,
    RefusedPickle,
)
from pyramid_nacl_session.cli import main

from .helpers import SECRET, migrating_app, nacl_seal

NOW = 1_700_000_000.5
SERIALIZER = EncryptedSerializer(SECRET, "json", migrate_pickle=True)


def doubled(levels):
    """x = [x, x], ``levels`` times: 2**levels empty lists once the references are copied."""
    x = []
    for _ in range(levels):
        x = [x, x]
    return x


def binfloat(x):
    return b"G" + struct.pack(">d", x)


# What an attacker holding a leaked key sends, each the whole plaintext of a session cookie.
DOUBLED_40 = pickle.dumps((NOW, NOW, {"x": doubled(40)}), 2)
DICT_TUPLE_KEY = b"\x80\x02(" + binfloat(NOW) + binfloat(NOW) + b"()K\x02dt."  # (t, t, {(): 2})
DICT_UNHASHABLE_KEY = b"\x80\x02(}K\x01d."  # found by the safe_pickle_loads fuzz target
# DICT with each key type that SETITEM refuses, in a session triple.
DICT_KEYS = {
    kind: b"\x80\x02(" + binfloat(NOW) + binfloat(NOW) + b"(" + key + b"K\x02dt."
    for kind, key in [
        ("int", b"K\x01"),
        ("None", b"N"),
        ("bool", b"\x88"),
        ("float", binfloat(1.5)),
        ("list", b"]"),
        ("dict", b"}"),
    ]
}
# DUP copies a reference as a memo lookup does: ( ( ( ... ] 2 l 2 l ... is 2**50 lists.
DUP_DOUBLED = b"\x80\x02" + b"(" * 50 + b"]" + b"2l" * 50 + b"."

HOSTILE = {
    "doubled-40": DOUBLED_40,
    "dict-tuple-key": DICT_TUPLE_KEY,
    "dict-unhashable-key": DICT_UNHASHABLE_KEY,
    "dup-doubled": DUP_DOUBLED,
    **{f"dict-{kind}-key": payload for kind, payload in DICT_KEYS.items()},
}


def test_the_issue_example_is_a_479_byte_cookie():
    assert len(nacl_seal(SECRET, DOUBLED_40)) == 479


@pytest.mark.parametrize("payload", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_pickles_are_refused_with_refused_pickle(payload):
    with pytest.raises(RefusedPickle) as info:
        SERIALIZER.loads(nacl_seal(SECRET, payload))
    assert isinstance(info.value, BadPayload)
    assert isinstance(info.value, CookieError)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.__cause__, ValueError)
    assert str(info.value).startswith("cookie payload is not a pickle of plain data: ")


def test_shared_references_that_expand_far_beyond_a_cookie_say_so():
    with pytest.raises(RefusedPickle, match="shared references expand to over [0-9]+ bytes"):
        SERIALIZER.loads(nacl_seal(SECRET, DOUBLED_40))


@pytest.mark.parametrize(("kind", "payload"), DICT_KEYS.items(), ids=DICT_KEYS.keys())
def test_the_dict_opcode_applies_the_str_key_rule(kind, payload):
    # pickle itself reads these (but for the unhashable ones): only the key type is refused.
    if kind not in ("list", "dict"):
        assert isinstance(pickle.loads(payload)[2], dict)
    with pytest.raises(RefusedPickle, match=f"dict key of type {kind} refused"):
        SERIALIZER.loads(nacl_seal(SECRET, payload))


def test_an_unhashable_key_is_a_refused_pickle_not_a_type_error():
    with pytest.raises(RefusedPickle, match="dict key of type dict refused"):
        SERIALIZER.loads(nacl_seal(SECRET, DICT_UNHASHABLE_KEY))
    with pytest.raises(RefusedPickle, match="dict key of type tuple refused"):
        SERIALIZER.loads(nacl_seal(SECRET, DICT_TUPLE_KEY))


def test_moderate_sharing_still_reads_and_stays_shared():
    # 12 levels: about 20 KB of JSON once copied out, within the allowance for references.
    payload = pickle.dumps((NOW, NOW, {"x": doubled(12)}), 4)
    accessed, created, state = SERIALIZER.loads(nacl_seal(SECRET, payload))
    assert state["x"][0] is state["x"][1]
    assert state["x"] == doubled(12)


def test_other_serializers_do_not_raise_refused_pickle():
    # Only the plain-data reader refuses pickles; JSON text that is not JSON is a BadPayload.
    json_only = EncryptedSerializer(SECRET, "json")
    with pytest.raises(BadPayload) as info:
        json_only.loads(nacl_seal(SECRET, DICT_UNHASHABLE_KEY))
    assert not isinstance(info.value, RefusedPickle)


# Through a real Pyramid app, whose key has leaked.


@pytest.fixture
def app():
    return migrating_app(count_visits=True)


@pytest.mark.parametrize("payload", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_real_app_gives_a_fresh_session_for_a_hostile_pickle_cookie(app, payload):
    response = app.get("/", headers={"Cookie": f"session={nacl_seal(SECRET, payload)}"})
    assert response.status_int == 200
    assert app.seen == [{}]
    # The fresh session is written and reads back on the next request.
    app.get("/")
    assert app.seen[1] == {"visits": 1}


# The operator's command line reads the same cookies, never for long and without a traceback.


@pytest.mark.parametrize("payload", HOSTILE.values(), ids=HOSTILE.keys())
def test_decode_refuses_a_hostile_pickle_cookie(capsys, payload):
    status = main(["decode", "--secret", SECRET.hex(), nacl_seal(SECRET, payload)])
    out, err = capsys.readouterr()
    assert status == 1
    assert "pickle" in err
    assert "Traceback" not in out + err
    assert len(out) < 1000


def test_json_writer_refuses_output_past_the_cookie_bound():
    from pyramid_nacl_session import CookieTooLarge

    serializer = EncryptedSerializer(bytes(32), "json")
    shared = ["x" * 1000]
    for _ in range(12):  # 4096 references to one 1 KB string: 4 MB of JSON
        shared = [shared, shared]
    with pytest.raises(CookieTooLarge):
        serializer.dumps(shared)
    assert len(serializer.dumps(["x" * 700_000])) > 700_000  # below the bound, written
