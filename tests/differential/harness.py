"""Side-by-side differential against the real pyramid_nacl_session 1.0.0.

The same random sequences of session operations run through a real Pyramid app on each side
(worker.py, one process per side), under the same fake clock and the same CSRF randomness. The
harness plays the browser: it keeps each side's cookie, sends it back (sometimes each side gets
the *other* side's cookie, so each reads what the other wrote), and after every step compares
what a client and a server can observe: status, response body, which responses set or delete
the cookie and with which attributes, and the sealed plaintext (opened here with PyNaCl, as 1.0
does), byte for byte.

The deliberate differences (docs/migration.rst) are not skipped: each is checked to happen
exactly as documented, counted, and then the two sides are brought back in step (both take our
cookie, which 1.0 reads) so the rest of the sequence stays comparable. Anything else is a
finding.

    python -m tests.differential.harness --seconds 600 [--seed N]

runs it for as long as asked and prints every finding and the count of each known difference.
"""

import argparse
import base64
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..helpers import SECRET, canon

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORKER = HERE / "worker.py"

SECRET_HEX = SECRET.hex()
COOKIE_LIMIT = 4096
#: 1.0 (Pyramid's BaseCookieSessionFactory) refused a cookie value longer than this.
LIMIT_1_0 = 4064

#: Set to 1 to fail, instead of skipping, when the 1.0.0 virtualenv cannot be made.
REQUIRE_ENV = "PNS_REQUIRE_1_0"
#: Where the 1.0.0 virtualenvs live (one per Python version); default: .venv-1.0 in the clone.
VENV_ENV = "PNS_1_0_VENV_DIR"


class BaselineUnavailable(Exception):
    """The 1.0.0 virtualenv could not be made (no network, no package index)."""


# -- the 1.0.0 environment --------------------------------------------------------------------


def _version(dist):
    from importlib.metadata import version

    return version(dist)


def baseline_python():
    """The Python of a virtualenv holding pyramid-nacl-session 1.0.0 from PyPI, with the same
    Python, Pyramid, WebOb and WebTest as this environment (so only the session package
    differs). Made on first use, remade when any of those change."""
    # One per interpreter and Pyramid, so that runs against Pyramid 2.0 and 2.1 on one
    # interpreter do not remake each other's.
    tag = f"py{sys.version_info[0]}.{sys.version_info[1]}-pyramid{_version('pyramid')}"
    venv = Path(os.environ.get(VENV_ENV) or ROOT / ".venv-1.0") / tag
    reqs = [
        "pyramid-nacl-session==1.0.0",
        f"pyramid=={_version('pyramid')}",
        f"webob=={_version('webob')}",
        f"webtest=={_version('webtest')}",
    ]
    # Pyramid 2.0.x imports pkg_resources, gone from setuptools 82: take ours, which works.
    try:
        reqs.append(f"setuptools=={_version('setuptools')}")
    except ImportError:  # importlib.metadata.PackageNotFoundError: none here, none needed
        pass
    stamp = "\n".join(reqs + [sys.version.split()[0]]) + "\n"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    marker = venv / ".requirements"
    if python.exists() and marker.exists() and marker.read_text() == stamp:
        return python
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--timeout",
                "30",
                *reqs,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.CalledProcessError as e:
        raise BaselineUnavailable(
            f"could not install {' '.join(reqs)} into {venv}: {(e.stderr or '')[-500:]}"
        ) from None
    except subprocess.TimeoutExpired:
        raise BaselineUnavailable(f"installing into {venv} took over 10 minutes") from None
    marker.write_text(stamp)
    return python


class Side:
    """A worker process: one real Pyramid app per configuration, on one package."""

    def __init__(self, name, python):
        self.name = name
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [str(python), "-I", "-W", "ignore", str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            cwd=tempfile.gettempdir(),  # not the clone: its python/ must not be importable
        )
        self.info = self.call({"op": "hello"})

    def call(self, msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.stderr.seek(0)
            raise RuntimeError(f"{self.name} worker died: {self.stderr.read().decode()[-2000:]}")
        answer = json.loads(line)
        if "crash" in answer:
            raise RuntimeError(f"{self.name} worker failed on {msg}:\n{answer['crash']}")
        return answer

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def start_sides():
    """Both workers: ``(ours, base)``. Raises BaselineUnavailable when 1.0.0 cannot be had."""
    base = Side("1.0.0", baseline_python())
    ours = Side("ours", sys.executable)
    assert base.info["version"] == "1.0.0", base.info
    assert ours.info["version"] != "1.0.0", ours.info
    return ours, base


class Pair:
    """One app on each side, configured alike (``base`` defaults to ``ours``), for tests that
    show one behaviour on both: ``pair.ours(ops, cookie)`` and ``pair.base(ops, cookie)``
    answer as the worker does; ``pair.errors`` holds a side's start-up error instead."""

    def __init__(self, sides, ours, base=None):
        self.sides = sides
        self.apps = []
        self.errors = []
        for side, cfg in zip(sides, (ours, ours if base is None else base)):
            made = side.call(dict(cfg, op="app"))
            self.apps.append(made.get("app"))
            self.errors.append(made.get("error") and made)

    def _request(self, i, ops, cookie=None, now=None, seed=0):
        if self.errors[i]:
            raise AssertionError(
                f"{self.sides[i].name} refused the configuration: {self.errors[i]}"
            )
        msg = {"op": "request", "app": self.apps[i], "now": now or NOW, "seed": seed}
        return self.sides[i].call(dict(msg, ops=ops, cookie=cookie))

    def ours(self, ops, cookie=None, now=None, seed=0):
        return self._request(0, ops, cookie, now, seed)

    def base(self, ops, cookie=None, now=None, seed=0):
        return self._request(1, ops, cookie, now, seed)


#: The fake clock's default reading, for tests.
NOW = 1_700_000_000.0


def set_cookie_value(answer):
    """The value the answer's first Set-Cookie header sets."""
    return answer["set_cookie"][0].split(";", 1)[0].split("=", 1)[1]


def _name_and_value_len(answer):
    """What browsers count against 4096 bytes: the first Set-Cookie header's name and value."""
    return len(answer["set_cookie"][0].split(";", 1)[0]) - 1


# -- what the browser sees --------------------------------------------------------------------


def nacl_open(cookie):
    """Open a cookie as 1.0 did: PyNaCl, urlsafe base64 padded back."""
    from nacl.secret import SecretBox

    raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
    return SecretBox(SECRET).decrypt(raw)


def plaintext_value(plain, serializer):
    if serializer == "json":
        return json.loads(plain)
    import pickle

    return pickle.loads(plain)  # our own key, our own test data


_EXPIRES = re.compile(r"(?i)(; expires=)([^;]+)")


def parse_set_cookie(header):
    """``(name, value, attributes)`` with the Expires date checked to be sane and blanked."""
    name_value, _, attrs = header.partition(";")
    name, _, value = name_value.partition("=")
    return name, value, _EXPIRES.sub(r"\1<date>", ";" + attrs if attrs else "")


# -- random configurations and operations ---------------------------------------------------


KEYS = ["user", "a", "b", "cart", "_csrft_", "_f_", "ü", "x y"]
QUEUES = ["", "info", "error"]


def random_value(rng, depth=0):
    r = rng.random()
    if r < 0.3:
        return rng.choice(
            [
                "",
                "alice",
                "Zürich",
                "日本",
                "😀",
                'a"b\\c',
                "\x00\x7f",
                "</script>",
                "\ud800",
                "\u2028",
            ]
        )
    if r < 0.45:
        return rng.choice([0, 1, -1, 2**31, 2**53 + 1, 2**64, -(2**70), 10**20, 10**400])
    if r < 0.55:
        return rng.choice(
            [0.5, 1e16, 1e-7, -0.0, 3.141592653589793, 1e300, 123456.789, math.nan, -math.inf]
        )
    if r < 0.62:
        return rng.choice([True, False, None])
    if r < 0.7:
        size = rng.choice([200, 1000, 2000, 2800, 2900, 2950, 3000, 3050])
        return rng.choice("ab€") * size
    if depth >= 3:
        return "leaf"
    if r < 0.85:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(KEYS): random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def random_op(rng):
    name = rng.choice(
        [
            "set",
            "set",
            "set",
            "get",
            "getitem",
            "delete",
            "pop",
            "contains",
            "len",
            "keys",
            "items",
            "values",
            "iter",
            "setdefault",
            "update",
            "clear",
            "popitem",
            "flash",
            "flash",
            "pop_flash",
            "peek_flash",
            "csrf",
            "new_csrf",
            "invalidate",
            "changed",
            "append_unmarked",
            "new",
            "created",
            "raise",
            "set_py",
            "set_odd_key",
        ]
    )
    op = {"op": name}
    if name in ("set", "set_py", "get", "getitem", "delete", "pop", "contains", "setdefault"):
        op["k"] = rng.choice(KEYS)
    if name in ("set", "setdefault"):
        op["v"] = random_value(rng)
    if name == "set_py":
        op["v"] = rng.choice(
            [
                ["tuple", [1, "a", None]],
                ["bytes", "00ff10"],
                ["set", [1, 2, 3]],
                ["set", ["a", "b"]],
                ["datetime", 1700000000.5],
                ["decimal", "1.10"],
                ["intkeys", ["a", "b"]],
                ["shared", ["x"]],
            ]
        )
    if name == "set_odd_key":
        op["k"] = rng.choice([1, 2.5, True, None, ["tuple", [1, "a"]]])
        op["v"] = "odd"
    if name == "update":
        op["v"] = {rng.choice(KEYS): random_value(rng) for _ in range(rng.randrange(3))}
    if name == "append_unmarked":
        op["k"], op["v"] = rng.choice(KEYS), random_value(rng)
    if name in ("flash", "pop_flash", "peek_flash"):
        op["queue"] = rng.choice(QUEUES)
    if name == "flash":
        op["v"] = rng.choice(["saved", "oops", "saved", "ü"])
        op["allow_duplicate"] = rng.random() < 0.7
    return op


def random_config(rng, names=True):
    """``(ours, base, info)``: the same configuration as each side takes it. ``names``: ours
    may be given the serializer by name (1.0 took only objects)."""
    timeout = rng.choice([None, 1200, 60, 5, 0])
    reissue = rng.choice([0, 0, None, 1, 3, 30])
    opts = {
        "cookie_name": rng.choice(["session", "sid", "my.session"]),
        "max_age": rng.choice([None, None, 100, 0]),
        "path": rng.choice(["/", "/", "/ops"]),
        "domain": rng.choice([None, None, "example.com"]),
        "secure": rng.random() < 0.3,
        "httponly": rng.random() < 0.5,
        "timeout": timeout,
        "reissue_time": reissue,
        "set_on_exception": rng.random() < 0.7,
        "samesite": rng.choice(["Lax", "Lax", "Strict", None, "None"]),
    }
    if opts["samesite"] == "None":
        opts["secure"] = True
    serializer = rng.choice(["pickle", "json"])
    if rng.random() < 0.3:
        # From settings, as an .ini gives them: strings. 1.0 took times through int(), so only
        # digits; None is left out as 1.0 has no way to say it.
        settings = {"session.secret": SECRET_HEX, "session.serializer": serializer}
        for k, v in opts.items():
            if v is None or (k == "samesite" and v == "Lax"):
                continue
            settings["session." + k] = str(v).lower() if isinstance(v, bool) else str(v)
        if "session.timeout" not in settings:
            opts["timeout"] = 1200  # what the side will really do
        if "session.reissue_time" not in settings:
            opts["reissue_time"] = 0
        if "session.samesite" not in settings:
            opts["samesite"] = "Lax"
        return {"settings": settings}, {"settings": settings}, dict(opts, serializer=serializer)
    ours = dict(opts, secret=SECRET_HEX)
    base = dict(opts, secret=SECRET_HEX)
    # 1.0 takes a serializer object (None is pickle); ours also takes the name.
    ours["serializer"] = rng.choice(
        {"pickle": [None, "pickle", 0], "json": ["json", 0]}[serializer]
    )
    if not names:
        ours["serializer"] = 0
    if ours["serializer"] == 0:  # the object 1.0 took, as an app upgrading still passes it
        del ours["serializer"]
        ours["serializer_object"] = serializer
    base["serializer_object"] = serializer
    return {"kwargs": ours}, {"kwargs": base}, dict(opts, serializer=serializer)


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def cookie_header(rng, name, value):
    """How the browser sends the cookie, with the shapes real clients send."""
    if value is None:
        return rng.choice([None, None, "other=1"])
    damage = rng.random()
    if damage < 0.04:
        # A changed character (never the last: its unused bits are a documented difference):
        # neither version may open it.
        i = int(rng.random() * (len(value) - 1))
        c = B64URL[(B64URL.index(value[i]) + 1 + int(rng.random() * 63)) % 64]
        value = value[:i] + c + value[i + 1 :]
    elif damage < 0.06:
        value = value[: -1 - int(rng.random() * 5)]  # truncated
    shape = rng.random()
    if shape < 0.6:
        return f"{name}={value}"
    if shape < 0.75:
        return f"a=1; {name}={value}; z=2"
    if shape < 0.85:
        return f'{name}="{value}"'
    if shape < 0.92:
        return f"{name}={value}; {name}=stale"
    return f"{name}=stale; {name}={value}"


# -- one sequence ----------------------------------------------------------------------------


class Step:
    """What one side answered, in comparable form."""

    def __init__(self, answer, cookie_name, serializer):
        self.answer = answer
        self.error = answer.get("error")
        self.status = answer.get("status")
        self.body = answer.get("body")
        self.cookies = [parse_set_cookie(h) for h in answer.get("set_cookie", [])]
        self.session_cookies = [c for c in self.cookies if c[0] == cookie_name]
        self.plain = None
        self.value = None
        self.deleted = False
        for _, value, attrs in self.session_cookies:
            if "Max-Age=0" in attrs and value == "":
                self.deleted = True
            else:
                self.plain = nacl_open(value)
                self.value = plaintext_value(self.plain, serializer)

    def header_text(self):
        return [f"{n}=<{len(v)}>{a}" for n, v, a in self.cookies]


def _has_set(x):
    if isinstance(x, (set, frozenset)):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_set(v) for v in x)
    if isinstance(x, dict):
        return any(_has_set(k) or _has_set(v) for k, v in x.items())
    return False


def _summary(x, limit=300):
    text = json.dumps(x, default=repr, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"...({len(text)} chars)"


def run_sequence(ours, base, seed, steps=20, known=None, names=True):
    """Run one random sequence on both sides; return the findings (empty when they agree
    everywhere except in the documented ways, which are counted in ``known``)."""
    made = []
    try:
        return _sequence(ours, base, seed, steps, {} if known is None else known, names, made)
    finally:
        for side, app in made:
            side.call({"op": "drop", "app": app})


def _sequence(ours, base, seed, steps, known, names, made_apps):
    rng = random.Random(seed)
    ours_cfg, base_cfg, cfg = random_config(rng, names)
    findings = []
    log = [f"seed {seed}: config {cfg} via {'settings' if 'settings' in ours_cfg else 'kwargs'}"]

    def finding(kind, **details):
        findings.append({"kind": kind, "seed": seed, "log": list(log), **details})

    made = ours.call(dict(ours_cfg, op="app")), base.call(dict(base_cfg, op="app"))
    if "error" in made[0] or "error" in made[1]:
        finding("config", ours=made[0], base=made[1])
        return findings
    apps = made[0]["app"], made[1]["app"]
    made_apps += [(ours, apps[0]), (base, apps[1])]
    name, serializer = cfg["cookie_name"], cfg["serializer"]
    jars = [None, None]  # ours, base: each side's browser
    now = 1_700_000_000.0 + rng.random() * 1000
    for i in range(steps):
        # Around and exactly at every timeout and reissue time the configurations use.
        now += rng.choice(
            [0, 0, 0.3, 1, 2.5, 3, 4, 5, 6, 30, 31, 59, 60, 61, 1199, 1200, 1201, 90000]
        )
        if rng.random() < 0.3:
            jars.reverse()  # each reads what the other wrote
            log.append("(cookies swapped)")
        ops = [random_op(rng) for _ in range(rng.choice([1, 1, 2, 3]))]
        shape = rng.random()  # the same header shape for both sides
        headers = [cookie_header(random.Random(shape), name, jar) for jar in jars]
        seed_i = rng.randrange(2**32)
        answers = [
            side.call(
                {
                    "op": "request",
                    "app": app,
                    "now": now,
                    "seed": seed_i,
                    "ops": ops,
                    "cookie": header,
                }
            )
            for side, app, header in zip((ours, base), apps, headers)
        ]
        o, b = (Step(a, name, serializer) for a in answers)
        log.append(f"step {i} t={now:.1f} ops={_summary(ops)} cookies={headers}")
        # Ops after a `raise` never run.
        ran = ops[: next((j for j, op in enumerate(ops) if op["op"] == "raise"), len(ops))]
        invalidated = any(op["op"] == "invalidate" for op in ran)

        # Errors that escaped the app (the size limit, or a value a serializer refuses).
        if o.error or b.error:
            if o.error and b.error:
                # Neither set a cookie; both browsers keep theirs. The same kind of error, or
                # both the size limit (1.0 raised a bare ValueError for it).
                too_long = o.error == "CookieTooLarge" and "too long" in b.answer["message"]
                if o.error != b.error and not too_long:
                    finding("error type", ours=o.answer, base=b.answer)
                    return findings
                continue
            if o.error == "CookieTooLarge" and b.status and b.plain is not None:
                if _name_and_value_len(answers[1]) > COOKIE_LIMIT:
                    _count(known, "size limit counts the name and value")
                    jars = [jars[0], jars[0]]  # ours kept the old cookie; so does base now
                    continue
            if b.error == "ValueError" and "too long" in b.answer["message"] and o.plain:
                # 1.0's JSON text is longer than ours (spaces, \u escapes), so its own length,
                # which only its message carries, is what it measured. (A harness reading
                # another project's message, to learn what that project did.)
                value_len = int(re.search(r"\((\d+) bytes\)", b.answer["message"]).group(1))
                if value_len > LIMIT_1_0 and _name_and_value_len(answers[0]) <= COOKIE_LIMIT:
                    _count(known, "size limit counts the name and value")
                    jars = [jars[1], jars[1]]
                    continue
            finding("error", ours=o.answer, base=b.answer)
            return findings

        if o.status != b.status:
            finding("status", ours=o.status, base=b.status)
        if invalidated and o.body and b.body and "results" in o.body:
            # invalidate() restarts `created`: ours reports the time of the call.
            after = _first_invalidate(ops)
            for j, op in enumerate(ops[: len(o.body["results"])]):
                ro, rb = o.body["results"][j], b.body["results"][j]
                if op["op"] == "created" and j > after and ro != rb:
                    if ro != now:
                        finding("created after invalidate", ours=ro, base=rb, now=now)
                    else:
                        _count(known, "invalidate restarts created")
                        o.body["results"][j] = rb
        if canon(o.body) != canon(b.body):
            finding("body", ours=o.body, base=b.body)

        # Which responses set or delete the cookie.
        if invalidated and o.deleted and not b.deleted and b.value is not None:
            # invalidate() with nothing stored again deletes the cookie; 1.0 set an empty one.
            if b.value[2] != {} or len(o.session_cookies) != 1:
                finding("invalidate", ours=o.header_text(), base=b.value)
            else:
                _count(known, "invalidate deletes the cookie")
                expect = _deletion(cfg)
                got = answers[0]["set_cookie"][0]
                if got != expect:
                    finding("deletion header", ours=got, expected=expect)
            jars = [None, None]
            continue
        if o.value is not None and not b.session_cookies and _detected(o, jars[0], ran, serializer):
            # detect_changes: ours writes a session that changed in place without changed(),
            # or that it read in a form it does not write (1.0's JSON); 1.0 wrote nothing.
            _count(known, "detect_changes writes what differs from what was read")
            jars = [o.session_cookies[-1][1]] * 2
            continue
        if [(n, len(v) > 0, a) for n, v, a in o.cookies] != [
            (n, len(v) > 0, a) for n, v, a in b.cookies
        ]:
            finding("set-cookie", ours=o.header_text(), base=b.header_text())
        if o.plain is not None and b.plain is not None:
            ov, bv = list(o.value), list(b.value)
            if invalidated and ov[1] == now and bv[1] != now:
                _count(known, "invalidate restarts created")
                bv[1] = ov[1]
            elif o.plain != b.plain:
                if serializer == "json" and canon(ov) == canon(bv):
                    # Same value, read back identically (repr tells 1 from 1.0 and -0.0 from 0).
                    _count(known, "JSON text differs in form only (compact, raw UTF-8, floats)")
                elif canon(ov) == canon(bv) and serializer == "pickle" and _has_set(ov):
                    # A set's pickle follows its iteration order, which string hashing sets
                    # per process: two 1.0 processes differ in this way too.
                    _count(known, "pickle bytes differ, same value (a set)")
                else:
                    finding(
                        "plaintext", ours=o.plain.decode("latin-1"), base=b.plain.decode("latin-1")
                    )
            if canon(ov) != canon(bv):
                finding("session", ours=ov, base=bv)
        if findings:
            return findings
        # The browsers take what they were given.
        new_jars = []
        for jar, step in zip(jars, (o, b)):
            for _, value, _ in step.session_cookies:
                jar = None if step.deleted else value
            new_jars.append(jar)
        jars = new_jars
        if invalidated and o.plain is not None:
            jars = [jars[0], jars[0]]  # after the documented `created` difference, re-align
    return findings


def _detected(ours, sent, ran, serializer):
    """Whether ours wrote the session it was sent, unchanged in value but not in bytes, or
    after an in-place change (the only ways ``detect_changes`` writes when 1.0 does not)."""
    if any(op["op"] == "append_unmarked" for op in ran):
        return True
    try:
        plain = nacl_open(sent)
        read = plaintext_value(plain, serializer)
    except Exception:  # damaged, or none: ours had nothing to compare with
        return False
    if serializer == "json":
        text = json.dumps(read, separators=(",", ":"), ensure_ascii=False)
        form = text.encode("utf-8", "backslashreplace")  # ours escapes lone surrogates
    else:
        import pickle

        form = pickle.dumps(read, pickle.HIGHEST_PROTOCOL)
    return canon(read[2]) == canon(ours.value[2]) and plain != form


def _count(known, what):
    known[what] = known.get(what, 0) + 1


def _first_invalidate(ops):
    return next(i for i, op in enumerate(ops) if op["op"] == "invalidate")


def _deletion(cfg):
    """The header WebOb's make_cookie writes to delete this cookie (what ours is documented to
    send on invalidate)."""
    from webob.cookies import make_cookie

    header = make_cookie(
        cfg["cookie_name"],
        None,
        path=cfg["path"],
        domain=cfg["domain"],
        secure=cfg["secure"],
        httponly=cfg["httponly"],
        samesite=cfg["samesite"],
    )
    return header.decode("latin-1") if isinstance(header, bytes) else header


def run(seconds=None, sequences=None, seed=None, steps=20, out=sys.stdout):
    """Run sequences until ``seconds`` pass or ``sequences`` are done; return the findings and
    the known-difference counts."""
    ours, base = start_sides()
    seed = random.randrange(2**32) if seed is None else seed
    findings, known = [], {}
    deadline = None if seconds is None else time.monotonic() + seconds
    n = 0
    next_report = time.monotonic() + 60
    try:
        while True:
            if sequences is not None and n >= sequences:
                break
            if deadline is not None and time.monotonic() > deadline:
                break
            found = run_sequence(ours, base, seed + n, steps=steps, known=known)
            for f in found:
                print(f"finding: {f['kind']} at seed {f['seed']}", file=sys.stderr, flush=True)
            findings += found
            n += 1
            if time.monotonic() > next_report:
                next_report += 60
                print(
                    f"{n} sequences, {len(findings)} findings, known {known}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        ours.close()
        base.close()
    print(
        f"{n} sequences of {steps} steps from seed {seed}; sides: {base.info} / {ours.info}",
        file=out,
    )
    return findings, known, n


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sequences", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    findings, known, n = run(args.seconds, args.sequences, args.seed, args.steps)
    kinds = {}
    for f in findings:
        kinds.setdefault(f["kind"], []).append(f)
    for kind, fs in sorted(kinds.items()):
        print(f"\n== {kind}: {len(fs)} sequence(s); first:")
        first = fs[0]
        print("\n".join(first["log"]))
        print(_summary({k: v for k, v in first.items() if k != "log"}, 3000))
    print("\nknown differences seen:", json.dumps(known, indent=1))
    print(f"findings: {len(findings)} in {n} sequences")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
