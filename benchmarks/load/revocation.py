"""The load test with revocation on: the example app under waitress and gunicorn, revocation off
and on (taking turns), driven by wrk as in run.py, while a prober logs sessions out and replays
their cookies one second later.

    python benchmarks/load/revocation.py [--duration S] [--rounds N] [--json out.json]

It starts its own redis-server. Fails (exit status 1) on any error or counter mismatch run.py
would count, or, with revocation on, on any replayed cookie that the server still accepted one
second after its logout. Prints requests per second off and on, and their ratio.
"""

import argparse
import json
import re
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # benchmarks/load/ is not a package
sys.path.insert(0, str(HERE.parents[1]))  # the clone, for tests.servers

from tests.servers import log_out, page  # noqa: E402

from run import DEV_INI, Server, log, machine_info, run_wrk, with_redis  # noqa: E402

VISITS = re.compile(r'<b id="visits">(\d+)</b>')
#: How long after the logout response the replay is tried: the propagation promise.
PROPAGATION = 1.0


def revocation_ini(directory, redis_url):
    text = DEV_INI.read_text().replace(
        "\n[server:main]",
        f"\nsession.revocation_url = {redis_url}\nsession.revocation_user = user\n\n[server:main]",
        1,
    )
    path = Path(directory) / "revocation.ini"
    path.write_text(text)
    return path


class Prober(threading.Thread):
    """Every 0.2 s: a new session (two visits), logged out; each cookie replayed
    ``PROPAGATION`` seconds after its logout must be a fresh session (visits back to 1)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.probes = self.accepted = self.errors = 0

    def run(self):
        due = []
        while not self.stop.is_set():
            try:
                _, _, cookie = page(self.port, "/")
                status, cookie = log_out(self.port, cookie)  # after a second visit
                if status != 303:
                    self.errors += 1
                due.append((time.monotonic() + PROPAGATION, cookie))
                now = time.monotonic()
                while due and due[0][0] <= now:
                    _, old = due.pop(0)
                    status, text, _ = page(self.port, "/", old)
                    visits = VISITS.search(text)
                    self.probes += 1
                    if status != 200 or visits is None:
                        self.errors += 1
                    elif visits.group(1) != "1":
                        self.accepted += 1
            except Exception:
                self.errors += 1
            self.stop.wait(0.2)


def one(kind, workers, preload, ini, seconds, warmup, connections, tmp, revocation):
    server = Server(kind, sys.executable, ini, workers, preload, 4, tmp)
    prober = Prober(server.port)
    try:
        run_wrk(server.port, connections, warmup)
        prober.start()
        result = run_wrk(server.port, connections, seconds)
        prober.stop.set()
        prober.join(15)
        alive = server.proc.poll() is None
    finally:
        server.stop()
    errors = result["errors"]
    lua = result["lua"]
    return {
        "server": f"{kind} -w {workers}{' --preload' if preload else ''}",
        "revocation": revocation,
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "errors": sum(errors.values()) + lua["bad"] + lua["mismatches"] + lua["missing"],
        "lua": lua,
        "probes": prober.probes,
        "accepted_after_revocation": prober.accepted if revocation else None,
        "probe_errors": prober.errors,
        "alive": alive,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    with with_redis("revocation.py") as (tmp, redis):
        on_ini = revocation_ini(tmp, redis.url)
        for kind, workers, preload in (("waitress", 1, False), ("gunicorn", 2, True)):
            for rnd in range(args.rounds):
                for revocation, ini in ((False, DEV_INI), (True, on_ini)):
                    log(f"revocation.py: {kind} revocation={revocation} round {rnd + 1}")
                    rows.append(
                        one(
                            kind,
                            workers,
                            preload,
                            ini,
                            args.duration,
                            args.warmup,
                            args.connections,
                            tmp,
                            revocation,
                        )
                    )
    failed = False
    print(f"{'server':<24}{'revocation':>11}{'rps':>9}{'errors':>8}{'probes':>8}{'accepted':>9}")
    for row in rows:
        accepted = row["accepted_after_revocation"]
        print(
            f"{row['server']:<24}{'on' if row['revocation'] else 'off':>11}{row['rps']:>9.0f}"
            f"{row['errors'] + row['probe_errors']:>8}{row['probes']:>8}"
            f"{'-' if accepted is None else accepted:>9}"
        )
        failed |= bool(row["errors"] or row["probe_errors"] or accepted or not row["alive"])
    for server in dict.fromkeys(r["server"] for r in rows):
        off = [r["rps"] for r in rows if r["server"] == server and not r["revocation"]]
        on = [r["rps"] for r in rows if r["server"] == server and r["revocation"]]
        print(f"{server}: on/off = {sum(on) / len(on) / (sum(off) / len(off)):.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "machine": machine_info()}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
