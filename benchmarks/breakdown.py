"""Where a session request's time goes, in the real request path: run in the environment with
our package (after ``maturin develop --release``)::

    python benchmarks/breakdown.py [small|large|below|zone] [json|pickle] [--quick]
    python benchmarks/breakdown.py hooks [--quick]

Times whole WSGI requests (CPU clock, best of 7) to ``/plain`` (no session work), and to the
route of the named state (workload.py's; ``below`` and ``zone`` are the 70-key sessions just
below and inside the size-warning zone) with a do-nothing session class (Pyramid's own
plumbing), and with our session with its one native call each way (``SessionCodec.read_header``,
``SessionCodec.write``) replaced by a stub that returns a prepared result, so that each
difference is what that piece costs in place; then each native call alone.

``hooks`` times the small pickle session on the view that answers with ``request.response``,
with the stock classes, with subclasses that override nothing (they must stay on the fast path),
and with workload.py's app classes overriding ``cookies`` and/or ``set_cookie`` (the path that
goes through them, as Pyramid does); then WebOb's cookie parsing and ``set_cookie`` alone.
"""

import argparse
import sys
import time
import timeit

import workload as w
from pyramid_nacl_session import EncryptedCookieSessionFactory


class Stub:
    """Stands in for the factory's SessionCodec (the one native call each way), stubbing the
    read and/or the write with a prepared result; every other attribute is the real codec's, so
    the stub follows the codec's interface as it changes."""

    def __init__(self, real, cookie_header, stub_write, stub_read):
        self.real, self.stub_write, self.stub_read = real, stub_write, stub_read
        self.opened = real.read_header(cookie_header)
        self.written = real.write([], 1.0, 2.0, {"a": 1}, None, None, None)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def read_header(self, header, *args):
        if self.stub_read:
            # A fresh state each time (the session changes it), the rest as read, renewed now.
            state, _, created, *rest = self.opened
            return (dict(state), time.time(), created, *rest)
        return self.real.read_header(header, *args)

    def write(self, *args, **kwargs):
        return self.written if self.stub_write else self.real.write(*args, **kwargs)


#: (calls per round, rounds): --quick makes it a smoke run that only proves the script works.
EFFORT = {"isolated": 20000, "requests": 2000, "repeat": 7}


def isolated_us(fn):
    """CPU microseconds per call of ``fn`` alone, best of 7."""
    n = EFFORT["isolated"]
    fn()
    timer = timeit.Timer(fn, timer=time.thread_time)
    return min(timer.repeat(number=n, repeat=EFFORT["repeat"])) / n * 1e6


def per_request_us(app, environ):
    n = EFFORT["requests"]

    def start_response(status, headers, exc_info=None):
        pass

    def run():
        for _ in range(n):
            b"".join(app(dict(environ), start_response))

    run()
    timer = timeit.Timer(run, timer=time.thread_time)
    return min(timer.repeat(number=1, repeat=EFFORT["repeat"])) / n * 1e6


def main(size="small", kind="json"):
    w.configure_logging()  # as the benchmark has it: an app's production.ini
    factory = EncryptedCookieSessionFactory(w.SECRET, serializer=None if kind == "pickle" else kind)
    cookie = w.session_cookie(factory, w.WSGI_STATES[size], limit=None)
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/" + size,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "HTTP_COOKIE": w.cookie_header(cookie),
    }
    app = w.make_app(factory)
    rows = [
        ("/plain (no session work)", per_request_us(app, dict(environ, PATH_INFO="/plain"))),
        ("do-nothing session class", per_request_us(w.make_app(w.null_session_class()), environ)),
    ]
    session_class = factory  # the factory is the session class it made
    real = session_class._codec
    for label, stub_write, stub_read in [
        ("ours, reading and writing stubbed", 1, 1),
        ("ours, writing stubbed", 1, 0),
        ("ours, reading stubbed", 0, 1),
        ("ours", 0, 0),
    ]:
        session_class._codec = Stub(real, environ["HTTP_COOKIE"], stub_write, stub_read)
        rows.append((label, per_request_us(app, environ)))
    session_class._codec = real
    # Each native crossing alone, outside a request (warm caches): the lower bound of its cost.
    state, renewed, created, *_ = real.read_header(environ["HTTP_COOKIE"])
    rows.append(
        (
            "alone: read_header (Cookie -> state)",
            isolated_us(lambda: real.read_header(environ["HTTP_COOKIE"])),
        )
    )
    rows.append(
        (
            "alone: header (state -> Set-Cookie)",
            isolated_us(lambda: real.write([], renewed, created, state, None, None, None)),
        )
    )
    print(f"{size} session, {kind}; CPU microseconds per request")
    for label, us in rows:
        print(f"  {label:40s} {us:6.1f}")


def hooks():
    from pyramid.request import Request
    from pyramid.response import Response

    w.configure_logging()
    factory = EncryptedCookieSessionFactory(w.SECRET)
    cookie = w.session_cookie(factory, w.SMALL)
    environ = w.template_environ("/respond", w.cookie_header(cookie))
    AppRequest, AppResponse = w.app_classes()

    class SubRequest(Request):
        """Overrides nothing: WebOb's cookies is still in effect."""

    class SubResponse(Response):
        """Overrides nothing: WebOb's set_cookie is still in effect."""

    apps = [
        ("stock classes", w.make_app(factory)),
        ("Request subclass overriding nothing", w.make_app(factory, SubRequest)),
        (
            "Response subclass overriding nothing",
            w.make_app(factory, None, lambda request: SubResponse()),
        ),
        ("app's Request (cookies)", w.make_app(factory, AppRequest)),
        ("app's Response (set_cookie)", w.make_app(factory, None, lambda request: AppResponse())),
        ("both", w.make_app(factory, AppRequest, lambda request: AppResponse())),
    ]
    print("small session, pickle, view answering with request.response; CPU us per request")
    for label, app in apps:
        print(f"  {label:40s} {per_request_us(app, environ):6.1f}")
    response = Response()
    kept = len(response.headerlist)

    def set_cookie():
        del response.headerlist[kept:]
        response.set_cookie("session", value=cookie, path="/", secure=True, samesite="Lax")

    print("alone (warm caches):")
    parse = isolated_us(lambda: Request(environ.copy()).cookies.get("session"))
    print(f"  {'WebOb: Request(environ).cookies.get':40s} {parse:6.1f}")
    print(f"  {'WebOb: Response.set_cookie':40s} {isolated_us(set_cookie):6.1f}")


if __name__ == "__main__":
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    parser = argparse.ArgumentParser(description=__doc__.split("::")[0])
    parser.add_argument("what", nargs="?", default="small", choices=[*w.WSGI_STATES, "hooks"])
    parser.add_argument("kind", nargs="?", default="json", choices=["json", "pickle"])
    parser.add_argument("--quick", action="store_true", help="a few calls, one round: a smoke run")
    args = parser.parse_args()
    if args.quick:
        EFFORT.update(isolated=200, requests=20, repeat=1)
    if args.what == "hooks":
        hooks()
    else:
        main(args.what, args.kind)
