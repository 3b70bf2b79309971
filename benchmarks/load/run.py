"""The example app under real WSGI servers, driven over loopback by wrk with a cookie jar per
connection. See benchmarks/load/README.md.

    python benchmarks/load/run.py [--quick] [--duration S] [--rounds N] [--memory-duration S]
                                  [--phase check|compare|all] [--json out.json]

Run it with the Python of the environment that holds this package (``maturin develop --release``
or ``pip install .``); the 1.0.0 environment is made in benchmarks/load/.venv-baseline on first
use. Two phases:

check    this package with examples/development.ini (its own key, absolute_timeout): pserve
         (waitress, 4 threads) and gunicorn -w 2 --preload for --memory-duration seconds each,
         RSS sampled after a warm-up and at the end; then gunicorn -w 4 without --preload, short.
compare  benchmarks/load/baseline.ini (settings 1.0.0 knows) served by this package and by
         1.0.0, taking turns (ours, 1.0.0, ours, 1.0.0, ...) under waitress and gunicorn -w 2.

Any error, non-2xx/3xx status, counter mismatch, worker restart or RSS growth beyond
--max-growth-mb per server process makes the exit status 1, after the table.
"""

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LUA = HERE / "sessions.lua"
DEV_INI = ROOT / "examples" / "development.ini"
BASELINE_INI = HERE / "baseline.ini"
# baseline.ini names no key (one printed in the tree gets copied); each server gets its own.
KEY_PLACEHOLDER = "KEY_MADE_BY_RUN_PY"
BASELINE_VENV = HERE / ".venv-baseline"
LABELS = {"ours": "ours", "baseline": "1.0.0"}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def with_redis(name):
    """For a load test against Redis (``name``: its script): wrk and the servers checked, the
    machine logged; yields a temp directory and a redis-server started in it
    (tests/redis_server.py), stopped at the end."""
    sys.path.insert(0, str(ROOT))
    from tests.redis_server import RedisServer

    ensure_wrk()
    ensure_ours(Path(sys.executable))
    log(f"{name}: {machine_info()}")
    with tempfile.TemporaryDirectory(prefix="load-redis-") as tmp:
        redis = RedisServer(Path(tmp)).start()
        try:
            yield tmp, redis
        finally:
            redis.stop()


def query(python, code):
    return subprocess.run(
        [str(python), "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    ).stdout.strip()


def version_of(python, dist):
    return query(python, f"import importlib.metadata as m; print(m.version({dist!r}))")


def has(python, module):
    return (
        subprocess.run(
            [str(python), "-c", f"import {module}"], capture_output=True, cwd=tempfile.gettempdir()
        ).returncode
        == 0
    )


def pip(python, *args):
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        check=True,
    )


def ensure_wrk():
    if shutil.which("wrk"):
        return
    log("run.py: wrk not found, installing it with apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "install", "-y", "wrk"], check=True)
    if not shutil.which("wrk"):
        sys.exit("run.py: could not install wrk")


def ensure_ours(python):
    """The servers and the example app, next to the package under test."""
    if not has(python, "pyramid_nacl_session._core"):
        sys.exit(
            f"run.py: {python} has no built pyramid_nacl_session "
            "(run `maturin develop --release` first)"
        )
    missing = [dist for dist in ("waitress", "gunicorn") if not has(python, dist)]
    if missing:
        log(f"run.py: installing {' '.join(missing)} into {python}")
        pip(python, *missing)
    if not has(python, "session_demo"):
        log(f"run.py: installing examples/ into {python}")
        pip(python, "-e", str(ROOT / "examples"))


def ensure_baseline(ours_python):
    """1.0.0 with the same Python, Pyramid, WebOb and servers as ours, so only the session
    package differs."""
    pins = [
        f"{dist}=={version_of(ours_python, dist)}"
        for dist in ("pyramid", "webob", "waitress", "gunicorn")
    ]
    python_version = query(ours_python, "import sys; print(sys.version)")
    stamp = ["pyramid-nacl-session==1.0.0", *pins, python_version]
    marker = BASELINE_VENV / ".load-requirements"
    python = BASELINE_VENV / "bin" / "python"
    if python.exists() and marker.exists() and marker.read_text().splitlines() == stamp:
        return python
    log(f"run.py: creating {BASELINE_VENV} with {' '.join(stamp[:-1])}")
    subprocess.run([str(ours_python), "-m", "venv", "--clear", str(BASELINE_VENV)], check=True)
    pip(python, *stamp[:-1])
    pip(python, "-e", str(ROOT / "examples"))
    marker.write_text("\n".join(stamp) + "\n")
    return python


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_ini(source, port, threads, directory):
    """A copy of the .ini whose [server:main] listens on the given loopback port, with a new key
    in place of KEY_PLACEHOLDER."""
    from pyramid_nacl_session import generate_secret

    text = Path(source).read_text().replace(KEY_PLACEHOLDER, generate_secret().decode())
    server = (
        f"[server:main]\nuse = egg:waitress#main\nlisten = 127.0.0.1:{port}\n"
        f"threads = {threads}\n\n"
    )
    text, n = re.subn(r"^\[server:main\]\n(?:(?!^\[).*\n)*", server, text, flags=re.M)
    if n != 1:
        raise SystemExit(f"run.py: no [server:main] section in {source}")
    path = Path(directory) / f"serve-{port}.ini"
    path.write_text(text)
    return path


def children(pid):
    """Direct children of pid, found through /proc so nothing beyond Linux is needed."""
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return sorted(kids)


def cpu_ticks(pid):
    """utime + stime: a worker whose count moved during the run took requests."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    """pserve (waitress) or gunicorn, started from one venv on a free port, stopped by its pid."""

    def __init__(self, kind, python, ini, workers, preload, threads, tmp):
        self.kind, self.workers = kind, workers
        self.port = free_port()
        config = serve_ini(ini, self.port, threads, tmp)
        bindir = Path(python).parent
        if kind == "waitress":
            cmd = [str(bindir / "pserve"), str(config)]
        else:
            cmd = [
                str(bindir / "gunicorn"),
                "--paste",
                str(config),
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--no-control-socket",
            ]
            if preload:
                cmd.append("--preload")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait_ready()

    def _wait_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"run.py: {self.kind} exited at start:\n{self.output()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok and len(self.worker_pids()) == self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"run.py: {self.kind} did not come up:\n{self.output()}")

    def worker_pids(self):
        return [self.proc.pid] if self.kind == "waitress" else children(self.proc.pid)

    def memory(self):
        workers = self.worker_pids()
        return {
            "pids": workers,
            "workers_kib": [rss_kib(pid) for pid in workers],
            "cpu_ticks": [cpu_ticks(pid) for pid in workers],
            "master_kib": 0 if self.kind == "waitress" else rss_kib(self.proc.pid),
        }

    def output(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_wrk(port, connections, seconds):
    # threads == connections: wrk's Lua state is per thread, see sessions.lua.
    cmd = [
        "wrk",
        "-t",
        str(connections),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}/",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE)
    for line in out.stdout.splitlines():
        if line.startswith("LOADJSON "):
            return json.loads(line[len("LOADJSON ") :])
    raise SystemExit(f"run.py: wrk gave no summary:\n{out.stdout}\n{out.stderr}")


def one_run(args, tmp, phase, env, python, kind, ini, seconds, workers=1, preload=False, rnd=1):
    label = (
        f"{kind} -w {workers}{' --preload' if preload else ''}"
        if kind == "gunicorn"
        else f"waitress {args.threads} threads"
    )
    log(f"run.py: {phase} {LABELS[env]:5} {label} round {rnd}, {seconds} s")
    server = Server(kind, python, ini, workers, preload, args.threads, tmp)
    try:
        booted = server.memory()
        run_wrk(server.port, args.connections, args.warmup)  # imports, caches, first cookies
        start = server.memory()
        result = run_wrk(server.port, args.connections, seconds)
        end = server.memory()
        still_alive = server.proc.poll() is None
    finally:
        server.stop()
    errors = result["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    growth = [(b - a) / 1024 for a, b in zip(start["workers_kib"], end["workers_kib"])]
    busy = sum(b > a for a, b in zip(start["cpu_ticks"], end["cpu_ticks"]))
    return {
        "phase": phase,
        "env": env,
        "server": label,
        "round": rnd,
        "seconds": seconds,
        "rps": result["requests"] / (result["duration_us"] / 1e6),
        "latency_ms": {k: v / 1000 for k, v in result["latency_us"].items()},
        "requests": result["requests"],
        "socket_errors": socket_errors,
        "status_errors": errors["status"],
        "lua": result["lua"],
        "rss_mib": {
            "booted": sum(booted["workers_kib"]) / 1024,
            "start": sum(start["workers_kib"]) / 1024,
            "end": sum(end["workers_kib"]) / 1024,
            "master": end["master_kib"] / 1024,
            "max_growth_per_process": max(growth) if growth else 0.0,
        },
        "workers": workers,
        "busy_workers": busy,
        "worker_restarts": len(set(end["pids"]) - set(start["pids"])) + (not still_alive),
    }


def failures(row, max_growth):
    lua = row["lua"]
    found = []
    for name, value in (
        ("socket errors", row["socket_errors"]),
        ("non-2xx/3xx (wrk)", row["status_errors"]),
        ("status >= 400 (Lua)", lua["bad"]),
        ("counter mismatches", lua["mismatches"]),
        ("pages without a counter", lua["missing"]),
        ("worker restarts", row["worker_restarts"]),
    ):
        if value:
            found.append(f"{name}: {value}")
    if row["rss_mib"]["max_growth_per_process"] > max_growth:
        found.append(f"RSS grew {row['rss_mib']['max_growth_per_process']:.1f} MiB in one process")
    if row["busy_workers"] < row["workers"]:
        found.append(f"only {row['busy_workers']} of {row['workers']} workers took requests")
    if lua["responses"] < 100:
        found.append(f"only {lua['responses']} responses")
    return found


def machine_info():
    cpu = platform.machine()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "usable_cores": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(rows):
    head = (
        f"{'phase':8} {'env':5} {'server':24} {'rd':>2} {'req/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'requests':>8} {'err':>4} {'mism':>4} {'RSS start':>9} "
        f"{'RSS end':>8} {'grow/proc':>9} {'busy':>4}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        errs = r["socket_errors"] + r["status_errors"] + r["lua"]["bad"] + r["lua"]["missing"]
        m = r["rss_mib"]
        print(
            f"{r['phase']:8} {LABELS[r['env']]:5} {r['server']:24} {r['round']:>2} "
            f"{r['rps']:7.0f} {r['latency_ms']['p50']:7.2f} {r['latency_ms']['p99']:7.2f} "
            f"{r['requests']:8d} {errs:4d} {r['lua']['mismatches']:4d} {m['start']:9.1f} "
            f"{m['end']:8.1f} {m['max_growth_per_process']:9.2f} "
            f"{r['busy_workers']:>2}/{r['workers']}"
        )
    compare = [r for r in rows if r["phase"] == "compare"]
    if compare:
        print("\ncompare: median req/s over rounds (RSS in MiB, summed over server processes)")
        for server in dict.fromkeys(r["server"] for r in compare):
            med = {
                env: statistics.median(
                    r["rps"] for r in compare if r["server"] == server and r["env"] == env
                )
                for env in LABELS
            }
            print(
                f"  {server:24} ours {med['ours']:7.0f}   1.0.0 {med['baseline']:7.0f}   "
                f"ratio {med['ours'] / med['baseline']:.2f}x"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", choices=("check", "compare", "all"), default="all")
    parser.add_argument("--duration", type=int, default=20, help="seconds per compare run")
    parser.add_argument("--rounds", type=int, default=2, help="compare rounds per environment")
    parser.add_argument(
        "--memory-duration",
        type=int,
        default=60,
        help="seconds per check run (RSS sampled at its start and end)",
    )
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before sampling")
    parser.add_argument(
        "--connections",
        type=int,
        default=4,
        help="wrk connections (each its own wrk thread and cookie jar)",
    )
    parser.add_argument("--threads", type=int, default=4, help="waitress threads")
    parser.add_argument(
        "--max-growth-mb",
        type=float,
        default=30.0,
        help="fail if one server process's RSS grows more than this",
    )
    parser.add_argument("--quick", action="store_true", help="5 s runs, 1 round: a smoke test")
    parser.add_argument("--ours-python", default=sys.executable)
    parser.add_argument("--json", help="write the rows and machine notes here")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rounds, args.memory_duration, args.warmup = 5, 1, 5, 1

    ours = Path(args.ours_python)
    ensure_wrk()
    ensure_ours(ours)
    baseline = ensure_baseline(ours) if args.phase in ("compare", "all") else None
    info = machine_info()
    log(f"run.py: {info}")

    rows = []
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        if args.phase in ("check", "all"):
            for kind, workers, preload, seconds in (
                ("waitress", 1, False, args.memory_duration),
                ("gunicorn", 2, True, args.memory_duration),
                ("gunicorn", 4, False, max(5, args.duration // 2)),
            ):
                rows.append(
                    one_run(
                        args, tmp, "check", "ours", ours, kind, DEV_INI, seconds, workers, preload
                    )
                )
        if args.phase in ("compare", "all"):
            for kind, workers, preload in (("waitress", 1, False), ("gunicorn", 2, True)):
                for rnd in range(1, args.rounds + 1):
                    for env, python in (("ours", ours), ("baseline", baseline)):
                        rows.append(
                            one_run(
                                args,
                                tmp,
                                "compare",
                                env,
                                python,
                                kind,
                                BASELINE_INI,
                                args.duration,
                                workers,
                                preload,
                                rnd,
                            )
                        )

    print(
        f"\nmachine: {info['cpu']}, {info['usable_cores']} usable cores, "
        f"load average at start {info['loadavg_at_start']}, Python {info['python']}, "
        f"{info['date']}; wrk {args.connections} connections, one cookie jar each\n"
    )
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "rows": rows}, indent=2) + "\n")
    bad = [(r, f) for r in rows for f in [failures(r, args.max_growth_mb)] if f]
    for r, found in bad:
        print(
            f"FAIL {r['phase']} {LABELS[r['env']]} {r['server']} round {r['round']}: "
            + "; ".join(found)
        )
    if not bad:
        print(
            "\nall runs: zero errors, zero counter mismatches, no worker restarts, "
            f"RSS growth within {args.max_growth_mb:g} MiB per process"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
