"""What the migrate_signed_* move costs, side by side with Pyramid's own signed cookie reader.

    python benchmarks/migrate_signed.py [--rounds N]

Cases, each the median over rounds of the best per-round ns/op:
- reading a Pyramid signed cookie (HMAC-SHA512 check, JSON payload, the session triple): WebOb's
  ``SignedSerializer.loads`` (what ``SignedCookieSessionFactory`` runs) against our
  ``SignedCookieReader.read_value``, for a small session and one near the cookie limit;
- a whole request through a real Pyramid app (a view that reads the session), on our factory:
  with our own cookie, with and without the migration configured (the cost it adds to users who
  have moved: nothing is read); with no cookie at all and the old cookie under another name (the
  extra Cookie-header scan a new visitor pays); and the moving request itself (verify, load,
  reseal as ours, delete the old cookie).
"""

import argparse
import statistics
import sys
import time
import timeit

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.session import SignedCookieSessionFactory
from webob.cookies import SignedSerializer

from pyramid_nacl_session import EncryptedCookieSessionFactory
from pyramid_nacl_session._core import SignedCookieReader

OLD_SECRET = "an old signing secret"
KEY = bytes(range(32))


def sessions():
    now = time.time()
    small = {"user": "alice", "_csrft_": "0" * 40, "_f_": ["welcome back"]}
    # About 3.4 KB of signed cookie: the zone where apps live for months.
    large = {f"key{i:02d}": "v" * 24 for i in range(70)} | small
    return {"small": (now, now, small), "large (3.4 KB)": (now, now, large)}


def app(factory):
    config = Configurator()
    config.set_session_factory(factory)

    def view(request):
        request.response.text = str(request.session.get("user"))
        return request.response

    config.add_route("v", "/")
    config.add_view(view, route_name="v")
    return config.make_wsgi_app()


def request_case(wsgi, cookie_header):
    environ = Request.blank("/", headers={"Cookie": cookie_header} if cookie_header else {}).environ

    def run():
        env = dict(environ)
        out = []
        wsgi(env, lambda status, headers, exc_info=None: out.append(headers))
        return out

    return run


def measure(fn, rounds, number):
    per_round = []
    for _ in range(rounds):
        per_round.append(min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e9)
    return statistics.median(per_round)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    signer = SignedSerializer(OLD_SECRET, "pyramid.session.", "sha512")
    reader = SignedCookieReader(OLD_SECRET)
    rows = []
    for name, value in sessions().items():
        cookie = signer.dumps(value).decode()
        assert reader.read_value(cookie)[0] == signer.loads(cookie)[2]
        webob = measure(lambda c=cookie: signer.loads(c), args.rounds, 2000)
        ours = measure(lambda c=cookie: reader.read_value(c), args.rounds, 2000)
        rows.append((f"read a signed cookie, {name} ({len(cookie)} B)", webob, ours))

    plain = EncryptedCookieSessionFactory(KEY, serializer="json")
    moving = EncryptedCookieSessionFactory(
        KEY, serializer="json", migrate_signed_secret=OLD_SECRET, migrate_signed_cookie_name="old"
    )
    old_app = app(SignedCookieSessionFactory(OLD_SECRET, cookie_name="old"))
    small = sessions()["small"]
    ours_cookie = plain(Request.blank("/"))._codec.write(None, *small, None, None, None)
    old_cookie = signer.dumps(small).decode()
    request_rows = [
        ("request, our cookie: no migration", plain, f"session={ours_cookie}"),
        ("request, our cookie: migration on", moving, f"session={ours_cookie}"),
        ("request, no cookie: no migration", plain, None),
        ("request, no cookie: migration on", moving, None),
        ("request, the moving one (verify, reseal)", moving, f"old={old_cookie}"),
    ]
    signed_request = measure(request_case(old_app, f"old={old_cookie}"), args.rounds, 500)
    for label, factory, header in request_rows:
        ns = measure(request_case(app(factory), header), args.rounds, 500)
        rows.append((label, None, ns))
    rows.append(("request on SignedCookieSessionFactory itself", None, signed_request))

    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds; ns/op (median of best)")
    print(f"{'case':58} {'WebOb':>9} {'ours':>9} {'ratio':>7}")
    for label, webob, ours in rows:
        if webob is None:
            print(f"{label:58} {'':>9} {ours:9.0f}")
        else:
            print(f"{label:58} {webob:9.0f} {ours:9.0f} {webob / ours:6.1f}x")


if __name__ == "__main__":
    main()
