"""``pyramid-nacl-session``: the operator's command line (new keys, reading a session cookie,
revoking sessions).

One module per job: ``argv`` reads the command line without echoing it, ``base`` holds what
every command shares (errors, escaped output), ``keys`` and ``ini`` find keys and settings,
and ``decode``, ``signed`` and ``revoke`` are the commands.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Optional

from .. import __version__
from .._core import generate_secret
from . import decode, revoke
from .argv import Arguments, Parser, parse
from .base import (
    ENV_VAR,
    EXIT_BROKEN_PIPE,
    EXIT_OK,
    EXIT_UNREADABLE,
    EXIT_USAGE,
    PROG,
    SIGNED_ENV_VAR,
    Unreadable,
    UsageError,
    say,
)

__all__ = ["main", "ENV_VAR", "SIGNED_ENV_VAR"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        if sys.stdout is None:  # started with standard output closed (``>&-``)
            raise UsageError("standard output is closed, so nothing could be printed")
        parser, arguments = _parser()
        args = parse(list(sys.argv[1:] if argv is None else argv), parser, arguments)
        status: int = args.run(args)
        # Written now, while a closed pipe can still be handled here, not at interpreter exit.
        sys.stdout.flush()
        return status
    except SystemExit as e:  # --help or --version, printed by argparse
        return e.code if isinstance(e.code, int) else EXIT_OK
    except UsageError as e:
        say(str(e))
        return EXIT_USAGE
    except Unreadable as e:
        say(str(e))
        return EXIT_UNREADABLE
    except BrokenPipeError:
        # The reader went away (``decode ... | head -1``): stop quietly, as command-line tools
        # do. What is still buffered goes nowhere, so that Python's exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


def _parser() -> "tuple[argparse.ArgumentParser, Arguments]":
    """The parser, and what kind each of its arguments is (for messages that quote nothing)."""
    arguments = Arguments()
    parser = Parser(
        prog=PROG,
        description="Operator tools for pyramid_nacl_session encrypted cookie sessions.",
    )
    arguments.add(parser, "--version", action="version", version=f"{PROG} {__version__}")
    arguments.options[None] = ["--help", "--version"]
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    arguments.kinds["COMMAND"] = ("command", "COMMAND")

    secret = commands.add_parser(
        "secret",
        help="print a new random key",
        description="Print a new random 32-byte key as 64 hex digits, for session.secret. "
        "To rotate keys, put the new key first and keep the old ones after it.",
    )
    secret.set_defaults(run=_secret)
    arguments.options["secret"] = ["--help"]
    decode.add_parser(commands, arguments)
    revoke.add_parser(commands, arguments)
    return parser, arguments


def _secret(args: argparse.Namespace) -> int:
    print(generate_secret().decode("ascii"))
    return EXIT_OK
