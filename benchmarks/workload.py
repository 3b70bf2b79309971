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
import logging
import os
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


# -- logging ----------------------------------------------------------------------------------
# As a Pyramid app's production.ini has it (the cookiecutter's): the root logger at WARN, one
# StreamHandler, the "generic" format. Its stream is os.devnull rather than stderr so that a
# warning per request does not flood run.py; formatting and writing each record is still paid.
GENERIC_FORMAT = "%(asctime)s %(levelname)-5.5s [%(name)s:%(lineno)s][%(threadName)s] %(message)s"
LOGGING_NOTE = "root logger at WARNING, a StreamHandler to os.devnull, format " + repr(
    GENERIC_FORMAT
)


def configure_logging():
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (lives as long as we do)
    handler.setFormatter(logging.Formatter(GENERIC_FORMAT))
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    root.addHandler(handler)


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


def searches_state(count):
    """The 70-key session with its last filler key replaced by ``count`` recent searches (about
    50 bytes each in the cookie): how a real session creeps towards the 4 KB limit."""
    state = dict(LARGE)
    state.popitem()
    state["recent_searches"] = [
        f"invoices overdue {2024 - i % 3} client #{1000 + 7 * i}" for i in range(count)
    ]
    return state


# Whole-request states near the size limit, pickled (the default serializer; its cookies are
# the same size in both versions). 2.0 warns once the cookie's name and value pass 3/4 of the
# 4096 bytes browsers keep (3072; the header adds 22 bytes here): BELOW is just under that
# (about 3.0 KB of Set-Cookie), ZONE well inside the warning zone (about 3.4 KB), where an earlier
# review found a cliff.
BELOW = searches_state(16)
ZONE = searches_state(23)
#: Set-Cookie sizes (bytes) each state must produce, checked before any timing.
SET_COOKIE_RANGES = {"below": (2950, 3071), "zone": (3300, 3450)}

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


def session_cookie(factory, state, limit=3000):
    """A cookie value made by this environment's own factory, through the public path.

    ``limit``: the longest Set-Cookie allowed (2.0 warns past about 3072 bytes, so the ordinary
    cases stay under 3000 and never time the warning); ``None`` for the size-limit cases, which
    check their own range."""
    from pyramid.request import Request
    from pyramid.response import Response

    request = Request.blank("/")
    session = factory(request)
    session.update(state)
    response = Response()
    request._process_response_callbacks(response)
    for name, value in response.headerlist:
        value = value.lstrip()  # Beaker writes " session=..."
        if name == "Set-Cookie" and value.startswith(COOKIE_NAME + "="):
            if limit is not None and len(value) > limit:
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

            user_id = op()
            # (2.0 also adds Vary: Cookie.)
            written = [n for n, _ in response.headerlist[kept:] if n == "Set-Cookie"]
            if user_id != 12345 or len(written) != 1:
                raise RuntimeError(f"session case did not read/write the cookie ({kind}, {size})")
            cases[f"session.{size}.{kind}"] = op
    return cases


ROUTES = ("plain", "small", "large", "below", "zone")
WSGI_STATES = {"small": SMALL, "large": LARGE, "below": BELOW, "zone": ZONE}


def make_app(factory, request_factory=None, response_factory=None):
    """The benchmark app: ``/plain`` does not touch the session; every other route runs the same
    view, which reads the session, writes one key and answers. ``/respond`` does the same but
    answers with ``request.response`` (made by the response factory, so an app's own Response
    class is what the session's cookie is set on)."""
    from pyramid.config import Configurator
    from pyramid.response import Response

    def plain(request):
        return Response("ok")

    def with_session(request):
        session = request.session
        session["counter"] = session.get("counter", 0) + 1
        return Response(str(session["user_id"]))

    def read(request):
        return Response(str(request.session["user_id"]))

    def respond(request):
        session = request.session
        session["counter"] = session.get("counter", 0) + 1
        response = request.response
        response.text = str(session["user_id"])
        return response

    with Configurator() as config:
        config.set_session_factory(factory)
        if request_factory is not None:
            config.set_request_factory(request_factory)
        if response_factory is not None:
            config.set_response_factory(response_factory)
        for route in ROUTES + ("respond", "read"):
            config.add_route(route, "/" + route)
        config.add_view(plain, route_name="plain")
        for route in ROUTES[1:]:
            config.add_view(with_session, route_name=route)
        config.add_view(respond, route_name="respond")
        config.add_view(read, route_name="read")
    return config.make_wsgi_app()


def null_session_class():
    """The floor: a session class that does nothing but Pyramid's session plumbing. It holds
    the small state and its response callback sets a constant cookie; nothing is read, sealed
    or serialized."""
    from pyramid.interfaces import ISession
    from zope.interface import implementer

    @implementer(ISession)
    class NullSession(dict):
        def __init__(self, request):
            dict.__init__(self, SMALL)
            self.request = request
            request.add_response_callback(self._callback)

        def _callback(self, request, response):
            response.headerlist.append(("Set-Cookie", f"{COOKIE_NAME}=x; Path=/"))

        def changed(self):
            pass

    return NullSession


def app_classes():
    """A request class that overrides ``cookies`` and a response class that overrides
    ``set_cookie``, as apps install them with ``set_request_factory`` and
    ``set_response_factory``: a session must go through both. Each counts its calls,
    so the workload can report whether the session did."""
    from pyramid.request import Request
    from pyramid.response import Response

    class AppRequest(Request):
        calls = 0

        @property
        def cookies(self):
            # A mobile client may send its session in a header instead of a cookie.
            AppRequest.calls += 1
            cookies = Request.cookies.fget(self)
            token = self.environ.get("HTTP_X_SESSION")
            if token:
                cookies = dict(cookies, **{COOKIE_NAME: token})
            return cookies

    class AppResponse(Response):
        calls = 0

        def set_cookie(self, name, value="", **kw):
            # The site is served over HTTPS only: every cookie it sets is Secure.
            AppResponse.calls += 1
            kw["secure"] = True
            return Response.set_cookie(self, name, value, **kw)

    return AppRequest, AppResponse


class RecordCounter(logging.Handler):
    """Counts the log records of WARNING and above while attached to the root logger."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += 1


class counting:  # noqa: N801 (used as a context manager, like a function)
    """Counts the warnings logged inside a ``with`` block."""

    def __enter__(self):
        self.counter = RecordCounter()
        logging.getLogger().addHandler(self.counter)
        return self.counter

    def __exit__(self, *exc):
        logging.getLogger().removeHandler(self.counter)


# Filled in while the cases are built: what describe() reports about each whole request.
SET_COOKIE_BYTES = {}
WARNINGS_IN_SETUP = {}
WARNINGS_IN_3_REQUESTS = {}
HOOKS_HONOURED = {}
SKIPPED = {}


def reference_factories():
    """What a user would pick instead of this package, same app and same view.

    - ``signed``: Pyramid's own ``SignedCookieSessionFactory`` with its defaults (JSON,
      HMAC-SHA512): signed, not encrypted; anyone can read the session.
    - ``beaker``: pyramid_beaker's encrypted cookie sessions (``session.type = cookie`` with
      ``encrypt_key`` and ``validate_key``; AES through ``cryptography``, HMAC-SHA1).
    """
    from pyramid.session import SignedCookieSessionFactory

    factories = {"signed": SignedCookieSessionFactory(SECRET.hex(), cookie_name=COOKIE_NAME)}
    try:
        import pyramid_beaker
    except ImportError as exc:
        SKIPPED["ref.wsgi.beaker.*"] = f"pyramid_beaker is not installed ({exc})"
        return factories
    settings = {
        "session.type": "cookie",
        "session.key": COOKIE_NAME,
        "session.encrypt_key": hashlib.sha256(b"beaker encrypt").hexdigest(),
        "session.validate_key": hashlib.sha256(b"beaker validate").hexdigest(),
        # Named, so that a missing backend fails here instead of picking another.
        "session.crypto_type": "cryptography",
        "session.samesite": "Lax",
    }
    factories["beaker"] = pyramid_beaker.session_factory_from_settings(settings)
    check_beaker_encrypts(pyramid_beaker, settings)
    return factories


def check_beaker_encrypts(pyramid_beaker, settings):
    """Prove that the Beaker cookie is encrypted: the session's strings must be readable in the
    cookie of a Beaker factory without ``encrypt_key`` (so the check can fail) and nowhere in
    the encrypted one."""
    import base64

    from beaker import crypto

    def decoded(factory, skip):
        # After the hex HMAC-SHA1 signature (40) and, when encrypted, the base64 nonce (24).
        return base64.b64decode(session_cookie(factory, SMALL).strip('"')[skip:], validate=True)

    plain_settings = {k: v for k, v in settings.items() if k != "session.encrypt_key"}
    plain = decoded(pyramid_beaker.session_factory_from_settings(plain_settings), 40)
    sealed = decoded(pyramid_beaker.session_factory_from_settings(settings), 40 + 24)
    marker = SMALL["csrf"].encode()
    backend = crypto.get_crypto_module("cryptography")
    if marker not in plain or marker in sealed or not backend.has_aes:
        raise RuntimeError("Beaker's cookie sessions are not encrypting (no AES backend?)")


def request_op(app, template):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"] = status
        seen["headers"] = headers

    def op():
        body = app(template.copy(), start_response)
        out = b"".join(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()
        return out

    return op, seen


def add_request_case(
    cases, name, app, cookie, path, expected=b"12345", size_range=None, writes=None
):
    """Check one whole request (status, body, Set-Cookie), count its warnings over three
    requests, and add it as a case. ``writes``: whether it sets the session cookie (default:
    unless it is /plain)."""
    op, seen = request_op(app, template_environ(path, cookie_header(cookie)))
    counter = RecordCounter()
    logging.getLogger().addHandler(counter)
    try:
        body = op()
        op(), op()
    finally:
        logging.getLogger().removeHandler(counter)
    set_cookies = [
        v.lstrip()
        for n, v in seen["headers"]
        if n == "Set-Cookie" and v.lstrip().startswith(COOKIE_NAME + "=")
    ]
    if not seen["status"].startswith("200") or body != expected:
        raise RuntimeError(f"{name}: {path} answered {seen['status']} {body!r}")
    if len(set_cookies) != (expected != b"ok" if writes is None else writes):
        raise RuntimeError(f"{name}: {path} set {len(set_cookies)} session cookies")
    if set_cookies:
        size = len(set_cookies[0])
        SET_COOKIE_BYTES[name] = size
        if size_range and not size_range[0] <= size <= size_range[1]:
            raise RuntimeError(f"{name}: Set-Cookie is {size} bytes, not in {size_range}")
        if size > 4096:
            raise RuntimeError(f"{name}: Set-Cookie is {size} bytes, over 4096")
    WARNINGS_IN_3_REQUESTS[name] = counter.count
    cases[name] = op
    return set_cookies


def wsgi_cases(env, pkg):
    cases = {}
    for kind in ("pickle", "json"):
        factory = pkg.EncryptedCookieSessionFactory(SECRET, serializer=serializer_arg(env, kind))
        app = make_app(factory)
        small_cookie = session_cookie(factory, SMALL)
        # /plain carries the same cookies as /small, so the two differ only by the session.
        if kind == "pickle":
            add_request_case(cases, "wsgi.plain", app, small_cookie, "/plain", expected=b"ok")
        if kind == "pickle":
            # The floor: the same request with a session class that does nothing (same code in
            # both envs), so the report shows what our session costs above Pyramid's plumbing.
            floor = make_app(null_session_class())
            add_request_case(cases, "wsgi.floor", floor, small_cookie, "/small")
        add_request_case(cases, f"wsgi.small.{kind}", app, small_cookie, "/small")
        add_request_case(cases, f"wsgi.large.{kind}", app, session_cookie(factory, LARGE), "/large")
        if kind != "pickle":
            detect_changes_cases(cases, env, pkg, small_cookie)
            continue
        for size in ("below", "zone"):
            # The factory's first cookie of this size: 2.0 may log its one size warning here.
            with counting() as setup:
                cookie = session_cookie(factory, WSGI_STATES[size], limit=None)
            WARNINGS_IN_SETUP[f"wsgi.{size}.pickle"] = setup.count
            add_request_case(
                cases,
                f"wsgi.{size}.pickle",
                app,
                cookie,
                "/" + size,
                size_range=SET_COOKIE_RANGES[size],
            )

        # The same view answering with request.response, with the stock classes and with an
        # app's own Request and Response subclasses (the path that must honour their hooks).
        add_request_case(cases, "wsgi.respond.small.pickle", app, small_cookie, "/respond")
        AppRequest, AppResponse = app_classes()
        hooked = make_app(factory, AppRequest, lambda request, cls=AppResponse: cls())
        AppRequest.calls = AppResponse.calls = 0
        set_cookies = add_request_case(
            cases, "wsgi.hooks.small.pickle", hooked, small_cookie, "/respond"
        )
        HOOKS_HONOURED["wsgi.hooks.small.pickle"] = {
            "request.cookies read": AppRequest.calls > 0,
            "response.set_cookie called": AppResponse.calls > 0,
            "cookie carries Secure": "secure" in set_cookies[0].lower(),
        }

    for ref, factory in reference_factories().items():
        app = make_app(factory)
        for size in ("small", "large", "zone"):
            name = f"ref.wsgi.{ref}.{size}"
            try:
                cookie = session_cookie(factory, WSGI_STATES[size], limit=None)
            except Exception as exc:  # Beaker refuses a cookie past its own limit
                SKIPPED[name] = f"{type(exc).__name__}: {exc}"
                continue
            if len(cookie) > 4000:
                SKIPPED[name] = f"its cookie value is {len(cookie)} bytes, too long for a browser"
                continue
            add_request_case(cases, name, app, cookie, "/" + size)
    return cases


def detect_changes_cases(cases, env, pkg, cookie):
    """``detect_changes``, on and off in the same run: a view that only reads the
    small JSON session, with ``reissue_time`` 600 so that no reissue writes it, and /plain
    (which never touches the session) on the same two factories. 1.0.0 has no such option: its
    two rows run the same factory, and show the noise."""
    import inspect

    if "detect_changes" not in inspect.signature(pkg.EncryptedCookieSessionFactory).parameters:
        if env == "ours":  # an older build of ours, measured for a before/after comparison
            SKIPPED["wsgi.read.json"] = "this build has no detect_changes"
            return
    off = {"detect_changes": False} if env == "ours" else {}
    for suffix, extra in (("", {}), (".detect_off", off)):
        factory = pkg.EncryptedCookieSessionFactory(
            SECRET, serializer=serializer_arg(env, "json"), reissue_time=600, **extra
        )
        app = make_app(factory)
        add_request_case(cases, f"wsgi.read.json{suffix}", app, cookie, "/read", writes=False)
        add_request_case(cases, f"wsgi.plain.json{suffix}", app, cookie, "/plain", expected=b"ok")


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
        "set_cookie_bytes": SET_COOKIE_BYTES,
        "warnings_in_setup": WARNINGS_IN_SETUP,
        "warnings_in_3_requests": WARNINGS_IN_3_REQUESTS,
        "hooks_honoured": HOOKS_HONOURED,
        "skipped": SKIPPED,
        "logging": LOGGING_NOTE,
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
    configure_logging()
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
