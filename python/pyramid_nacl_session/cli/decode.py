"""``pyramid-nacl-session``: the operator's command line (new keys, and reading a session cookie).

``decode`` never unpickles: JSON payloads are read natively and pickles only through the core's
decoder of plain data, which runs no pickle code.

Every value on this command line may be a key, typed in the wrong place. So no message ever
quotes a value the operator gave: messages name options, and the paths of files that exist.
argparse quotes values in its errors ("unrecognized arguments: K2", "invalid choice: 'K'",
"ignored explicit argument 'K'"), so its messages are never printed: it is run with
``exit_on_error=False`` and our own message is made from what it reports in structure (which
argument failed), never from its text.
"""

import argparse
import configparser
import datetime
import difflib
import getpass
import json
import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from typing import Optional

from . import __version__
from ._core import (
    DEFAULT_HASHALG,
    DEFAULT_SALT,
    SESSION_ID_LENGTH,
    BadPayload,
    BadSignature,
    CookieTooShort,
    DecryptionFailed,
    EncryptedSerializer,
    MalformedCookie,
    RefusedPickle,
    SignedCookieReader,
    generate_secret,
)
from .settings import PREFIXES

__all__ = ["main", "ENV_VAR", "SIGNED_ENV_VAR"]

PROG = "pyramid-nacl-session"
ENV_VAR = "PYRAMID_NACL_SESSION_SECRET"
#: The signing secret of a Pyramid SignedCookieSessionFactory, for ``decode --signed``.
SIGNED_ENV_VAR = "PYRAMID_NACL_SESSION_SIGNED_SECRET"
#: Read in the order in which session_factory_from_settings lets them win: pynacl.session.* first.
SECRET_SETTINGS = tuple(prefix + "secret" for prefix in reversed(PREFIXES))

EXIT_OK, EXIT_UNREADABLE, EXIT_USAGE = 0, 1, 2

#: The shortest session cookie: base64url, unpadded, of a 24-byte nonce and a 16-byte tag. A
#: shorter argument that starts with '-' is an option (maybe a mistyped one), never a cookie.
MIN_COOKIE_CHARS = (4 * (24 + 16) + 2) // 3
COOKIE_CHARS = re.compile(r"[A-Za-z0-9_-]+=*")
#: What an unknown option looks like, so that it can be named: a key or a cookie never does.
OPTION_NAME = re.compile(r"--[A-Za-z][A-Za-z0-9-]{0,23}|-[A-Za-z]")
#: The options that take a value (the argument after them is that value, never the cookie).
VALUE_OPTIONS = ("--secret", "--secret-file", "--ini", "--app", "--salt", "--hashalg")
#: Characters a terminal acts on or that change how text around them reads: C0 and C1 controls
#: (U+009B is CSI, which starts an escape sequence), bidi overrides and other format characters
#: (U+202E), lone surrogates, line and paragraph separators.
TERMINAL_ACTIVE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e\n]")


class UsageError(Exception):
    """Bad or missing input from the operator (exit status 2)."""


class Unreadable(Exception):
    """The cookie cannot be read (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    """argparse's parser, made to raise instead of printing an error that may quote a key."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(exit_on_error=False, **kwargs)

    def error(self, message):
        # Only errors argparse reports without an ArgumentError get here; _parse checks for
        # every one it knows of (a missing command or cookie) before argparse would. Its text
        # may quote a value, so it is dropped.
        raise UsageError(f"bad command line; see {self.prog} --help")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        args = _parse(list(sys.argv[1:] if argv is None else argv))
        return args.run(args)
    except SystemExit as e:  # --help or --version, printed by argparse
        return e.code if isinstance(e.code, int) else EXIT_OK
    except UsageError as e:
        _say(str(e))
        return EXIT_USAGE
    except Unreadable as e:
        _say(str(e))
        return EXIT_UNREADABLE


def _say(message):
    one_line = _escaped(message).replace("\n", "\\n")  # whatever a path in it holds
    print(f"{PROG}: {one_line}", file=sys.stderr)


def _parse(argv):
    argv, dashed = _take_dashed_values(argv)
    parser, kinds, options = _parser()
    try:
        args, unexpected = parser.parse_known_args(argv)
    except argparse.ArgumentError as e:
        raise UsageError(_argument_error(e.argument_name, kinds)) from None
    positional = {"decode": "cookie", "revoke": "value"}.get(args.command)
    if positional and getattr(args, positional) is None and dashed:
        setattr(args, positional, dashed.pop(0))
    if args.command == "decode":
        if args.cookie is None:
            raise UsageError(f"decode needs COOKIE; see {PROG} decode --help")
    if unexpected or dashed:
        command_options = options.get(args.command, [])
        raise UsageError(_unexpected(args.command, unexpected, len(dashed), command_options))
    if args.command is None:
        raise UsageError(f"give a command: secret, decode or revoke; see {PROG} --help")
    return args


def _take_dashed_values(argv):
    """A base64url cookie or session id may start with '-', which argparse would take for an
    option: take out every argument that can only be one of them, before argparse sees it. The
    rest of ``argv``, and the values taken out."""
    rest, cookies = [], []
    for i, arg in enumerate(argv):
        if arg == "--":
            return rest + argv[i:], cookies
        is_value = i > 0 and argv[i - 1] in VALUE_OPTIONS
        is_session_id = i > 0 and argv[i - 1] == "session" and len(arg) == SESSION_ID_LENGTH
        if (
            arg.startswith("-")
            and not is_value
            and (len(arg) >= MIN_COOKIE_CHARS or is_session_id)
            and COOKIE_CHARS.fullmatch(arg)
        ):
            cookies.append(arg)
        else:
            rest.append(arg)
    return rest, cookies


def _argument_error(name, kinds):
    """Our message for an ArgumentError about the argument ``name``, from what kind of argument
    it is, never from argparse's text."""
    kind, option = kinds.get(name, (None, name))
    if kind == "command":
        return "unknown command (not shown); the commands are: secret, decode, revoke"
    if kind == "flag":
        return f"{option} takes no value"
    if kind == "value":
        return f"{option} needs a value; see {PROG} --help"
    if name:  # argparse names an argument by our own option strings or metavar, never a value
        return f"{name}: bad or missing value (not shown); see {PROG} --help"
    return f"bad command line; see {PROG} --help"


def _unexpected(command, args, hidden, options):
    """Name what looks like an option; only count the rest (and the ``hidden`` arguments that
    looked like cookies), which may be a key or a cookie."""
    said = []
    for arg in args:
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2]
        if not OPTION_NAME.fullmatch(name):
            hidden += 1
            continue
        close = difflib.get_close_matches(name, options, n=1)
        said.append(f"unknown option {name}" + (f" (did you mean {close[0]}?)" if close else ""))
    if hidden:
        plural = "s" if hidden != 1 else ""
        said.append(f"{hidden} unexpected argument{plural} (not shown: it may be a key)")
    where = f"{command}: " if command else ""
    return f"{where}{'; '.join(said)}; see {' '.join(filter(None, (PROG, command)))} --help"


def _parser():
    """The parser; what kind each argument is, by the name argparse gives it in an
    ArgumentError; and each command's long options (for "did you mean")."""
    kinds, options = {}, {}

    def add(parser, *names, **kwargs):
        action = parser.add_argument(*names, **kwargs)
        kind = "flag" if action.nargs == 0 else "value"
        # argparse names an argument by all its option strings ("-h/--help"), or its metavar.
        name = "/".join(action.option_strings) or action.metavar
        kinds[name] = (kind, names[-1])
        return action

    parser = _Parser(
        prog=PROG,
        description="Operator tools for pyramid_nacl_session encrypted cookie sessions.",
    )
    kinds["-h/--help"] = ("flag", "--help")  # every parser's own
    add(parser, "--version", action="version", version=f"{PROG} {__version__}")
    options[None] = ["--help", "--version"]
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    kinds["COMMAND"] = ("command", "COMMAND")

    secret = commands.add_parser(
        "secret",
        help="print a new random key",
        description="Print a new random 32-byte key as 64 hex digits, for session.secret. "
        "To rotate keys, put the new key first and keep the old ones after it.",
    )
    secret.set_defaults(run=_secret)
    options["secret"] = ["--help"]

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
    add(
        decode,
        "cookie",
        nargs="?",  # checked by _parse, since argparse's own error would quote the arguments
        metavar="COOKIE",
        help="the cookie value, or 'name=value' as copied from a browser or a Set-Cookie header, "
        "or '-' to read it from standard input",
    )
    add(
        decode,
        "--secret-file",
        action=_KeySource,
        metavar="PATH",
        help="a file holding hex keys separated by spaces or newlines (as written by "
        f"'{PROG} secret > PATH'), or '-' for standard input",
    )
    add(
        decode,
        "--secret-prompt",
        action=_KeySource,
        nargs=0,
        help="ask for the keys on the terminal, without echo",
    )
    add(
        decode,
        "--secret",
        action=_KeySource,
        metavar="HEX",
        help="a key as 64 hex digits; repeat for several keys (any of them may open the cookie)",
    )
    add(
        decode,
        "--ini",
        metavar="FILE",
        help="a Paste .ini file: keys are read from the app's pynacl.session.secret or "
        "session.secret setting. This imports the app named by 'use =': the file must be "
        "trusted and the app installed",
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
    decode.set_defaults(run=_decode)
    options["decode"] = ["--help", *VALUE_OPTIONS, "--secret-prompt", "--signed"]

    from .cli_revoke import add_parser as add_revoke

    add_revoke(commands, UsageError, Unreadable)
    options["revoke"] = ["--help", "--ini", "--app"]
    return parser, kinds, options


class _KeySource(argparse.Action):
    """--secret, --secret-file and --secret-prompt: kept in one list, in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        sources = getattr(namespace, "key_sources", None) or []
        namespace.key_sources = [*sources, (option_string, values)]


def _secret(args):
    print(generate_secret().decode("ascii"))
    return EXIT_OK


def _decode(args):
    if args.signed:
        return _decode_signed(args)
    if args.salt is not None or args.hashalg is not None:
        raise UsageError("--salt and --hashalg go with --signed")
    keys = _keys(args)
    for index, (key, source) in enumerate(keys):
        try:
            EncryptedSerializer(key, "json")
        except ValueError as e:  # the core's messages name lengths and types, never a key
            raise UsageError(
                f"bad key (key {index + 1} of {len(keys)}, from {source}): {e}"
            ) from None
    serializer = EncryptedSerializer([key for key, _ in keys], "json", migrate_pickle=True)
    cookie = _cookie_value(sys.stdin.read() if args.cookie == "-" else args.cookie)
    state, accessed, created, key_index, payload = _open(cookie, serializer)
    opened_by = f"key {key_index + 1} of {len(keys)}"
    _print_json(_report(state, accessed, created, opened_by, payload))
    return EXIT_OK


def _keys(args):
    """The keys as hex strings, each with where it came from (for messages)."""
    sources = getattr(args, "key_sources", None) or []
    if args.cookie == "-" and ("--secret-file", "-") in sources:
        raise UsageError("standard input can hold the cookie or the keys, not both")
    keys = [(key, option) for option, value in sources for key in _read_keys(option, value)]
    if keys:
        return keys
    env = os.environ.get(ENV_VAR, "").split()
    if env:
        return [(key, f"${ENV_VAR}") for key in env]
    if args.ini:
        return _keys_from_ini(args.ini, args.app)
    raise UsageError(
        f"no keys: give --secret-file PATH or --secret-prompt, set {ENV_VAR} (hex keys separated "
        "by spaces), or point --ini FILE [--app NAME] at the app's .ini file"
    )


def _read_keys(option, value):
    if option == "--secret":
        return [value]
    if option == "--secret-prompt":
        try:
            text = getpass.getpass("Keys (hex, separated by spaces; not shown as you type): ")
        except (EOFError, KeyboardInterrupt):
            text = ""
    elif value == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(value, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:  # not str(e), which quotes the path: maybe a key typed there
            raise UsageError(f"--secret-file: cannot read the file: {e.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError("--secret-file: not a text file of hex keys") from None
    keys = text.split()
    if not keys:
        raise UsageError(f"{option}: no key given")
    return keys


def _decode_signed(args):
    """``decode --signed``: verify a Pyramid signed cookie and show its session."""
    if getattr(args, "key_sources", None):
        raise UsageError(
            f"--signed takes its signing secret from ${SIGNED_ENV_VAR} or --ini, not from "
            "--secret, --secret-file or --secret-prompt"
        )
    options = {"salt": DEFAULT_SALT, "hashalg": DEFAULT_HASHALG, "serializer": None}
    secret, source = os.environ.get(SIGNED_ENV_VAR, ""), f"${SIGNED_ENV_VAR}"
    if not secret and args.ini:
        settings, where = _app_settings(args.ini, args.app)
        for option in ("secret", "salt", "hashalg", "serializer"):
            for prefix in PREFIXES:  # pynacl.session.* last, so it wins
                value = settings.get(f"{prefix}migrate_signed_{option}")
                if value is not None:
                    options[option] = value
        secret, source = options.pop("secret", None) or "", f"migrate_signed_secret of {where}"
    if not secret:
        raise UsageError(
            f"no signing secret: set {SIGNED_ENV_VAR}, or point --ini FILE [--app NAME] at an "
            ".ini file with session.migrate_signed_secret"
        )
    for option in ("salt", "hashalg"):
        if getattr(args, option) is not None:
            options[option] = getattr(args, option)
    cookie = _cookie_value(sys.stdin.read() if args.cookie == "-" else args.cookie)
    serializers = [str(options.pop("serializer") or "json").strip(), "pickle"]
    opened, error = None, None
    try:
        for serializer in dict.fromkeys(serializers):  # JSON, then a pickle of plain data
            reader = SignedCookieReader(secret, serializer=serializer, **options)
            try:
                opened = reader.read_value(cookie), serializer
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
    except ValueError as e:  # a bad hashalg or serializer: the messages never hold the secret
        raise UsageError(f"--signed: {e}") from None
    if opened is None:
        raise Unreadable(f"not a pyramid session, or a pickle that is not plain data: {error}")
    (state, renewed, created), serializer = opened
    kind = "json (signed)" if serializer == "json" else "pickle (plain data, signed)"
    _print_json(_report(state, renewed, created, f"the signing secret from {source}", kind))
    return EXIT_OK


def _keys_from_ini(path, app):
    settings, where = _app_settings(path, app)
    for name in SECRET_SETTINGS:
        keys = str(settings.get(name) or "").split()
        if keys:
            return [(key, f"{name} of {where}") for key in keys]
    raise UsageError(f"--ini: {where} has no session.secret (nor pynacl.session.secret)")


def _app_settings(path, app):
    """The app's settings from a Paste .ini file, and how to name where they came from."""
    from pyramid.paster import get_appsettings

    if not os.path.isfile(path.split("#", 1)[0]):
        raise UsageError("--ini: no such file")
    # name=None reads [app:main], or the section named in 'FILE#name'.
    where = f"{path} [app:{app or 'main'}]"
    try:
        settings = get_appsettings(path, name=app)
    except configparser.Error as e:
        # Its message quotes the offending lines, which may hold a key: give line numbers only.
        lines = sorted(
            {n for n, _ in getattr(e, "errors", [])} | {getattr(e, "lineno", None)} - {None}
        )
        at = f" (line {', '.join(map(str, lines))})" if lines else ""
        raise UsageError(f"--ini: {path} is not a valid .ini file{at}") from None
    except ImportError as e:
        raise UsageError(
            f"--ini: the app that 'use =' names in {where} cannot be imported (module "
            f"{e.name!r}): --ini loads the app, so it must be installed where this command runs"
        ) from None
    except LookupError:  # PasteDeploy's message quotes --app, which may be a mistyped key
        raise UsageError(
            f"--ini: {path} has no such app section, or its 'use =' names no app"
        ) from None
    except Exception as e:  # PasteDeploy raises ValueError and others, about 'use =' lines
        raise UsageError(f"--ini: cannot read the app settings of {where}: {e}") from None
    return settings, where


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


def _report(state, accessed, created, opened_by, payload):
    try:
        accessed_utc, created_utc = _utc(accessed), _utc(created)
    except (ValueError, OverflowError, OSError):
        raise Unreadable("not a pyramid session: its times are out of range") from None
    try:
        state = _jsonable(state)
    except RecursionError:
        raise Unreadable("the session state is nested too deeply to show") from None
    return {
        "created": created,
        "created_utc": created_utc,
        "accessed": accessed,
        "accessed_utc": accessed_utc,
        "opened_by": opened_by,
        "payload": payload,
        "state": state,
    }


def _print_json(report):
    text = _escaped(json.dumps(report, indent=2, ensure_ascii=False))
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):  # a terminal that is not UTF-8
        text = _escaped(json.dumps(report, indent=2))
    print(text)


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


def _escaped(text):
    """``text`` with every character a terminal would act on written as a JSON escape
    (``\\u202e``), which is also what it is inside a JSON string."""
    return NOT_PRINTABLE_ASCII.sub(_escape, text)


def _escape(match):
    char = match.group()
    if unicodedata.category(char) not in TERMINAL_ACTIVE:
        return char
    code = ord(char)
    if code > 0xFFFF:  # JSON writes it as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"
