"""Compare two run.py results (``--json``), before and after a change, as a Markdown table.

    python benchmarks/compare.py before.json after.json

For each case in both: ours' ns/op before and after, after / before, and the speedup over 1.0.0
in each run. Each run measured 1.0.0 in the same rounds as ours, so the speedups compare across
runs better than the raw times do when the machine's load changed in between.
"""

import argparse
import json


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args()
    with open(args.before) as f:
        before = json.load(f)["cases"]
    with open(args.after) as f:
        after = json.load(f)["cases"]
    print(
        "| case | ours before ns/op | ours after ns/op | after / before "
        "| speedup over 1.0.0 before | after |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, a in after.items():
        b = before.get(name)
        if not b or name.startswith("ref."):
            continue
        print(
            f"| {name} | {b['ours']:,.0f} | {a['ours']:,.0f} | {a['ours'] / b['ours']:.2f} "
            f"| {b['speedup']:.2f}x | {a['speedup']:.2f}x |"
        )


if __name__ == "__main__":
    main()
