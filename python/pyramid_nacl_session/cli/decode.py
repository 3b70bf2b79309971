"""``decode``: open a session cookie with the app's keys and show what it holds.

``decode`` never unpickles: JSON payloads are read natively and pickles only through the core's
decoder of plain data, which runs no pickle code.
"""

import argparse
import sys
from typing import Any

from .._core import (
    BadPayload,
    CookieTooShort,
    DecryptionFailed,
    EncryptedSerializer,
    MalformedCookie,
    RefusedPickle,
)
from .argv import VALUE_OPTIONS, Arguments
from .base import ENV_VAR, EXIT_OK, SIGNED_ENV_VAR, Unreadable, UsageError, print_json
from .keys import KeySource, keys
from .report import cookie_value, report


def add_parser(commands: Any, arguments: Arguments) -> None:
    """Add the ``decode`` command to ``commands`` (an argparse subparsers object)."""
    decode = commands.add_parser(
        "decode",
        help="decrypt a session cookie and print its contents as JSON",
        usage="%(prog)s [--secret-file PATH] [--secret-prompt] [--secret HEX]... "
        "[--ini FILE [--app NAME]] COOKIE\n"
        "       %(prog)s --signed [--salt SALT] [--hashalg NAME] [--ini FILE [--app NAME]] COOKIE",
        description="Decrypt a session cookie and print its timestamps, which key opened it "
        "and its state as a JSON object. Pickle payloads (from 1.0 or pickle mode) are shown "
        "only when they hold plain data; they are never unpickled, so a hostile cookie cannot "
        "run code. Keys are taken from --secret-file, --secret-prompt and --secret (together, "
        f"in the order given), else from ${ENV_VAR}, else from --ini. "
        "Exit status: 0 decoded, 1 the cookie cannot be read (reason on stderr), 2 usage error.",
        epilog="--secret puts the key on the command line, where other users of the machine "
        "see it and shell history keeps it: prefer --secret-file, --secret-prompt, "
        f"${ENV_VAR} or --ini.",
    )
    add = arguments.add
    add(
        decode,
        "cookie",
        nargs="?",  # checked by argv.parse, since argparse's own error would quote the arguments
        metavar="COOKIE",
        help="the cookie value, or 'name=value' as copied from a browser or a Set-Cookie header, "
        "or '-' to read it from standard input",
    )
    add(
        decode,
        "--secret-file",
        action=KeySource,
        metavar="PATH",
        help="a file holding hex keys separated by spaces or newlines, '#' comments allowed "
        "(as written by 'pyramid-nacl-session secret > PATH', or an app's secret_file), or '-' "
        "for standard input",
    )
    add(
        decode,
        "--secret-prompt",
        action=KeySource,
        nargs=0,
        help="ask for the keys on the terminal, without echo",
    )
    add(
        decode,
        "--secret",
        action=KeySource,
        metavar="HEX",
        help="a key as 64 hex digits; repeat for several keys (any of them may open the cookie)",
    )
    add(
        decode,
        "--ini",
        metavar="FILE",
        help="a Paste .ini file: keys are read as the app reads them, from its secret, "
        "secret_file or secret_env setting (under pynacl.session. or session.), checked as the "
        "app checks its settings. This imports the app "
        "named by 'use =': the file must be trusted and the app installed",
    )
    add(
        decode,
        "--app",
        metavar="NAME",
        help="the app section of --ini to read, [app:NAME] (default: main)",
    )
    add(
        decode,
        "--signed",
        action="store_true",
        help="read a cookie of Pyramid's SignedCookieSessionFactory instead (a migrate_signed_* "
        f"move): the signing secret is taken from ${SIGNED_ENV_VAR}, else from the app's "
        "session.migrate_signed_* settings in --ini",
    )
    add(decode, "--salt", metavar="SALT", help="with --signed: the old factory's salt")
    add(decode, "--hashalg", metavar="NAME", help="with --signed: the old factory's hashalg")
    decode.set_defaults(run=run)
    arguments.options["decode"] = ["--help", *VALUE_OPTIONS, "--secret-prompt", "--signed"]


def run(args: argparse.Namespace) -> int:
    """Run ``decode``; return the exit status."""
    if args.signed:
        from .signed import run as run_signed

        return run_signed(args)
    if args.salt is not None or args.hashalg is not None:
        raise UsageError("--salt and --hashalg go with --signed")
    found = keys(args)
    for index, (key, source) in enumerate(found):
        try:
            EncryptedSerializer(key, "json")
        except ValueError as e:  # the core's messages name lengths and types, never a key
            raise UsageError(
                f"bad key (key {index + 1} of {len(found)}, from {source}): {e}"
            ) from None
    serializer = EncryptedSerializer([key for key, _ in found], "json", migrate_pickle=True)
    cookie = cookie_value(sys.stdin.read() if args.cookie == "-" else args.cookie)
    state, accessed, created, key_index, payload = _open(cookie, serializer)
    opened_by = f"key {key_index + 1} of {len(found)}"
    print_json(report(state, accessed, created, opened_by, payload))
    return EXIT_OK


def _open(cookie: str, serializer: EncryptedSerializer) -> "tuple[Any, float, float, int, str]":
    """Open the cookie, with the check of the session triple that the app's requests use; return
    ``(state, accessed, created, index of the key that opened it, payload kind)``."""
    try:
        state, accessed, created, key_index, migrated = serializer.open_session(cookie)
    except MalformedCookie:
        raise Unreadable("not a session cookie: bad base64") from None
    except CookieTooShort:
        raise Unreadable("not a session cookie: too short to hold a nonce and a tag") from None
    except DecryptionFailed:
        count = serializer.key_count
        raise Unreadable(
            f"wrong key or tampered (tried {count} key{'s' if count != 1 else ''})"
        ) from None
    except RefusedPickle as e:
        raise Unreadable(
            f"holds a pickle that was not decoded (decode never unpickles, since that could run "
            f"code): {e}"
        ) from None
    except BadPayload as e:
        raise Unreadable(f"not a pyramid session: {e}") from None
    return state, accessed, created, key_index, "pickle (plain data)" if migrated else "json"
