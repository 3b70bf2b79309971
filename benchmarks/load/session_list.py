"""The session list (track_sessions) under load: the example app (examples/devices.ini) under
waitress and gunicorn, every wrk connection a logged-in browser, and Redis's own count of the
list's writes (EVALSHA, from INFO commandstats) against the requests served.

    python benchmarks/load/session_list.py [--duration S] [--connections N] [--json out.json]

It starts its own redis-server. Each connection logs in over HTTP first (users user0, user1,
user2 in turn, so a user has several sessions), then wrk drives ``GET /`` with that cookie,
which reads and writes the session on every request. Runs with ``reissue_time`` 0 (a cookie
written on every request) and 120. Fails (exit status 1) on any error or counter mismatch, or
when the list's writes pass their bound: one per login, then one per session per
``max(reissue_time, 60)`` s window the run touches (sessions x (windows + 1)).
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # benchmarks/load/ is not a package
sys.path.insert(0, str(HERE.parents[1]))  # the clone, for tests.servers

from tests.servers import log_in  # noqa: E402

from run import DEV_INI, Server, log, machine_info, run_wrk, with_redis  # noqa: E402

DEVICES_INI = DEV_INI.parent / "devices.ini"
WINDOW_FLOOR = 60  # session_registry.MIN_INTERVAL


def command_calls(url):
    """{command: calls} from Redis's INFO commandstats."""
    import redis

    stats = redis.Redis.from_url(url).info("commandstats")
    return {name[len("cmdstat_") :]: fields["calls"] for name, fields in stats.items()}


def ini_for(tmp, url, reissue_time):
    text = DEVICES_INI.read_text().replace("redis://127.0.0.1:6379/0", url)
    text = text.replace("session.reissue_time = 120", f"session.reissue_time = {reissue_time}")
    path = Path(tmp) / f"devices-{reissue_time}.ini"
    path.write_text(text)
    return path


def one(kind, workers, ini, reissue_time, seconds, connections, tmp, url):
    server = Server(kind, sys.executable, ini, workers, kind == "gunicorn", 4, tmp)
    try:
        before = command_calls(url)
        started = time.time()
        cookies = [log_in(server.port, f"user{i % 3}") for i in range(connections)]
        os.environ["WRK_COOKIES"] = " ".join(cookies)
        try:
            result = run_wrk(server.port, connections, seconds)
        finally:
            del os.environ["WRK_COOKIES"]
        ended = time.time()
        # The writer sends within milliseconds of a write being queued; this leaves it room on
        # a loaded machine before Redis is asked what it received.
        time.sleep(1.5)
        after = command_calls(url)
        alive = server.proc.poll() is None
    finally:
        server.stop()
    window = max(reissue_time, WINDOW_FLOOR)
    windows = math.floor(ended / window) - math.floor(started / window) + 1
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    # The list's write is a Lua script, as the revocations a login makes (regenerate() revokes
    # the pre-login id) are: what tells them apart is its HSET of the session's line, which no
    # other script runs (Redis counts a script's own commands in commandstats).
    writes = calls.get("hset", 0)
    lua = result["lua"]
    errors = sum(result["errors"].values()) + lua["bad"] + lua["mismatches"] + lua["missing"]
    return {
        "server": f"{kind} -w {workers}" if kind == "gunicorn" else "waitress 4 threads",
        "reissue_time": reissue_time,
        "requests": result["requests"],
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "sessions": connections,
        "list_writes": writes,
        # One write per login (a new id), then at most one per session per window touched.
        "bound": connections * (windows + 1),
        "redis_commands": sum(calls.values()),
        "errors": errors,
        "alive": alive,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    with with_redis("session_list.py") as (tmp, redis):
        url = redis.url
        for kind, workers in (("waitress", 1), ("gunicorn", 2)):
            for reissue_time in (0, 120):
                log(f"session_list.py: {kind} reissue_time={reissue_time}")
                ini = ini_for(tmp, url, reissue_time)
                row = one(
                    kind, workers, ini, reissue_time, args.duration, args.connections, tmp, url
                )
                rows.append(row)
    failed = False
    print(
        f"{'server':<20}{'reissue':>8}{'requests':>10}{'rps':>7}{'sessions':>9}"
        f"{'list writes':>12}{'bound':>7}{'per 1000 req':>13}{'redis cmds/req':>15}{'errors':>7}"
    )
    for row in rows:
        per = 1000 * row["list_writes"] / max(row["requests"], 1)
        cmds = row["redis_commands"] / max(row["requests"], 1)
        print(
            f"{row['server']:<20}{row['reissue_time']:>8}{row['requests']:>10}{row['rps']:>7.0f}"
            f"{row['sessions']:>9}{row['list_writes']:>12}{row['bound']:>7}{per:>13.3f}"
            f"{cmds:>15.4f}{row['errors']:>7}"
        )
        failed |= bool(row["errors"] or not row["alive"] or row["list_writes"] > row["bound"])
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "machine": machine_info()}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
