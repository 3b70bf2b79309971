"""atheris: hostile input to EncryptedSerializer.loads through the Python API.

Each input is used twice: as cookie text for a pickle serializer under a key nobody knows (only
envelope failures may happen), and as the plaintext of a cookie sealed under a known key for the
JSON and migrate_pickle serializers (a leaked key: valid envelope, hostile payload).
Run: python fuzz/atheris/fuzz_serializer.py [libFuzzer flags] [corpus dirs]; see fuzz/README.md.
"""

import os
import sys

import atheris

with atheris.instrument_imports():
    from pyramid_nacl_session import (
        BadPayload,
        CookieError,
        EncryptedSerializer,
    )

KEY = bytes([9]) * 32
UNKNOWN = EncryptedSerializer(os.urandom(32), "pickle")
JSON = EncryptedSerializer(KEY, "json")
MIGRATE = EncryptedSerializer(KEY, "json", migrate_pickle=True)


class Passthrough:
    """Seals raw bytes, so the fuzzer picks the plaintext without PyNaCl."""

    def dumps(self, value):
        return value

    def loads(self, value):
        return value


SEALER = EncryptedSerializer(KEY, Passthrough())


def TestOneInput(data: bytes) -> None:
    # WSGI hands cookie text over as latin-1 str; the API also takes bytes.
    for cookie in (data, data.decode("latin-1")):
        try:
            UNKNOWN.loads(cookie)
        except CookieError as e:
            if isinstance(e, BadPayload):
                raise AssertionError("a forged cookie passed the envelope") from e
        else:
            raise AssertionError("a forged cookie opened")
    cookie = SEALER.dumps(data)
    for serializer in (JSON, MIGRATE):
        try:
            serializer.loads(cookie)
        except BadPayload:
            pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
