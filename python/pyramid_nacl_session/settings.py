"""The settings reader: ``session_factory_from_settings`` makes the factory from an app's
``session.*`` settings."""

import difflib
from collections.abc import Mapping
from typing import Any, Callable

from pyramid.path import DottedNameResolver

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
    as_cookie_attr,
    as_cookie_name,
    as_samesite,
    as_seconds,
)
from .session import EncryptedCookieSessionFactory

__all__ = ["session_factory_from_settings", "PREFIXES", "OPTIONS"]

#: Settings are read under either prefix; ``pynacl.session.*`` wins over ``session.*``.
PREFIXES = ("session.", "pynacl.session.")

#: Every option, with how its setting's text is turned into the factory's argument.
OPTIONS = {
    "secret": None,  # handled by _secret
    "cookie_name": as_cookie_name,
    "max_age": as_seconds,
    "path": as_cookie_attr,
    "domain": as_cookie_attr,
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
    # The revocation_* values are checked by the factory (revocation.py), which is imported
    # only when revocation_url is set.
    "revocation_url": lambda value, key: _text(value, key),
    "revocation_user": None,  # handled by _revocation_user
    "revocation_policy": lambda value, key: _text(value, key),
    "revocation_stale_after": as_seconds,
    "revocation_resync": as_seconds,
    "revocation_prefix": lambda value, key: _text(value, key),
    "partitioned": as_bool,  # needs secure: checked by the factory, as samesite's is
    "detect_changes": as_bool,
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
    newlines (the first seals, all open). Booleans take true/false/yes/no/on/off/1/0; times are
    whole seconds or ``none``; ``session.serializer`` is ``json``, ``pickle`` or the dotted name
    of an object (or class) with ``loads`` and ``dumps``. A bad value raises ``ValueError``
    naming the setting.
    """
    found = {}  # option -> (setting name, value)
    for prefix in PREFIXES:
        for key, value in settings.items():
            if not key.startswith(prefix):
                continue
            option = key[len(prefix) :]
            if option not in OPTIONS:
                raise OptionError(key, "not a pyramid_nacl_session setting" + _hint(prefix, option))
            found[option] = (key, value)

    if "secret" not in found:
        raise OptionError("session.secret", "missing; make one with the print_secret command")
    if "migrate_signed_secret" not in found:
        check_needs_secret(
            {option: option.startswith("migrate_signed_") for option in found},
            {option: key for option, (key, _) in found.items()}
            | {"migrate_signed_secret": "session.migrate_signed_secret"},
        )
    options = {}
    for option, (key, value) in found.items():
        if option == "secret":
            options[option] = _secret(key, value)
        elif option == "serializer":
            options[option] = _serializer(key, value)
        elif option == "revocation_user":
            options[option] = _revocation_user(key, value)
        elif option != "samesite":
            options[option] = OPTIONS[option](value, key)
    if "samesite" in found:
        key, value = found["samesite"]
        # An empty setting means no SameSite attribute; "None" means SameSite=None, as in 1.0.
        value = None if isinstance(value, str) and not value.strip() else value
        options["samesite"] = as_samesite(value, key, options.get("secure", False))
    try:
        return EncryptedCookieSessionFactory(**options)
    except (TypeError, ValueError) as e:
        # Left to check here: secret, serializer and migrate_pickle. The core's errors carry the
        # option they are about; their messages never hold a secret.
        option = getattr(e, "option", None)
        reason = getattr(e, "reason", None) or str(e)
        if option in found:
            raise OptionError(found[option][0], reason) from None
        if option in OPTIONS:  # a setting another one needs (absolute_timeout, for revocation)
            raise OptionError(PREFIXES[0] + option, reason) from None
        raise


def _hint(prefix, option):
    if option in FOREIGN:
        return (
            f"; {prefix}{option} looks like a {FOREIGN[option]} setting left behind, which this "
            "package does not use: remove it"
        )
    close = difflib.get_close_matches(option, OPTIONS, n=1)
    return f"; did you mean {prefix}{close[0]}?" if close else ""


def _secret(key, value):
    """Hex keys separated by whitespace; bytes pass through as 1.0 allowed (raw or hex)."""
    if isinstance(value, str):
        keys = value.split()
        if not keys:
            raise OptionError(key, "empty; make one with the print_secret command")
        return keys if len(keys) > 1 else keys[0]
    return value


def _serializer(key, value):
    if not isinstance(value, str):
        return value
    name = value.strip()
    if name in ("json", "pickle"):
        return name
    try:
        obj = DottedNameResolver().resolve(name)
    except (ImportError, ValueError) as e:
        raise OptionError(
            key, f"expected json, pickle or a dotted name, got {name!r} ({e})"
        ) from None
    return obj() if isinstance(obj, type) else obj


def _revocation_user(key, value):
    """A state key, or ``module:callable`` (a colon marks a dotted name to resolve)."""
    if not isinstance(value, str):
        return value
    name = value.strip()
    if ":" not in name:
        return name or None
    try:
        return DottedNameResolver().resolve(name)
    except (ImportError, ValueError) as e:
        raise OptionError(key, f"expected a state key or module:callable ({e})") from None


def _text(value, key):
    if isinstance(value, str):
        return value.strip() or None
    if value is None:
        return None
    raise OptionError(key, f"expected text, got {type(value).__name__}")
