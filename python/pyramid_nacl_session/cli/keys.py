"""Where ``decode`` takes its keys from: --secret-file, --secret-prompt and --secret (together, in
the order given), else $PYRAMID_NACL_SESSION_SECRET, else the app's .ini file."""

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from typing import Any, Optional, Union

from ..key_file import key_lines
from .base import ENV_VAR, UsageError
from .ini import app_options


class KeySource(argparse.Action):
    """--secret, --secret-file and --secret-prompt: kept in one list, in command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Union[str, Sequence[Any], None],
        option_string: Optional[str] = None,
    ) -> None:
        sources = getattr(namespace, "key_sources", None) or []
        namespace.key_sources = [*sources, (option_string, values)]


def keys(args: argparse.Namespace) -> "list[tuple[str, str]]":
    """The keys as hex strings, each with where it came from."""
    sources = getattr(args, "key_sources", None) or []
    if args.cookie == "-" and ("--secret-file", "-") in sources:
        raise UsageError("standard input can hold the cookie or the keys, not both")
    found = [(key, option) for option, value in sources for key in _read_keys(option, value)]
    if found:
        return found
    env = os.environ.get(ENV_VAR, "").split()
    if env:
        return [(key, f"${ENV_VAR}") for key in env]
    if args.ini:
        return _keys_from_ini(args.ini, args.app)
    raise UsageError(
        f"no keys: give --secret-file PATH or --secret-prompt, set {ENV_VAR} (hex keys separated "
        "by spaces), or point --ini FILE [--app NAME] at the app's .ini file"
    )


def _read_keys(option: str, value: Any) -> "list[str]":
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
    if option == "--secret-file":
        # Read as the app reads its key file (secret_file), so that file opens cookies here too.
        text = "\n".join(content for _, content in key_lines(text))
    found = text.split()
    if not found:
        raise UsageError(f"{option}: no key given")
    return found


def _keys_from_ini(path: str, app: Optional[str]) -> "list[tuple[str, str]]":
    # Read and checked as the app reads them, so a key the app would refuse is refused here too.
    options, names, where = app_options(path, app)
    secret = options["secret"]
    found = secret if isinstance(secret, list) else [secret]
    return [(str(key), f"{names['secret']} of {where}") for key in found]
