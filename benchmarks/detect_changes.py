"""What ``detect_changes`` costs per request, on less off, in one process: run in the
environment with our package (after ``maturin develop --release``)::

    python benchmarks/detect_changes.py [--rounds 8]

workload.py's app and small JSON session, on ``/read`` (reads the session, writes nothing:
``reissue_time=600``, so nothing reissues the cookie) and on ``/small`` (reads and writes, so
only keeping the snapshot is paid). The four cases take turns, in reverse order every other
round; each round reports its best batch (CPU clock, ``workload.measure``), and the figures are
medians over rounds. Steadier than ``run.py``'s two rows, which run minutes apart.
"""

import argparse
import gc
import os
import statistics
import sys
import time
import warnings

warnings.simplefilter("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workload as w  # noqa: E402
from pyramid_nacl_session import EncryptedCookieSessionFactory  # noqa: E402


def case(path, **options):
    factory = EncryptedCookieSessionFactory(w.SECRET, serializer="json", **options)
    cookie = w.session_cookie(factory, w.SMALL)
    op, _ = w.request_op(w.make_app(factory), w.template_environ(path, w.cookie_header(cookie)))
    return op


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    w.configure_logging()
    ops = {
        "/read on": case("/read", reissue_time=600),
        "/read off": case("/read", reissue_time=600, detect_changes=False),
        "/small on": case("/small"),
        "/small off": case("/small", detect_changes=False),
    }
    runs = {name: [] for name in ops}
    for r in range(args.rounds):
        order = list(ops.items()) if r % 2 == 0 else list(reversed(ops.items()))
        for name, op in order:
            gc.collect()
            runs[name].append(w.measure(op, 0.3, 5, clock=time.thread_time_ns)["best"])
    median = {name: statistics.median(v) for name, v in runs.items()}
    for name, ns in median.items():
        print(f"{name:11s} {ns:9,.0f} ns")
    for route in ("/read", "/small"):
        added = median[f"{route} on"] - median[f"{route} off"]
        print(f"detect_changes on {route}: {added:+,.0f} ns")


if __name__ == "__main__":
    main()
