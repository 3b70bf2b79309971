"""What hostile cookies cost, each as a ratio to a baseline timed beside it in the same run.

    python benchmarks/hostile_cookies.py [--quick]

A refusal must not cost much more than opening a valid cookie of the same size, reading must
grow linearly with the input, and nesting must cost no more than the same lists side by side:
work that read its input several times over, or quadratically, would show here. Each row gives
the ratio and the bound it was held to; a row over its bound is marked and the exit status is 1.
The test suite asserts no time (tests/test_resources.py checks the same cookies' outcomes).
Timing: the best of five runs of each call, time.perf_counter, so a busy machine inflates
neither side of a ratio. ``--quick`` (scripts/bench-smoke) times each call once and judges
nothing: it only shows that the script still runs.
"""

import base64
import os
import sys
import time

from nacl.secret import SecretBox

from pyramid_nacl_session import BadPayload, EncryptedSerializer
from pyramid_nacl_session._core import CookieError

SECRET = bytes(range(32))
COOKIE_MAX = 4096
PLAINTEXT_MAX = COOKIE_MAX * 3 // 4 - 40

#: A refusal may cost at most this many times opening a valid cookie of the same size
#: (measured: 0.6 to 0.8 for a cookie that does not authenticate, 0.4 to 0.7 for bad base64).
REFUSAL_VS_OPENING = 4
#: Ten times the input may cost at most this many times the time (measured: 9.8x, 4.1x).
TEN_TIMES_INPUT = 30
#: Nesting may cost at most this many times the same lists side by side (measured: 0.2 to 2).
NESTED_VS_FLAT = 10


#: ``--quick``: one run of one call each.
QUICK = "--quick" in sys.argv[1:]


def per_call(call, calls=20, runs=5):
    """Seconds per ``call()``: the best of ``runs`` runs of ``calls`` calls."""
    if QUICK:
        calls = runs = 1
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def refusing(s, cookie):
    def call():
        try:
            s.loads(cookie)
        except CookieError:
            return
        raise AssertionError("accepted")

    return call


def seal(plaintext):
    """A cookie as 1.0.0 wrote it (PyNaCl), holding ``plaintext``."""
    sealed = SecretBox(SECRET).encrypt(plaintext)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def nested_json(depth):
    return b"[" * depth + b"]" * depth


def nested_pickle(depth):
    return b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b"."


def flat(plaintext):
    """As many lists as ``nested_*`` made, side by side in one list."""
    if plaintext.startswith(b"["):
        count = len(plaintext) // 2
        return b"[" + b"[]," * (count - 2) + b"[]]"
    count = (len(plaintext) - 3) // 2
    return b"\x80\x04](" + b"]" * (count - 1) + b"e."


def reading(s, cookie):
    def call():
        try:
            s.loads(cookie)
        except BadPayload:  # a decoder's depth limit
            pass

    return call


def rows():
    """``(what, ratio, bound)`` for every case."""
    for serializer in ("pickle", "json"):
        s = EncryptedSerializer(SECRET, serializer)
        valid = s.dumps("x" * (PLAINTEXT_MAX - 40))
        baseline = per_call(reading(s, valid))
        random_b64 = base64.urlsafe_b64encode(os.urandom(COOKIE_MAX * 3 // 4))
        for name, cookie in [
            ("random base64 (bytes)", random_b64),
            ("random base64 (str)", random_b64.decode()),
            ("bad base64 at the end", b"A" * (COOKIE_MAX - 1) + b"*"),
            ("non-ASCII", "\u00e9" * COOKIE_MAX),
        ]:
            ratio = per_call(refusing(s, cookie)) / baseline
            yield f"{serializer}: refusing 4 KB of {name} / opening 4 KB", ratio, REFUSAL_VS_OPENING

    s = EncryptedSerializer(SECRET, "json")
    cookie, small = s.dumps("x" * (PLAINTEXT_MAX - 2)), s.dumps("x")
    ratio = per_call(lambda: s.loads(cookie)) / per_call(lambda: s.loads(small))
    yield "json: opening 4 KB / opening the smallest", ratio, len(cookie) / len(small)

    huge = base64.urlsafe_b64encode(os.urandom(7_500_000))
    cookie_sized = base64.urlsafe_b64encode(os.urandom(COOKIE_MAX * 3 // 4))
    ratio = per_call(refusing(s, huge)) / per_call(refusing(s, cookie_sized))
    yield "refusing 10 MB (over the input bound) / refusing 4 KB", ratio, REFUSAL_VS_OPENING

    small_in = base64.urlsafe_b64encode(os.urandom(75_000))
    big_in = base64.urlsafe_b64encode(os.urandom(750_000))
    for suffix, name in [(b"", "unauthenticated"), (b"*", "bad base64")]:
        ratio = per_call(refusing(s, big_in + suffix), calls=3) / per_call(
            refusing(s, small_in + suffix), calls=3
        )
        yield f"refusing 1 MB / 100 KB, {name}", ratio, TEN_TIMES_INPUT

    deepest_json, deepest_pickle = PLAINTEXT_MAX // 2, (PLAINTEXT_MAX - 3) // 2
    for name, serializer, migrate, plaintext in [
        ("json, deepest", "json", False, nested_json(deepest_json)),
        ("json, 64 deep", "json", False, nested_json(64)),
        ("json, 255 deep", "json", False, nested_json(255)),
        ("json migrating a pickle, deepest", "json", True, nested_pickle(deepest_pickle)),
        ("pickle, deepest", "pickle", False, nested_pickle(deepest_pickle)),
    ]:
        s = EncryptedSerializer(SECRET, serializer, migrate_pickle=migrate)
        ratio = per_call(reading(s, seal(plaintext))) / per_call(reading(s, seal(flat(plaintext))))
        yield f"nesting / flat, {name}", ratio, NESTED_VS_FLAT


def main():
    over = False
    print(f"{'case':<62} {'ratio':>7} {'bound':>7}")
    for what, ratio, bound in rows():
        mark = "" if ratio < bound else "  OVER"
        over = over or bool(mark)
        print(f"{what:<62} {ratio:>7.2f} {bound:>7.1f}{mark}")
    return 1 if over and not QUICK else 0


if __name__ == "__main__":
    sys.exit(main())
