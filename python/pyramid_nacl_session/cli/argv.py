"""Reading the command line without ever echoing what was typed.

argparse quotes values in its errors ("unrecognized arguments: K2", "invalid choice: 'K'",
"ignored explicit argument 'K'"), so its messages are never printed: it is run with
``exit_on_error=False`` and our own message is made from what it reports in structure (which
argument failed), never from its text.
"""

import argparse
import difflib
import re
from collections.abc import Sequence
from typing import Any, NoReturn, Optional

from .._core import SESSION_ID_LENGTH
from .base import PROG, UsageError

#: The shortest session cookie: base64url, unpadded, of a 24-byte nonce and a 16-byte tag. A
#: shorter argument that starts with '-' is an option (maybe a mistyped one), never a cookie.
MIN_COOKIE_CHARS = (4 * (24 + 16) + 2) // 3
COOKIE_CHARS = re.compile(r"[A-Za-z0-9_-]+=*")
#: What an unknown option looks like, so that it can be named: a key or a cookie never does.
OPTION_NAME = re.compile(r"--[A-Za-z][A-Za-z0-9-]{0,23}|-[A-Za-z]")
#: The options that take a value (the argument after them is that value, never the cookie).
VALUE_OPTIONS = ("--secret", "--secret-file", "--ini", "--app", "--salt", "--hashalg")
#: Each command's positional argument that may start with '-' (a cookie, a session id).
POSITIONAL = {"decode": "cookie", "revoke": "value"}


class Parser(argparse.ArgumentParser):
    """argparse's parser, made to raise instead of printing an error that may quote a key."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(exit_on_error=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        # Only errors argparse reports without an ArgumentError get here; parse() checks for
        # every one it knows of (a missing command or cookie) before argparse would. Its text
        # may quote a value, so it is dropped.
        raise UsageError(f"bad command line; see {self.prog} --help")


class Arguments:
    """The arguments of every command, recorded as they are added: what kind each one is, by
    the name argparse gives it in an ArgumentError, and each command's long options (for "did
    you mean")."""

    def __init__(self) -> None:
        self.kinds: dict[str, tuple[str, str]] = {"-h/--help": ("flag", "--help")}
        self.options: dict[Optional[str], list[str]] = {}

    def add(self, parser: argparse.ArgumentParser, *names: str, **kwargs: Any) -> argparse.Action:
        """``parser.add_argument(*names, **kwargs)``, recorded."""
        action = parser.add_argument(*names, **kwargs)
        kind = "flag" if action.nargs == 0 else "value"
        # argparse names an argument by all its option strings ("-h/--help"), or its metavar.
        name = "/".join(action.option_strings) or str(action.metavar)
        self.kinds[name] = (kind, names[-1])
        return action


def parse(
    argv: "list[str]", parser: argparse.ArgumentParser, arguments: Arguments
) -> argparse.Namespace:
    """``argv`` parsed; a :class:`UsageError` that quotes none of it if it is wrong."""
    argv, dashed = take_dashed_values(argv)
    try:
        args, unexpected = parser.parse_known_args(argv)
    except argparse.ArgumentError as e:
        raise UsageError(argument_error(e.argument_name, arguments.kinds)) from None
    positional = POSITIONAL.get(args.command)
    if positional and getattr(args, positional) is None and dashed:
        setattr(args, positional, dashed.pop(0))
    if args.command == "decode" and args.cookie is None:
        raise UsageError(f"decode needs COOKIE; see {PROG} decode --help")
    if unexpected or dashed:
        command_options = arguments.options.get(args.command, [])
        raise UsageError(unexpected_args(args.command, unexpected, len(dashed), command_options))
    if args.command is None:
        raise UsageError(f"give a command: secret, decode or revoke; see {PROG} --help")
    return args


def take_dashed_values(argv: "list[str]") -> "tuple[list[str], list[str]]":
    """A base64url cookie or session id may start with '-', which argparse would take for an
    option: take out every argument that can only be one of them, before argparse sees it. The
    rest of ``argv``, and the values taken out."""
    rest: list[str] = []
    cookies: list[str] = []
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


def argument_error(name: Optional[str], kinds: "dict[str, tuple[str, str]]") -> str:
    """Our message for an ArgumentError about the argument ``name``, from what kind of argument
    it is, never from argparse's text."""
    kind, option = kinds.get(name or "", (None, name))
    if kind == "command":
        return "unknown command (not shown); the commands are: secret, decode, revoke"
    if kind == "flag":
        return f"{option} takes no value"
    if kind == "value":
        return f"{option} needs a value; see {PROG} --help"
    if kind == "choice":  # ``option`` is the message, which lists the choices
        return f"{option} (the value given is not shown); see {PROG} --help"
    if name:  # argparse names an argument by our own option strings or metavar, never a value
        return f"{name}: bad or missing value (not shown); see {PROG} --help"
    return f"bad command line; see {PROG} --help"


def unexpected_args(
    command: Optional[str], args: "list[str]", hidden: int, options: Sequence[str]
) -> str:
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
