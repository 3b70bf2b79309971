"""``decode --signed``: verify a cookie of Pyramid's SignedCookieSessionFactory (the one a
``migrate_signed_*`` move reads) and show its session."""

import argparse
import os
import sys
from typing import Any

from .._core import (
    DEFAULT_HASHALG,
    DEFAULT_SALT,
    BadPayload,
    BadSignature,
    CookieTooShort,
    MalformedCookie,
    SignedCookieReader,
)
from .base import EXIT_OK, SIGNED_ENV_VAR, Unreadable, UsageError, print_json
from .ini import app_options
from .report import cookie_value, report


def run(args: argparse.Namespace) -> int:
    """Run ``decode --signed``; return the exit status."""
    if getattr(args, "key_sources", None):
        raise UsageError(
            f"--signed takes its signing secret from ${SIGNED_ENV_VAR} or --ini, not from "
            "--secret, --secret-file or --secret-prompt"
        )
    options: dict[str, Any] = {"salt": DEFAULT_SALT, "hashalg": DEFAULT_HASHALG}
    serializer = "json"
    secret: Any = os.environ.get(SIGNED_ENV_VAR, "")
    source = f"${SIGNED_ENV_VAR}"
    if not secret and args.ini:
        # Read and checked as the app reads them: one reader for the app and the command line.
        found, names, where = app_options(args.ini, args.app, need_secret=False)
        secret = found.get("migrate_signed_secret") or ""
        options["salt"] = found.get("migrate_signed_salt", DEFAULT_SALT)
        options["hashalg"] = found.get("migrate_signed_hashalg", DEFAULT_HASHALG)
        serializer = found.get("migrate_signed_serializer", serializer)
        source = f"{names.get('migrate_signed_secret', 'migrate_signed_secret')} of {where}"
    if not secret:
        raise UsageError(
            f"no signing secret: set {SIGNED_ENV_VAR}, or point --ini FILE [--app NAME] at an "
            ".ini file with session.migrate_signed_secret"
        )
    if args.salt is not None:
        options["salt"] = args.salt
    if args.hashalg is not None:
        hashalg = args.hashalg.strip().lower()
        if hashalg not in SignedCookieReader.HASHALGS:
            # Not the value: it may be a key typed in the wrong place.
            raise UsageError(
                f"--hashalg: expected one of {', '.join(SignedCookieReader.HASHALGS)} "
                "(the value given is not shown)"
            )
        options["hashalg"] = hashalg
    cookie = cookie_value(sys.stdin.read() if args.cookie == "-" else args.cookie)
    opened, error = None, None
    try:
        for kind in dict.fromkeys([serializer, "pickle"]):  # JSON, then a pickle of plain data
            reader = SignedCookieReader(secret, serializer=kind, **options)
            try:
                opened = reader.read_value(cookie), kind
                break
            except BadPayload as e:
                error = e
    except MalformedCookie:
        raise Unreadable("not a signed session cookie: bad base64") from None
    except CookieTooShort:
        raise Unreadable("not a signed session cookie: shorter than its signature") from None
    except BadSignature:
        raise Unreadable(
            f"the signature does not verify under {source} (or another salt or hashalg)"
        ) from None
    except ValueError as e:  # its text may quote --salt, which may be a key: only its kind
        raise UsageError(f"--signed: the reader refused its options ({type(e).__name__})") from None
    if opened is None:
        raise Unreadable(f"not a pyramid session, or a pickle that is not plain data: {error}")
    (state, renewed, created), kind = opened
    payload = "json (signed)" if kind == "json" else "pickle (plain data, signed)"
    print_json(report(state, renewed, created, f"the signing secret from {source}", payload))
    return EXIT_OK
