"""One benchmark round in one environment; run by run.py as a subprocess, never imported.

    python workload.py --env {baseline,ours} [--budget S] [--repeats N] [--cases PATTERN ...]

``baseline`` must hold pyramid_nacl_session 1.0.0 and ``ours`` the 2.0 package; the check runs
before any timing and fails loudly otherwise. Prints one JSON object on stdout: environment facts
and, per case, the best and median ns/op over the repeats. With ``--serve`` (as run.py uses it)
it takes case names on stdin instead, so that the driver can alternate environments per case.
"""

import argparse
import fnmatch
import gc
import hashlib
import importlib.metadata
import importlib.util
import json
import platform
import statistics
import sys
import time
import warnings

# pyramid.session.PickleSerializer warns on import (and on use) in Pyramid 2.x; the warning
# machinery must not run inside the timed loops or clutter the output.
warnings.simplefilter("ignore")

from time import perf_counter_ns, thread_time_ns  # noqa: E402

# wall: what a client waits, the default. cpu: this thread's CPU time, which leaves out the time
# spent waiting for a core, for machines shared with other work (caches are still shared).
CLOCKS = {"wall": perf_counter_ns, "cpu": thread_time_ns}

# The same raw 32-byte secret in both environments (1.0.0 takes only raw bytes).
SECRET = hashlib.sha256(b"pyramid_nacl_session benchmark secret").digest()
COOKIE_NAME = "session"


def check_environment(env):
    """Import the package under test and prove it is the one this environment should have."""
    spec = importlib.util.find_spec("pyramid_nacl_session")
    if spec is None:
        sys.exit(f"workload[{env}]: pyramid_nacl_session is not installed in {sys.prefix}")
    version = importlib.metadata.version("pyramid-nacl-session")
    has_core = importlib.util.find_spec("pyramid_nacl_session._core") is not None
    if env == "baseline" and (version != "1.0.0" or has_core):
        sys.exit(
            f"workload[baseline]: expected pyramid-nacl-session 1.0.0 without _core, found "
            f"{version} (_core: {has_core}) at {spec.origin}"
        )
    if env == "ours" and (not has_core or not version.startswith("2.")):
        sys.exit(
            f"workload[ours]: expected pyramid-nacl-session 2.x with its native _core, found "
            f"{version} (_core: {has_core}) at {spec.origin}; build it into this environment "
            f"with `maturin develop --release` (or `pip install .`)"
        )
    import pyramid_nacl_session

    return pyramid_nacl_session, version, spec.origin


def versions():
    out = {}
    for dist in ("pyramid-nacl-session", "pyramid", "webob", "pynacl"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


# -- session states -------------------------------------------------------------------------

SMALL = {
    "user_id": 12345,
    "csrf": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "_f_": ["Welcome back"],
}


def large_state():
    """70 keys of the kinds apps keep in sessions; about 2 KB as JSON, so the sealed cookie
    stays under the 3 KB at which 2.0 logs a size warning (and well under 4 KB)."""
    state = {
        "user_id": 12345,
        "_csrft_": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
        "_f_": ["Welcome back"],
        "_f_errors": [],
        "username": "alice.smith",
        "email": "alice.smith@example.com",
        "display_name": "Alice Smith",
        "locale": "en_GB",
        "timezone": "Europe/London",
        "theme": "dark",
        "roles": ["editor", "reviewer"],
        "org_id": 884,
        "plan": "team",
        "last_login": 1732600000,
        "login_count": 217,
        "mfa_ok": True,
        "cart": {"sku": "AB-1234", "qty": 2},
        "cart_total_cents": 5998,
        "currency": "GBP",
        "return_to": "/orders?page=3&sort=-created",
        "recent_projects": [1043, 1011, 987, 954],
        "ab_bucket": "checkout-v2",
        "consent": {"analytics": True, "ads": False},
        "impersonator": None,
    }
    i = 0
    while len(state) < 70:
        kind = i % 4
        if kind == 0:
            state[f"tip_{i}"] = 1732500000 + 37 * i
        elif kind == 1:
            state[f"filter_{i}"] = f"open,-updated,p{i % 7}"
        elif kind == 2:
            state[f"search_{i}"] = ["inv", i * 3]
        else:
            state[f"widget_{i}"] = {"h": i % 5, "on": i % 2 == 0}
        i += 1
    return state


LARGE = large_state()
STATES = {"small": SMALL, "large": LARGE}

OTHER_COOKIES = [
    "_ga=GA1.2.1234567890.1732500000",
    "_gid=GA1.2.987654321.1732600000",
    "_fbp=fb.1.1732500000123.1122334455",
    "lang=en",
    "theme=dark",
    "cookie_consent=%7B%22analytics%22%3Atrue%2C%22ads%22%3Afalse%7D",
    "ajs_anonymous_id=3f2c6a0e-8c1b-4a57-9e0f-5b8d2d7c1a44",
    "tz=Europe%2FLondon",
]


def cookie_header(session_value):
    """The session cookie among 8 others, as a browser would send them."""
    return "; ".join(OTHER_COOKIES[:4] + [f"{COOKIE_NAME}={session_value}"] + OTHER_COOKIES[4:])


def template_environ(path, cookie):
    from webob import Request as WebObRequest

    environ = WebObRequest.blank(
        path,
        headers={
            "Host": "app.example.com",
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language": "en-GB,en;q=0.5",
            "Accept-Encoding": "gzip, deflate, br",
            "Cookie": cookie,
        },
    ).environ
    return dict(environ)


# -- per-environment choices ----------------------------------------------------------------


def serializer_arg(env, kind):
    """What each version takes for pickle and for JSON: 1.0.0 needs a serializer object; 2.0
    names JSON ``'json'`` (its native path)."""
    if kind == "pickle":
        return None
    if env == "ours":
        return "json"
    from pyramid.session import JSONSerializer

    return JSONSerializer()


def session_cookie(factory, state):
    """A cookie value made by this environment's own factory, through the public path."""
    from pyramid.request import Request
    from pyramid.response import Response

    request = Request.blank("/")
    session = factory(request)
    session.update(state)
    response = Response()
    request._process_response_callbacks(response)
    for name, value in response.headerlist:
        if name == "Set-Cookie" and value.startswith(COOKIE_NAME + "="):
            if len(value) > 3000:
                # 2.0 logs a warning past 3 KB; timing that path would measure logging instead.
                raise RuntimeError(f"the benchmark cookie grew to {len(value)} bytes")
            return value.split(";", 1)[0][len(COOKIE_NAME) + 1 :]
    raise RuntimeError("the session factory set no cookie")


# -- cases ------------------------------------------------------------------------------------
# Each maker returns a zero-argument callable doing one operation; set-up stays outside it.


def serializer_cases(env, pkg):
    cases = {}
    for kind in ("pickle", "json"):
        enc = pkg.EncryptedSerializer(SECRET, serializer_arg(env, kind))
        for size, state in STATES.items():
            payload = (time.time(), time.time(), state)
            cookie = enc.dumps(payload)
            if enc.loads(cookie)[2] != state:
                raise RuntimeError(f"serializer round trip failed ({kind}, {size})")
            cases[f"serializer.dumps.{size}.{kind}"] = lambda e=enc, p=payload: e.dumps(p)
            cases[f"serializer.loads.{size}.{kind}"] = lambda e=enc, c=cookie: e.loads(c)

    # Reference, not a comparison: what Pyramid's SignedCookieSessionFactory does (sign only,
    # no encryption). Being the same code in both environments, its ratio shows the harness's
    # own noise.
    from pyramid.session import JSONSerializer
    from webob.cookies import SignedSerializer

    signed = SignedSerializer(SECRET, "pyramid.session.", "sha512", serializer=JSONSerializer())
    for size, state in STATES.items():
        payload = (time.time(), time.time(), state)
        cookie = signed.dumps(payload)
        cases[f"ref.signed.dumps.{size}.json"] = lambda s=signed, p=payload: s.dumps(p)
        cases[f"ref.signed.loads.{size}.json"] = lambda s=signed, c=cookie: s.loads(c)
    return cases


def session_cases(env, pkg):
    from pyramid.request import Request
    from pyramid.response import Response

    cases = {}
    for kind in ("pickle", "json"):
        factory = pkg.EncryptedCookieSessionFactory(SECRET, serializer=serializer_arg(env, kind))
        for size, state in STATES.items():
            environ = template_environ("/", cookie_header(session_cookie(factory, state)))
            response = Response()
            kept = len(response.headerlist)

            def op(factory=factory, environ=environ, response=response, kept=kept):
                request = Request(environ.copy())
                session = factory(request)
                user_id = session["user_id"]
                session["counter"] = 1
                del response.headerlist[kept:]
                request._process_response_callbacks(response)
                return user_id

            if op() != 12345 or len(response.headerlist) != kept + 1:
                raise RuntimeError(f"session case did not read/write the cookie ({kind}, {size})")
            cases[f"session.{size}.{kind}"] = op
    return cases


def make_app(factory):
    from pyramid.config import Configurator
    from pyramid.response import Response

    def plain(request):
        return Response("ok")

    def with_session(request):
        session = request.session
        session["counter"] = session.get("counter", 0) + 1
        return Response(str(session["user_id"]))

    with Configurator() as config:
        config.set_session_factory(factory)
        config.add_route("plain", "/plain")
        config.add_route("small", "/small")
        config.add_route("large", "/large")
        config.add_view(plain, route_name="plain")
        config.add_view(with_session, route_name="small")
        config.add_view(with_session, route_name="large")
    return config.make_wsgi_app()


def wsgi_cases(env, pkg):
    cases = {}
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = status
        seen["headers"] = headers

    for kind in ("pickle", "json"):
        factory = pkg.EncryptedCookieSessionFactory(SECRET, serializer=serializer_arg(env, kind))
        app = make_app(factory)
        small_cookie = session_cookie(factory, SMALL)
        paths = {
            # /plain carries the same cookies as /small, so the two differ only by the session.
            "plain": cookie_header(small_cookie),
            "small": cookie_header(small_cookie),
            "large": cookie_header(session_cookie(factory, LARGE)),
        }
        for path, cookie in paths.items():
            if path == "plain" and kind != "pickle":
                continue  # no session work: one row is enough
            template = template_environ("/" + path, cookie)

            def op(app=app, template=template):
                body = app(template.copy(), start_response)
                out = b"".join(body)
                close = getattr(body, "close", None)
                if close is not None:
                    close()
                return out

            body = op()
            sets_cookie = any(
                n == "Set-Cookie" and v.startswith(COOKIE_NAME + "=") for n, v in seen["headers"]
            )
            expected = b"ok" if path == "plain" else b"12345"
            if (
                not seen["status"].startswith("200")
                or body != expected
                or sets_cookie != (path != "plain")
            ):
                raise RuntimeError(f"/{path} ({kind}) answered {seen['status']} {body!r}")
            name = "wsgi.plain" if path == "plain" else f"wsgi.{path}.{kind}"
            cases[name] = op
    return cases


# -- timing -----------------------------------------------------------------------------------


def measure(op, budget_s, repeats, clock=perf_counter_ns):
    """Best and median ns/op over ``repeats`` timed batches that share ``budget_s`` seconds.

    The batch size comes from a calibration loop that doubles until 5 ms have passed, which also
    serves as the warm-up."""
    n = 1
    while True:
        r = range(n)
        t0 = clock()
        for _ in r:
            op()
        elapsed = clock() - t0
        if elapsed >= 5_000_000 or n >= 1 << 22:
            break
        n *= 2
    per_op = elapsed / n
    batch = max(1, int(budget_s * 1e9 / repeats / per_op))
    samples = []
    r = range(batch)
    for _ in range(repeats):
        t0 = clock()
        for _ in r:
            op()
        samples.append((clock() - t0) / batch)
    return {"best": min(samples), "median": statistics.median(samples), "batch": batch}


def describe(env, pkg, version, origin, cases):
    cookie_sizes = {}
    for kind in ("pickle", "json"):
        enc = pkg.EncryptedSerializer(SECRET, serializer_arg(env, kind))
        for size, state in STATES.items():
            cookie_sizes[f"{size}.{kind}"] = len(enc.dumps((time.time(), time.time(), state)))
    return {
        "env": env,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "package": {"version": version, "origin": origin},
        "versions": versions(),
        "cookie_sizes": cookie_sizes,
        "cases": list(cases),
    }


def run_case(cases, name, budget, repeats, clock):
    gc.collect()
    return measure(cases[name], budget, repeats, CLOCKS[clock])


def serve(meta, cases, budget, repeats, clock):
    """run.py's protocol: one JSON line describing this environment, then for each case name
    read on stdin, one JSON line with its figures. Ends at end of input."""
    print(json.dumps(meta), flush=True)
    for line in sys.stdin:
        name = line.strip()
        print(json.dumps(run_case(cases, name, budget, repeats, clock)), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=("baseline", "ours"), required=True)
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per case")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    parser.add_argument("--cases", nargs="*", default=["*"], help="fnmatch patterns")
    parser.add_argument("--list", action="store_true", help="print the case names and exit")
    parser.add_argument("--check", action="store_true", help="only check the package and exit")
    parser.add_argument("--serve", action="store_true", help="take case names on stdin")
    args = parser.parse_args()

    pkg, version, origin = check_environment(args.env)
    if args.check:
        print(f"{args.env}: pyramid-nacl-session {version} at {origin}")
        return
    cases = {}
    for make in (serializer_cases, session_cases, wsgi_cases):
        cases.update(make(args.env, pkg))
    if args.list:
        print("\n".join(cases))
        return
    meta = describe(args.env, pkg, version, origin, cases)
    if args.serve:
        serve(meta, cases, args.budget, args.repeats, args.clock)
        return
    selected = [c for c in cases if any(fnmatch.fnmatchcase(c, p) for p in args.cases)]
    meta["results"] = {
        name: run_case(cases, name, args.budget, args.repeats, args.clock) for name in selected
    }
    json.dump(meta, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
