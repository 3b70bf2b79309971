"""Memory stays flat over a million cookies, and hostile cookies cost bounded time.

Time is bounded as a ratio to a baseline timed in the same test on the same machine (the suite
asserts no wall-clock time: a loaded machine slows both sides alike); the figures themselves are
measured in benchmarks/."""

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


def per_call(call, calls=20, runs=5):
    """Seconds per ``call()``: the best of ``runs`` runs of ``calls`` calls, so that a busy
    machine inflates neither side of a ratio."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def raises(error, s, cookie):
    def call():
        with pytest.raises(error):
            s.loads(cookie)

    return call


def largest_cookie(s):
    """A valid cookie of ``s`` that fills a browser's 4096 bytes, give or take a block."""
    text = "x" * (PLAINTEXT_MAX - 40)
    cookie = s.dumps(text)
    assert COOKIE_MAX - 64 <= len(cookie) <= COOKIE_MAX
    return cookie


#: A refusal may cost at most this many times what opening a valid cookie of the same size does
#: (measured: 0.6 to 0.8 for a cookie that does not authenticate, 0.4 to 0.7 for one that is not
#: base64); a refusal that read its input several times over, or quadratically, would be past it.
REFUSAL_VS_OPENING = 4


@pytest.mark.parametrize("serializer", ["pickle", "json"])
def test_garbage_cookies_of_the_largest_size_cost_no_more_than_opening_a_valid_one(serializer):
    s = EncryptedSerializer(SECRET, serializer)
    valid = largest_cookie(s)
    baseline = per_call(lambda: s.loads(valid))
    random_b64 = base64.urlsafe_b64encode(os.urandom(COOKIE_MAX * 3 // 4))
    assert len(random_b64) == COOKIE_MAX
    for cookie, error in [
        (random_b64, DecryptionFailed),
        (random_b64.decode(), DecryptionFailed),
        (b"A" * (COOKIE_MAX - 1) + b"*", MalformedCookie),
        ("\u00e9" * COOKIE_MAX, MalformedCookie),
    ]:
        ratio = per_call(raises(error, s, cookie)) / baseline
        assert ratio < REFUSAL_VS_OPENING, f"{error.__name__}: {ratio:.1f}x opening a valid cookie"


def test_the_largest_valid_cookie_costs_at_most_in_proportion_to_its_size():
    s = EncryptedSerializer(SECRET, "json")
    value = "x" * (PLAINTEXT_MAX - 2)  # a JSON string: its quotes fill the rest
    cookie = s.dumps(value)
    assert len(cookie) == COOKIE_MAX
    small = s.dumps("x")
    size_ratio = len(cookie) / len(small)
    # A call's fixed cost weighs on a small cookie, so linear work stays under the size ratio
    # (measured: 23x for 71x the size); work quadratic in the size would be far over it.
    ratio = per_call(lambda: s.loads(cookie)) / per_call(lambda: s.loads(small))
    assert ratio < size_ratio, f"{ratio:.1f}x a {len(small)}-byte cookie; sizes {size_ratio:.0f}x"


def test_a_cookie_over_the_input_bound_is_refused_before_it_is_read():
    # Over the core's 1 MiB input bound: refused on its length alone, so 10 MB of garbage costs
    # no more than the 4 KB that browsers send (measured: 0.45x; reading it would be ~2500x).
    s = EncryptedSerializer(SECRET, "json")
    huge = base64.urlsafe_b64encode(os.urandom(7_500_000))
    cookie_sized = base64.urlsafe_b64encode(os.urandom(COOKIE_MAX * 3 // 4))
    baseline = per_call(raises(DecryptionFailed, s, cookie_sized))
    ratio = per_call(raises(MalformedCookie, s, huge)) / baseline
    assert ratio < REFUSAL_VS_OPENING, f"{ratio:.1f}x refusing a 4 KB cookie"


def test_cookies_under_the_input_bound_cost_linear_time_to_refuse():
    # Under the bound: base64 and one MAC pass. Ten times the input costs about ten times the
    # time (measured: 9.8x, and 4.1x for bad base64); quadratic work would cost a hundred times.
    s = EncryptedSerializer(SECRET, "json")
    small = base64.urlsafe_b64encode(os.urandom(75_000))
    big = base64.urlsafe_b64encode(os.urandom(750_000))
    for suffix, error in [(b"", DecryptionFailed), (b"*", MalformedCookie)]:
        ratio = per_call(raises(error, s, big + suffix), calls=3) / per_call(
            raises(error, s, small + suffix), calls=3
        )
        assert ratio < 30, f"{error.__name__}: 10x the input took {ratio:.1f}x the time"


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


def flat_plaintext(plaintext):
    """The same lists as ``nested_json``/``nested_pickle`` made, side by side in one list
    rather than nested: as many objects to build, without the depth."""
    if plaintext.startswith(b"["):
        count = len(plaintext) // 2
        return b"[" + b"[]," * (count - 2) + b"[]]"
    count = (len(plaintext) - 3) // 2
    return b"\x80\x04](" + b"]" * (count - 1) + b"e."


#: Nesting may cost at most this many times the same lists side by side (measured: 0.2 to 2
#: across the cases); a decoder that walked its nesting more than once per level would not.
NESTED_VS_FLAT = 10


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
def test_deepest_nesting_a_cookie_can_hold_costs_no_more_than_flat_data_of_its_size(
    serializer, migrate_pickle, plaintext, depth
):
    s = EncryptedSerializer(SECRET, serializer, migrate_pickle=migrate_pickle)
    cookie = nacl_seal(SECRET, plaintext)
    assert len(cookie) <= COOKIE_MAX
    flat = nacl_seal(SECRET, flat_plaintext(plaintext))
    baseline = per_call(lambda: s.loads(flat))

    outcomes = []

    def call():
        try:
            outcomes.append(depth_of(s.loads(cookie)))
        except BadPayload:  # a decoder's depth limit: the request gets a fresh session
            outcomes.append("refused")

    ratio = per_call(call) / baseline
    assert ratio < NESTED_VS_FLAT, f"{ratio:.1f}x the same lists unnested"
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
