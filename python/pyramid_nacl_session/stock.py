"""Is this WebOb's own cookie handling? Asked once per request each way, here only.

Where a request or response class still has WebOb's own ``cookies`` or ``set_cookie``, the
request path reads the ``Cookie`` header and writes the ``Set-Cookie`` header natively,
byte for byte as WebOb would; anywhere else the app's own is called, as Pyramid's cookie
session does. WebOb's attributes are looked up when the first factory is made, not on import:
importing WebOb warns (it imports cgi) on Python 3.11+.
"""

from typing import Any, Optional

__all__ = ["load", "webob_request", "webob_response"]

_COOKIES: Optional[Any] = None
_SET_COOKIE: Optional[Any] = None


def load() -> tuple[Any, Any]:
    """Look WebOb's own attributes up (once; the factory calls it) and return them:
    ``(BaseRequest.cookies, Response.set_cookie)``. session.py keeps them and makes the two
    tests below inline on the request path: a call per request each way is a measurable part
    of a small request."""
    global _COOKIES, _SET_COOKIE
    if _COOKIES is None:
        from webob.request import BaseRequest
        from webob.response import Response

        _COOKIES, _SET_COOKIE = BaseRequest.cookies, Response.set_cookie
    return _COOKIES, _SET_COOKIE


def webob_request(request: Any) -> bool:
    """Whether ``request.cookies`` is WebOb's own (so the ``Cookie`` header can be read)."""
    return getattr(type(request), "cookies", None) is _COOKIES


def webob_response(response: Any) -> bool:
    """Whether ``response.set_cookie`` is WebOb's own (so the header list can be written)."""
    return getattr(type(response), "set_cookie", None) is _SET_COOKIE
