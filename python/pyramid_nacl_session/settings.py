"""The settings reader: ``session_factory_from_settings`` makes the factory from an app's
``session.*`` settings, through the same option records (registry.py) as the factory's
keywords."""

import difflib
import re
from collections.abc import Mapping
from typing import Any, Callable

from .errors import OptionError
from .registry import BY_NAME, check_all
from .session import make_factory

__all__ = ["session_factory_from_settings", "read_settings", "PREFIXES"]

#: Settings are read under either prefix; ``pynacl.session.*`` wins over ``session.*``.
PREFIXES = ("session.", "pynacl.session.")

#: What configparser would take for an inline comment, were it told to look for them: PasteDeploy
#: does not, so ``/app   # where it lives`` arrives as the value, comment and all.
INLINE_COMMENT = re.compile(r"\s[#;]")

#: Settings other session packages read under ``session.``, which an app moving to us may have
#: left behind; named so the error can say what they are.
FOREIGN = {
    "type": "pyramid_beaker",
    "data_dir": "pyramid_beaker",
    "lock_dir": "pyramid_beaker",
    "url": "pyramid_beaker",
    "key": "pyramid_beaker",
    "encrypt_key": "pyramid_beaker",
    "validate_key": "pyramid_beaker",
    "cookie_expires": "pyramid_beaker",
    "cookie_domain": "pyramid_beaker",
    "auto": "pyramid_beaker",
}


def session_factory_from_settings(settings: Mapping[str, Any]) -> Callable[[Any], Any]:
    """Return a session factory configured by ``session.*`` (or ``pynacl.session.*``) settings,
    as read from a Paste .ini file.

    Each setting's text goes through its option's one check, as a keyword of
    :func:`~pyramid_nacl_session.EncryptedCookieSessionFactory` does (docs/options.rst says how
    each is read). A value holding an inline comment (``/app   # where it lives``) is refused:
    PasteDeploy would keep the comment in the value. A bad value raises
    :class:`~pyramid_nacl_session.OptionError` naming the setting.
    """
    options, names = read_settings(settings)
    factory: Callable[[Any], Any] = make_factory(options, names, PREFIXES[0])
    return factory


def read_settings(
    settings: Mapping[str, Any], *, need_secret: bool = True
) -> "tuple[dict[str, Any], dict[str, str]]":
    """Every option's checked value (the defaults for those not set) from an app's
    ``session.*`` and ``pynacl.session.*`` settings, and the setting each given one was read
    from. ``secret`` holds the keys, from whichever of ``secret``, ``secret_file`` and
    ``secret_env`` gave them (read as the factory reads them).

    The app (:func:`session_factory_from_settings`) and the command line read settings through
    this one function. Raises :class:`~pyramid_nacl_session.OptionError` naming the setting;
    with ``need_secret=False`` (for a reader that needs other settings only, such as the signing
    secret), a missing key is not one.
    """
    given: dict[str, Any] = {}
    names: dict[str, str] = {}
    for prefix in PREFIXES:
        for key, value in settings.items():
            if not key.startswith(prefix):
                continue
            option = BY_NAME.get(key[len(prefix) :])
            if option is None:
                raise OptionError(
                    key, "not a pyramid_nacl_session setting" + _hint(prefix, key[len(prefix) :])
                )
            if isinstance(value, str):
                if not option.as_written and INLINE_COMMENT.search(value):
                    # Never the value in the message: it may be a key.
                    raise OptionError(
                        key,
                        "holds an inline comment (whitespace, then '#' or ';'), which "
                        "PasteDeploy keeps as part of the value; put the comment on a line of "
                        "its own",
                    )
                if option.from_text is not None:
                    value = option.from_text(value, key)
            given[option.name] = value
            names[option.name] = key
    options = check_all(given, names, PREFIXES[0], need_secret=need_secret)
    given_keys = [option for option in ("secret", "secret_file", "secret_env") if option in names]
    if given_keys:  # the keys are named by the setting that gave them
        names["secret"] = names[given_keys[0]]
    return options, names


def _hint(prefix: str, option: str) -> str:
    if option in FOREIGN:
        return (
            f"; {prefix}{option} looks like a {FOREIGN[option]} setting left behind, which this "
            "package does not use: remove it"
        )
    close = difflib.get_close_matches(option, BY_NAME, n=1)
    return f"; did you mean {prefix}{close[0]}?" if close else ""
