"""The session factory: Pyramid's cookie session behaviour, with the cookie sealed by the core."""

import binascii
import logging
import math
import os
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from pyramid.interfaces import ISession
from zope.interface import implementer

from ._core import CookieSpec, CookieTooLarge, EncryptedSerializer, find_cookie
from .migrate_signed import DEFAULT_HASHALG, DEFAULT_SALT, DEFAULT_TIMEOUT, signed_migration
from .options import as_bool, as_cookie_name, as_optional_str, as_samesite, as_seconds

if TYPE_CHECKING:
    from ._core import _Secret, _SerializerArg

__all__ = ["EncryptedCookieSessionFactory"]

log = logging.getLogger("pyramid_nacl_session")

#: Browsers drop a cookie whose Set-Cookie value (name, value and attributes) is longer.
COOKIE_LIMIT = 4096
#: Past this share of the limit, a warning is logged so operators see it coming.
WARN_FRACTION = 0.75


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
    """
    encrypted = EncryptedSerializer(
        secret, serializer, migrate_pickle=as_bool(migrate_pickle, "migrate_pickle")
    )
    secure = as_bool(secure, "secure")
    attrs = {
        "_serializer": encrypted,
        "_cookie_name": as_cookie_name(cookie_name, "cookie_name"),
        "_cookie_max_age": as_seconds(max_age, "max_age"),
        "_cookie_path": as_optional_str(path, "path"),
        "_cookie_domain": as_optional_str(domain, "domain"),
        "_cookie_secure": secure,
        "_cookie_httponly": as_bool(httponly, "httponly"),
        "_cookie_samesite": as_samesite(samesite, "samesite", secure),
        "_cookie_on_exception": as_bool(set_on_exception, "set_on_exception"),
        "_timeout": as_seconds(timeout, "timeout"),
        "_reissue_time": as_seconds(reissue_time, "reissue_time"),
        "_absolute_timeout": as_seconds(absolute_timeout, "absolute_timeout"),
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
    # The Set-Cookie header is built natively, byte for byte as WebOb's make_cookie would.
    attrs["_cookie_spec"] = CookieSpec(
        attrs["_cookie_name"],
        attrs["_cookie_max_age"],
        attrs["_cookie_path"],
        attrs["_cookie_domain"],
        attrs["_cookie_secure"],
        attrs["_cookie_httponly"],
        attrs["_cookie_samesite"],
    )
    return type("EncryptedCookieSession", (EncryptedCookieSession,), attrs)


def _accessor(method):
    """Pyramid's ``manage_accessed``: reading the session notes the time, and reissues the
    cookie once ``reissue_time`` has passed since it was issued."""

    def accessed(session, *args, **kw):
        session.accessed = now = int(time.time())
        reissue_time = session._reissue_time
        # Once dirty, changed() has nothing left to do: skip the call on every later access.
        if not session._dirty and reissue_time is not None and now - session.renewed > reissue_time:
            session.changed()
        return method(session, *args, **kw)

    accessed.__name__ = method.__name__
    accessed.__doc__ = method.__doc__
    return accessed


def _mutator(method):
    """Pyramid's ``manage_changed``: changing the session notes the time and sets the cookie."""

    def changed(session, *args, **kw):
        session.accessed = int(time.time())
        if not session._dirty:
            session.changed()
        return method(session, *args, **kw)

    changed.__name__ = method.__name__
    changed.__doc__ = method.__doc__
    return changed


@implementer(ISession)
class EncryptedCookieSession(dict):
    """A dict-like session, the same in behaviour as Pyramid's ``CookieSession``.

    Each factory makes a subclass that carries its options as class attributes.
    """

    _serializer = None
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
    _migrate_signed = None

    _dirty = False
    #: The name of the Pyramid signed cookie this session was read from, when that is not ours.
    _delete_old_cookie = None
    _invalidated = False

    def __init__(self, request):
        self.request = request
        now = time.time()
        created = renewed = now
        new = True
        state = {}
        stale = migrated = False
        cookieval = _read_cookie(request, self._cookie_name)
        if cookieval is not None:
            try:
                value, key_index, payload = self._serializer.open_cookie(cookieval)
                # Under an old key, or a pickle read for migration to JSON: seal it anew.
                stale = key_index != 0 or payload != self._serializer.serializer_name
            except ValueError:
                value = None  # unreadable: a fresh session
            try:
                rval, cval, sval = value
                rval, cval = float(rval), float(cval)
                # NaN or infinite times would make the session outlive every timeout.
                if isinstance(sval, dict) and math.isfinite(rval) and math.isfinite(cval):
                    renewed, created, state, new = rval, cval, sval, False
            except (TypeError, ValueError, OverflowError):
                pass  # not a session: a fresh one
        migration = self._migrate_signed
        if new and migration is not None and migration.is_open(now):
            old_name = migration.cookie_name
            old = cookieval if old_name == self._cookie_name else _read_cookie(request, old_name)
            found = None if old is None else migration.session_from(old, now)
            if found is not None:
                renewed, created, state = found
                new = False
                migrated = True  # resealed as ours on this response, even when empty
                if old_name != self._cookie_name:
                    self._delete_old_cookie = old_name
        if self._timeout is not None and now - renewed > self._timeout:
            state = {}
        if self._absolute_timeout is not None and now - created > self._absolute_timeout:
            state = {}
            created = renewed = now
            new = True
        self.created = created
        self.accessed = renewed
        self.renewed = renewed
        self.new = new
        dict.__init__(self, state)
        if (stale and state) or migrated:
            # Reseal under the first key, as JSON after a pickle, or as ours after a signed one.
            self.changed()

    # ISession methods
    def changed(self):
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
        self.created = time.time()

    # non-modifying dictionary methods
    get = _accessor(dict.get)
    __getitem__ = _accessor(dict.__getitem__)
    items = _accessor(dict.items)
    values = _accessor(dict.values)
    keys = _accessor(dict.keys)
    __contains__ = _accessor(dict.__contains__)
    __len__ = _accessor(dict.__len__)
    __iter__ = _accessor(dict.__iter__)

    # modifying dictionary methods
    clear = _mutator(dict.clear)
    update = _mutator(dict.update)
    setdefault = _mutator(dict.setdefault)
    pop = _mutator(dict.pop)
    popitem = _mutator(dict.popitem)
    __setitem__ = _mutator(dict.__setitem__)
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
        """Add the Set-Cookie header to ``response``; ``False`` when skipped for an exception.

        Raises ``CookieTooLarge`` before touching the response when the header is too long.
        """
        if not self._cookie_on_exception:
            exception = getattr(self.request, "exception", None)
            if exception is not None:  # dont set a cookie during exceptions
                return False
        if self._invalidated and not dict.__len__(self):
            header = self._cookie_spec.delete_header()
        else:
            value = self._serializer.dumps_session(self.accessed, self.created, self)
            header = self._cookie_spec.header(value)
            if len(header) > COOKIE_LIMIT * WARN_FRACTION:
                self._check_size(header)
        response.headerlist.append(("Set-Cookie", header))
        if self._delete_old_cookie is not None:
            response.delete_cookie(
                self._delete_old_cookie, path=self._cookie_path, domain=self._cookie_domain
            )
        return True

    def _check_size(self, header):
        size = len(header)
        if size > COOKIE_LIMIT:
            raise CookieTooLarge(
                f"session cookie {self._cookie_name!r} is {size} bytes, over the {COOKIE_LIMIT}"
                f"-byte limit browsers keep; largest keys: {self._largest_keys()}"
            )
        if size > COOKIE_LIMIT * WARN_FRACTION:
            log.warning(
                "session cookie %r is %d bytes, %d%% of the %d-byte limit; largest keys: %s",
                self._cookie_name,
                size,
                100 * size // COOKIE_LIMIT,
                COOKIE_LIMIT,
                self._largest_keys(),
            )

    def _largest_keys(self, count=3):
        sizes = []
        for key, value in dict.items(self):
            try:
                sizes.append((len(self._serializer.dumps({key: value})), key))
            except Exception:  # a value this serializer cannot write at all
                continue
        sizes.sort(key=lambda pair: pair[0], reverse=True)
        return ", ".join(f"{key!r} (~{size} bytes)" for size, key in sizes[:count]) or "none"


# webob.request, imported on first use: importing WebOb warns (it imports cgi) on Python 3.11+.
_BaseRequest = None


def _read_cookie(request, name):
    """The value of the cookie ``name`` in this request, or ``None``."""
    global _BaseRequest
    if _BaseRequest is None:
        from webob.request import BaseRequest as _BaseRequest
    if isinstance(request, _BaseRequest):
        # WebOb's own answer for this header, without parsing every cookie into a dict.
        return find_cookie(request.environ.get("HTTP_COOKIE"), name)
    return request.cookies.get(name)
