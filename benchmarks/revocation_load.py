"""How long a new worker takes to load a large revocation set: its first full sync.

    python benchmarks/revocation_load.py [--entries N] [--rounds N]

Starts its own redis-server (Debian's package), fills the set with N revoked sessions twice
(every entry its own score; then all of them on ten scores, as a mass logout writes them), and
times, in a fresh store each round, ``start()`` up to the end of the first full sync (which is
what the first request of a worker waits for). Prints the median and the range, per case.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the clone, for tests.redis_server

from tests.redis_server import RedisServer  # noqa: E402


def fill(client, key, entries, equal):
    from pyramid_nacl_session._core import new_session_id

    client.delete(key)
    now = time.time()
    batch = 50_000
    for start in range(0, entries, batch):
        count = min(batch, entries - start)
        members = {
            f"s:{new_session_id()}": (now - (i % 10) if equal else now - (start + i) * 1e-3)
            for i in range(count)
        }
        client.zadd(key, members)
    assert client.zcard(key) == entries


def load_once(url, max_age):
    from pyramid_nacl_session.revocation import RevocationStore

    store = RevocationStore(url, max_age)
    started = time.perf_counter()
    store.start()
    took = time.perf_counter() - started
    loaded = store.set.session_count
    store.close()
    return took, loaded


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import redis

    with tempfile.TemporaryDirectory() as directory:
        server = RedisServer(Path(directory)).start()
        url = server.url
        try:
            client = redis.Redis.from_url(url)
            max_age = 30 * 24 * 3600
            for equal in (False, True):
                fill(client, "pyramid_nacl_session:revoked", args.entries, equal)
                times = []
                for _ in range(args.rounds):
                    took, loaded = load_once(url, max_age)
                    assert loaded == args.entries, (loaded, args.entries)
                    times.append(took)
                case = "ten shared scores" if equal else "distinct scores"
                print(
                    f"{args.entries} entries, {case}: median {statistics.median(times):.2f} s "
                    f"(min {min(times):.2f}, max {max(times):.2f}, {args.rounds} rounds)"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
