"""WebOb's own ``request.cookies`` and ``response.set_cookie``, for the request path to tell
whether a request or response class still has them.

Where it does, the request path reads the ``Cookie`` header and writes the ``Set-Cookie`` header
natively, byte for byte as WebOb would; anywhere else the app's own is called, as Pyramid's
cookie session does. The comparison itself is made inline in session.py: a call per request
each way is a measurable part of a small request. WebOb's attributes are looked up when the
first factory is made, not on import: importing WebOb warns (it imports cgi) on Python 3.11+.
"""

from typing import Any, Optional

__all__ = ["load"]

_COOKIES: Optional[Any] = None
_SET_COOKIE: Optional[Any] = None


def load() -> tuple[Any, Any]:
    """Look WebOb's own attributes up (once; the factory calls it) and return them:
    ``(BaseRequest.cookies, Response.set_cookie)``."""
    global _COOKIES, _SET_COOKIE
    if _COOKIES is None:
        from webob.request import BaseRequest
        from webob.response import Response

        _COOKIES, _SET_COOKIE = BaseRequest.cookies, Response.set_cookie
    return _COOKIES, _SET_COOKIE
