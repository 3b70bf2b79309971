"""Memory stays flat over a million cookies, and hostile cookies are refused without harm.

What hostile cookies cost in time is measured, never asserted here: benchmarks/hostile_cookies.py
times each against its baseline (opening a valid cookie, flat data of the same size)."""

import base64
import os
import subprocess
import sys
import textwrap
import time

import pytest

from pyramid_nacl_session import BadPayload, DecryptionFailed, EncryptedSerializer, MalformedCookie

from .helpers import OTHER_SECRET, SECRET, nacl_seal

# Peak memory comes from getrusage, which Windows lacks (the release workflow tests there too).
resource = pytest.importorskip("resource")

#: Cookie values browsers keep are at most this long, so the plaintext is at most PLAINTEXT_MAX.
COOKIE_MAX = 4096
PLAINTEXT_MAX = COOKIE_MAX * 3 // 4 - 40


#: Measured growth after the warm-up is 0 here; this bound still catches a leak of 14 bytes per
#: cycle over 300,000 cycles.
FLAT = 4 * 2**20


def rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # no procfs: the peak also shows growth, in KiB on Linux, bytes on macOS
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def rss_growth_over(cycle, full_count, budget_seconds=60.0, warmup=50_000, scaled_count=300_000):
    """Run ``cycle(i)`` ``warmup`` times, then ``full_count`` times, or ``scaled_count`` times
    when the warm-up says the full count would take over ``budget_seconds`` (a debug build).
    Returns (growth of resident memory in bytes after the warm-up, cycles run)."""
    start = time.perf_counter()
    for i in range(warmup):
        cycle(i)
    per_cycle = (time.perf_counter() - start) / warmup
    count = full_count if per_cycle * full_count <= budget_seconds else scaled_count
    before = rss_bytes()
    for i in range(count):
        cycle(i)
    return rss_bytes() - before, count


def test_a_million_seal_and_open_cycles_keep_memory_flat():
    s = EncryptedSerializer(SECRET, "json")

    def cycle(i):
        value = [1700000000.5, 1700000000, {"user": "alice", "n": i}]
        assert s.loads(s.dumps(value)) == value

    growth, count = rss_growth_over(cycle, 1_000_000)
    assert count >= 300_000
    assert growth < FLAT, f"resident memory grew {growth / 2**20:.1f} MiB over {count} cycles"


def test_rejected_cookies_keep_memory_flat():
    # Errors carry causes and messages: the paths where a leaked reference would hide.
    s = EncryptedSerializer([SECRET, OTHER_SECRET], "json")
    foreign = EncryptedSerializer(os.urandom(32), "json").dumps({"n": 1})
    not_json = nacl_seal(SECRET, b"{not json")

    def cycle(i):
        for cookie, error in (
            (foreign, DecryptionFailed),
            (not_json, BadPayload),
            ("*", MalformedCookie),
        ):
            try:
                s.loads(cookie)
            except error:
                pass
            else:
                raise AssertionError(f"{cookie!r} was accepted")

    growth, count = rss_growth_over(cycle, 300_000, 10.0, warmup=10_000, scaled_count=60_000)
    assert growth < FLAT, f"resident memory grew {growth / 2**20:.1f} MiB over {count} cycles"


def largest_cookie(s):
    """A valid cookie of ``s`` that fills a browser's 4096 bytes, give or take a block."""
    text = "x" * (PLAINTEXT_MAX - 40)
    cookie = s.dumps(text)
    assert COOKIE_MAX - 64 <= len(cookie) <= COOKIE_MAX
    return cookie


@pytest.mark.parametrize("serializer", ["pickle", "json"])
def test_garbage_cookies_of_the_largest_size_are_refused_with_their_error(serializer):
    # What each costs next to opening a valid cookie: benchmarks/hostile_cookies.py.
    s = EncryptedSerializer(SECRET, serializer)
    assert s.loads(largest_cookie(s)) is not None
    random_b64 = base64.urlsafe_b64encode(os.urandom(COOKIE_MAX * 3 // 4))
    for cookie, error in [
        (random_b64, DecryptionFailed),
        (random_b64.decode(), DecryptionFailed),
        (b"A" * (COOKIE_MAX - 1) + b"*", MalformedCookie),
        ("\u00e9" * COOKIE_MAX, MalformedCookie),
    ]:
        with pytest.raises(error):
            s.loads(cookie)


def test_a_cookie_over_the_input_bound_is_refused_as_malformed_whatever_it_holds():
    # Over the core's 1 MiB input bound, refused on its length alone: valid base64 of random
    # bytes would otherwise fail authentication (DecryptionFailed) after being read.
    s = EncryptedSerializer(SECRET, "json")
    with pytest.raises(MalformedCookie):
        s.loads(base64.urlsafe_b64encode(os.urandom(7_500_000)))
    with pytest.raises(DecryptionFailed):
        s.loads(base64.urlsafe_b64encode(os.urandom(750_000)))


def nested_json(depth):
    return b"[" * depth + b"]" * depth


def nested_pickle(depth):
    # PROTO 4, EMPTY_LIST depth times, APPEND each into the one before it, STOP: built by
    # opcodes because pickle.dumps itself recurses.
    return b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b"."


def depth_of(value):
    depth = 0
    while isinstance(value, list):
        depth += 1
        value = value[0] if value else None
    return depth


DEEPEST_JSON = PLAINTEXT_MAX // 2
DEEPEST_PICKLE = (PLAINTEXT_MAX - 3) // 2


@pytest.mark.parametrize(
    "serializer, migrate_pickle, plaintext, depth",
    [
        ("json", False, nested_json(DEEPEST_JSON), DEEPEST_JSON),
        ("json", False, nested_json(64), 64),
        ("json", False, nested_json(255), 255),
        ("json", True, nested_pickle(DEEPEST_PICKLE), DEEPEST_PICKLE),
        ("pickle", False, nested_pickle(DEEPEST_PICKLE), DEEPEST_PICKLE),
    ],
    ids=[
        "json-deepest",
        "json-shallow",
        "json-255",
        "json-migrating-deepest-pickle",
        "pickle-deepest",
    ],
)
def test_the_deepest_nesting_a_cookie_can_hold_is_read_or_refused_every_time(
    serializer, migrate_pickle, plaintext, depth
):
    # What it costs next to flat data of its size: benchmarks/hostile_cookies.py.
    s = EncryptedSerializer(SECRET, serializer, migrate_pickle=migrate_pickle)
    cookie = nacl_seal(SECRET, plaintext)
    assert len(cookie) <= COOKIE_MAX
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(depth_of(s.loads(cookie)))
        except BadPayload:  # a decoder's depth limit: the request gets a fresh session
            outcomes.append("refused")
    assert set(outcomes) in ({depth}, {"refused"})
    if depth <= 64 and not migrate_pickle:
        assert outcomes[0] == depth  # shallow nesting is ordinary data


def test_absurd_nesting_and_size_never_crash_the_process_reading_or_writing():
    # A native stack overflow kills the whole process, so this runs in a child process.
    script = textwrap.dedent(
        """
        import base64, os, sys
        from nacl.secret import SecretBox
        from pyramid_nacl_session import CookieError, EncryptedSerializer

        key = os.urandom(32)
        def seal(plaintext):
            return base64.urlsafe_b64encode(SecretBox(key).encrypt(plaintext)).rstrip(b"=")

        depth = 200_000  # far past any native stack a recursive decoder could use
        deep_json = b"[" * depth + b"]" * depth
        deep_pickle = b"\\x80\\x04" + b"]" * depth + b"a" * (depth - 1) + b"."
        cases = [
            ("json", False, seal(deep_json)),
            ("json", False, seal(b'{"a":' * depth + b"1" + b"}" * depth)),
            ("json", True, seal(deep_pickle)),
            ("pickle", False, seal(deep_pickle)),
            ("json", False, seal(os.urandom(10_000_000))),
            ("json", False, base64.urlsafe_b64encode(os.urandom(7_500_000))),
        ]
        for serializer, migrate, cookie in cases:
            try:
                EncryptedSerializer(key, serializer, migrate_pickle=migrate).loads(cookie)
            except CookieError:
                pass
        deep = []
        for _ in range(depth):
            deep = [deep]
        for serializer in ("json", "pickle"):
            try:
                EncryptedSerializer(key, serializer).dumps(deep)
            except (ValueError, RecursionError):
                pass
        print("survived")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "survived"
