"""The pickle serializer writes and reads plain data natively: the plaintext must be exactly
what ``pickle.dumps`` writes (the oracle, read back with PyNaCl), every value must read back as
``pickle.loads`` reads it (shared values shared), and everything else must still go through
the pickle module as before."""

import datetime
import pickle
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyramid.session import PickleSerializer

from pyramid_nacl_session import EncryptedSerializer

from .helpers import SECRET, nacl_open, nacl_seal

ATOMS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 255, 256, 65535, 65536, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1]),
    st.sampled_from([2**63 - 1, -(2**63), 2**39, -(2**39), -(2**39) - 1, 2**40 - 1]),
    st.floats(allow_nan=False),
    st.text(),
    st.text(min_size=250, max_size=300),
)
PLAIN = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=8), inner, max_size=6),
    ),
    max_leaves=40,
)


def plaintext(serializer, value):
    return nacl_open(SECRET, serializer.dumps(value))


@pytest.mark.parametrize("protocol", [4, 5])
@settings(max_examples=300)
@given(value=PLAIN)
def test_plain_data_is_written_as_pickle_dumps_writes_it(protocol, value):
    s = EncryptedSerializer(SECRET, PickleSerializer(protocol=protocol))
    assert plaintext(s, value) == pickle.dumps(value, protocol)


@settings(max_examples=300)
@given(value=PLAIN)
def test_plain_data_reads_back_as_pickle_loads_reads_it(value):
    s = EncryptedSerializer(SECRET)
    data = pickle.dumps((1.0, 2.0, value), pickle.HIGHEST_PROTOCOL)
    back = s.loads(nacl_seal(SECRET, data))
    expected = pickle.loads(data)
    assert pickle.dumps(back, 5) == pickle.dumps(expected, 5)
    assert type(back) is tuple and back == expected


def shared_values():
    key = "".join(["sha", "red"])  # not interned: one object, referenced twice
    inner = [1, 2]
    pair = (inner, inner)
    many = {f"k{i}": i for i in range(1000)}
    return {
        key: inner,
        "again": [inner, pair, pair, key],
        "keys": [{key: 1}, {key: 2}],
        "batches": [list(range(1000)), list(range(1001)), many, dict(many, extra=1)],
        "memo past 255": [str(i) for i in range(300)] + ["x" * 300, "x" * 300],
        "small ints": [0, 1, -1, 255, 256, -256, 65535, 65536],
        "big": 2**64,
        "text": ["é", "\u2603", "\U0001f600", "a\x00b", ""],
        "floats": [0.0, -0.0, 1e308, float("inf"), float("-inf"), 5e-324],
        "empties": [(), (), [], {}, ""],
        "tuples": [(1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
    }


@pytest.mark.parametrize("protocol", [4, 5])
def test_shared_values_batches_and_memo_indices_match_pickle(protocol):
    s = EncryptedSerializer(SECRET, PickleSerializer(protocol=protocol))
    value = shared_values()
    assert plaintext(s, value) == pickle.dumps(value, protocol)
    assert plaintext(s, (1.0, 2.0, value)) == pickle.dumps((1.0, 2.0, value), protocol)


def test_what_is_shared_in_the_cookie_is_shared_when_read():
    s = EncryptedSerializer(SECRET)
    inner = [1]
    back = s.loads(s.dumps({"a": inner, "b": inner, "c": [1]}))
    assert back["a"] is back["b"] and back["a"] is not back["c"]
    assert back == {"a": [1], "b": [1], "c": [1]}


def recursive_list():
    x = [1]
    x.append(x)
    return x


def recursive_tuple():
    x = []
    t = (x,)
    x.append(t)
    return t


class Text(str):
    pass


class Number(int):
    pass


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2024, 5, 1, 12, 30),
        {"when": datetime.date(2024, 5, 1), "ids": {1, 2}, "raw": b"\x00\xff"},
        {Text("k"): Number(3)},
        OrderedDict(a=1),
        {"deep": 2**200, "negative": -(2**100)},
        "lone \ud800 surrogate",
        recursive_list(),
        recursive_tuple(),
        {1: "int key", (1, 2): "tuple key", None: 0},
        "x" * 40_000,
        [
            [
                [
                    [
                        [
                            [
                                [
                                    [
                                        [
                                            [
                                                [
                                                    [
                                                        [
                                                            [
                                                                [
                                                                    [
                                                                        [
                                                                            [
                                                                                [
                                                                                    [
                                                                                        [
                                                                                            [
                                                                                                [
                                                                                                    [
                                                                                                        [
                                                                                                            [
                                                                                                                [
                                                                                                                    [
                                                                                                                        [
                                                                                                                            [
                                                                                                                                [
                                                                                                                                    [
                                                                                                                                        [
                                                                                                                                            [
                                                                                                                                                [
                                                                                                                                                    [
                                                                                                                                                        [
                                                                                                                                                            [
                                                                                                                                                                [
                                                                                                                                                                    [
                                                                                                                                                                        [
                                                                                                                                                                            [
                                                                                                                                                                                [
                                                                                                                                                                                    [
                                                                                                                                                                                        [
                                                                                                                                                                                            [
                                                                                                                                                                                                [
                                                                                                                                                                                                    [
                                                                                                                                                                                                        [
                                                                                                                                                                                                            [
                                                                                                                                                                                                                [
                                                                                                                                                                                                                    [
                                                                                                                                                                                                                        [
                                                                                                                                                                                                                            [
                                                                                                                                                                                                                                [
                                                                                                                                                                                                                                    [
                                                                                                                                                                                                                                        [
                                                                                                                                                                                                                                            "deep"
                                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                                ]
                                                                                                                                                                                                                            ]
                                                                                                                                                                                                                        ]
                                                                                                                                                                                                                    ]
                                                                                                                                                                                                                ]
                                                                                                                                                                                                            ]
                                                                                                                                                                                                        ]
                                                                                                                                                                                                    ]
                                                                                                                                                                                                ]
                                                                                                                                                                                            ]
                                                                                                                                                                                        ]
                                                                                                                                                                                    ]
                                                                                                                                                                                ]
                                                                                                                                                                            ]
                                                                                                                                                                        ]
                                                                                                                                                                    ]
                                                                                                                                                                ]
                                                                                                                                                            ]
                                                                                                                                                        ]
                                                                                                                                                    ]
                                                                                                                                                ]
                                                                                                                                            ]
                                                                                                                                        ]
                                                                                                                                    ]
                                                                                                                                ]
                                                                                                                            ]
                                                                                                                        ]
                                                                                                                    ]
                                                                                                                ]
                                                                                                            ]
                                                                                                        ]
                                                                                                    ]
                                                                                                ]
                                                                                            ]
                                                                                        ]
                                                                                    ]
                                                                                ]
                                                                            ]
                                                                        ]
                                                                    ]
                                                                ]
                                                            ]
                                                        ]
                                                    ]
                                                ]
                                            ]
                                        ]
                                    ]
                                ]
                            ]
                        ]
                    ]
                ]
            ]
        ],
    ],
    ids=repr,
)
def test_anything_else_still_goes_through_the_pickle_module(value):
    s = EncryptedSerializer(SECRET)
    raw = plaintext(s, value)
    assert raw == pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    back = s.loads(nacl_seal(SECRET, raw))
    assert pickle.dumps(back, 5) == raw


def test_nesting_past_the_native_limit_is_pickled_by_the_pickle_module():
    value = []
    for _ in range(300):
        value = [value]
    s = EncryptedSerializer(SECRET)
    raw = plaintext(s, value)
    assert raw == pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    assert pickle.dumps(s.loads(s.dumps(value)), 5) == raw


@pytest.mark.parametrize("protocol", [0, 2, 3])
def test_older_protocols_are_still_written_by_the_pickle_module(protocol):
    s = EncryptedSerializer(SECRET, PickleSerializer(protocol=protocol))
    value = shared_values()
    assert plaintext(s, value) == pickle.dumps(value, protocol)
    assert s.loads(s.dumps(value)) == value


def test_a_pickle_with_code_in_it_is_still_read_by_the_pickle_module():
    # Unpickling runs code, as with 1.0: only a cookie sealed with the key can carry one.
    s = EncryptedSerializer(SECRET)
    cookie = nacl_seal(SECRET, pickle.dumps(datetime.timedelta(seconds=5)))
    assert s.loads(cookie) == datetime.timedelta(seconds=5)


def test_every_cut_or_changed_byte_reads_as_pickle_loads_reads_it():
    from pyramid_nacl_session import BadPayload

    s = EncryptedSerializer(SECRET)
    data = pickle.dumps((1.0, 2.0, shared_values()["again"] + [{"a": (1, 2, 3, 4)}]), 5)
    variants = [data[:end] for end in range(len(data))]
    # Not into LONG_BINPUT: pickle.loads itself then grows its memo to whatever index follows
    # (seconds for four arbitrary bytes), which is not what this test is about.
    variants += [
        data[:i] + bytes([b ^ 0x5A]) + data[i + 1 :]
        for i, b in enumerate(data)
        if b ^ 0x5A != ord("r")
    ]
    for variant in variants:
        try:
            expected = pickle.loads(variant)
        except Exception:
            with pytest.raises(BadPayload):
                s.loads(nacl_seal(SECRET, variant))
        else:
            back = s.loads(nacl_seal(SECRET, variant))
            assert back == expected or repr(back) == repr(expected)
