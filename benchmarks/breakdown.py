"""Where a session request's time goes, in the real request path: run in the environment with
our package (after ``maturin develop --release``)::

    python benchmarks/breakdown.py [small|large|below|zone] [json|pickle]

Times whole WSGI requests (CPU clock, best of 7) to ``/plain`` (no session work), and to the
route of the named state (workload.py's; ``below`` and ``zone`` are the 70-key sessions just
below and inside the size-warning zone) with a do-nothing session class (Pyramid's own
plumbing), and with our session with the sealing and/or the opening replaced by a stub that
returns a prepared result, so that each difference is what that piece costs in place.
"""

import sys
import time
import timeit

from pyramid.interfaces import ISession
from zope.interface import implementer

import workload as w
from pyramid_nacl_session import EncryptedCookieSessionFactory


@implementer(ISession)
class NullSession(dict):
    """Pyramid's session plumbing and nothing else: a callback that sets a constant cookie."""

    def __init__(self, request):
        dict.__init__(self, user_id=1)
        self.request = request
        request.add_response_callback(self._callback)

    def _callback(self, request, response):
        response.headerlist.append(("Set-Cookie", "session=x; Path=/"))

    def changed(self):
        pass


class Stub:
    """Stands in for the factory's EncryptedSerializer, stubbing what it is told to."""

    def __init__(self, real, cookie, stub_dumps, stub_open):
        self.real, self.stub_dumps, self.stub_open = real, stub_dumps, stub_open
        self.opened = real.open_cookie(cookie)
        self.sealed = real.dumps_session(1.0, 2.0, {"a": 1})
        self.serializer_name = real.serializer_name

    def dumps_session(self, accessed, created, state):
        return self.sealed if self.stub_dumps else self.real.dumps_session(accessed, created, state)

    def open_cookie(self, value):
        return self.opened if self.stub_open else self.real.open_cookie(value)


def per_request_us(app, environ, n=2000):
    def start_response(status, headers, exc_info=None):
        pass

    def run():
        for _ in range(n):
            b"".join(app(dict(environ), start_response))

    run()
    timer = timeit.Timer(run, timer=time.thread_time)
    return min(timer.repeat(number=1, repeat=7)) / n * 1e6


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
        ("do-nothing session class", per_request_us(w.make_app(NullSession), environ)),
    ]
    real = factory._serializer
    for label, stub_dumps, stub_open in [
        ("ours, sealing and opening stubbed", 1, 1),
        ("ours, sealing stubbed", 1, 0),
        ("ours, opening stubbed", 0, 1),
        ("ours", 0, 0),
    ]:
        factory._serializer = Stub(real, cookie, stub_dumps, stub_open)
        rows.append((label, per_request_us(app, environ)))
    factory._serializer = real
    print(f"{size} session, {kind}; CPU microseconds per request")
    for label, us in rows:
        print(f"  {label:36s} {us:6.1f}")


if __name__ == "__main__":
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    main(*sys.argv[1:])
