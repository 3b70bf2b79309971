"""``pyramid-nacl-session``: the operator's command line (new keys, and reading a session cookie).

``decode`` never unpickles: JSON payloads are read natively and pickles only through the core's
decoder of plain data, which runs no pickle code.
"""

import argparse
import configparser
import datetime
import json
import os
import sys
from collections.abc import Sequence
from typing import Optional

from ._core import (
    BadPayload,
    CookieTooShort,
    DecryptionFailed,
    EncryptedSerializer,
    MalformedCookie,
    generate_secret,
)
from .settings import PREFIXES

__all__ = ["main", "ENV_VAR"]

PROG = "pyramid-nacl-session"
ENV_VAR = "PYRAMID_NACL_SESSION_SECRET"
#: Read in the order in which session_factory_from_settings lets them win: pynacl.session.* first.
SECRET_SETTINGS = tuple(prefix + "secret" for prefix in reversed(PREFIXES))

EXIT_OK, EXIT_UNREADABLE, EXIT_USAGE = 0, 1, 2
#: How the core's BadPayload starts when the plain-data pickle decoder refused a payload.
PICKLE_REFUSED = "cookie payload is not a pickle of plain data"


class UsageError(Exception):
    """Bad or missing input from the operator (exit status 2)."""


class Unreadable(Exception):
    """The cookie cannot be read (exit status 1)."""


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(_cookie_after_dashdash(sys.argv[1:] if argv is None else argv))
    except SystemExit as e:  # --help, or a usage error argparse has already reported
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        return args.run(args)
    except UsageError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Unreadable as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return EXIT_UNREADABLE


def _cookie_after_dashdash(argv):
    """A base64url cookie may start with '-', which argparse would take for an option: put
    ``--`` before any such argument that is not one of our options."""
    options = {"-h", "--help", "--secret", "--ini", "--app", "-", "--"}
    argv = list(argv)
    if "--" in argv:
        return argv
    for i, arg in enumerate(argv):
        if arg.startswith("-") and arg.split("=", 1)[0] not in options:
            if i == 0 or argv[i - 1] not in ("--secret", "--ini", "--app"):
                return argv[:i] + ["--"] + argv[i:]
    return argv


def _parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        allow_abbrev=False,
        description="Operator tools for pyramid_nacl_session encrypted cookie sessions.",
    )
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    commands.required = True

    secret = commands.add_parser(
        "secret",
        help="print a new random key",
        description="Print a new random 32-byte key as 64 hex digits, for session.secret. "
        "To rotate keys, put the new key first and keep the old ones after it.",
    )
    secret.set_defaults(run=_secret)

    decode = commands.add_parser(
        "decode",
        allow_abbrev=False,
        help="decrypt a session cookie and print its contents as JSON",
        description="Decrypt a session cookie and print its timestamps and state as a JSON "
        "object. Pickle payloads (from 1.0 or pickle mode) are shown only when they hold plain "
        "data; they are never unpickled, so a hostile cookie cannot run code. Keys are taken "
        f"from --secret, else from ${ENV_VAR}, else from --ini (the first of these given). "
        "Exit status: 0 decoded, 1 the cookie cannot be read (reason on stderr), 2 usage error.",
        epilog=f"Prefer ${ENV_VAR} or --ini to --secret: command lines are visible to other "
        "users of the machine and kept in shell history.",
    )
    decode.add_argument(
        "cookie",
        metavar="COOKIE",
        help="the cookie value, or 'name=value' as copied from a browser or a Set-Cookie header, "
        "or '-' to read it from standard input",
    )
    decode.add_argument(
        "--secret",
        action="append",
        metavar="HEX",
        help="a key as 64 hex digits; repeat for several keys (any of them may open the cookie)",
    )
    decode.add_argument(
        "--ini",
        metavar="FILE",
        help="a Paste .ini file: keys are read from the app's pynacl.session.secret or "
        "session.secret setting",
    )
    decode.add_argument(
        "--app",
        metavar="NAME",
        help="the app section of --ini to read, [app:NAME] (default: main)",
    )
    decode.set_defaults(run=_decode)

    from .cli_revoke import add_parser as add_revoke

    add_revoke(commands, UsageError, Unreadable)
    return parser


def _secret(args):
    print(generate_secret().decode("ascii"))
    return EXIT_OK


def _decode(args):
    keys, source = _keys(args)
    try:
        serializer = EncryptedSerializer(keys, "json", migrate_pickle=True)
    except ValueError as e:  # the core's messages name lengths and types, never a key
        raise UsageError(f"bad key in {source}: {e}") from None
    cookie = _cookie_value(sys.stdin.read() if args.cookie == "-" else args.cookie)
    opened = _open(cookie, serializer)
    print(json.dumps(_report(*opened), indent=2, ensure_ascii=False))
    return EXIT_OK


def _keys(args):
    """The keys as a list of hex strings, and where they came from (for messages)."""
    if args.secret:
        return args.secret, "--secret"
    env = os.environ.get(ENV_VAR, "").split()
    if env:
        return env, f"${ENV_VAR}"
    if args.ini:
        return _keys_from_ini(args.ini, args.app)
    raise UsageError(
        f"no keys: give --secret HEX, set {ENV_VAR} (hex keys separated by spaces), "
        "or point --ini FILE [--app NAME] at the app's .ini file"
    )


def _keys_from_ini(path, app):
    from pyramid.paster import get_appsettings

    # name=None reads [app:main], or the section named in 'FILE#name'.
    where = f"{path} [app:{app or 'main'}]"
    if not os.path.isfile(path.split("#", 1)[0]):
        raise UsageError(f"--ini: no such file: {path}")
    try:
        settings = get_appsettings(path, name=app)
    except configparser.Error as e:
        # Its message quotes the offending lines, which may hold a key: give line numbers only.
        lines = sorted(
            {n for n, _ in getattr(e, "errors", [])} | {getattr(e, "lineno", None)} - {None}
        )
        at = f" (line {', '.join(map(str, lines))})" if lines else ""
        raise UsageError(f"--ini: {path} is not a valid .ini file{at}") from None
    except Exception as e:  # PasteDeploy raises LookupError, ValueError, ImportError, ...
        raise UsageError(f"--ini: cannot read the app settings of {where}: {e}") from None
    for name in SECRET_SETTINGS:
        keys = str(settings.get(name) or "").split()
        if keys:
            return keys, f"{name} of {where}"
    raise UsageError(f"--ini: {where} has no session.secret (nor pynacl.session.secret)")


def _cookie_value(text):
    """The cookie value from what the operator pasted: a bare value, ``name=value``, or the
    start of a Set-Cookie header (``name=value; Path=/; ...``)."""
    text = text.strip().split(";", 1)[0].strip()
    name, sep, value = text.partition("=")
    # A bare padded value also holds '=', but only at its end.
    if sep and name.strip() and value.rstrip("="):
        text = value.strip()
    return text.strip('"')


def _open(cookie, serializer):
    """Open the cookie; return ``(state, accessed, created, payload kind)``."""
    try:
        state, accessed, created, _, migrated = serializer.open_session(cookie)
    except MalformedCookie:
        raise Unreadable("not a session cookie: bad base64") from None
    except CookieTooShort:
        raise Unreadable("not a session cookie: too short to hold a nonce and a tag") from None
    except DecryptionFailed:
        count = serializer.key_count
        raise Unreadable(
            f"wrong key or tampered (tried {count} key{'s' if count != 1 else ''})"
        ) from None
    except BadPayload as e:
        if PICKLE_REFUSED in str(e):
            raise Unreadable(
                f"holds a pickle that was not decoded, since unpickling it could run code ({e})"
            ) from None
        raise Unreadable(f"not a pyramid session: {e}") from None
    return state, accessed, created, "pickle (plain data)" if migrated else "json"


def _report(state, accessed, created, payload):
    try:
        accessed_utc, created_utc = _utc(accessed), _utc(created)
    except (ValueError, OverflowError, OSError):
        raise Unreadable("not a pyramid session: its times are out of range") from None
    return {
        "created": created,
        "created_utc": created_utc,
        "accessed": accessed,
        "accessed_utc": accessed_utc,
        "payload": payload,
        "state": _jsonable(state),
    }


def _utc(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()


def _jsonable(obj):
    """``obj`` with what JSON cannot hold (bytes, sets, non-str keys from a pickle) as repr()."""
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else repr(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return repr(obj)
