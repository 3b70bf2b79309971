"""Pyramid's ``manage_accessed`` and ``manage_changed``: the wrappers that make each of the
session's dict and ISession methods note that it was read or changed.

Reading the session notes the time, and reissues the cookie once ``reissue_time`` has passed
since it was issued; the first access also sets up the end of the request (``Vary: Cookie``,
and ``detect_changes``). Changing it notes the time and sets the cookie.

These run on every access to the session. The wrappers of the busiest methods take their exact
arguments: passing ``*args, **kw`` costs more than the bookkeeping itself (benchmarks/README.md,
"Vary, detect_changes and the request path"). A read's bookkeeping is one function,
:func:`note_read`, which both read wrappers call: on CPython 3.11 the call costs about 10 ns an
access, within the request path's noise. ``time.time`` is looked up on each call, so that a
test (or an app) that patches it is obeyed.
"""

import time
from typing import Any, Callable, TypeVar, cast

from ._core import RESERVED_KEYS, ReservedKeyError

__all__ = [
    "accessor",
    "key_accessor",
    "mutator",
    "setter",
    "key_setter",
    "updater",
    "note_change",
    "note_read",
    "refuse_reserved",
]

#: The keys the session keeps for itself (src/session.rs): the app cannot set them.
_RESERVED = frozenset(RESERVED_KEYS)

#: A wrapper has the type of the method it wraps (dict.get's overloads, say).
_F = TypeVar("_F", bound=Callable[..., Any])


def note_change(session: Any) -> None:
    """Changing the session notes the time and sets the cookie."""
    session.accessed = int(time.time())
    if not session._app_changed:
        session.changed()


def note_read(session: Any) -> None:
    """Reading the session notes the time; the first read sets up the end of the request, and
    a read once ``reissue_time`` has passed since the cookie was issued reissues it."""
    session.accessed = now = int(time.time())
    # Once dirty, there is nothing left to schedule: skip the checks on every later access.
    if not session._dirty:
        if not session._watched:
            session._watch()
        reissue_time = session._reissue_time
        if reissue_time is not None and now - session.renewed > reissue_time:
            session._dirty = True


def accessor(method: _F) -> _F:
    def accessed(session: Any, *args: Any, **kw: Any) -> Any:
        note_read(session)
        return method(session, *args, **kw)

    return _named(accessed, method)


def key_accessor(method: _F) -> _F:
    """For methods that take one key (``__getitem__``, ``__contains__``): exact arguments."""

    def accessed(session: Any, key: Any) -> Any:
        note_read(session)
        return method(session, key)

    return _named(accessed, method)


def mutator(method: _F) -> _F:
    def changed(session: Any, *args: Any, **kw: Any) -> Any:
        session.accessed = int(time.time())
        if not session._app_changed:
            session.changed()
        return method(session, *args, **kw)

    return _named(changed, method)


def refuse_reserved(key: Any) -> None:
    """Raise :class:`ReservedKeyError` for a key the session keeps for itself."""
    raise ReservedKeyError(
        f"{key!r} is kept by the session for itself and cannot be set "
        f"(reserved keys: {', '.join(map(repr, RESERVED_KEYS))}); nothing was changed"
    )


def setter(method: _F) -> _F:
    """``__setitem__``: refuses a reserved key before anything changes."""

    def changed(session: Any, key: Any, value: Any) -> Any:
        if key in _RESERVED:
            refuse_reserved(key)
        session.accessed = int(time.time())
        if not session._app_changed:
            session.changed()
        return method(session, key, value)

    return _named(changed, method)


def key_setter(method: _F) -> _F:
    """``setdefault``: refuses a reserved key before anything changes."""

    def changed(session: Any, key: Any, *args: Any) -> Any:
        if key in _RESERVED:
            refuse_reserved(key)
        session.accessed = int(time.time())
        if not session._app_changed:
            session.changed()
        return method(session, key, *args)

    return _named(changed, method)


def updater(method: _F) -> _F:
    """``update``: takes the pairs in first (a mapping, pairs, keywords, as ``dict.update``),
    so that a reserved key among them is refused before any key is set."""

    def changed(session: Any, *args: Any, **kw: Any) -> Any:
        pairs = dict(*args, **kw)
        if not _RESERVED.isdisjoint(pairs):
            refuse_reserved(next(key for key in pairs if key in _RESERVED))
        session.accessed = int(time.time())
        if not session._app_changed:
            session.changed()
        return method(session, pairs)

    return _named(changed, method)


def _named(wrapper: Callable[..., Any], method: _F) -> _F:
    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return cast(_F, wrapper)
