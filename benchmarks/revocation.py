"""What revocation costs per request, and per revoked session in memory, side by side.

    python benchmarks/revocation.py [--rounds N] [--budget S] [--entries N] [--json out.json]

Starts its own redis-server (Debian's package) on a free loopback port, builds the same app as
benchmarks/workload.py's /small case (read the session, bump a counter, answer) twice per
serializer, revocation off and on, and times whole WSGI requests carrying a cookie, in short
batches that alternate off, on, off, on (see ``paired``); each figure is the median over rounds
of the per-round best ns/request.
With revocation on, the worker's set first holds --entries revoked sessions (default a million),
so the lookup runs against a table of the size the docs promise. Then it measures the memory of
a million entries in a fresh process (resident set growth, and the table's own count).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # the clone, for tests.redis_server

from tests.redis_server import RedisServer  # noqa: E402

from workload import (  # noqa: E402 (benchmarks/ is not a package)
    SECRET,
    SMALL,
    cookie_header,
    measure,
    session_cookie,
    template_environ,
)


def make_app(factory):
    from pyramid.config import Configurator
    from pyramid.response import Response

    def with_session(request):
        session = request.session
        session["counter"] = session.get("counter", 0) + 1
        return Response(str(session["user_id"]))

    with Configurator() as config:
        config.set_session_factory(factory)
        config.add_route("small", "/small")
        config.add_view(with_session, route_name="small")
    return config.make_wsgi_app()


def request_op(app, factory):
    # The cookie a browser would send: made by this factory through a real request.
    cookie = session_cookie(factory, SMALL)
    template = template_environ("/small", cookie_header(cookie))
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = status

    def op():
        body = app(template.copy(), start_response)
        return b"".join(body)

    if op() != b"12345" or not seen["status"].startswith("200"):
        raise SystemExit(f"/small answered {seen}")
    return op


def paired(ops, budget, batch=100):
    """Best ns/op of each op, timed in short batches that alternate op by op for ``budget``
    seconds: on a busy machine, both see the same quiet moments, and the best batch of each is
    its cost without interference."""
    for op in ops:
        for _ in range(batch):
            op()  # warm-up
    best = [float("inf")] * len(ops)
    deadline = time.perf_counter() + budget * len(ops)
    r = range(batch)
    while time.perf_counter() < deadline:
        for i, op in enumerate(ops):
            t0 = time.perf_counter_ns()
            for _ in r:
                op()
            best[i] = min(best[i], (time.perf_counter_ns() - t0) / batch)
    return best


MEMORY_CODE = """
import json, os, time
from pyramid_nacl_session._core import RevocationSet, new_session_id
from pyramid_nacl_session._core._testing import is_revoked
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
ids = [new_session_id() for _ in range({n})]
s = RevocationSet(86400)
before = rss()
now = time.time()
for sid in ids:
    s.revoke_session(sid, now)
after = rss()
t0 = time.perf_counter_ns()
for sid in ids[:100000]:
    is_revoked(s, sid, None, now)
hit = (time.perf_counter_ns() - t0) / 100000
probe = [new_session_id() for _ in range(100000)]
t0 = time.perf_counter_ns()
for sid in probe:
    is_revoked(s, sid, None, now)
miss = (time.perf_counter_ns() - t0) / 100000
print(json.dumps({{"entries": len(s), "nbytes": s.nbytes, "rss_growth": after - before,
                  "hit_ns": hit, "miss_ns": miss}}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.4, help="seconds per case per round")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()

    import pyramid_nacl_session as pkg
    from pyramid_nacl_session._core import new_session_id

    directory = tempfile.mkdtemp(prefix="bench-redis-")
    server = RedisServer(Path(directory)).start()
    url = server.url
    factories = []
    try:
        cases = {}
        for kind in ("pickle", "json"):
            off = pkg.EncryptedCookieSessionFactory(SECRET, serializer=kind, absolute_timeout=86400)
            on = pkg.EncryptedCookieSessionFactory(
                SECRET,
                serializer=kind,
                absolute_timeout=86400,
                revocation_url=url,
                revocation_user="user_id",
            )
            factories.append(on)
            now = time.time()
            for _ in range(args.entries):
                on.revocation.set.revoke_session(new_session_id(), now)
            for _ in range(1000):
                on.revocation.set.revoke_user(os.urandom(8).hex(), now)
            cases[f"wsgi.small.{kind}.off"] = request_op(make_app(off), off)
            cases[f"wsgi.small.{kind}.on"] = request_op(make_app(on), on)
        store = factories[0].revocation
        sid = new_session_id()
        created = time.time()
        cases["check (id + user + created)"] = lambda: store.check(
            {"_sid_": sid, "user_id": 12345}, "user_id", created
        )

        results = {name: [] for name in cases}
        for r in range(args.rounds):
            for kind in ("pickle", "json"):
                pair = [f"wsgi.small.{kind}.off", f"wsgi.small.{kind}.on"]
                for name, best in zip(pair, paired([cases[n] for n in pair], args.budget)):
                    results[name].append(best)
            name = "check (id + user + created)"
            results[name].append(measure(cases[name], args.budget, 5)["best"])
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
        summary = {name: statistics.median(v) for name, v in results.items()}
    finally:
        for factory in factories:
            factory.revocation.close()
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)

    memory = json.loads(
        subprocess.run(
            [sys.executable, "-c", MEMORY_CODE.format(n=1_000_000)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )

    print(f"\nper request (median of {args.rounds} rounds' best; {args.entries:,} entries held)")
    print(f"{'case':<34}{'off':>10}{'on':>10}{'added':>10}{'ratio':>8}")
    for kind in ("pickle", "json"):
        off, on = summary[f"wsgi.small.{kind}.off"], summary[f"wsgi.small.{kind}.on"]
        print(
            f"{'wsgi.small.' + kind:<34}{off / 1000:>8.2f}µs{on / 1000:>8.2f}µs"
            f"{(on - off) / 1000:>8.2f}µs{on / off:>8.3f}"
        )
    refuses = summary["check (id + user + created)"]
    print(f"{'check (id + user + created)':<34}{'':>10}{refuses:>8.0f}ns")
    table, rss = memory["nbytes"] / 1e6, memory["rss_growth"] / 1e6
    print(
        f"\nmemory, 1,000,000 revoked sessions: table {table:.1f} MB ({table:.1f} bytes/entry), "
        f"RSS growth {rss:.1f} MB ({rss:.1f} bytes/entry); lookup from Python, call included: "
        f"hit {memory['hit_ns']:.0f} ns, miss {memory['miss_ns']:.0f} ns"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"ns": summary, "memory": memory}, indent=2))


if __name__ == "__main__":
    main()
