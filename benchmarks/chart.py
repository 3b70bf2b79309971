"""Draw run.py's results as a bar chart, in SVG, with nothing but the standard library.

    python benchmarks/run.py --clock cpu --json results.json
    python benchmarks/chart.py results.json docs/_static/benchmarks.svg

The upper panel shows whole requests to the same app and view (microseconds per request, lower
is better): 1.0.0, this package, and what a user would pick instead (Pyramid's own signed cookie
sessions, Beaker's encrypted cookie sessions), from small sessions to the warning zone near the
4 KB limit. The lower panel shows every case's speedup over 1.0.0.

SVG is written by hand rather than with matplotlib: a few rectangles and labels do not justify a
plotting library (and its build) in the benchmark environment, and the file stays small and
diffable.
"""

import argparse
import json
import sys
from xml.sax.saxutils import escape

# (group label, case for 1.0.0 and ours, {series: reference case}) for the whole-request panel.
GROUPS = [
    ("no session work (/plain)", "wsgi.plain", {}),
    (
        "small session, pickle",
        "wsgi.small.pickle",
        {"signed": "ref.wsgi.signed.small", "beaker": "ref.wsgi.beaker.small"},
    ),
    ("small session, JSON", "wsgi.small.json", {}),
    (
        "70 keys, pickle (2.3 KB cookie)",
        "wsgi.large.pickle",
        {"signed": "ref.wsgi.signed.large", "beaker": "ref.wsgi.beaker.large"},
    ),
    ("70 keys, JSON", "wsgi.large.json", {}),
    ("70 keys, just below the warning (3.0 KB)", "wsgi.below.pickle", {}),
    (
        "70 keys, warning zone (3.4 KB)",
        "wsgi.zone.pickle",
        {"signed": "ref.wsgi.signed.zone", "beaker": "ref.wsgi.beaker.zone"},
    ),
    ("small, stock Request/Response", "wsgi.respond.small.pickle", {}),
    ("small, app's Request/Response subclasses", "wsgi.hooks.small.pickle", {}),
]
SERIES = {
    "baseline": ("pyramid_nacl_session 1.0.0", "#9e9e9e"),
    "ours": ("pyramid_nacl_session 2.x (this package)", "#1f6fb4"),
    "signed": ("Pyramid SignedCookieSessionFactory (signed only, JSON)", "#e08a1e"),
    "beaker": ("pyramid_beaker encrypted cookie (AES + HMAC)", "#3a9a4a"),
}
FONT = "font-family:DejaVu Sans,Helvetica,Arial,sans-serif"
WIDTH = 900
LABEL_W = 300  # left column for the labels
VALUE_W = 90  # right margin for the figures
BAR_H = 13
BAR_GAP = 2
GROUP_GAP = 10


class Svg:
    def __init__(self):
        self.parts = []

    def text(self, x, y, s, size=12, anchor="start", weight="normal", fill="#222"):
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(s)}</text>'
        )

    def heading(self, y, s):
        """A chart's title, at the left edge."""
        self.text(10, y, s, size=14, weight="bold")

    def rect(self, x, y, w, h, fill, title=None):
        tip = f"<title>{escape(title)}</title>" if title else ""
        self.parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.5):.1f}" height="{h}" '
            f'fill="{fill}">{tip}</rect>'
        )

    def line(self, x1, y1, x2, y2, stroke="#888", dash=None):
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
            f'stroke="{stroke}" stroke-width="1"{extra}/>'
        )

    def render(self, height):
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" style="{FONT}">\n'
            f'<rect width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>\n'
            + "\n".join(self.parts)
            + "\n</svg>\n"
        )


def nice_step(top, ticks=5):
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks."""
    raw = top / ticks
    power = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for m in (1, 2, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def axis(svg, y_top, y_bottom, top, scale, fmt):
    step = nice_step(top)
    v = 0.0
    while v <= top * 1.0001:
        x = LABEL_W + v * scale
        svg.line(x, y_top, x, y_bottom, stroke="#e4e4e4")
        svg.text(x, y_bottom + 13, fmt(v), size=10, anchor="middle", fill="#666")
        v += step


def hooks_ignored(data, env):
    """Whether this environment's session bypassed the app's own cookies or set_cookie."""
    honoured = data["envs"][env].get("hooks_honoured", {}).get("wsgi.hooks.small.pickle", {})
    return not all(honoured.values())


def whole_requests(svg, y, data):
    """Grouped horizontal bars, microseconds per request; returns the y below the panel."""
    cases = data["cases"]
    rows = []
    for label, case, refs in GROUPS:
        row = cases.get(case)
        if not row:
            continue
        bars = [("baseline", row["baseline"]), ("ours", row["ours"])]
        for series, ref in refs.items():
            r = cases.get(ref)
            # Beaker refuses a cookie this large: say so in place of the bar.
            bars.append((series, r["ours"] if r else None))
        rows.append((label, case, bars))
    top = max(v for _, _, bars in rows for _, v in bars if v) / 1000
    scale = (WIDTH - LABEL_W - VALUE_W) / top
    svg.heading(y, "Whole requests, same app and view: microseconds per request (lower is better)")
    y += 14
    legend_x = 10
    for key, (name, colour) in SERIES.items():
        svg.rect(legend_x, y, 10, 10, colour)
        svg.text(legend_x + 14, y + 9, name, size=10)
        legend_x += 28 + 5.6 * len(name)
        if legend_x > WIDTH - 250 and key != list(SERIES)[-1]:
            legend_x, y = 10, y + 14
    y += 24
    y_top = y
    for label, case, bars in rows:
        height = len(bars) * (BAR_H + BAR_GAP)
        svg.text(LABEL_W - 8, y + height / 2 + 4, label, size=11, anchor="end")
        for series, value in bars:
            name, colour = SERIES[series]
            if value is None:
                svg.text(
                    LABEL_W + 4,
                    y + BAR_H - 3,
                    "cookie refused (over Beaker's limit)",
                    size=10,
                    fill=colour,
                )
            else:
                us = value / 1000
                svg.rect(LABEL_W, y, us * scale, BAR_H, colour, f"{name}: {us:.1f} us")
                note = ""
                if case == "wsgi.hooks.small.pickle" and series in ("baseline", "ours"):
                    if hooks_ignored(data, series):
                        note = "  (the app's cookies / set_cookie were bypassed)"
                svg.text(LABEL_W + us * scale + 4, y + BAR_H - 3, f"{us:.1f}{note}", size=10)
            y += BAR_H + BAR_GAP
        y += GROUP_GAP
    axis(svg, y_top - 4, y, top, scale, lambda v: f"{v:g} µs")
    return y + 30


def speedups(svg, y, cases):
    """One bar per case compared with 1.0.0: how many times faster this package is."""
    rows = [(n, r["speedup"]) for n, r in cases.items() if r.get("speedup")]
    rows = [(n, s) for n, s in rows if not n.startswith("ref.")]
    top = max(max(s for _, s in rows), 4.5)
    scale = (WIDTH - LABEL_W - VALUE_W) / top
    svg.heading(y, "Every case: speedup over 1.0.0 (1.0.0 time / this package's time)")
    y += 22
    y_top = y
    for name, s in rows:
        # /plain runs no session code: its ratio is noise, not a result.
        colour = "#9e9e9e" if name == "wsgi.plain" else SERIES["ours"][1] if s >= 1 else "#c0392b"
        svg.text(LABEL_W - 8, y + BAR_H - 2, name, size=11, anchor="end")
        svg.rect(LABEL_W, y, s * scale, BAR_H, colour, f"{name}: {s:.2f}x")
        svg.text(LABEL_W + s * scale + 4, y + BAR_H - 3, f"{s:.2f}x", size=10)
        y += BAR_H + BAR_GAP + 2
    axis(svg, y_top - 4, y, top, scale, lambda v: f"{v:g}x")
    for mark, label in ((1, "1x: as fast as 1.0.0"), (4, "4x: the target")):
        x = LABEL_W + mark * scale
        svg.line(x, y_top - 4, x, y, stroke="#c0392b" if mark == 4 else "#444", dash="4,3")
        svg.text(x + 3, y_top - 7, label, size=9, fill="#444")
    return y + 30


def footer(svg, y, data):
    m, st = data["machine"], data["settings"]
    envs = data["envs"]
    lines = [
        f"benchmarks/run.py, {m['date']}: {st['rounds']} rounds, {st['clock']} clock, "
        f"{st['stat']} of {st['repeats']} batches per round, median over rounds; "
        f"{m['cpu']}, {m.get('usable_cores', m['cores'])} cores",
        f"CPython {envs['ours']['python']}, Pyramid {envs['ours']['versions']['pyramid']}, "
        f"WebOb {envs['ours']['versions']['webob']}; reference rows timed in this package's "
        f"process, interleaved with the others.",
        "Noise: " + data.get("derived", {}).get("noise", {}).get("text", "not recorded") + ".",
    ]
    for line in lines:
        svg.text(10, y, line, size=10, fill="#555")
        y += 14
    return y


def draw(data):
    svg = Svg()
    y = whole_requests(svg, 24, data)
    y = speedups(svg, y, data["cases"])
    y = footer(svg, y, data)
    return svg.render(y + 6)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="the JSON file run.py --json wrote")
    parser.add_argument("output", nargs="?", help="the SVG to write (default: standard output)")
    args = parser.parse_args()
    with open(args.results) as f:
        svg = draw(json.load(f))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(svg)
    else:
        sys.stdout.write(svg)


if __name__ == "__main__":
    main()
