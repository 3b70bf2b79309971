"""What every part of the command line shares: its name, exit statuses, errors and output.

Every value on this command line may be a key, typed in the wrong place. So no message ever
quotes a value the operator gave: messages name options, and the paths of files that exist.
Whatever is printed goes through :func:`escaped`, so nothing the terminal would act on (ESC, BEL,
bidi overrides) reaches it raw.
"""

import json
import re
import sys
import unicodedata
from typing import Any

PROG = "pyramid-nacl-session"
ENV_VAR = "PYRAMID_NACL_SESSION_SECRET"
#: The signing secret of a Pyramid SignedCookieSessionFactory, for ``decode --signed``.
SIGNED_ENV_VAR = "PYRAMID_NACL_SESSION_SIGNED_SECRET"

EXIT_OK, EXIT_UNREADABLE, EXIT_USAGE = 0, 1, 2
#: What a shell reports for a command killed by SIGPIPE (128 + 13): the reader went away.
EXIT_BROKEN_PIPE = 141

#: Characters a terminal acts on or that change how text around them reads: C0 and C1 controls
#: (U+009B is CSI, which starts an escape sequence), bidi overrides and other format characters
#: (U+202E), lone surrogates, line and paragraph separators.
TERMINAL_ACTIVE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e\n]")


class UsageError(Exception):
    """Bad or missing input from the operator (exit status 2)."""


class Unreadable(Exception):
    """The cookie cannot be read, or Redis did not take a revocation (exit status 1)."""


def say(message: str) -> None:
    """Print ``message`` on standard error as one line, escaped."""
    one_line = escaped(message).replace("\n", "\\n")  # whatever a path in it holds
    if sys.stderr is not None:
        print(f"{PROG}: {one_line}", file=sys.stderr)


def out(text: str) -> None:
    """Print ``text`` on standard output, escaped."""
    print(escaped(text))


def print_json(report: Any) -> None:
    """Print ``report`` as indented JSON: UTF-8 where the terminal takes it, else ASCII escapes."""
    text = escaped(json.dumps(report, indent=2, ensure_ascii=False))
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):  # a terminal that is not UTF-8
        text = escaped(json.dumps(report, indent=2))
    print(text)


def escaped(text: str) -> str:
    """``text`` with every character a terminal would act on written as a JSON escape
    (``\\u202e``), which is also what it is inside a JSON string."""
    return NOT_PRINTABLE_ASCII.sub(_escape, text)


def _escape(match: "re.Match[str]") -> str:
    char = match.group()
    if unicodedata.category(char) not in TERMINAL_ACTIVE:
        return char
    code = ord(char)
    if code > 0xFFFF:  # JSON writes it as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"
