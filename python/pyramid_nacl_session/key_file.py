"""Keys kept out of the settings: ``secret_file`` (a file of keys, one a line) and ``secret_env``
(the name of an environment variable holding them).

The one place these are read, for the factory, the settings reader and the command line. Every
error names the option and, for a file, the line; never what the file or the variable holds,
and never a path that does not exist (a key pasted where the path belongs would be echoed).
"""

import os
import re
import stat
from collections.abc import Iterator
from typing import Any, Optional, Union

from ._core import EncryptedSerializer
from .options import OptionError

__all__ = [
    "as_secret_file",
    "as_secret_env",
    "key_lines",
    "read_key_file",
    "read_key_env",
    "choose_secret",
]

#: What a variable's name looks like in a shell: a key pasted in its place is never echoed.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOOKS_LIKE_A_KEY = re.compile(r"[0-9a-fA-F]{64}")
HOW_TO_MAKE_ONE = "make one with: (umask 077; pyramid-nacl-session secret > FILE)"


def as_secret_file(value: Any, name: str) -> Optional[str]:
    """The path of a key file, or ``None`` (as is an empty setting)."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise OptionError(name, f"expected a file's path, got {type(value).__name__}")
    return value.strip() or None


def as_secret_env(value: Any, name: str) -> Optional[str]:
    """The name of an environment variable, or ``None`` (as is an empty setting)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise OptionError(name, f"expected a variable's name, got {type(value).__name__}")
    name_given: str = value.strip()
    if not name_given:
        return None
    if _LOOKS_LIKE_A_KEY.fullmatch(name_given):
        raise OptionError(
            name, "holds what looks like a key (not shown): give the name of the variable"
        )
    if not _ENV_NAME.fullmatch(name_given):
        raise OptionError(
            name, "expected a variable's name (letters, digits and '_'), got something else"
        )
    return name_given


def key_lines(text: str) -> "Iterator[tuple[int, str]]":
    """The lines of a key file's ``text`` that hold something, numbered from 1, without their
    comments (from ``#`` to the end of the line: no hex key holds one) and a leading BOM (as
    some Windows editors write)."""
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        content = line.split("#", 1)[0].strip()
        if content:
            yield number, content


def read_key_file(path: str, name: str) -> "list[str]":
    """The keys in the file at ``path``: one a line, the first seals and all open; blank lines
    and comments (from ``#`` to the end of the line) are skipped.

    Refused, with an :class:`OptionError` naming ``name``: a file that cannot be read, holds no
    key, holds something else than a key on a line, or (on POSIX) that its group or other users
    may read or write, as ssh refuses such a private key.
    """
    try:
        # Checked on the file opened, not on the path before opening it (which could change).
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if os.name == "posix" and mode & 0o077:
                raise OptionError(
                    name,
                    f"{path} is open to other users (mode {stat.S_IMODE(mode):04o}); "
                    f"make it private: chmod 600 {path}",
                )
            data = f.read()
    except FileNotFoundError:
        raise OptionError(
            name, f"no such file (the path is not shown: it may be a key); {HOW_TO_MAKE_ONE}"
        ) from None
    except OSError as e:  # not str(e), which quotes the path
        raise OptionError(name, f"cannot read the file: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise OptionError(name, f"{path} is not a text file of hex keys, one a line") from None
    keys = []
    for number, key in key_lines(text):
        where = f"{path}, line {number}"
        if len(key.split()) > 1:
            raise OptionError(name, f"{where}: one key a line (this one holds several words)")
        _check_key(key, name, where)
        keys.append(key)
    if not keys:
        raise OptionError(name, f"{path} holds no key; {HOW_TO_MAKE_ONE}")
    return keys


def read_key_env(variable: str, name: str) -> "list[str]":
    """The keys in the environment variable ``variable``, separated by whitespace (the first
    seals, all open)."""
    keys = os.environ.get(variable, "").split()
    if not keys:
        raise OptionError(
            name, f"the environment variable {variable} is not set, or empty; it holds the keys"
        )
    for number, key in enumerate(keys, 1):
        _check_key(key, name, f"${variable}, key {number}")
    return keys


def choose_secret(
    secret: Any, secret_file: Any, secret_env: Any, names: "Optional[dict[str, str]]" = None
) -> Union[Any, "list[str]"]:
    """The keys, from exactly one of ``secret``, ``secret_file`` and ``secret_env``; each is
    blamed under its name in ``names`` (default: the keyword)."""
    names = names or {}
    file_name = names.get("secret_file", "secret_file")
    env_name = names.get("secret_env", "secret_env")
    path = as_secret_file(secret_file, file_name)
    variable = as_secret_env(secret_env, env_name)
    given = [
        names.get(option, option)
        for option, value in (("secret", secret), ("secret_file", path), ("secret_env", variable))
        if value is not None
    ]
    if len(given) > 1:
        raise OptionError(
            given[1], f"give the keys one way, not with {given[0]} too (the two are not merged)"
        )
    if path is not None:
        return read_key_file(path, file_name)
    if variable is not None:
        return read_key_env(variable, env_name)
    if secret is None:
        raise OptionError(
            names.get("secret", "secret"),
            "missing: give secret, secret_file or secret_env; make a key with the command "
            "pyramid-nacl-session secret",
        )
    return secret


def _check_key(key: str, name: str, where: str) -> None:
    """``key`` is one the core takes; its reason (which names only a type and length) is
    given with ``where`` it was found."""
    try:
        EncryptedSerializer(key, "json")
    except OptionError as e:
        raise OptionError(name, f"{where}: {e.reason}") from None
