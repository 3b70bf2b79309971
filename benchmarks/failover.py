"""What a Sentinel failover costs the revocation set: revocations in flight, and time to follow.

    python benchmarks/failover.py [--rounds N]

Each round starts a primary, a replica and one sentinel (real redis-server processes; a primary
is down after 1 s without an answer), two pserve workers of tests/revocation_app.py on
``redis+sentinel://``, and a client thread that revokes sessions on worker A a hundred at a time
(each request returns once they are queued, as logouts do), 2,000 a second. It then kills the
primary (SIGKILL) and, once the sentinel has promoted the replica, stops the burst after one more
request. It
times, from the kill: the sentinel naming the new primary; worker A's ``flush()`` returning
True (every revocation in the new primary); worker B (which ran through the failover) refusing
the last session revoked on A; and counts the revocations made, those in flight at the kill
(made, not yet confirmed in Redis), and those lost (none, or the round fails). Prints one row
per round, then the median and range of each column.
"""

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from tests.fleet import (  # noqa: E402
    REVOKED,
    request,
    session_cookie,
    starter,
    stop_all,
    user_on,
)
from tests.redis_server import SentinelSet  # noqa: E402

from pyramid_nacl_session._core import SESSION_ID_KEY  # noqa: E402


def until(predicate, limit=60.0):
    """Seconds until ``predicate`` holds (polled every 10 ms); raises after ``limit``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > limit:
            raise RuntimeError("gave up waiting")
        time.sleep(0.01)
    return time.monotonic() - start


def one_round(directory):
    watched = SentinelSet(directory)
    procs = []
    try:
        until(watched.ready)
        start = starter(directory, watched.url, procs)
        a, b = start("a"), start("b")
        sids, done = [], threading.Event()

        def burst():  # 100 revocations every 50 ms: 2,000 a second
            while not done.wait(0.05):
                sids.extend(request(a, "/revoke-many?n=100")[1]["sids"])

        thread = threading.Thread(target=burst)
        thread.start()
        try:
            until(lambda: len(sids) >= 4000)  # past the first connection: a steady burst
            old = watched.primary.port
            in_flight = request(a, "/unsettled")[1]["unsettled"]
            made_at_kill = len(sids)
            killed = time.monotonic()
            watched.primary.kill()
            until(lambda: watched.primary_port() != old)
            promoted = time.monotonic() - killed
            after = len(sids)  # the next request is made after the promotion
            until(lambda: len(sids) > after)
            done.set()
        finally:
            done.set()
            thread.join(60)
        marker = sids[-1]
        flushed = request(a, "/flush?timeout=60", timeout=90)[1]["flushed"]
        all_in = time.monotonic() - killed
        cookie = session_cookie({"user": "x", SESSION_ID_KEY: marker})
        until(lambda: user_on(b, cookie) is None)
        followed = time.monotonic() - killed
        primary = redis.Redis(port=watched.primary_port())
        scores = []
        for i in range(0, len(sids), 10_000):
            scores += primary.zmscore(REVOKED, ["s:" + sid for sid in sids[i : i + 10_000]])
        lost = scores.count(None)
        if not flushed or lost:
            raise RuntimeError(f"flushed={flushed}, {lost} lost")
        return {
            "made": len(sids),
            "made at kill": made_at_kill,
            "in flight at kill": in_flight,
            "made after kill": len(sids) - made_at_kill,
            "lost": lost,
            "promoted, s": promoted,
            "all in Redis, s": all_in,
            "B follows, s": followed,
        }
    finally:
        stop_all(procs)
        watched.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(one_round(Path(tmp)))
        print(rows[-1], flush=True)
    print()
    for name in rows[0]:
        values = [row[name] for row in rows]
        low, high, mid = min(values), max(values), statistics.median(values)
        print(f"{name:20} median {mid:10.2f}  range {low:.2f} to {high:.2f}")


if __name__ == "__main__":
    main()
