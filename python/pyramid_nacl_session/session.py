"""The session factory: Pyramid's cookie session behaviour, with the cookie sealed by the core."""

import binascii
import logging
import os
import textwrap
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional

from pyramid.interfaces import ISession
from zope.interface import implementer

from . import webob_own
from ._core import (
    DEFAULT_HASHALG,
    DEFAULT_SALT,
    CookieSpec,
    EncryptedSerializer,
    SessionCodec,
    new_session_id,
)
from .access_tracking import (
    accessor,
    key_accessor,
    key_setter,
    mutator,
    note_change,
    setter,
    updater,
)
from .cookie_out import (
    app_set_cookie,
    delete_cookie,
    delete_old_cookie,
    partitioned_kw,
    send_header,
)
from .cookie_size import WARN_SIZE, check_size, cookie_size
from .dropped import drop_unwritable, note_unreadable
from .identity import regenerate
from .lifetime import as_own_timeout
from .migrate_signed import read_signed, signed_migration
from .options import REVOCATION_POLICY, REVOCATION_PREFIX, REVOCATION_RESYNC, REVOCATION_STALE_AFTER
from .registry import blaming, check_all, docstring

if TYPE_CHECKING:
    from ._core import _Secret, _SerializerArg

__all__ = ["EncryptedCookieSessionFactory"]

log = logging.getLogger("pyramid_nacl_session")

#: WebOb's own ``request.cookies`` and ``response.set_cookie`` (webob_own.py), once a factory is
#: made: the request path compares with them inline, a call each way being a measurable part
#: of a small request.
_webob_cookies: Any = None
_webob_set_cookie: Any = None


def EncryptedCookieSessionFactory(
    secret: "Optional[_Secret]" = None,
    cookie_name: str = "session",
    max_age: Optional[int] = None,
    path: Optional[str] = "/",
    domain: Optional[str] = None,
    secure: bool = False,
    httponly: bool = False,
    timeout: Optional[int] = 1200,
    reissue_time: Optional[int] = 0,
    set_on_exception: bool = True,
    serializer: "_SerializerArg" = None,
    samesite: Optional[str] = "Lax",
    *,
    absolute_timeout: Optional[int] = None,
    migrate_pickle: bool = False,
    migrate_signed_secret: "Optional[str | bytes]" = None,
    migrate_signed_salt: "str | bytes" = DEFAULT_SALT,
    migrate_signed_hashalg: str = DEFAULT_HASHALG,
    migrate_signed_serializer: Any = "json",
    migrate_signed_cookie_name: Optional[str] = None,
    migrate_signed_timeout: Optional[int] = 1200,
    migrate_signed_until: Any = None,
    revocation_url: Optional[str] = None,
    revocation_user: Any = None,
    revocation_policy: str = REVOCATION_POLICY,
    revocation_stale_after: float = REVOCATION_STALE_AFTER,
    revocation_resync: float = REVOCATION_RESYNC,
    revocation_prefix: str = REVOCATION_PREFIX,
    partitioned: bool = False,
    detect_changes: bool = True,
    track_sessions: bool = False,
    track_sessions_label: Any = None,
    secret_file: "Optional[str | os.PathLike[str]]" = None,
    secret_env: Optional[str] = None,
) -> Callable[[Any], Any]:
    # The options' rules, defaults and docs are their records' (registry.py); this signature
    # spells the same defaults for readers and type checkers, and a test holds the two equal.
    factory: Callable[[Any], Any] = make_factory(check_all(locals()))
    return factory


EncryptedCookieSessionFactory.__doc__ = (
    "Return a Pyramid session factory whose sessions live in one encrypted cookie.\n"
    """
    Use it with :meth:`pyramid.config.Configurator.set_session_factory`. Sessions behave as
    Pyramid's cookie sessions do (timeouts, reissue, flash queues, CSRF tokens); the state is
    serialized, then sealed with NaCl secretbox, so the client can neither read nor forge it.
    The cookie must stay under 4096 bytes, so keep sessions small. The first twelve options
    may be given by position, as in 1.0; the others are keyword-only. A bad value raises
    :class:`~pyramid_nacl_session.OptionError` naming the option, when the factory is made.

""" + textwrap.indent(docstring(), "    ")
)


def make_factory(
    o: "dict[str, Any]", names: "Optional[Mapping[str, str]]" = None, prefix: str = ""
) -> Any:
    """The factory for options already checked (:func:`registry.check_all`); an error the core
    or the revocation store raises names the option as ``names`` and ``prefix`` say."""
    with blaming(names or {}, prefix):
        return _make_factory(o)


def _make_factory(o: "dict[str, Any]") -> Any:
    encrypted = EncryptedSerializer(
        o["secret"], o["serializer"], migrate_pickle=o["migrate_pickle"]
    )
    if o["serializer"] is None:
        # 1.0's default is kept so that 2.0 stays a drop-in, but it should not stay unnoticed:
        # said once, here, when the factory is made, and never on a request.
        log.warning(
            "serializer not given: sessions are pickled, as in 1.0, so whoever learns the secret "
            "can run code on this server; set serializer = json (and migrate_pickle = true to "
            "keep the sessions already in browsers)"
        )
    # Pyramid's own names for the options, read by the path that calls the app's set_cookie (and
    # set per instance by Pyramid's shared session tests).
    attrs: dict[str, Any] = {
        "_cookie_name": o["cookie_name"],
        "_cookie_max_age": o["max_age"],
        "_cookie_path": o["path"],
        "_cookie_domain": o["domain"],
        "_cookie_secure": o["secure"],
        "_cookie_httponly": o["httponly"],
        "_cookie_samesite": o["samesite"],
        "_cookie_on_exception": o["set_on_exception"],
        "_timeout": o["timeout"],
        "_reissue_time": o["reissue_time"],
        "_absolute_timeout": o["absolute_timeout"],
        "_serializer": encrypted,
        "_cookie_partitioned": o["partitioned"],
    }
    attrs["_migrate_signed"] = signed_migration(o)
    cookie = CookieSpec(
        attrs["_cookie_name"],
        attrs["_cookie_max_age"],
        attrs["_cookie_path"],
        attrs["_cookie_domain"],
        attrs["_cookie_secure"],
        attrs["_cookie_httponly"],
        attrs["_cookie_samesite"],
        o["partitioned"],
    )
    attrs["_codec"] = SessionCodec(encrypted, cookie, o["detect_changes"])
    # The two tests of webob_own.py are made inline on the request path, against these globals.
    global _webob_cookies, _webob_set_cookie
    _webob_cookies, _webob_set_cookie = webob_own.load()
    if o["revocation_url"] is not None:
        # Imported only here: with revocation off, neither it nor redis is loaded.
        from .revocation import from_options
        from .session_registry import registry_for

        attrs["revocation"] = from_options(o)
        user = o["revocation_user"]
        # A plain function on the class would be bound as a method: keep it as given.
        attrs["_revocation_user"] = staticmethod(user) if callable(user) else user
        attrs["_registry"] = registry_for(
            attrs["revocation"],
            user,
            o["track_sessions"],
            o["track_sessions_label"],
            attrs["_reissue_time"],
        )
    return type("EncryptedCookieSession", (EncryptedCookieSession,), attrs)


@implementer(ISession)
class EncryptedCookieSession(dict[Any, Any]):
    """A dict-like session, the same in behaviour as Pyramid's ``CookieSession``.

    Each factory makes a subclass that carries its options as class attributes.
    """

    _codec: SessionCodec
    _serializer: EncryptedSerializer
    _cookie_name: str = "session"
    _cookie_max_age: Optional[int] = None
    _cookie_path: Optional[str] = "/"
    _cookie_domain: Optional[str] = None
    _cookie_secure = False
    _cookie_httponly = False
    _cookie_samesite: Optional[str] = "Lax"
    _cookie_on_exception = True
    _timeout: Optional[int] = 1200
    _reissue_time: Optional[int] = 0
    _absolute_timeout: Optional[int] = None
    _cookie_partitioned = False
    #: The ``migrate_signed_*`` options, or ``None``.
    _migrate_signed: Any = None
    #: The app's :class:`~pyramid_nacl_session.revocation.RevocationStore`, or ``None`` when
    #: revocation is off.
    revocation: Any = None
    _revocation_user: Any = None
    #: The users' session lists (``track_sessions``, or ``None``); this session's id is new.
    _registry: Any = None
    _fresh_id = False
    #: This session's id (with revocation on; ``None`` until the cookie is first written).
    session_id: Optional[str] = None
    #: With revocation on, a session read from a cookie without an id: named by ``created``.
    _named_by_created = False
    #: ``refuse`` could not check the cookie (a revocation.Unchecked): kept, unless invalidated.
    _unchecked: Any = False

    #: The response callback is registered: the session was accessed, changed or is resealed.
    _watched = False
    #: The callback is to write the cookie.
    _dirty = False
    #: What the cookie held when read (``detect_changes``), or ``None``.
    _snapshot: Optional[object] = None
    #: This session's own inactivity timeout and cookie Max-Age
    #: (:meth:`adjust_timeout_for_session`), or ``None``.
    _own_timeout: Optional[int] = None
    #: The app changed the session (so a failure to write it is the app's to hear about).
    _app_changed = False
    _invalidated = False
    #: The Pyramid signed cookie this session was moved from, when its name is not ours.
    _delete_old_cookie: Optional[str] = None
    #: The Set-Cookie header this session added to the response, replaced by a later write
    #: (a change made in a response callback that ran after ours).
    _sent: Optional[tuple[str, str]] = None
    #: The request's queue of response callbacks, once ours has run (Pyramid's deque).
    _callbacks: Any
    #: Set on the factory's class once it has logged a size warning or a failed reseal.
    _size_warned = False
    _reseal_warned = False

    def __init__(self, request: Any) -> None:
        self.request = request
        now = time.time()
        created = renewed = now
        new = True
        state: dict[Any, Any] = {}
        reseal = False
        codec = self._codec
        opened = None
        webob = getattr(type(request), "cookies", None) is _webob_cookies
        if webob:
            # WebOb's own request.cookies: read its source, without parsing every cookie.
            try:
                opened = codec.read_header(request.environ.get("HTTP_COOKIE"), now)
            except ValueError as e:  # unreadable: a fresh session
                note_unreadable(self, e)
        else:
            value = request.cookies.get(self._cookie_name)
            if value is not None:
                try:
                    opened = codec.read_value(value, now)
                except ValueError as e:  # unreadable: a fresh session
                    note_unreadable(self, e)
        if opened is not None:
            state, renewed, created, reseal, self._snapshot, self._own_timeout = opened
            new = False
        elif self._migrate_signed is not None:
            moved = read_signed(request, self._migrate_signed, now, stock=webob)
            if moved is not None:
                state, renewed, created = moved
                new = False
                reseal = True  # as ours on this response, even when empty
                if self._migrate_signed.cookie_name != self._cookie_name:
                    self._delete_old_cookie = self._migrate_signed.cookie_name
        if not new and self.revocation is not None:
            # One native call: takes the id out of the state, checks id, user and time.
            sid = self.revocation.check(state, self._revocation_user, created)
            if sid is False:
                state, renewed, created, new, reseal = {}, now, now, True, False
                self._snapshot = self._own_timeout = None
            elif sid is None:
                # Without an id (from before revocation was on, or a signed cookie): it stays
                # without one, named by its creation time, which every copy of it shares, so
                # that invalidate() revokes every copy, not only this browser's.
                self._named_by_created = True
            elif isinstance(sid, str):
                self.session_id = sid
            else:
                # revocation.Unchecked ('refuse', set stale): a fresh session, the cookie kept.
                state, renewed, created, new, reseal = {}, now, now, True, False
                self._snapshot = self._own_timeout = None
                self._unchecked = sid
        timeout = self._own_timeout or self._timeout
        if timeout is not None and now - renewed > timeout:
            state = {}
            self._snapshot = self._own_timeout = None
        if self._absolute_timeout is not None and now - created > self._absolute_timeout:
            state = {}
            created = renewed = now
            new = True
            self.session_id = None
            self._named_by_created = False
            self._snapshot = self._own_timeout = None
        self.created = created
        self.accessed = renewed
        self.renewed = renewed
        self.new = new
        dict.__init__(self, state)
        if reseal and (state or self._delete_old_cookie):
            # Under an old key, as JSON after a pickle, or as ours after a Pyramid signed cookie.
            self._schedule()

    # ISession methods
    def changed(self) -> None:
        """Note that the app changed the session (say, a value inside it); sets the cookie."""
        self._app_changed = True
        self._schedule()

    def _schedule(self) -> None:
        self._dirty = True
        if not self._watched:
            self._watch()

    def _watch(self) -> None:
        self._watched = True
        request = self.request
        if request is not None:
            request.add_response_callback(self._set_cookie_callback)
        else:
            # Our callback has run, and the app changed the session in one of its own callbacks
            # after it: Pyramid runs callbacks added while it runs them, from this queue.
            self._callbacks.append(self._set_cookie_callback)

    def _set_cookie_callback(self, request: Any, response: Any) -> None:
        self.request = request  # (let go of below: this may be a later run)
        if self._dirty:
            written = self._set_cookie(response)
        elif self._snapshot is None:
            written = False
        elif (
            self.revocation is None
            and self._own_timeout is None
            and getattr(type(response), "set_cookie", None) is _webob_set_cookie
        ):
            # detect_changes' usual case in one native call (Vary, and the comparison); only a
            # change, which is rare, takes the full write. A change made in place is the app's:
            # if it cannot be written, the app hears of it, as after changed().
            if self._codec.unchanged(response.headerlist, self, self._snapshot):
                written = True
            else:
                self._app_changed = True
                written = self._set_cookie(response)
        else:
            written = self._set_cookie(response, self._snapshot)
        if not written:
            # A response that read the session depends on the cookie: a shared cache must not
            # serve it to another one. (Every write above has added this already.)
            self._vary(response)
        # The app may still change the session in a response callback of its own that runs
        # after this one (registered later): as in 1.0, where the first change registered the
        # write, that change is written. So from here on a change schedules this callback again,
        # on Pyramid's queue of callbacks, which holds no reference to the request: the session
        # lets go of the request (no reference cycle), as Pyramid's own cookie session does.
        # (_dirty stays: once written, a later read is no reason to reissue; a later change
        # writes again through changed(), which _app_changed no longer skips.)
        self._watched = self._app_changed = False
        callbacks = getattr(request, "response_callbacks", None)
        if callbacks is not None:
            self._callbacks = callbacks
            self.request = None

    def invalidate(self) -> None:
        """Empty the session. Unless something is stored again in this request, the response
        deletes the cookie."""
        self.clear()
        self._invalidated = True
        self._own_timeout = None
        self._unchecked = self._unchecked and self._unchecked.revoke(self.revocation)
        if self.session_id is not None:
            self.revocation.revoke_session(self.session_id)
            self.session_id = None
        elif self._named_by_created:
            self.revocation.revoke_created(self.created)
            self._named_by_created = False
        self.created = time.time()

    def adjust_timeout_for_session(self, seconds: int) -> None:
        """From now on, this session's inactivity timeout is ``seconds`` (in place of the
        factory's ``timeout``), and its cookie persists with ``Max-Age`` of ``seconds`` on every
        write, for as long as the session lives ("remember me"); ``absolute_timeout`` still
        ends it. ``seconds``: a whole number from 1 to a hundred years. Sets the cookie."""
        seconds = as_own_timeout(seconds)
        note_change(self)
        self._own_timeout = seconds

    regenerate = regenerate

    def _new_id(self) -> str:
        self.session_id = sid = new_session_id()
        self._fresh_id = True
        return sid

    # non-modifying dictionary methods
    get = accessor(dict.get)
    __getitem__ = key_accessor(dict.__getitem__)
    items = accessor(dict.items)
    values = accessor(dict.values)
    keys = accessor(dict.keys)
    __contains__ = key_accessor(dict.__contains__)
    __len__ = accessor(dict.__len__)
    __iter__ = accessor(dict.__iter__)

    # modifying dictionary methods
    clear = mutator(dict.clear)
    update = updater(dict.update)
    setdefault = key_setter(dict.setdefault)
    pop = mutator(dict.pop)
    popitem = mutator(dict.popitem)
    __setitem__ = setter(dict.__setitem__)
    __delitem__ = mutator(dict.__delitem__)

    def __ior__(self, other: Any) -> "EncryptedCookieSession":  # type: ignore[misc]
        # dict's own |= would set the keys without the session knowing (no cookie written, a
        # reserved key set): through update, as ``session.update(other)``.
        self.update(other)
        return self

    # flash API methods
    @mutator
    def flash(self, msg: Any, queue: str = "", allow_duplicate: bool = True) -> None:
        storage: list[Any] = self.setdefault("_f_" + queue, [])
        if allow_duplicate or (msg not in storage):
            storage.append(msg)

    @mutator
    def pop_flash(self, queue: str = "") -> list[Any]:
        flashed: list[Any] = self.pop("_f_" + queue, [])
        return flashed

    @accessor
    def peek_flash(self, queue: str = "") -> list[Any]:
        flashed: list[Any] = self.get("_f_" + queue, [])
        return flashed

    # CSRF API methods
    @mutator
    def new_csrf_token(self) -> str:
        token = binascii.hexlify(os.urandom(20)).decode("ascii")
        self["_csrft_"] = token
        return token

    @accessor
    def get_csrf_token(self) -> str:
        token = self.get("_csrft_", None)
        if token is None:
            token = self.new_csrf_token()
        return token

    # non-API methods
    def _set_cookie(self, response: Any, snapshot: Optional[object] = None) -> bool:
        """Set the session cookie on ``response`` and add ``Cookie`` to its ``Vary``; ``False``
        when skipped for an exception (``Vary`` untouched). With ``snapshot`` (what the cookie
        held when read, for ``detect_changes``), writes only when the state differs from it.

        When the app changed the session and it does not fit in a cookie, raises
        ``CookieTooLarge`` before setting the cookie. A write the app did not ask for (a
        reissue, or a reseal under the first key or as JSON) never fails the request: the
        session is dropped instead, and the failure logged once.
        """
        if not self._cookie_on_exception:
            exception = getattr(self.request, "exception", None)
            if exception is not None:  # no cookie for a response to an exception
                return False
        if self._unchecked:
            # The cookie may be perfectly good: once Redis answers, it is checked and served.
            return False
        webob = getattr(type(response), "set_cookie", None) is _webob_set_cookie
        if self._delete_old_cookie is not None:
            delete_old_cookie(self, response)
            self._delete_old_cookie = None  # once, should the session be written again
        if self._invalidated and not dict.__len__(self):
            delete_cookie(self, response, webob)
            return True
        own_timeout = self._own_timeout
        # A session named by its creation time (read without an id) keeps none: see __init__.
        sid = None
        if self.revocation is not None and not self._named_by_created:
            sid = self.session_id or self._new_id()
        try:
            headerlist = response.headerlist if webob else None
            cookie = self._codec.write(
                headerlist, self.accessed, self.created, self, sid, own_timeout, snapshot
            )
            if cookie is None:  # nothing changed since it was read
                if not webob:
                    self._vary(response)
                return True
            # The header is longer than the name and value browsers count: exact only past it.
            if len(cookie) > WARN_SIZE:
                check_size(self, cookie_size(self._cookie_name, cookie, webob))
        except Exception as e:
            if self._app_changed or snapshot is not None:  # (a change in place is the app's)
                raise
            drop_unwritable(self, e)
            delete_cookie(self, response, webob)
            return True
        if self._registry is not None:
            self._registry.seen(self)
        if headerlist is not None:  # a stock WebOb response
            send_header(self, headerlist, cookie)
        else:
            max_age = self._cookie_max_age if own_timeout is None else own_timeout
            app_set_cookie(self, response, value=cookie, max_age=max_age)
            self._vary(response)
        return True

    def _vary(self, response: Any) -> None:
        """Add ``Cookie`` to the response's ``Vary``, through its WSGI header list; a response
        object without one (not a WebOb response) cannot carry it."""
        headerlist = getattr(response, "headerlist", None)
        if headerlist is not None:
            self._codec.vary(headerlist)

    def _partitioned_kw(self) -> dict[str, bool]:
        return partitioned_kw(self._cookie_partitioned)
