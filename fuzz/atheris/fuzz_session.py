"""atheris: an arbitrary Cookie header through a real Pyramid request into the session factory.

The factory must give a session (fresh unless the header carries a real cookie), never raise.
Two factories: one under a key nobody knows (every session must be fresh and empty), and one
under the key the seed cookies were sealed with (fuzz/seeds/find_cookie), JSON with
migrate_pickle, so mutated headers around real 1.0 pickle and JSON cookies reach the decoders.
Run: python fuzz/atheris/fuzz_session.py [libFuzzer flags] [corpus dirs]; see fuzz/README.md.
"""

import os
import sys

import atheris

with atheris.instrument_imports():
    from pyramid.request import Request

    from pyramid_nacl_session import EncryptedCookieSessionFactory

SEED_KEY = bytes([1]) * 32  # the key fuzz/make_seeds.py seals with
UNKNOWN = EncryptedCookieSessionFactory(os.urandom(32), serializer="json", migrate_pickle=True)
KNOWN = EncryptedCookieSessionFactory(
    [SEED_KEY, bytes([2]) * 32], serializer="json", migrate_pickle=True
)


def TestOneInput(data: bytes) -> None:
    # A WSGI environ holds header text as latin-1 str.
    header = data.decode("latin-1")
    request = Request.blank("/")
    request.environ["HTTP_COOKIE"] = header
    session = UNKNOWN(request)
    if not session.new or dict(session):
        raise AssertionError("a session came out of a header without a valid cookie")
    request = Request.blank("/")
    request.environ["HTTP_COOKIE"] = header
    session = KNOWN(request)
    dict(session)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
