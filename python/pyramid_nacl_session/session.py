"""The session factory: Pyramid's cookie session behaviour, with the cookie sealed by the core."""

import binascii
import logging
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from pyramid.interfaces import ISession
from zope.interface import implementer

from ._core import (
    DEFAULT_HASHALG,
    DEFAULT_SALT,
    SESSION_ID_KEY,
    CookieTooLarge,
    EncryptedSerializer,
    SessionCodec,
    new_session_id,
)
from .migrate_signed import DEFAULT_TIMEOUT, read_signed, signed_migration
from .options import (
    REVOCATION_POLICY,
    REVOCATION_PREFIX,
    REVOCATION_RESYNC,
    REVOCATION_STALE_AFTER,
    OptionError,
    as_bool,
    as_cookie_domain,
    as_cookie_name,
    as_cookie_path,
    as_positive_seconds,
    as_revocation_policy,
    as_revocation_prefix,
    as_samesite,
    as_seconds,
)

if TYPE_CHECKING:
    from ._core import _Secret, _SerializerArg

__all__ = ["EncryptedCookieSessionFactory"]

log = logging.getLogger("pyramid_nacl_session")

#: Browsers drop a cookie whose name and value together are longer (RFC 6265bis 5.6; Chromium
#: and Firefox count so, and limit each attribute to 1024 bytes, which options.py enforces).
COOKIE_LIMIT = 4096
#: Past this size a warning is logged, once per factory and process, so operators see it coming.
WARN_SIZE = COOKIE_LIMIT * 3 // 4


def EncryptedCookieSessionFactory(
    secret: "_Secret",
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
    migrate_signed_timeout: Optional[int] = DEFAULT_TIMEOUT,
    migrate_signed_until: Any = None,
    revocation_url: Optional[str] = None,
    revocation_user: Any = None,
    revocation_policy: str = REVOCATION_POLICY,
    revocation_stale_after: float = REVOCATION_STALE_AFTER,
    revocation_resync: float = REVOCATION_RESYNC,
    revocation_prefix: str = REVOCATION_PREFIX,
) -> Callable[[Any], Any]:
    """Return a Pyramid session factory whose sessions live in one encrypted cookie.

    Use it with :meth:`pyramid.config.Configurator.set_session_factory`. Sessions behave as
    Pyramid's cookie sessions do (timeouts, reissue, flash queues, CSRF tokens); the state is
    serialized, then sealed with NaCl secretbox, so the client can neither read nor forge it.
    The cookie must stay under 4096 bytes, so keep sessions small.

    ``secret``
      32 random bytes or 64 hex digits (from :func:`generate_secret` or ``print_secret``), or a
      list of them: the first seals new cookies, every one opens them (key rotation).

    ``cookie_name``
      The name of the session cookie. Default: ``'session'``.

    ``max_age``
      The cookie's ``Max-Age`` in seconds. Default: ``None`` (browser scope).

    ``path``
      The cookie's ``Path``. Default: ``'/'``.

    ``domain``
      The cookie's ``Domain``. Default: ``None`` (no domain).

    ``secure``
      Send the cookie only over HTTPS. Default: ``False``.

    ``httponly``
      Hide the cookie from JavaScript. Default: ``False``.

    ``timeout``
      Seconds of inactivity after which the session is emptied; ``None`` for never.
      Default: ``1200``.

    ``reissue_time``
      Seconds since the cookie was last issued after which reading the session issues it
      again; ``0`` reissues on every request that touches the session, ``None`` never.
      Default: ``0``.

    ``set_on_exception``
      Set the cookie even when the view raised. Default: ``True``.

    ``serializer``
      ``None`` or ``'pickle'`` (pickle, as in 1.0), ``'json'`` (JSON done natively), or any
      object with ``loads`` and ``dumps``. Default: ``None``.

    ``samesite``
      The cookie's ``SameSite``: ``'Strict'``, ``'Lax'``, ``'None'`` (needs ``secure``) or
      ``None`` for no attribute. Default: ``'Lax'``.

    ``absolute_timeout``
      Seconds since the session was created after which it is reset, however active it is.
      Default: ``None`` (no limit).

    ``migrate_pickle``
      With ``serializer='json'``, also read cookies that hold a pickle of plain data (from 1.0
      or from pickle mode) without running pickle code, and rewrite them as JSON.
      Default: ``False``.

    ``migrate_signed_secret``
      The ``secret`` of a Pyramid ``SignedCookieSessionFactory`` this app is moving off: a
      request without a readable cookie of ours that brings a cookie signed with it (verified,
      and inside ``migrate_signed_timeout``) gets that session, resealed as ours on the same
      response. Default: ``None`` (off). See :ref:`from-signed-cookies`.

    ``migrate_signed_salt``, ``migrate_signed_hashalg``
      The old factory's ``salt`` and ``hashalg`` (``sha512``, ``sha384``, ``sha256``,
      ``sha224`` or ``sha1``). Default: Pyramid's, ``'pyramid.session.'`` and ``'sha512'``.

    ``migrate_signed_serializer``
      The old factory's serializer: ``'json'`` (Pyramid 2's default) or ``'pickle'`` (Pyramid
      1.x, or ``PickleSerializer``), read as plain data without running pickle code.
      Default: ``'json'``.

    ``migrate_signed_cookie_name``
      The old factory's ``cookie_name``; where it differs from ours, the response also deletes
      the old cookie (with this factory's ``path`` and ``domain``). Default: ``cookie_name``.

    ``migrate_signed_timeout``
      The old factory's ``timeout``: an old cookie last renewed longer ago is not read.
      Default: ``1200``, Pyramid's.

    ``migrate_signed_until``
      When the window closes: a ``datetime`` (naive means UTC), a ``date`` (00:00 UTC) or ISO
      8601 text. From then on the other ``migrate_signed_*`` options are ignored and a warning
      is logged. Default: ``None`` (open until the options are removed).
    ``revocation_url``
      A Redis URL: turns on revocation (see the Revoking sessions chapter). Each session then
      carries an id, ``invalidate()`` revokes it, and every worker refuses revoked sessions
      within a second. Needs ``absolute_timeout`` and redis-py (``pyramid-nacl-session[redis]``).
      Default: ``None`` (off; nothing is imported and the request path does not change).

    ``revocation_user``
      How a session names its user, for "log out everywhere": a state key, or a callable that
      takes the session's state dict and returns the user (a str, or anything ``str()`` names).
      Default: ``None``.

    ``revocation_policy``
      ``'serve'``: when Redis cannot be reached, check against the last known set and log errors.
      ``'refuse'``: refuse every existing session once the set has not been confirmed current
      for ``revocation_stale_after`` seconds. Default: ``'serve'``.

    ``revocation_stale_after``
      Seconds without a successful sync after which ``'refuse'`` refuses. Default: ``30``.

    ``revocation_resync``
      Seconds between two resyncs with Redis. Default: ``5``.

    ``revocation_prefix``
      Prefix of the Redis keys and channel; one per app. Default: ``'pyramid_nacl_session:'``.
    """
    encrypted = EncryptedSerializer(
        secret, serializer, migrate_pickle=as_bool(migrate_pickle, "migrate_pickle")
    )
    secure = as_bool(secure, "secure")
    # Pyramid's own names for the options, read by the path that calls the app's set_cookie (and
    # set per instance by Pyramid's shared session tests).
    attrs = {
        "_cookie_name": as_cookie_name(cookie_name, "cookie_name"),
        "_cookie_max_age": as_seconds(max_age, "max_age", most=MAX_AGE_LIMIT),
        "_cookie_path": as_cookie_path(path, "path"),
        "_cookie_domain": as_cookie_domain(domain, "domain"),
        "_cookie_secure": secure,
        "_cookie_httponly": as_bool(httponly, "httponly"),
        "_cookie_samesite": as_samesite(samesite, "samesite", secure),
        "_cookie_on_exception": as_bool(set_on_exception, "set_on_exception"),
        "_timeout": as_seconds(timeout, "timeout"),
        "_reissue_time": as_seconds(reissue_time, "reissue_time"),
        "_absolute_timeout": as_seconds(absolute_timeout, "absolute_timeout"),
        "_serializer": encrypted,
    }
    attrs["_migrate_signed"] = signed_migration(
        migrate_signed_secret,
        migrate_signed_salt,
        migrate_signed_hashalg,
        migrate_signed_serializer,
        migrate_signed_cookie_name,
        migrate_signed_timeout,
        migrate_signed_until,
        default_cookie_name=attrs["_cookie_name"],
    )
    attrs["_codec"] = SessionCodec(
        encrypted,
        attrs["_cookie_name"],
        attrs["_cookie_max_age"],
        attrs["_cookie_path"],
        attrs["_cookie_domain"],
        attrs["_cookie_secure"],
        attrs["_cookie_httponly"],
        attrs["_cookie_samesite"],
    )
    # What the header holds besides the name and value: the "=" and the attributes.
    attrs["_header_extra"] = attrs["_codec"].overhead - len(attrs["_cookie_name"])
    if _STOCK_COOKIES is None:
        _load_stock()
    if revocation_url is not None:
        # Imported only here: with revocation off, neither it nor redis is loaded.
        from .revocation import from_options

        attrs["revocation"], user = from_options(
            revocation_url,
            attrs["_absolute_timeout"],
            user=revocation_user,
            policy=revocation_policy,
            stale_after=revocation_stale_after,
            resync=revocation_resync,
            prefix=revocation_prefix,
        )
        # A plain function on the class would be bound as a method: keep it as given.
        attrs["_revocation_user"] = staticmethod(user) if user is not None else None
    else:
        # Checked all the same, as the settings reader checks them: one rule for an option
        # whichever way it comes, set to be used or not yet.
        as_revocation_policy(revocation_policy, "revocation_policy")
        as_positive_seconds(revocation_stale_after, "revocation_stale_after")
        as_positive_seconds(revocation_resync, "revocation_resync")
        as_revocation_prefix(revocation_prefix, "revocation_prefix")
        if revocation_user is not None:
            raise OptionError("revocation_user", "needs revocation_url")
    return type("EncryptedCookieSession", (EncryptedCookieSession,), attrs)


#: A hundred years: a larger max_age would put the cookie's expiry date past the year 9999.
MAX_AGE_LIMIT = 100 * 365 * 24 * 3600


def _note_access(session):
    """Pyramid's ``manage_accessed``: reading the session notes the time, and reissues the
    cookie once ``reissue_time`` has passed since it was issued."""
    session.accessed = now = int(time.time())
    reissue_time = session._reissue_time
    # Once dirty, there is nothing left to schedule: skip the call on every later access.
    if not session._dirty and reissue_time is not None and now - session.renewed > reissue_time:
        session._schedule()


def _note_change(session):
    """Pyramid's ``manage_changed``: changing the session notes the time and sets the cookie."""
    session.accessed = int(time.time())
    if not session._app_changed:
        session.changed()


# The wrappers of the busiest methods take their exact arguments: passing ``*args, **kw`` costs
# more than the bookkeeping itself (benchmarks/README.md, "Where the time goes").


def _accessor(method):
    def accessed(session, *args, **kw):
        _note_access(session)
        return method(session, *args, **kw)

    return _named(accessed, method)


def _key_accessor(method):
    def accessed(session, key):
        _note_access(session)
        return method(session, key)

    return _named(accessed, method)


def _mutator(method):
    def changed(session, *args, **kw):
        _note_change(session)
        return method(session, *args, **kw)

    return _named(changed, method)


def _setter(method):
    def changed(session, key, value):
        _note_change(session)
        return method(session, key, value)

    return _named(changed, method)


def _named(wrapper, method):
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


@implementer(ISession)
class EncryptedCookieSession(dict):
    """A dict-like session, the same in behaviour as Pyramid's ``CookieSession``.

    Each factory makes a subclass that carries its options as class attributes.
    """

    _codec: SessionCodec
    _serializer: EncryptedSerializer
    _cookie_name = "session"
    _cookie_max_age = None
    _cookie_path = "/"
    _cookie_domain = None
    _cookie_secure = False
    _cookie_httponly = False
    _cookie_samesite = "Lax"
    _cookie_on_exception = True
    _timeout = 1200
    _reissue_time = 0
    _absolute_timeout = None
    #: The ``migrate_signed_*`` options, or ``None``.
    _migrate_signed = None
    #: The app's :class:`~pyramid_nacl_session.revocation.RevocationStore`, or ``None`` when
    #: revocation is off.
    revocation = None
    _revocation_user = None
    #: This session's id (with revocation on; ``None`` until the cookie is first written).
    session_id = None
    #: With revocation on, a session read from a cookie without an id: named by ``created``.
    _named_by_created = False
    #: Policy ``refuse`` could not check the cookie: this request neither writes nor deletes it.
    _unchecked = False

    #: A response callback is scheduled to write the cookie.
    _dirty = False
    #: The app changed the session (so a failure to write it is the app's to hear about).
    _app_changed = False
    _invalidated = False
    #: The Pyramid signed cookie this session was moved from, when its name is not ours.
    _delete_old_cookie = None
    #: Set on the factory's class once it has logged a size warning or a failed reseal.
    _size_warned = False
    _reseal_warned = False

    def __init__(self, request):
        self.request = request
        now = time.time()
        created = renewed = now
        new = True
        state = {}
        reseal = False
        codec = self._codec
        opened = None
        stock_cookies = getattr(type(request), "cookies", None) is _STOCK_COOKIES
        if stock_cookies:
            # WebOb's own request.cookies: read its source, without parsing every cookie.
            try:
                opened = codec.read_header(request.environ.get("HTTP_COOKIE"))
            except ValueError:
                pass  # unreadable: a fresh session
        else:
            value = request.cookies.get(self._cookie_name)
            if value is not None:
                try:
                    opened = codec.read_value(value)
                except ValueError:
                    pass  # unreadable: a fresh session
        if opened is not None:
            state, renewed, created, reseal = opened
            new = False
        elif self._migrate_signed is not None:
            moved = read_signed(request, self._migrate_signed, now, stock=stock_cookies)
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
            elif sid is None:
                # Without an id (from before revocation was on, or a signed cookie): it stays
                # without one, named by its creation time, which every copy of it shares, so
                # that invalidate() revokes every copy, not only this browser's.
                self._named_by_created = True
            elif isinstance(sid, str):
                self.session_id = sid
            else:
                # revocation.UNCHECKED: policy 'refuse' with a stale set. A fresh session for
                # this request, and the user's cookie left as it is for when Redis answers.
                state, renewed, created, new, reseal = {}, now, now, True, False
                self._unchecked = True
        if self._timeout is not None and now - renewed > self._timeout:
            state = {}
        if self._absolute_timeout is not None and now - created > self._absolute_timeout:
            state = {}
            created = renewed = now
            new = True
            self.session_id = None
            self._named_by_created = False
        self.created = created
        self.accessed = renewed
        self.renewed = renewed
        self.new = new
        dict.__init__(self, state)
        if reseal and (state or self._delete_old_cookie):
            # Under an old key, as JSON after a pickle, or as ours after a Pyramid signed cookie.
            self._schedule()

    # ISession methods
    def changed(self):
        """Note that the app changed the session (say, a value inside it); sets the cookie."""
        self._app_changed = True
        self._schedule()

    def _schedule(self):
        if not self._dirty:
            self._dirty = True
            self.request.add_response_callback(self._set_cookie_callback)

    def _set_cookie_callback(self, request, response):
        self._set_cookie(response)
        self.request = None  # explicitly break cycle for gc

    def invalidate(self):
        """Empty the session. Unless something is stored again in this request, the response
        deletes the cookie."""
        self.clear()
        self._invalidated = True
        if self.session_id is not None:
            self.revocation.revoke_session(self.session_id)
            self.session_id = None
        elif self._named_by_created:
            self.revocation.revoke_created(self.created)
            self._named_by_created = False
        self.created = time.time()

    def _new_id(self):
        self.session_id = sid = new_session_id()
        return sid

    # non-modifying dictionary methods
    get = _accessor(dict.get)
    __getitem__ = _key_accessor(dict.__getitem__)
    items = _accessor(dict.items)
    values = _accessor(dict.values)
    keys = _accessor(dict.keys)
    __contains__ = _key_accessor(dict.__contains__)
    __len__ = _accessor(dict.__len__)
    __iter__ = _accessor(dict.__iter__)

    # modifying dictionary methods
    clear = _mutator(dict.clear)
    update = _mutator(dict.update)
    setdefault = _mutator(dict.setdefault)
    pop = _mutator(dict.pop)
    popitem = _mutator(dict.popitem)
    __setitem__ = _setter(dict.__setitem__)
    __delitem__ = _mutator(dict.__delitem__)

    # flash API methods
    @_mutator
    def flash(self, msg, queue="", allow_duplicate=True):
        storage = self.setdefault("_f_" + queue, [])
        if allow_duplicate or (msg not in storage):
            storage.append(msg)

    @_mutator
    def pop_flash(self, queue=""):
        return self.pop("_f_" + queue, [])

    @_accessor
    def peek_flash(self, queue=""):
        return self.get("_f_" + queue, [])

    # CSRF API methods
    @_mutator
    def new_csrf_token(self):
        token = binascii.hexlify(os.urandom(20)).decode("ascii")
        self["_csrft_"] = token
        return token

    @_accessor
    def get_csrf_token(self):
        token = self.get("_csrft_", None)
        if token is None:
            token = self.new_csrf_token()
        return token

    # non-API methods
    def _set_cookie(self, response):
        """Set the session cookie on ``response``; ``False`` when skipped for an exception.

        When the app changed the session and it does not fit in a cookie, raises
        ``CookieTooLarge`` before touching the response. A write the app did not ask for (a
        reissue, or a reseal under the first key or as JSON) never fails the request: the
        session is dropped instead, and the failure logged once.
        """
        if not self._cookie_on_exception:
            exception = getattr(self.request, "exception", None)
            if exception is not None:  # dont set a cookie during exceptions
                return False
        if self._unchecked:
            # The cookie may be perfectly good: once Redis answers, it is checked and served.
            return False
        if self._delete_old_cookie is not None:
            _delete_old_cookie(self, response)
        if self._invalidated and not dict.__len__(self):
            _delete_cookie(self, response)
            return True
        stock = getattr(type(response), "set_cookie", None) is _STOCK_SET_COOKIE
        try:
            if self.revocation is not None and not self._named_by_created:
                # In the state for the cookie until the finally below takes it out: cheaper than
                # a copy, and dict(self) would go through every overridden accessor.
                dict.__setitem__(self, SESSION_ID_KEY, self.session_id or self._new_id())
            # The size browsers count: the cookie's name and value.
            if stock:
                cookie = self._codec.header(self.accessed, self.created, self)
                size = len(cookie) - self._header_extra
            else:
                cookie = self._codec.value(self.accessed, self.created, self)
                size = len(cookie) + len(self._cookie_name)
            if size > WARN_SIZE:
                self._check_size(size)
        except Exception as e:
            if self._app_changed:
                raise
            self._drop_unwritable(e)
            _delete_cookie(self, response)
            return True
        finally:
            if self.revocation is not None:
                dict.pop(self, SESSION_ID_KEY, None)
        if stock:
            response.headerlist.append(("Set-Cookie", cookie))
        else:
            response.set_cookie(
                self._cookie_name,
                value=cookie,
                max_age=self._cookie_max_age,
                path=self._cookie_path,
                domain=self._cookie_domain,
                secure=self._cookie_secure,
                httponly=self._cookie_httponly,
                samesite=self._cookie_samesite,
            )
        return True

    def _check_size(self, size):
        if size > COOKIE_LIMIT:
            error = CookieTooLarge(
                f"session cookie {self._cookie_name!r} is {size} bytes (name and value), over "
                f"the {COOKIE_LIMIT}-byte limit browsers keep; largest keys: {_LargestKeys(self)}"
            )
            error.size, error.limit = size, COOKIE_LIMIT
            raise error
        factory = type(self)
        if not factory._size_warned:
            factory._size_warned = True
            log.warning(
                "session cookie %r is %d bytes (name and value), %d%% of the %d-byte limit; "
                "largest keys: %s "
                "(logged once per process)",
                self._cookie_name,
                size,
                100 * size // COOKIE_LIMIT,
                COOKIE_LIMIT,
                _LargestKeys(self),
            )

    def _drop_unwritable(self, error):
        factory = type(self)
        if not factory._reseal_warned:
            factory._reseal_warned = True
            log.warning(
                "session cookie %r could not be written again (%s: %s); the user gets a fresh "
                "session (logged once per process)",
                self._cookie_name,
                type(error).__name__,
                error,
            )
        dict.clear(self)


class _LargestKeys:
    """The session's largest keys, measured only if a log record or error is really written:
    each key is sealed on its own to size it, which costs as much as writing the cookie."""

    def __init__(self, session, count=3):
        self.session = session
        self.count = count

    def __str__(self):
        session = self.session
        sizes = []
        for key, value in dict.items(session):
            try:
                sizes.append((len(session._serializer.dumps({key: value})), key))
            except Exception:  # a value this serializer cannot write at all
                continue
        sizes.sort(key=lambda pair: pair[0], reverse=True)
        return ", ".join(f"{key!r} (~{size} bytes)" for size, key in sizes[: self.count]) or "none"


# WebOb's own attributes. Where a request or response class still has them, the fast path
# writes exactly what they would; anywhere else the app's own is called, as Pyramid's cookie
# session does. Looked up when the first factory is made, not on import: importing WebOb warns
# (it imports cgi) on Python 3.11+.
_STOCK_COOKIES = _STOCK_SET_COOKIE = None


def _load_stock():
    global _STOCK_COOKIES, _STOCK_SET_COOKIE
    from webob.request import BaseRequest
    from webob.response import Response

    _STOCK_COOKIES, _STOCK_SET_COOKIE = BaseRequest.cookies, Response.set_cookie


def _delete_old_cookie(session, response):
    """Expire the Pyramid signed cookie the session was moved from. Once per user, so always
    through the response's own ``delete_cookie`` (which calls its ``set_cookie``)."""
    name = session._delete_old_cookie
    path, domain = session._cookie_path, session._cookie_domain
    delete = getattr(response, "delete_cookie", None)
    if delete is not None:
        delete(name, path=path, domain=domain)
    else:
        response.set_cookie(name, None, path=path, domain=domain)


def _delete_cookie(session, response):
    """Expire the cookie. Through ``set_cookie`` with no value, as WebOb's ``delete_cookie``
    does, but with every attribute (a ``SameSite=None; secure`` cookie needs them to be
    deleted); so an app's own ``set_cookie`` sees the deletion too."""
    if getattr(type(response), "set_cookie", None) is _STOCK_SET_COOKIE:
        response.headerlist.append(("Set-Cookie", session._codec.delete_header))
    else:
        response.set_cookie(
            session._cookie_name,
            None,
            path=session._cookie_path,
            domain=session._cookie_domain,
            secure=session._cookie_secure,
            httponly=session._cookie_httponly,
            samesite=session._cookie_samesite,
        )
