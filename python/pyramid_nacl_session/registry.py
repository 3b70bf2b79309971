"""Every option, one record each: its name, default, check, the rule it has with other options,
and the text the docs show. The factory's docstring, the settings reader and docs/options.rst
are made from these records, and the factory's signature is tested against them
(tests/test_registry.py): adding an option is adding a record (CONTRIBUTING.md).

An option's value is checked once, by its record, whichever way it arrives: a keyword of
:func:`~pyramid_nacl_session.EncryptedCookieSessionFactory`, or a ``session.*`` setting's text,
which goes through the same check (an .ini's text means what the Python value means).
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ._core import DEFAULT_HASHALG, DEFAULT_SALT
from .errors import OptionError
from .key_file import as_secret_env, as_secret_file, choose_secret
from .options import (
    REVOCATION_POLICY,
    REVOCATION_PREFIX,
    REVOCATION_RESYNC,
    REVOCATION_STALE_AFTER,
    as_bool,
    as_cookie_domain,
    as_cookie_name,
    as_cookie_path,
    as_hashalg,
    as_instant,
    as_is,
    as_max_age,
    as_optional_cookie_name,
    as_partitioned,
    as_positive_seconds,
    as_revocation_policy,
    as_revocation_prefix,
    as_revocation_url,
    as_revocation_user,
    as_salt,
    as_samesite,
    as_seconds,
    as_serializer,
    as_session_label,
    as_signed_serializer,
    as_signing_secret,
)

__all__ = [
    "Option",
    "Needs",
    "OPTIONS",
    "BY_NAME",
    "REQUIRED",
    "check_all",
    "blaming",
    "docstring",
    "rst",
]

#: The options that give the keys: exactly one of them is set.
KEY_OPTIONS = ("secret", "secret_file", "secret_env")

#: How to make a key, for the messages about a missing one.
MAKE_A_KEY = "make one with the command pyramid-nacl-session secret"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of an option that has none (``secret``).
REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Needs:
    """A rule between options: when ``when(value)`` holds for this option's checked value,
    ``other``'s checked value (each one's, for a tuple) must be true-ish. ``blame_other`` names
    ``other`` in the error (it is the one to set) instead of this option."""

    other: "str | tuple[str, ...]"
    when: Callable[[Any], bool]
    reason: str
    blame_other: bool = False

    @property
    def others(self) -> "tuple[str, ...]":
        return (self.other,) if isinstance(self.other, str) else self.other


@dataclass(frozen=True)
class Option:
    """One option of the factory, and the ``session.<name>`` setting that spells it."""

    #: The keyword of the factory; the setting is ``session.<name>``.
    name: str
    #: The default, as the factory's signature writes it (:data:`REQUIRED` for none).
    default: Any
    #: ``check(value, name) -> working value``, raising :class:`OptionError` naming ``name``.
    #: It takes a setting's text as well as a Python value, and gives both one meaning.
    check: Callable[[Any, str], Any]
    #: What the option does: reStructuredText, shown in the factory's docstring and the docs.
    doc: str
    #: How the docs show the default, when not as the literal ``repr`` of it.
    default_doc: Optional[str] = None
    #: One of 1.0's positional parameters (the rest are keyword-only).
    positional: bool = False
    #: The rule this option has with another one.
    needs: Optional[Needs] = None
    #: A setting's text becomes the value through this before the check (the default: as is).
    from_text: Optional[Callable[[str, str], Any]] = None
    #: The .ini text is taken as written, so it is not searched for an inline comment (a
    #: secret may hold `` ;``).
    as_written: bool = False

    @property
    def setting(self) -> str:
        return "session." + self.name

    def shown_default(self) -> str:
        if self.default_doc is not None:
            return self.default_doc
        return "(required)" if self.default is REQUIRED else f"``{self.default!r}``"


def _secret_text(text: str, name: str) -> Any:
    """Hex keys separated by whitespace or new lines: one key, or a list (the first seals)."""
    keys = text.split()
    if not keys:
        raise OptionError(name, f"empty; {MAKE_A_KEY}")
    return keys if len(keys) > 1 else keys[0]


def _differs(option: str, default: Any, check: Callable[[Any, str], Any]) -> Callable[[Any], bool]:
    """Whether a checked value differs from the option's checked default: an option given with
    the value it has anyway changes nothing, whichever way it was given."""
    checked_default = check(default, option)
    return lambda value: bool(value != checked_default)


def _needs_signing_secret(option: str, default: Any, check: Callable[[Any, str], Any]) -> Needs:
    return Needs(
        "migrate_signed_secret",
        _differs(option, default, check),
        "set without migrate_signed_secret, the old factory's signing secret",
    )


def _is_none_samesite(value: Any) -> bool:
    return isinstance(value, str) and value.lower() == "none"


def _given(value: Any) -> bool:
    return value is not None


def _signed(
    name: str, default: Any, check: Callable[[Any, str], Any], doc: str, **kw: Any
) -> Option:
    return Option(
        name, default, check, doc, needs=_needs_signing_secret(name, default, check), **kw
    )


#: Every option, in the order of the factory's signature.
OPTIONS: "tuple[Option, ...]" = (
    Option(
        "secret",
        None,
        as_is,  # the keys: the core parses them (src/keys.rs) and names the option if bad
        "The key: 32 random bytes or 64 hex digits (from :func:`generate_secret` or the "
        "command ``pyramid-nacl-session secret``). In Python, a list or tuple of keys rotates "
        "them; in the ``.ini`` file, several hex keys separated by spaces or new lines. The "
        "first key seals new cookies, every key opens them. See :doc:`key-rotation`. Exactly "
        "one of ``secret``, ``secret_file`` and ``secret_env`` is given.",
        positional=True,
        from_text=_secret_text,
    ),
    Option(
        "cookie_name",
        "session",
        as_cookie_name,
        "The name of the session cookie (RFC 6265 token characters).",
        positional=True,
    ),
    Option(
        "max_age",
        None,
        as_max_age,
        "The cookie's ``Max-Age`` in seconds (at most a hundred years). ``None``: the cookie "
        "lasts as long as the browser session.",
        positional=True,
    ),
    Option("path", "/", as_cookie_path, "The cookie's ``Path``.", positional=True),
    Option(
        "domain",
        None,
        as_cookie_domain,
        "The cookie's ``Domain``: a host name or an IPv4 address. ``None`` (or an empty "
        "value): the cookie goes back to the host that set it only.",
        positional=True,
    ),
    Option(
        "secure",
        False,
        as_bool,
        "Send the cookie over HTTPS only. Turn it on wherever the site is served over HTTPS.",
        positional=True,
    ),
    Option("httponly", False, as_bool, "Hide the cookie from JavaScript.", positional=True),
    Option(
        "timeout",
        1200,
        as_seconds,
        "Seconds of inactivity after which the session is emptied. ``None``: never. The time "
        "is kept inside the encrypted cookie, so the client cannot extend it.",
        positional=True,
    ),
    Option(
        "reissue_time",
        0,
        as_seconds,
        "Seconds since the cookie was last issued after which reading the session issues it "
        "again (which keeps an active session from timing out). ``0``: on every request that "
        "touches the session. ``None``: never. A tenth of ``timeout`` is a good value: it "
        "saves most ``Set-Cookie`` headers, and it keeps a slow request that only read the "
        "session from undoing a login that answered meanwhile (:ref:`overlapping-requests`); "
        "the default stays ``0``, 1.0's. A ``timeout`` below ``reissue_time`` makes no sense.",
        positional=True,
    ),
    Option(
        "set_on_exception",
        True,
        as_bool,
        "Set the cookie even when the view raised an exception.",
        positional=True,
    ),
    Option(
        "serializer",
        None,
        as_serializer,
        "How the session is turned into bytes before it is sealed. ``None`` or ``pickle``: "
        "pickle, as in 1.0; left unset, the factory logs one warning saying so when it is made "
        "(``pickle`` given by name logs nothing). ``json``: JSON (recommended, see "
        ":doc:`security`). Or an object with ``loads(bytes)`` and ``dumps(obj) -> bytes`` "
        "that raises ``ValueError`` on bad input, or the dotted name of one "
        "(``myapp.sessions:CompactSerializer``; a class is made without arguments). Names "
        "are read in any case, without the spaces around them.",
        default_doc="``None`` (pickle)",
        positional=True,
    ),
    Option(
        "samesite",
        "Lax",
        as_samesite,
        "The cookie's ``SameSite``: ``Strict``, ``Lax`` or ``None`` (any case); ``None`` as "
        "text needs ``secure``, or browsers drop the cookie. The value ``None`` (not the text), "
        "or an empty value, sends no ``SameSite`` attribute.",
        positional=True,
        needs=Needs(
            "secure",
            _is_none_samesite,
            "SameSite=None needs secure = true (browsers drop such cookies otherwise)",
        ),
    ),
    Option(
        "absolute_timeout",
        None,
        as_seconds,
        "Seconds since the session was created after which it is reset however active it is. "
        "A cap on how long a stolen cookie keeps working. ``None``: no limit.",
    ),
    Option(
        "migrate_pickle",
        False,
        as_bool,
        "With ``serializer='json'`` only: also read cookies that hold a pickle of plain data "
        "(from 1.0 or from pickle mode) without running any pickle code, and write them back "
        "as JSON. See :doc:`moving-off-pickle`.",
    ),
    Option(
        "migrate_signed_secret",
        None,
        as_signing_secret,
        "The ``secret`` of the Pyramid ``SignedCookieSessionFactory`` the app is moving off, "
        "taken as written (any text, spaces and ``;`` included). A request without a readable "
        "cookie of ours that brings a cookie signed with it (verified, and inside "
        "``migrate_signed_timeout``) gets its session, resealed as ours on the same response. "
        "See :ref:`from-signed-cookies`. ``None``: off. Each other ``migrate_signed_*`` option "
        "set to other than its default needs it.",
        default_doc="``None`` (off)",
        as_written=True,
    ),
    _signed(
        "migrate_signed_salt",
        DEFAULT_SALT,
        as_salt,
        "The old factory's ``salt`` (may be empty).",
        as_written=True,
    ),
    _signed(
        "migrate_signed_hashalg",
        DEFAULT_HASHALG,
        as_hashalg,
        "The old factory's ``hashalg``: ``sha512``, ``sha384``, ``sha256``, ``sha224`` or "
        "``sha1`` (any case).",
    ),
    _signed(
        "migrate_signed_serializer",
        "json",
        as_signed_serializer,
        "The old factory's serializer: ``json`` (Pyramid 2's default) or ``pickle`` (Pyramid "
        "1.x's default, or ``PickleSerializer``), read as plain data without running pickle "
        "code. In Python, Pyramid's ``JSONSerializer()`` and ``PickleSerializer()`` are taken "
        "too.",
    ),
    _signed(
        "migrate_signed_cookie_name",
        None,
        as_optional_cookie_name,
        "The old factory's ``cookie_name``. Where it differs from ours, the response that moves "
        "a session also deletes the old cookie (with this factory's ``path`` and ``domain``). "
        "``None``: ``cookie_name``.",
    ),
    _signed(
        "migrate_signed_timeout",
        1200,
        as_seconds,
        "The old factory's ``timeout``: an old cookie last renewed longer ago is not read. "
        "``None``: no limit. Our own ``timeout`` and ``absolute_timeout`` apply too.",
    ),
    _signed(
        "migrate_signed_until",
        None,
        as_instant,
        "When the migration window closes: a date (``2027-03-31``, meaning 00:00 UTC that day) "
        "or a time (``2027-03-31T12:00Z``; without a zone, UTC); in Python also a ``date``, "
        "``datetime`` or POSIX seconds. From then on signed cookies are no longer read and a "
        "warning is logged (at start-up, or once when it passes while the app runs). "
        "``None``: open until the ``migrate_signed_*`` options are removed.",
    ),
    Option(
        "revocation_url",
        None,
        as_revocation_url,
        "A Redis URL (``redis://``, ``rediss://``, ``unix://``, or ``redis+sentinel://`` for "
        'Redis Sentinel: :doc:`revocation`, "Running with Sentinel"): turns on session '
        "revocation (:doc:`revocation`). Needs ``absolute_timeout`` (how long revocations are "
        "kept) and redis-py (the ``redis`` extra: ``pip install "
        "'pyramid-nacl-session[redis]'``). "
        "``None`` (or an empty value): off, and nothing of it is imported. Any password "
        "works, percent-encoded as URLs have it (``urllib.parse.quote(password, safe='')``: "
        "``#`` is ``%23``, ``%`` is ``%25``, ``@`` is ``%40``; a raw ``#`` would start the "
        "URL's fragment), and in an ``.ini`` file each ``%`` then doubled, as configparser "
        "reads ``%``: the password ``p#ss`` is ``redis://:p%%23ss@host:6379/0``.",
        needs=Needs(
            "absolute_timeout",
            _given,
            "required when revocation_url is set (revocation entries live as long as a session "
            "can; set it to the longest a session may live, e.g. 86400)",
            blame_other=True,
        ),
    ),
    Option(
        "revocation_user",
        None,
        as_revocation_user,
        'How a session names its user, for "log out everywhere": a state key, a callable '
        "taking the session's state dict, or the dotted name of one as ``module:callable`` (a "
        "value without a colon is a state key).",
        needs=Needs("revocation_url", _given, "needs revocation_url"),
    ),
    Option(
        "revocation_policy",
        REVOCATION_POLICY,
        as_revocation_policy,
        "When Redis cannot be reached: ``serve`` checks against the last known set and logs "
        "errors; ``refuse`` refuses every existing session once the set is "
        "``revocation_stale_after`` seconds out of date.",
    ),
    Option(
        "revocation_stale_after",
        REVOCATION_STALE_AFTER,
        as_positive_seconds,
        "Seconds (more than zero, fractions allowed) without a successful sync after which "
        "``refuse`` refuses.",
    ),
    Option(
        "revocation_resync",
        REVOCATION_RESYNC,
        as_positive_seconds,
        "Seconds (more than zero, fractions allowed) between two resyncs with Redis (each "
        "re-reads recent revocations, healing lost messages, and shows that Redis answers).",
    ),
    Option(
        "revocation_prefix",
        REVOCATION_PREFIX,
        as_revocation_prefix,
        "Prefix of the Redis keys and channel. One per app (apps sharing a prefix share "
        "revocations, and must share ``absolute_timeout``).",
    ),
    Option(
        "partitioned",
        False,
        as_partitioned,
        "Add the ``Partitioned`` attribute (CHIPS) to the cookie and to its deletion. Turn it "
        "on when the app runs in a frame on other sites (a widget, an embedded checkout): "
        "browsers that block third-party cookies keep a partitioned one, apart for each "
        "top-level site. Needs ``secure``. On a response class with its own ``set_cookie``, "
        "that method is called with ``partitioned=True`` (WebOb 1.8's has no such keyword, so "
        "such a class must take it); with the option off the keyword is never passed.",
        needs=Needs(
            "secure",
            bool,
            "Partitioned needs secure = true (browsers drop such cookies otherwise)",
        ),
    ),
    Option(
        "detect_changes",
        True,
        as_bool,
        "At the end of a request that read the session without changing it through its "
        "methods, write the cookie when the state differs from what the cookie held: a value "
        'changed in place (``request.session["cart"].append(item)``) is then kept even without '
        "``changed()`` and with ``reissue_time`` above 0. It costs one serialization, without "
        "encryption, on such requests only (see :doc:`benchmarks`); ``False`` turns it off, as "
        "1.0 behaved. A custom serializer whose output differs each time makes every such "
        "request write the cookie.",
    ),
    Option(
        "track_sessions",
        False,
        as_bool,
        "Keep each user's list of live sessions in Redis, for a \"where you're logged in\" "
        "page: ``request.session.revocation.sessions(user)``, ``revoke_session(id)``, "
        "``revoke_others(user, request.session)`` (:ref:`session-list`). Needs "
        "``revocation_url`` and ``revocation_user``. A session's entry is written at most once "
        "per ``max(reissue_time, 60)`` seconds.",
        needs=Needs(
            ("revocation_url", "revocation_user"),
            bool,
            "needs revocation_url and revocation_user (the list lives in the revocation "
            "store's Redis, one per user)",
        ),
    ),
    Option(
        "track_sessions_label",
        None,
        as_session_label,
        "What names a session in that list: a request header's name (``User-Agent``), or a "
        "callable taking the request and returning text, or the dotted name of one as "
        "``module:callable``; cut to 200 characters. Needs ``track_sessions``.",
        needs=Needs("track_sessions", _given, "needs track_sessions = true"),
    ),
    Option(
        "secret_file",
        None,
        as_secret_file,
        "The path of a file of keys, in place of ``secret``: one a line (the first seals, all "
        "open; blank lines and ``#`` comments skipped), read when the app starts, so a rotation "
        "edits this file and restarts, the ``.ini`` unchanged. Refused, naming the option and "
        "never the contents, when missing, without a key, or (POSIX) readable or writable by "
        "others than its owner. See :doc:`key-rotation`.",
    ),
    Option(
        "secret_env",
        None,
        as_secret_env,
        "Where the keys are, in place of ``secret``: the name of an environment variable "
        "holding one or more keys, separated by whitespace (the first seals, all open). Read "
        "when the factory is made.",
    ),
)

BY_NAME: "dict[str, Option]" = {option.name: option for option in OPTIONS}


def _chain(option: Option) -> int:
    """How many rules lead on from ``option`` (``track_sessions_label`` needs
    ``track_sessions``, which needs ``revocation_user``, which needs ``revocation_url``: 3)."""
    if option.needs is None:
        return 0
    return 1 + max(_chain(BY_NAME[other]) for other in option.needs.others)


#: The options with a rule, the longest chain of rules first: when several rules fail at once,
#: the error names the option furthest along the chain (``track_sessions``, not the
#: ``revocation_user`` it needs), which says the most about what is missing.
RULE_ORDER = sorted((o for o in OPTIONS if o.needs is not None), key=_chain, reverse=True)


@contextmanager
def blaming(names: Mapping[str, str], prefix: str = "") -> Iterator[None]:
    """Re-raise an :class:`OptionError` raised under an option's name (by a check, or by the
    core) under the name it was given as: ``names[option]`` (the setting it was read from), else
    ``prefix + option``."""
    try:
        yield
    except OptionError as e:
        if e.option in BY_NAME and names.get(e.option, prefix + e.option) != e.option:
            raise OptionError(names.get(e.option, prefix + e.option), e.reason) from None
        raise


def check_all(
    given: Mapping[str, Any],
    names: Optional[Mapping[str, str]] = None,
    prefix: str = "",
    *,
    need_secret: bool = True,
) -> "dict[str, Any]":
    """Every option's working value: each given one (others take their default) through its
    record's check, then the rules between them. Errors name the option as it was given
    (``names``, else ``prefix + option``: see :func:`blaming`)."""
    checked: dict[str, Any] = {}
    names = names or {}
    with blaming(names, prefix):
        for option in OPTIONS:
            value = given.get(option.name, option.default)
            if value is REQUIRED:
                raise OptionError(option.name, f"missing; {MAKE_A_KEY}")
            checked[option.name] = option.check(value, option.name)
        if need_secret:
            # The keys come from exactly one of three options, read now (key_file.py); the
            # command line's decode --signed needs none, and reads none (need_secret=False).
            keys = {o: names.get(o, prefix + o) for o in KEY_OPTIONS}
            secret, secret_file, secret_env = (checked[o] for o in KEY_OPTIONS)
            checked["secret"] = choose_secret(secret, secret_file, secret_env, keys)
        for option in RULE_ORDER:
            rule = option.needs
            assert rule is not None
            missing = [other for other in rule.others if not checked[other]]
            if missing and rule.when(checked[option.name]):
                culprit = missing[0] if rule.blame_other else option.name
                reason = rule.reason
                for other in rule.others:
                    reason = reason.replace(other, names.get(other, prefix + other))
                raise OptionError(culprit, reason)
    return checked


def docstring() -> str:
    """The options' part of the factory's docstring: a definition list, default included."""
    lines = []
    for option in OPTIONS:
        lines.append(f"``{option.name}``")
        text = f"{option.doc} Default: {option.shown_default()}."
        lines.extend("  " + line for line in _wrap(text, 94))
        lines.append("")
    return "\n".join(lines)


def rst() -> "list[str]":
    """docs/options.rst's list of options: a section per option (the Python argument as its
    title, then the setting, the default and what it does), which fits a page at any width."""
    lines: list[str] = []
    for option in OPTIONS:
        title = f"``{option.name}``"
        kind = "positional or keyword" if option.positional else "keyword-only"
        lines += [
            f".. _option-{option.name.replace('_', '-')}:",
            "",
            title,
            "~" * len(title),
            "",
            f":Setting: ``{option.setting}``",
            f":Default: {option.shown_default()}",
            f":Argument: {kind}",
            "",
            *_wrap(option.doc, 96),
            "",
        ]
    return lines


def _wrap(text: str, width: int) -> "list[str]":
    import textwrap

    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
