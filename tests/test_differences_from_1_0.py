"""Every deliberate difference from pyramid-nacl-session 1.0.0 (docs/migration.rst), shown
against the real 1.0.0: the same request, or the same configuration, on a real Pyramid app on
each side (tests/differential/worker.py), and what each does.
"""

import base64
import json
import math
import pickle
import re
import subprocess
import sys

import pytest
from nacl.secret import SecretBox
from webob.cookies import make_cookie

from .differential.harness import NOW, SECRET, SECRET_HEX, Pair, nacl_open, set_cookie_value

DEFAULTS = {"kwargs": {"secret": SECRET_HEX}}
JSON = {"kwargs": {"secret": SECRET_HEX, "serializer_object": "json"}}


def seal(plain):
    """A cookie sealed under the test key, as 1.0 sealed it."""
    return base64.urlsafe_b64encode(SecretBox(SECRET).encrypt(plain)).rstrip(b"=").decode()


def pickled(state, accessed=NOW, created=NOW):
    return seal(pickle.dumps((accessed, created, state), pickle.HIGHEST_PROTOCOL))


def results(answer):
    assert "error" not in answer, answer
    return answer["body"]["results"]


def get_user(pair, cookie_header):
    """What each side's session holds under "user" when the browser sends this header."""
    ops = [{"op": "get", "k": "user"}]
    return results(pair.ours(ops, cookie_header))[0], results(pair.base(ops, cookie_header))[0]


def in_1_0(sides, code):
    """Run Python code in the 1.0.0 environment; its standard output."""
    return _run(sides[1].proc.args[0], code)


def in_ours(code):
    return _run(sys.executable, code)


def _run(python, code):
    return subprocess.run(
        [str(python), "-I", "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


# -- invalidate() ----------------------------------------------------------------------------


def test_invalidate_deletes_the_cookie_where_1_0_set_one_holding_an_empty_session(sides):
    pair = Pair(sides, DEFAULTS)
    cookie = "session=" + pickled({"user": "alice"})
    ours = pair.ours([{"op": "invalidate"}], cookie)
    base = pair.base([{"op": "invalidate"}], cookie)

    assert ours["set_cookie"] == [make_cookie("session", None, path="/", samesite="Lax")]
    assert pickle.loads(nacl_open(set_cookie_value(base)))[2] == {}


def test_invalidate_restarts_created(sides):
    pair = Pair(sides, DEFAULTS)
    cookie = "session=" + pickled({"user": "alice"}, NOW - 100, NOW - 500)
    ops = [{"op": "invalidate"}, {"op": "set", "k": "user", "v": "bob"}, {"op": "created"}]
    ours, base = pair.ours(ops, cookie), pair.base(ops, cookie)

    assert results(ours)[2] == NOW
    assert results(base)[2] == NOW - 500
    assert pickle.loads(nacl_open(set_cookie_value(ours)))[1:] == (NOW, {"user": "bob"})
    assert pickle.loads(nacl_open(set_cookie_value(base)))[1:] == (NOW - 500, {"user": "bob"})


# -- what opens --------------------------------------------------------------------------------


def deep(depth):
    value = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth, opens", [(200, True), (300, False)])
def test_json_nested_deeper_than_255_written_by_1_0_opens_as_a_fresh_session(sides, depth, opens):
    pair = Pair(sides, JSON)
    written = pair.base([{"op": "set_py", "k": "user", "v": ["deep", depth]}])
    cookie = "session=" + set_cookie_value(written)
    ours, base = get_user(pair, cookie)
    assert base == deep(depth)
    assert ours == (deep(depth) if opens else None)


def test_json_nested_deeper_than_255_cannot_be_stored(sides):
    pair = Pair(sides, JSON)
    op = [{"op": "set_py", "k": "user", "v": ["deep", 300]}]
    ours, base = pair.ours(op), pair.base(op)
    assert ours["error"] == "ValueError" and "nesting deeper than 255" in ours["message"]
    assert "error" not in base and base["set_cookie"]


def _cookie_with(predicate, state=None):
    """A 1.0 cookie (pickle of ``{"user": "alice"}`` and padding) for which ``predicate``
    holds, as the nonce is random and the length follows the padding."""
    for i in range(10000):
        value = pickled(dict(state or {"user": "alice"}, pad="x" * (i % 3)))
        if predicate(value):
            return value
    raise AssertionError("no such cookie")


def _flip_unused_bits(value):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return value[:-1] + alphabet[alphabet.index(value[-1]) ^ 1]


LENIENT_BASE64 = {
    # What Python's urlsafe_b64decode (1.0's reader) lets through: it drops characters outside
    # the alphabet when they keep the length a whole number of quads...
    "junk characters": lambda v: f"session={v[:10]}!!*.{v[10:]}",
    # ...reads the standard alphabet's + and / as - and _...
    "plus and slash": lambda v: "session=" + v.replace("-", "+").replace("_", "/"),
    # ...ignores the bits past the last byte...
    "unused bits set": lambda v: "session=" + _flip_unused_bits(v),
    # ...drops spaces, which a client can send inside a quoted cookie value...
    "spaces inside quotes": lambda v: f'session="{v[:10]}  {v[10:20]}  {v[20:]}"',
    # ...and takes padding past what is needed.
    "excess padding": lambda v: "session=" + v + "===",
}


@pytest.mark.parametrize("variant", LENIENT_BASE64, ids=lambda s: s.replace(" ", "_"))
def test_cookie_values_1_0_base64_accepted_are_refused(sides, variant):
    pair = Pair(sides, DEFAULTS)
    value = _cookie_with(lambda v: "-" in v and "_" in v and len(v) % 4 in (2, 3))
    assert get_user(pair, "session=" + value) == ("alice", "alice")
    assert get_user(pair, LENIENT_BASE64[variant](value)) == (None, "alice")


@pytest.mark.parametrize(
    "header",
    ["session={}", 'session="{}"', "session={}==", "a=1; session={}; b=2"],
    ids=["plain", "quoted", "padded", "among_others"],
)
def test_cookie_values_both_read(sides, header):
    pair = Pair(sides, DEFAULTS)
    value = _cookie_with(lambda v: len(v) % 4 == 2)
    assert get_user(pair, header.format(value)) == ("alice", "alice")


@pytest.mark.parametrize(
    "triple",
    [
        (math.nan, math.nan, {"user": "alice"}),
        (math.inf, NOW, {"user": "alice"}),
        (NOW, NOW, [("user", "alice")]),
        (NOW, NOW + 10 * 365 * 24 * 3600, {"user": "alice"}),
    ],
    ids=["nan_times", "infinite_time", "state_not_a_dict", "created_ten_years_ahead"],
)
def test_a_cookie_that_is_not_a_session_opens_as_a_fresh_session(sides, triple):
    # Only a key holder can make these. Under 1.0 a NaN or infinite time is a session that
    # never times out, and any state dict() accepts is taken.
    pair = Pair(sides, DEFAULTS)
    cookie = "session=" + seal(pickle.dumps(triple, pickle.HIGHEST_PROTOCOL))
    assert get_user(pair, cookie) == (None, "alice")


def test_a_state_dict_refuses_is_a_fresh_session_where_1_0_failed_the_request(sides):
    pair = Pair(sides, DEFAULTS)
    cookie = "session=" + seal(pickle.dumps((NOW, NOW, "ab"), pickle.HIGHEST_PROTOCOL))
    ops = [{"op": "get", "k": "user"}]
    assert results(pair.ours(ops, cookie)) == [None]
    assert pair.base(ops, cookie)["error"] == "ValueError"


# -- what is written ---------------------------------------------------------------------------


def test_json_text_is_compact_with_raw_utf8(sides):
    pair = Pair(sides, JSON)
    ops = [{"op": "set", "k": "user", "v": {"city": "Zürich", "n": [1, 2.5, 1e16]}}]
    ours, base = pair.ours(ops), pair.base(ops)
    ours_text, base_text = (nacl_open(set_cookie_value(a)) for a in (ours, base))

    assert base_text == json.dumps(json.loads(base_text)).encode()
    assert ours_text == b'[%d,%r,{"user":{"city":"Z\xc3\xbcrich","n":[1,2.5,1e16]}}]' % (
        int(NOW),
        NOW,
    )
    assert repr(json.loads(ours_text)) == repr(json.loads(base_text))
    assert len(set_cookie_value(ours)) < len(set_cookie_value(base))
    # Each reads the other's.
    cookies = ["session=" + set_cookie_value(a) for a in (base, ours)]
    for cookie in cookies:
        assert get_user(pair, cookie) == ({"city": "Zürich", "n": [1, 2.5, 1e16]},) * 2


def _sized(pair, side, length, serializer="pickle"):
    """Ops storing a string whose cookie value is ``length`` characters long on ``side``."""
    for n in range(length * 3 // 4 - 120, length * 3 // 4):
        op = [{"op": "set", "k": "user", "v": "x" * n}]
        answer = getattr(pair, side)(op)
        if "error" not in answer and len(set_cookie_value(answer)) >= length:
            return op
    raise AssertionError(f"no string gives a {length}-character value")


def test_size_limit_counts_name_and_value_as_browsers_do(sides):
    # A value under 1.0's 4064-character limit, in a header over 4096 bytes once the attributes
    # are added: 1.0 sent it, and so do we, since browsers (RFC 6265bis; Chromium measured)
    # limit the name and value to 4096 bytes, and each attribute to 1024, not the whole header.
    kwargs = dict(DEFAULTS["kwargs"], max_age=1200, secure=True, httponly=True)
    pair = Pair(sides, {"kwargs": kwargs})
    ops = _sized(pair, "base", 4040)
    base, ours = pair.base(ops), pair.ours(ops)
    assert len(set_cookie_value(base)) <= 4064 and len(base["set_cookie"][0]) > 4096
    assert "error" not in ours and len(ours["set_cookie"][0]) > 4096
    assert len("session") + len(set_cookie_value(ours)) <= 4096


def test_size_limit_lets_a_value_over_4064_through_when_the_header_fits(sides):
    kwargs = dict(DEFAULTS["kwargs"], cookie_name="s", path=None, samesite=None)
    pair = Pair(sides, {"kwargs": kwargs})
    ops = _sized(pair, "ours", 4080)
    ours = pair.ours(ops)
    assert len(set_cookie_value(ours)) > 4064 and len(ours["set_cookie"][0]) <= 4096
    base = pair.base(ops)
    assert base["error"] == "ValueError" and "too long" in base["message"]


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["secure", "httponly"])
@pytest.mark.parametrize("word", ["false", "off", "no", "0"])
def test_string_booleans_from_python_are_read_as_words(sides, option, word):
    pair = Pair(sides, {"kwargs": dict(DEFAULTS["kwargs"], **{option: word})})
    op = [{"op": "set", "k": "user", "v": "alice"}]
    attribute = {"secure": "; secure", "httponly": "; HttpOnly"}[option]
    assert attribute not in pair.ours(op)["set_cookie"][0]
    assert attribute in pair.base(op)["set_cookie"][0]


def test_string_false_for_set_on_exception_is_false(sides):
    pair = Pair(sides, {"kwargs": dict(DEFAULTS["kwargs"], set_on_exception="false")})
    ops = [{"op": "set", "k": "user", "v": "alice"}, {"op": "raise"}]
    assert pair.ours(ops)["set_cookie"] == []
    assert len(pair.base(ops)["set_cookie"]) == 1


@pytest.mark.parametrize("pynacl_first", [True, False], ids=["pynacl_line_first", "pynacl_last"])
def test_pynacl_session_settings_win_over_session_settings_whatever_the_order(sides, pynacl_first):
    lines = [("pynacl.session.cookie_name", "from_pynacl"), ("session.cookie_name", "plain")]
    if not pynacl_first:
        lines.reverse()
    settings = dict([("session.secret", SECRET_HEX), *lines])
    pair = Pair(sides, {"settings": settings})
    op = [{"op": "set", "k": "user", "v": "alice"}]
    assert pair.ours(op)["set_cookie"][0].startswith("from_pynacl=")
    last = lines[-1][1]  # 1.0: the line that comes last wins
    assert pair.base(op)["set_cookie"][0].startswith(last + "=")


@pytest.mark.parametrize(
    "option, value",
    [
        ("secure", "ture"),
        ("secure", 2),
        ("timeout", -5),
        ("max_age", -1),
        ("reissue_time", -1),
        ("cookie_name", "a b"),
        ("samesite", "None"),
    ],
)
def test_bad_settings_stop_the_app_at_start_up(sides, option, value):
    # 1.0 took each of these, and failed (if at all) only when a cookie was set.
    pair = Pair(sides, {"kwargs": dict(DEFAULTS["kwargs"], **{option: value})})
    ours_error, base_error = pair.errors
    # OptionError is the ValueError subclass that carries the option's name.
    assert ours_error["error"] in ("ValueError", "OptionError")
    assert ours_error["message"].startswith(option)
    assert not base_error


# -- API ---------------------------------------------------------------------------------------


PRINT_SECRET = "from pyramid_nacl_session.scripts import print_secret; print_secret()"


def test_print_secret_prints_bare_hex(sides):
    assert re.fullmatch(r"b'[0-9a-f]{64}'\n", in_1_0(sides, PRINT_SECRET))
    assert re.fullmatch(r"[0-9a-f]{64}\n", in_ours(PRINT_SECRET))


NO_KEY = """
from pyramid_nacl_session import EncryptedCookieSessionFactory
try:
    EncryptedCookieSessionFactory()
except Exception as e:
    print(type(e).__name__, isinstance(e, ValueError), isinstance(e, TypeError))
"""


def test_a_factory_without_a_key_raises_option_error_where_1_0_raised_type_error(sides):
    # secret may now be left out for secret_file or secret_env; without any of the three, the
    # error is the one every bad option raises.
    assert in_1_0(sides, NO_KEY) == "TypeError False True\n"
    assert in_ours(NO_KEY) == "OptionError True False\n"


PICKLE_DEFAULT = f"""
import logging
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
from pyramid_nacl_session import EncryptedCookieSessionFactory
EncryptedCookieSessionFactory(bytes.fromhex({SECRET_HEX!r}))
print("made")
"""


def test_a_factory_left_on_pickle_says_so_once_at_start_up(sides):
    # _run keeps standard output only: run again keeping the log (standard error) too.
    def logged(python):
        done = subprocess.run(
            [str(python), "-I", "-W", "ignore", "-c", PICKLE_DEFAULT],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout == "made\n"
        return [line for line in done.stderr.splitlines() if "pyramid_nacl_session" in line]

    assert logged(sides[1].proc.args[0]) == []
    [notice] = logged(sys.executable)
    assert notice.startswith("WARNING pyramid_nacl_session ")
    assert "serializer = json" in notice and "migrate_pickle" in notice
    assert SECRET_HEX not in notice


ERROR_CLASS = f"""
from pyramid_nacl_session import EncryptedSerializer
try:
    EncryptedSerializer(bytes.fromhex({SECRET_HEX!r})).loads(b"A" * 60)
except ValueError as e:
    print([c.__name__ for c in type(e).__mro__])
"""


def test_unreadable_cookie_errors_are_cookie_error_subclasses_of_value_error(sides):
    assert (
        in_1_0(sides, ERROR_CLASS).strip()
        == "['ValueError', 'Exception', 'BaseException', 'object']"
    )
    ours = in_ours(ERROR_CLASS)
    assert "'CookieError', 'ValueError'" in ours


NATIVE = f"""
import copy, pickle
from pyramid_nacl_session import EncryptedSerializer
s = EncryptedSerializer(bytes.fromhex({SECRET_HEX!r}))
print(hasattr(s, "box"), type(s.serializer).__name__)
for f in (pickle.dumps, copy.copy):
    try:
        f(s)
        print("ok")
    except Exception as e:
        print(type(e).__name__)
"""


def test_encrypted_serializer_is_native_without_box_and_cannot_be_pickled(sides):
    assert in_1_0(sides, NATIVE).split() == ["True", "PickleSerializer", "ok", "ok"]
    assert in_ours(NATIVE).split() == ["False", "NoneType", "TypeError", "TypeError"]


@pytest.mark.parametrize(
    "setting, value",
    [("session.samesite", ""), ("session.serializer", "pyramid.session.JSONSerializer")],
)
def test_settings_1_0_failed_on_work(sides, setting, value):
    pair = Pair(sides, {"settings": {"session.secret": SECRET_HEX, setting: value}})
    op = [{"op": "set", "k": "user", "v": "alice"}]
    assert pair.ours(op)["set_cookie"][0].startswith("session=")
    assert pair.base(op)["error"] in ("ValueError", "AttributeError")


ACCEPTED = f"""
from pyramid_nacl_session import EncryptedSerializer
for secret in ({SECRET_HEX!r}, [{SECRET_HEX!r}, bytes(32)]):
    try:
        s = EncryptedSerializer(secret)
        print("key ok")
    except Exception as e:
        print(type(e).__name__)
s = EncryptedSerializer(bytes.fromhex({SECRET_HEX!r}))
try:
    print(s.loads(s.dumps({{"user": "alice"}}).decode()))
except ValueError as e:
    print(type(e).__name__)
"""


def test_secrets_and_cookies_1_0_refused_work(sides):
    assert in_1_0(sides, ACCEPTED).split("\n")[:3] == ["ValueError"] * 3
    assert in_ours(ACCEPTED).split("\n")[:3] == ["key ok", "key ok", "{'user': 'alice'}"]


# -- issue 19: Vary, in-place changes, a lifetime per session ---------------------------------


def test_a_response_that_read_the_session_varies_on_cookie_where_1_0s_did_not(sides):
    pair = Pair(sides, {"kwargs": dict(DEFAULTS["kwargs"], reissue_time=None)})
    cookie = "session=" + pickled({"user": "alice"})
    ours, base = (
        pair.ours([{"op": "get", "k": "user"}], cookie),
        pair.base([{"op": "get", "k": "user"}], cookie),
    )
    assert results(ours) == results(base) == ["alice"]
    assert ours["set_cookie"] == base["set_cookie"] == []
    assert ours["vary"] == ["Cookie"] and base["vary"] == []
    # Neither varies when the view did not touch the session.
    assert pair.ours([], cookie)["vary"] == pair.base([], cookie)["vary"] == []


@pytest.mark.parametrize("serializer", [DEFAULTS, JSON], ids=["pickle", "json"])
def test_an_in_place_change_is_written_where_1_0_lost_it(sides, serializer):
    kwargs = dict(serializer["kwargs"], reissue_time=600)
    state = {"cart": ["apple"]}
    plain = (
        json.dumps([NOW, NOW, state], separators=(",", ":")).encode()
        if serializer is JSON
        else pickle.dumps((NOW, NOW, state), pickle.HIGHEST_PROTOCOL)
    )
    cookie = "session=" + seal(plain)
    pair = Pair(sides, {"kwargs": kwargs})
    ops = [{"op": "get", "k": "cart"}, {"op": "append_unmarked", "k": "cart", "v": "pear"}]
    ours, base = pair.ours(ops, cookie), pair.base(ops, cookie)
    assert base["set_cookie"] == []  # 1.0: the pear is lost
    written = "session=" + set_cookie_value(ours)
    read = [{"op": "get", "k": "cart"}]
    assert (
        results(pair.ours(read, written))
        == results(pair.base(read, written))
        == [["apple", "pear"]]
    )
    # With detect_changes off, ours loses it as 1.0 did; reading alone writes nothing.
    off = Pair(sides, {"kwargs": dict(kwargs, detect_changes=False)}, {"kwargs": kwargs})
    assert off.ours(ops, cookie)["set_cookie"] == []
    assert pair.ours(read, cookie)["set_cookie"] == []


def test_a_remembered_session_rolls_back_to_1_0_and_forward_again(sides):
    pair = Pair(sides, {"kwargs": dict(JSON["kwargs"], timeout=1200)})
    ops = [{"op": "set", "k": "user", "v": "alice"}, {"op": "adjust_timeout", "v": 86400}]
    remembered = pair.ours(ops)
    assert "Max-Age=86400" in remembered["set_cookie"][0]
    cookie = "session=" + set_cookie_value(remembered)
    # 1.0 reads it: the user is there, with the own timeout as one more key.
    keys = [{"op": "get", "k": "user"}, {"op": "keys"}]
    assert results(pair.base(keys, cookie)) == ["alice", ["user", "_timeout_"]]
    assert results(pair.ours(keys, cookie)) == ["alice", ["user"]]
    # 1.0 writes it back with the key; ours, later than the factory's timeout, still reads it.
    rolled_back = pair.base([{"op": "set", "k": "n", "v": 1}], cookie)
    back = "session=" + set_cookie_value(rolled_back)
    later = NOW + 5000
    assert results(pair.ours(keys, back, now=later)) == ["alice", ["user", "n"]]
    assert results(pair.base(keys, back, now=later)) == [None, []]
