"""The 'json' inner serializer: the meaning of json.dumps/json.loads with defaults, both ways.

Anything our dumps seals must read back (through PyNaCl and json.loads, or webob's
JSONSerializer, as 1.0 users have) to what json.loads(json.dumps(x)) gives, and anything
json.dumps writes must read back through our loads to the same.
"""

import base64
import collections
import enum
import json
import math
import re

import nacl.secret
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webob.cookies import JSONSerializer

from pyramid_nacl_session import BadPayload, EncryptedSerializer

SECRET = bytes(range(32))
MAX_DEPTH = 255


@pytest.fixture(scope="module")
def serializer():
    return EncryptedSerializer(SECRET, "json")


def open_with_pynacl(cookie):
    cookie = cookie.decode("ascii") if isinstance(cookie, bytes) else cookie
    padded = cookie + "=" * (-len(cookie) % 4)
    return nacl.secret.SecretBox(SECRET).decrypt(base64.urlsafe_b64decode(padded))


def seal_with_pynacl(plaintext):
    return base64.urlsafe_b64encode(bytes(nacl.secret.SecretBox(SECRET).encrypt(plaintext)))


def canonical(value):
    """Exact text of a JSON-read value: tells int from float, -0.0 from 0.0, keeps key order,
    and treats NaN as equal to NaN."""
    return json.dumps(value)


def reference(value):
    return canonical(json.loads(json.dumps(value)))


# Text includes lone surrogates and any non-ASCII; the default text strategy leaves those out.
text = st.text(st.characters(exclude_categories=()), max_size=20)
floats = st.floats(allow_nan=True, allow_infinity=True)
ints = st.integers() | st.integers(min_value=-(2**200), max_value=2**200)
keys = text | ints | floats | st.booleans() | st.none()
leaves = st.none() | st.booleans() | ints | floats | text
json_data = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=5)
        | st.tuples(children, children)
        | st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_data)
def test_round_trip_reads_back_what_json_module_reads_back(serializer, value):
    assert canonical(serializer.loads(serializer.dumps(value))) == reference(value)


@settings(max_examples=300, deadline=None)
@given(json_data)
def test_sealed_output_is_read_by_json_module_and_webob(serializer, value):
    plaintext = open_with_pynacl(serializer.dumps(value))
    assert canonical(json.loads(plaintext)) == reference(value)
    assert canonical(JSONSerializer().loads(plaintext)) == reference(value)


@settings(max_examples=300, deadline=None)
@given(json_data)
def test_json_module_output_sealed_by_pynacl_is_read(serializer, value):
    cookie = seal_with_pynacl(json.dumps(value).encode("utf-8"))
    assert canonical(serializer.loads(cookie)) == reference(value)


@settings(max_examples=100, deadline=None)
@given(json_data)
def test_json_module_output_with_whitespace_and_raw_utf8_is_read(serializer, value):
    written = json.dumps(value, indent="\t\r\n ", ensure_ascii=False)
    try:
        plaintext = written.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which only ensure_ascii can write
        return
    assert canonical(serializer.loads(seal_with_pynacl(plaintext))) == reference(value)


def test_webob_sealed_payload_is_read(serializer):
    value = (1700000000.5, 1700000000, {"user": "zoé", "cart": [1, 2], "flash": None})
    cookie = seal_with_pynacl(JSONSerializer().dumps(value))
    assert serializer.loads(cookie) == [1700000000.5, 1700000000, value[2]]


def test_floats_stay_floats_and_round_trip_exactly(serializer):
    values = [1.0, -0.0, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, 123456789.0]
    back = serializer.loads(serializer.dumps(values))
    assert [type(v) for v in back] == [float] * len(values)
    assert [v.hex() for v in back] == [v.hex() for v in values]


def test_nan_and_infinities_are_written_as_json_writes_them(serializer):
    plaintext = open_with_pynacl(serializer.dumps([math.nan, math.inf, -math.inf]))
    assert plaintext == b"[NaN,Infinity,-Infinity]"


def test_numbers_read_as_python_reads_them(serializer):
    document = (
        b"[1e400, -1e400, 0.1000000000000000055511151231257827, 2.5e-324, -0, -0.0, 1E2,"
        b" 99999999999999999999]"
    )
    got = serializer.loads(seal_with_pynacl(document))
    assert canonical(got) == canonical(json.loads(document))


def test_output_is_compact_raw_utf8(serializer):
    plaintext = open_with_pynacl(serializer.dumps({"a": ["é", 1], "b": "\u2028"}))
    assert plaintext == '{"a":["é",1],"b":"\u2028"}'.encode("utf-8")


def test_lone_surrogates_are_escaped_and_read_back(serializer):
    value = "a\ud800b\udfff"
    plaintext = open_with_pynacl(serializer.dumps(value))
    assert plaintext == b'"a\\ud800b\\udfff"'
    assert serializer.loads(serializer.dumps(value)) == value


@pytest.mark.parametrize(
    "char", ["\x00", "\x1f", " ", "\x7f", '"', "\\", "\n", "\u00ed", "\ud7ff", "\ud800", "\u2028"]
)
def test_each_character_is_written_as_json_writes_it_wherever_it_stands(serializer, char):
    # The writer skips plain text a machine word at a time: a character that needs escaping
    # (or one whose bytes look like it) must be found at every offset in and across words.
    for at in range(18):
        value = "abcdefghijklmnopqr"[:at] + char + "stuvwxyz0123456789"[at:]
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        expected = expected.replace("\ud800", "\\ud800").encode("utf-8")
        assert open_with_pynacl(serializer.dumps(value)) == expected, at


def test_duplicate_keys_last_value_wins(serializer):
    got = serializer.loads(seal_with_pynacl(b'{"a": 1, "b": 2, "a": 3}'))
    assert list(got.items()) == [("a", 3), ("b", 2)]


class Colour(enum.IntEnum):
    RED = 1


class LoudStr(str):
    def __str__(self):
        return "LOUD"


class OddFloat(float):
    def __repr__(self):
        return "odd"


class Pairs(dict):
    def items(self):
        return [("only", "this")]


class MyList(list):
    def __iter__(self):
        return iter(["not", "this"])


@pytest.mark.parametrize(
    "value",
    [
        {"colour": Colour.RED, Colour.RED: "key"},
        [LoudStr("quiet"), {LoudStr("k"): 1}],
        [OddFloat(2.5), {OddFloat(0.5): 1}],
        Pairs(a=1),
        MyList([1, 2]),
        collections.OrderedDict([("a", 1), ("b", 2), ("c", 3)]),
        ("tuple", ("nested",)),
        {
            7: "int",
            2.5: "float",
            True: "bool",
            None: "none",
            math.nan: "nan",
            1e16: "big",
            -(2**70): "huge",
        },
    ],
    ids=[
        "intenum",
        "str-subclass",
        "float-subclass",
        "dict-items",
        "list-iter",
        "ordereddict",
        "tuple",
        "keys",
    ],
)
def test_subclasses_and_non_str_keys_are_written_as_json_writes_them(serializer, value):
    if isinstance(value, collections.OrderedDict):
        value.move_to_end("a")
    assert canonical(serializer.loads(serializer.dumps(value))) == reference(value)
    assert canonical(json.loads(open_with_pynacl(serializer.dumps(value)))) == reference(value)


@pytest.mark.parametrize(
    "value",
    [
        object(),
        {1, 2},
        b"bytes",
        [1, {"a": complex(1, 2)}],
        {(1, 2): "tuple key"},
        {frozenset(): 1},
        {b"k": 1},
    ],
    ids=["object", "set", "bytes", "nested-complex", "tuple-key", "frozenset-key", "bytes-key"],
)
def test_unserializable_values_raise_json_modules_type_error(serializer, value):
    with pytest.raises(TypeError) as expected:
        json.dumps(value)
    with pytest.raises(TypeError) as got:
        serializer.dumps(value)
    # json's message, after the place of the value when it is inside a container.
    place = "appstruct[1]['a']: " if isinstance(value, list) else ""
    assert str(got.value) == place + str(expected.value)


def nested(depth):
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_up_to_the_limit_round_trips(serializer):
    value = nested(MAX_DEPTH)
    assert serializer.loads(serializer.dumps(value)) == value


def test_dumps_deeper_than_the_limit_raises_value_error(serializer):
    with pytest.raises(ValueError, match="nesting deeper than 255"):
        serializer.dumps(nested(MAX_DEPTH + 1))
    with pytest.raises(ValueError, match="nesting deeper than 255"):
        serializer.dumps({"a": [{"b": nested(MAX_DEPTH)}]})


def test_circular_reference_raises_value_error(serializer):
    loop = {"self": []}
    loop["self"].append(loop)
    with pytest.raises(ValueError):
        serializer.dumps(loop)


def test_loads_deeper_than_the_limit_is_a_bad_payload(serializer):
    with pytest.raises(BadPayload, match="nesting deeper than 255"):
        serializer.loads(seal_with_pynacl(json.dumps(nested(MAX_DEPTH + 1)).encode()))


def test_hundred_thousand_open_brackets_is_a_bad_payload_not_a_crash(serializer):
    with pytest.raises(BadPayload) as got:
        serializer.loads(seal_with_pynacl(b"[" * 100_000))
    assert isinstance(got.value, ValueError)


@pytest.mark.parametrize(
    "plaintext, message",
    [
        (b"", "unexpected end of data at byte 0"),
        (b"   ", "unexpected end of data at byte 3"),
        (b'{"a": 1} x', "data after the JSON value at byte 9"),
        (b"[1, 2][]", "data after the JSON value at byte 6"),
        (b'"caf\xe9"', "invalid UTF-8 at byte 4"),
        (b'["\xed\xa0\x80"]', "invalid UTF-8 at byte 2"),
        (b"\xef\xbb\xbf[1]", "unexpected character at byte 0"),
        (b'{"a": x}', "unexpected character at byte 6"),
        (b'"tab\there"', "control character in string at byte 4"),
        (b"[1,]", "unexpected character at byte 3"),
        (b"01", "data after the JSON value at byte 1"),
        (b'"\\uD80"', "invalid \\u escape at byte 1"),
        (b"'single'", "unexpected character at byte 0"),
    ],
)
def test_malformed_payloads_are_bad_payloads_that_say_where(serializer, plaintext, message):
    with pytest.raises(ValueError):  # 1.0's reader rejects it too
        JSONSerializer().loads(plaintext)
    with pytest.raises(BadPayload, match=re.escape(f"cookie payload is not JSON: {message}") + "$"):
        serializer.loads(seal_with_pynacl(plaintext))
