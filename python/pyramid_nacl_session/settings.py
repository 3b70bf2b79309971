"""The settings reader: ``session_factory_from_settings`` makes the factory from an app's
``session.*`` settings."""

import difflib
import re
from collections.abc import Mapping
from typing import Any, Callable, Optional

from .key_file import as_secret_env, as_secret_file, choose_secret
from .migrate_signed import (
    as_hashalg,
    as_instant,
    as_salt,
    as_signed_serializer,
    as_signing_secret,
    check_needs_secret,
)
from .options import (
    OptionError,
    as_bool,
    as_cookie_domain,
    as_cookie_name,
    as_cookie_path,
    as_positive_seconds,
    as_revocation_policy,
    as_revocation_prefix,
    as_revocation_user,
    as_samesite,
    as_seconds,
    as_session_label,
)
from .session import EncryptedCookieSessionFactory

__all__ = ["session_factory_from_settings", "read_settings", "PREFIXES", "OPTIONS"]

#: Settings are read under either prefix; ``pynacl.session.*`` wins over ``session.*``.
PREFIXES = ("session.", "pynacl.session.")

#: How to make a key, for the messages about a missing one.
MAKE_A_KEY = "make one with the command pyramid-nacl-session secret"

#: What configparser would take for an inline comment, were it told to look for them: PasteDeploy
#: does not, so ``/app   # where it lives`` arrives as the value, comment and all.
INLINE_COMMENT = re.compile(r"\s[#;]")

Check = Callable[[Any, str], Any]

#: Every option, with how its setting's text is turned into the factory's argument: the same
#: checks (options.py) the factory applies to Python keywords.
OPTIONS: "dict[str, Optional[Check]]" = {
    "secret": None,  # handled by _secret
    "cookie_name": as_cookie_name,
    "max_age": as_seconds,
    "path": as_cookie_path,
    "domain": as_cookie_domain,
    "secure": as_bool,
    "httponly": as_bool,
    "timeout": as_seconds,
    "reissue_time": as_seconds,
    "set_on_exception": as_bool,
    "serializer": None,  # handled by _serializer
    "samesite": None,  # needs secure; handled below
    "absolute_timeout": as_seconds,
    "migrate_pickle": as_bool,
    "migrate_signed_secret": as_signing_secret,
    "migrate_signed_salt": as_salt,
    "migrate_signed_hashalg": as_hashalg,
    "migrate_signed_serializer": as_signed_serializer,
    "migrate_signed_cookie_name": as_cookie_name,
    "migrate_signed_timeout": as_seconds,
    "migrate_signed_until": as_instant,
    # The URL is checked by the factory (revocation.py), which needs redis-py to do it and is
    # imported only when revocation_url is set.
    "revocation_url": lambda value, key: _text(value, key),
    "revocation_user": None,  # handled by _dotted_or_text
    "revocation_policy": as_revocation_policy,
    "revocation_stale_after": as_positive_seconds,
    "revocation_resync": as_positive_seconds,
    "revocation_prefix": as_revocation_prefix,
    "partitioned": as_bool,  # needs secure: checked by the factory, as samesite's is
    "detect_changes": as_bool,
    # Read by the factory (key_file.py), which also refuses them together with secret.
    "secret_file": as_secret_file,
    "secret_env": as_secret_env,
    # Checked by the factory with the options they need (revocation_url, revocation_user).
    "track_sessions": as_bool,
    "track_sessions_label": None,  # handled by _dotted_or_text
}

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

    ``session.secret`` holds one or more keys as 64 hex digits, separated by whitespace or
    newlines (the first seals, all open); or ``session.secret_file`` names a file of keys, one a
    line, or ``session.secret_env`` an environment variable holding them. Booleans take
    true/false/yes/no/on/off/1/0; times are whole seconds or ``none``; ``session.serializer``
    is ``json``, ``pickle`` or the dotted name of an object (or class) with ``loads`` and
    ``dumps``. A value holding an inline comment
    (``/app   # where it lives``) is refused: PasteDeploy would keep the comment in the value.
    A bad value raises :class:`~pyramid_nacl_session.OptionError` naming the setting.
    """
    options, names = read_settings(settings)
    try:
        return EncryptedCookieSessionFactory(**options)
    except OptionError as e:
        # Left to check here: secret, serializer, migrate_pickle and revocation_url, and the
        # rules between options. The error names the keyword; blame the setting instead.
        if e.option in names:
            raise OptionError(names[e.option], e.reason) from None
        if e.option in OPTIONS:  # a setting another one needs (absolute_timeout, for revocation)
            raise OptionError(PREFIXES[0] + e.option, e.reason) from None
        raise


def read_settings(
    settings: Mapping[str, Any], *, need_secret: bool = True
) -> "tuple[dict[str, Any], dict[str, str]]":
    """The factory's keyword arguments from an app's ``session.*`` and ``pynacl.session.*``
    settings, each checked as the factory checks it, and the setting each option was read from.

    The app (:func:`session_factory_from_settings`) and the command line read settings through
    this one function. Raises :class:`~pyramid_nacl_session.OptionError` naming the setting;
    with ``need_secret=False`` (for a reader that needs other settings only, such as the signing
    secret), a missing key is not one.
    """
    found = {}  # option -> (setting name, value)
    for prefix in PREFIXES:
        for key, value in settings.items():
            if not key.startswith(prefix):
                continue
            option = key[len(prefix) :]
            if option not in OPTIONS:
                raise OptionError(key, "not a pyramid_nacl_session setting" + _hint(prefix, option))
            if isinstance(value, str) and INLINE_COMMENT.search(value):
                # Never the value in the message: it may be a key.
                raise OptionError(
                    key,
                    "holds an inline comment (whitespace, then '#' or ';'), which PasteDeploy "
                    "keeps as part of the value; put the comment on a line of its own",
                )
            found[option] = (key, value)

    if need_secret and not {"secret", "secret_file", "secret_env"} & found.keys():
        raise OptionError(
            "session.secret",
            f"missing: give session.secret, session.secret_file or session.secret_env; "
            f"{MAKE_A_KEY}",
        )
    if "migrate_signed_secret" not in found:
        check_needs_secret(
            {option: option.startswith("migrate_signed_") for option in found},
            {option: key for option, (key, _) in found.items()}
            | {"migrate_signed_secret": "session.migrate_signed_secret"},
        )
    options: dict[str, Any] = {}
    for option, (key, value) in found.items():
        check = OPTIONS[option]
        if option == "secret":
            options[option] = _secret(key, value)
        elif option == "serializer":
            options[option] = _serializer(key, value)
        elif option == "revocation_user":
            options[option] = _dotted_or_text(key, value, as_revocation_user, "a state key")
        elif option == "track_sessions_label":
            options[option] = _dotted_or_text(key, value, as_session_label, "a header name")
        elif check is not None:
            options[option] = check(value, key)
    if "samesite" in found:
        key, value = found["samesite"]
        # An empty setting means no SameSite attribute; "None" means SameSite=None, as in 1.0.
        value = None if isinstance(value, str) and not value.strip() else value
        options["samesite"] = as_samesite(value, key, options.get("secure", False))
    names = {option: key for option, (key, _) in found.items()}
    if need_secret:
        # Read here, as the factory would read them, so that the errors name the settings and
        # the command line gets the keys themselves.
        given = [option for option in ("secret", "secret_file", "secret_env") if option in found]
        options["secret"] = choose_secret(
            options.pop("secret", None),
            options.pop("secret_file", None),
            options.pop("secret_env", None),
            names,
        )
        names["secret"] = names[given[0]]
    return options, names


def _hint(prefix: str, option: str) -> str:
    if option in FOREIGN:
        return (
            f"; {prefix}{option} looks like a {FOREIGN[option]} setting left behind, which this "
            "package does not use: remove it"
        )
    close = difflib.get_close_matches(option, OPTIONS, n=1)
    return f"; did you mean {prefix}{close[0]}?" if close else ""


def _secret(key: str, value: Any) -> Any:
    """Hex keys separated by whitespace; bytes pass through as 1.0 allowed (raw or hex)."""
    if isinstance(value, str):
        keys = value.split()
        if not keys:
            raise OptionError(key, f"empty; {MAKE_A_KEY}")
        return keys if len(keys) > 1 else keys[0]
    return value


def _serializer(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    name = value.strip()
    if name in ("json", "pickle"):
        return name
    try:
        obj = _resolve(name)
    except (ImportError, ValueError) as e:
        raise OptionError(
            key, f"expected json, pickle or a dotted name, got {name!r} ({e})"
        ) from None
    return obj() if isinstance(obj, type) else obj


def _dotted_or_text(key: str, value: Any, check: Check, what: str) -> Any:
    """Text (a state key, a header name) or ``module:callable`` (a colon marks a dotted name
    to resolve), then ``check``."""
    name = value.strip() if isinstance(value, str) else value
    if not isinstance(name, str) or ":" not in name:
        return check(name, key)
    try:
        return check(_resolve(name), key)
    except (ImportError, ValueError) as e:
        raise OptionError(key, f"expected {what} or module:callable ({e})") from None


def _text(value: Any, key: str) -> Optional[str]:
    if isinstance(value, str):
        return value.strip() or None
    if value is None:
        return None
    raise OptionError(key, f"expected text, got {type(value).__name__}")


def _resolve(name: str) -> Any:
    """The object a dotted name names, as Pyramid resolves it.

    Imported here, not at the top: pyramid.path imports pkg_resources, which is slow to import
    and, with setuptools 67 to 81, prints a deprecation warning on every start (into the
    command line's stderr too). Only a setting that names an object needs it.
    """
    from pyramid.path import DottedNameResolver

    return DottedNameResolver().resolve(name)
