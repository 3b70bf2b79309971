"""Compare pyramid_nacl_session 1.0.0 with this package, side by side, in one run.

    python benchmarks/run.py [--rounds N] [--quick] [--json out.json] [--ours-python PATH]

"ours" is this interpreter's environment (or --ours-python), where the package was built with
``maturin develop --release`` or ``pip install .``; the baseline is a virtualenv made here on
first use, holding pyramid-nacl-session==1.0.0 from PyPI. workload.py runs in each as a
subprocess; within each round the two take turns case by case, and each case's figure is the
median over rounds of the per-round best ns/op. See benchmarks/README.md.
"""

import argparse
import datetime
import fnmatch
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workload.py"
BASELINE_VENV = HERE / ".venv-baseline"
BASELINE_REQS = ["pyramid-nacl-session==1.0.0", "pyramid==2.1"]
# The reference rows (ref.wsgi.beaker.*): pyramid_beaker's encrypted cookie sessions, with
# cryptography as Beaker's AES backend. Installed into ours when missing, then into the baseline
# at ours' versions, so that both run the same code.
REFERENCE_REQS = ["pyramid_beaker", "cryptography"]
REFERENCE_DISTS = ["pyramid_beaker", "beaker", "cryptography"]
LABELS = {"baseline": "1.0.0", "ours": "ours"}

# The targets: (label, numerator, denominator, limit, comparison). A figure is (case, env) for
# a time, or a case name alone for its speedup over 1.0.0. detect_changes's (at most 500 ns on a
# read-only request) is reported in its own section.
TARGETS = [
    *(
        (
            f"small-session request / the same app's /plain request (ours, {kind})",
            (f"wsgi.small.{kind}", "ours"),
            ("wsgi.plain", "ours"),
            1.6,
            "<=",
        )
        for kind in ("pickle", "json")
    ),
    (
        "warning-zone request (about 3.4 KB of Set-Cookie), speedup over 1.0.0",
        "wsgi.zone.pickle",
        None,
        5.0,
        ">=",
    ),
    *(
        (
            f"EncryptedSerializer {op} of the 70-key state ({kind}), speedup over 1.0.0",
            f"serializer.{op}.large.{kind}",
            None,
            2.5,
            ">=",
        )
        for kind in ("pickle", "json")
        for op in ("dumps", "loads")
    ),
    ("70-key pickle request, speedup over 1.0.0", "wsgi.large.pickle", None, 4.0, ">="),
    (
        "warning zone / just below it (about 3.0 KB of Set-Cookie), ours",
        ("wsgi.zone.pickle", "ours"),
        ("wsgi.below.pickle", "ours"),
        1.15,
        "<=",
    ),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def venv_python(venv):
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return venv / sub


def query(python, code, *args):
    return subprocess.run(
        [python, "-c", code, *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def dist_versions(python, dists):
    """{distribution: version or None} in the environment of ``python``."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for d in sys.argv[1:]:\n"
        "    try:\n"
        "        out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError:\n"
        "        out[d] = None\n"
        "print(json.dumps(out))"
    )
    return json.loads(query(python, code, *dists))


def ensure_references(ours_python, install):
    """Pins (``dist==version``) of the reference rows' packages as ours holds them, after
    installing them into ours if missing and ``install``; [] if ours does not hold them."""
    found = dist_versions(ours_python, REFERENCE_DISTS)
    if None in found.values() and install:
        log(f"run.py: installing {' '.join(REFERENCE_REQS)} into {ours_python} (reference rows)")
        subprocess.run(
            [ours_python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            + REFERENCE_REQS,
            check=True,
        )
        found = dist_versions(ours_python, REFERENCE_DISTS)
    if None in found.values():
        log("run.py: no pyramid_beaker/cryptography in ours: the Beaker rows are left out")
        return []
    return [f"{dist}=={version}" for dist, version in found.items()]


def ensure_baseline(venv, ours_python, reference_pins=()):
    """Make (or reuse) the 1.0.0 virtualenv, with the same Python as ours and the same WebOb
    (and reference packages), so that only the session package differs."""
    webob = query(ours_python, "import importlib.metadata as m; print(m.version('webob'))")
    reqs = BASELINE_REQS + [f"webob=={webob}"] + list(reference_pins)
    # The marker records the Python too: a venv made by another interpreter must be remade.
    stamp = reqs + [query(ours_python, "import sys; print(sys.version.split()[0])")]
    marker = venv / ".bench-requirements"
    python = venv_python(venv)
    if python.exists() and marker.exists() and marker.read_text().split() == stamp:
        return python
    if python.exists() and venv != BASELINE_VENV:
        return python  # the user's own venv: never clear it; check_env vets what it holds
    log(f"run.py: creating {venv} with {' '.join(reqs)}")
    subprocess.run([ours_python, "-m", "venv", "--clear", venv], check=True)
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *reqs],
        check=True,
    )
    marker.write_text("\n".join(stamp) + "\n")
    return python


def workload_cmd(env, python):
    cmd = [str(python)]
    if env == "baseline":
        # -I: no PYTHONPATH, user site or script directory, so nothing but the baseline
        # virtualenv can supply pyramid_nacl_session.
        cmd.append("-I")
    return cmd + [str(WORKLOAD), "--env", env]


def check_env(env, python):
    """Fail before any timing (and before making the baseline venv) if the package is wrong."""
    proc = subprocess.run(
        workload_cmd(env, python) + ["--check"], capture_output=True, text=True, cwd=HERE
    )
    if proc.returncode != 0:
        sys.exit(f"run.py: the {env} environment ({python}) is not usable:\n{proc.stderr}")


class Worker:
    """One workload process in --serve mode: it builds its cases once, then times each case
    the driver names, so the two environments can take turns case by case."""

    def __init__(self, env, python, args):
        self.env, self.python = env, python
        self.errors = tempfile.TemporaryFile("w+")  # a file, so a chatty child never blocks
        cmd = workload_cmd(env, python) + [
            "--serve",
            "--budget",
            str(args.budget),
            "--repeats",
            str(args.repeats),
            "--clock",
            args.clock,
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
            cwd=HERE,
        )
        self.meta = self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.errors.seek(0)
            sys.exit(
                f"run.py: the {self.env} workload failed ({self.python}):\n{self.errors.read()}"
            )
        return json.loads(line)

    def measure(self, case):
        self.proc.stdin.write(case + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
        self.errors.seek(0)
        chatter = self.errors.read().strip()
        if chatter:
            log(f"run.py: the {self.env} workload wrote to stderr:\n{chatter}")
        self.errors.close()


def machine_info():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    if hasattr(os, "sched_getaffinity"):
        info["usable_cores"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def fmt_ns(ns):
    return f"{ns:,.0f}" if ns is not None else "-"


def summarize(rounds, stat):
    """Per case: each env's per-round figures, their median, and the speedup (1.0.0 / ours)."""
    cases = {}
    for env in ("baseline", "ours"):
        for run in rounds[env]:
            for name, r in run["results"].items():
                cases.setdefault(name, {"baseline": [], "ours": []})[env].append(r[stat])
    out = {}
    for name, per_env in cases.items():
        row = {"rounds": per_env}
        for env, values in per_env.items():
            row[env] = statistics.median(values) if values else None
            # Spread across rounds, as a share of the median: how far to trust the row.
            row[f"{env}_spread"] = (
                (max(values) - min(values)) / row[env] if len(values) > 1 else None
            )
        row["speedup"] = row["baseline"] / row["ours"] if row["baseline"] and row["ours"] else None
        out[name] = row
    return out


def print_report(machine, meta, summary, args):
    print("Machine:")
    print(
        f"- CPU: {machine['cpu']} ({machine['cores']} cores"
        + (f", {machine['usable_cores']} usable" if "usable_cores" in machine else "")
        + ")"
    )
    print(f"- OS: {machine['platform']}")
    if "loadavg_at_start" in machine:
        print(f"- load average at start: {', '.join(map(str, machine['loadavg_at_start']))}")
    print(f"- date: {machine['date']}")
    for env in ("baseline", "ours"):
        m = meta[env]
        v = m["versions"]
        print(
            f"- {LABELS[env]}: {m['implementation']} {m['python']}, pyramid-nacl-session "
            f"{v['pyramid-nacl-session']}, pyramid {v['pyramid']}, webob {v['webob']}, "
            f"pynacl {v['pynacl']}"
        )
    print(
        f"- method: {args.rounds} round(s), the envs taking turns case by case; {args.budget}s per "
        f"case per round, {args.stat} of {args.repeats} repeats per round; median over rounds; "
        f"{args.clock} clock"
    )
    print()

    spread = any(r["baseline_spread"] is not None for r in summary.values())
    head = "| case | 1.0.0 ns/op | ours ns/op | speedup |" + (" spread |" if spread else "")
    print(head)
    print("|---|" + "---:|" * (head.count("|") - 2))
    for name, r in summary.items():
        ratio = f"{r['speedup']:.2f}x" if r["speedup"] else "-"
        cells = [name, fmt_ns(r["baseline"]), fmt_ns(r["ours"]), ratio]
        if spread:
            worst = max(x for x in (r["baseline_spread"], r["ours_spread"]) if x is not None)
            cells.append(f"{100 * worst:.0f}%")
        print("| " + " | ".join(cells) + " |")
    print()
    print(
        "speedup = 1.0.0 time / ours time (above 1 means ours is faster). ref.* rows run the same"
        " code in both envs (WebOb's SignedSerializer; whole requests on Pyramid's"
        " SignedCookieSessionFactory or pyramid_beaker): their ratio shows the harness's noise."
    )
    if spread:
        print("spread = (max - min) / median over rounds, the worse of the two envs.")

    derived = derive(summary, meta)
    print()
    print("Noise: " + derived["noise"]["text"])

    plain = summary.get("wsgi.plain")
    if plain and plain["baseline"] and plain["ours"]:
        print()
        print("Whole requests, time as a multiple of the same app's /plain (no session work):")
        for name, r in summary.items():
            if name.startswith(("wsgi.", "ref.wsgi.")) and name != "wsgi.plain":
                print(
                    f"- {name}: 1.0.0 {r['baseline'] / plain['baseline']:.2f}x, "
                    f"ours {r['ours'] / plain['ours']:.2f}x of /plain"
                )
    targets = [
        f"{t['label']}: {t['value']:.2f}x, target {t['comparison']} {t['limit']}x "
        f"[{'met' if t['met'] else 'NOT met'}]"
        for t in derived["targets"]
    ]
    for title, lines in (
        (
            "Against the floor (wsgi.floor: the same request with a session class that does "
            "nothing; ours' process):",
            derived["floor"],
        ),
        ("Targets:", targets),
        (
            "What a user would pick instead (same app, same view; figures from ours' process):",
            derived["references"],
        ),
        (
            "detect_changes, on less off, ours, same run (target: at most 500 ns):",
            derived["detect_changes"],
        ),
        (
            "An app's own Request (overriding cookies) and Response (overriding set_cookie):",
            derived["hooks"],
        ),
    ):
        if lines:
            print()
            print(title)
            for line in lines:
                print(f"- {line}")
    warned = {
        env: {k: v for k, v in meta[env].get("warnings_in_3_requests", {}).items() if v}
        for env in meta
    }
    print()
    print(
        "Warnings logged in 3 requests after set-up (cases not named logged none): "
        + "; ".join(f"{LABELS[env]} {warned[env] or 'none'}" for env in meta)
    )
    if "warnings_in_setup" in meta["ours"]:
        print(
            "Warnings logged while the same factory made the cookie (its first write of that "
            "size): "
            + "; ".join(
                f"{LABELS[env]} {meta[env].get('warnings_in_setup') or '-'}" for env in meta
            )
        )
    print(f"Logging: {meta['ours'].get('logging', 'not configured')}")
    for env in meta:
        for name, why in meta[env].get("skipped", {}).items():
            print(f"Left out in {LABELS[env]}: {name}: {why}")
    sizes = {env: meta[env]["cookie_sizes"] for env in meta}
    print()
    print(
        "Cookie value sizes (bytes): "
        + "; ".join(
            f"{k} 1.0.0 {sizes['baseline'][k]} / ours {sizes['ours'][k]}" for k in sizes["ours"]
        )
    )
    headers = {env: meta[env].get("set_cookie_bytes", {}) for env in meta}
    print(
        "Whole requests' Set-Cookie sizes (bytes): "
        + "; ".join(
            f"{k} 1.0.0 {headers['baseline'].get(k, '-')} / ours {v}"
            for k, v in headers["ours"].items()
        )
    )
    return derived


def figure(summary, spec):
    """A time (case, env) in ns, or a case's speedup over 1.0.0 for a bare case name."""
    if isinstance(spec, tuple):
        row = summary.get(spec[0])
        return row and row[spec[1]]
    row = summary.get(spec)
    return row and row["speedup"]


def derive(summary, meta):
    """What the report says beyond the table, also written to the JSON: the targets, the
    noise, the reference rows and the hooks row."""
    targets = []
    for label, num, den, limit, comparison in TARGETS:
        value = figure(summary, num)
        if den is not None and value:
            base = figure(summary, den)
            value = value / base if base else None
        if not value:
            continue
        met = value <= limit if comparison == "<=" else value >= limit
        targets.append(
            {"label": label, "value": value, "limit": limit, "comparison": comparison, "met": met}
        )

    # ref.* rows run the same code in both environments: how far their ratio strays from 1.00x,
    # and the spread of every row, is how far the other rows can be trusted.
    refs = [r["speedup"] for n, r in summary.items() if n.startswith("ref.") and r["speedup"]]
    spreads = sorted(
        max(x for x in (r["baseline_spread"], r["ours_spread"]) if x is not None)
        for r in summary.values()
        if r["baseline_spread"] is not None
    )
    noise = {"ref_ratio_min": min(refs, default=None), "ref_ratio_max": max(refs, default=None)}
    if spreads:
        noise["spread_median"] = statistics.median(spreads)
        noise["spread_max"] = spreads[-1]
    text = []
    if refs:
        text.append(
            f"the ref.* rows (same code in both envs) came out at {noise['ref_ratio_min']:.2f}x"
            f" to {noise['ref_ratio_max']:.2f}x"
        )
    if spreads:
        text.append(
            f"spread over rounds: median {100 * noise['spread_median']:.0f}%, worst "
            f"{100 * noise['spread_max']:.0f}%"
        )
    noise["text"] = "; ".join(text) or "one round: no spread"

    references = []
    for size in ("small", "large", "zone"):
        ours = summary.get(f"wsgi.{size}.pickle")
        if not ours:
            continue
        parts = [
            f"1.0.0 {ours['baseline'] / 1000:.1f} us",
            f"ours {ours['ours'] / 1000:.1f} us",
        ]
        for ref, label in (("signed", "Pyramid signed (JSON)"), ("beaker", "Beaker encrypted")):
            r = summary.get(f"ref.wsgi.{ref}.{size}")
            if r and r["ours"]:
                parts.append(
                    f"{label} {r['ours'] / 1000:.1f} us ({r['ours'] / ours['ours']:.2f}x ours)"
                )
        if len(parts) > 2:
            references.append(f"{size}: " + ", ".join(parts))

    hooks = []
    hooked, stock = summary.get("wsgi.hooks.small.pickle"), summary.get("wsgi.respond.small.pickle")
    if hooked and stock:
        for env in ("baseline", "ours"):
            honoured = meta[env].get("hooks_honoured", {}).get("wsgi.hooks.small.pickle", {})
            hooks.append(
                f"{LABELS[env]}: {hooked[env] / 1000:.1f} us with the app's classes, "
                f"{stock[env] / 1000:.1f} us with the stock ones (same view): "
                f"{hooked[env] / stock[env]:.2f}x; "
                + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in honoured.items())
            )
    floor = []
    low, plain = summary.get("wsgi.floor"), summary.get("wsgi.plain")
    if low and low["ours"]:
        if plain and plain["ours"]:
            floor.append(
                f"floor {low['ours'] / 1000:.1f} us, {low['ours'] / plain['ours']:.2f}x of /plain"
            )
        for name, r in summary.items():
            if name.startswith("wsgi.small.") and r["ours"]:
                floor.append(
                    f"{name}: ours {(r['ours'] - low['ours']) / 1000:+.1f} us above the floor "
                    f"({r['ours'] / low['ours']:.2f}x), 1.0.0 "
                    f"{(r['baseline'] - low['baseline']) / 1000:+.1f} us "
                    f"({r['baseline'] / low['baseline']:.2f}x)"
                )
    detect = []
    for case in ("wsgi.read.json", "wsgi.plain.json"):
        on, off = summary.get(case), summary.get(case + ".detect_off")
        if on and off and on["ours"] and off["ours"]:
            detect.append(
                f"{case}: {on['ours']:,.0f} ns on, {off['ours']:,.0f} ns off: "
                f"{on['ours'] - off['ours']:+,.0f} ns ({on['ours'] / off['ours']:.3f}x); "
                f"1.0.0's same two rows {on['baseline'] / off['baseline']:.3f}x (noise)"
            )
    return {
        "targets": targets,
        "floor": floor,
        "noise": noise,
        "references": references,
        "hooks": hooks,
        "detect_changes": detect,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="rounds (default 7; --quick: 1)")
    parser.add_argument(
        "--budget", type=float, help="seconds per case per round (default 0.3; --quick: 0.02)"
    )
    parser.add_argument(
        "--repeats", type=int, help="timed batches per case per round (default 5; --quick: 3)"
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter_ns (default); cpu: the thread's CPU time, "
        "steadier on a machine busy with other work",
    )
    parser.add_argument(
        "--stat",
        choices=("best", "median"),
        default="best",
        help="per-round figure taken from the repeats (default best)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run, for CI: small defaults, a few seconds in all",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["*"],
        help="fnmatch patterns of cases to run, e.g. 'wsgi.*' (default all)",
    )
    parser.add_argument(
        "--ours-python",
        default=sys.executable,
        help="python of the environment holding our package (default: this one)",
    )
    parser.add_argument(
        "--baseline-venv",
        type=Path,
        default=BASELINE_VENV,
        help="a virtualenv holding 1.0.0; made if missing (default "
        "benchmarks/.venv-baseline, remade when its pins change)",
    )
    parser.add_argument(
        "--no-install-references",
        action="store_true",
        help="do not pip install pyramid_beaker and cryptography into ours for the reference "
        "rows (they are then left out unless ours already holds them)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    args = parser.parse_args()
    defaults = (1, 0.02, 3) if args.quick else (7, 0.3, 5)
    for name, value in zip(("rounds", "budget", "repeats"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, value)
    # Absolute, since workloads run from benchmarks/; not resolved, as a venv's python is a
    # symlink whose own path is what selects the venv.
    args.ours_python = os.path.abspath(args.ours_python)
    args.baseline_venv = Path(os.path.abspath(args.baseline_venv))

    sys.stdout.reconfigure(line_buffering=True)  # keep the report and progress lines in order
    machine = machine_info()
    check_env("ours", args.ours_python)
    reference_pins = ensure_references(args.ours_python, not args.no_install_references)
    pythons = {
        "baseline": ensure_baseline(args.baseline_venv, args.ours_python, reference_pins),
        "ours": Path(args.ours_python),
    }
    check_env("baseline", pythons["baseline"])
    rounds = {"baseline": [], "ours": []}
    meta = {}
    for i in range(args.rounds):
        # Fresh processes each round (so one unlucky memory layout is not repeated); within a
        # round the envs take turns case by case, the first one alternating, so that changes in
        # machine load fall on both alike.
        workers = {env: Worker(env, pythons[env], args) for env in ("baseline", "ours")}
        meta = {env: w.meta for env, w in workers.items()}
        if meta["baseline"]["prefix"] == meta["ours"]["prefix"]:
            sys.exit("run.py: both workloads run in the same environment; nothing to compare")
        cases = [
            c
            for c in meta["ours"]["cases"]
            if c in meta["baseline"]["cases"] and any(fnmatch.fnmatchcase(c, p) for p in args.cases)
        ]
        if not cases:
            sys.exit(f"run.py: no case matches {args.cases}; cases: {meta['ours']['cases']}")
        log(f"run.py: round {i + 1}/{args.rounds}: {len(cases)} cases")
        results = {"baseline": {}, "ours": {}}
        for j, case in enumerate(cases):
            order = ("baseline", "ours") if (i + j) % 2 == 0 else ("ours", "baseline")
            for env in order:
                results[env][case] = workers[env].measure(case)
        for env, w in workers.items():
            w.close()
            rounds[env].append({"results": results[env]})

    summary = summarize(rounds, args.stat)
    derived = print_report(machine, meta, summary, args)

    if args.json:
        names = ("rounds", "budget", "repeats", "stat", "clock")
        settings = {k: getattr(args, k) for k in names}
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": machine,
                    "settings": settings,
                    "envs": meta,
                    "cases": summary,
                    "derived": derived,
                },
                f,
                indent=2,
            )
        log(f"run.py: wrote {args.json}")


if __name__ == "__main__":
    main()
