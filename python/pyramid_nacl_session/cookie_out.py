"""The response side of the session cookie outside the native write: deleting it (and the
Pyramid signed cookie a session was moved from), and taking off a stock response the header
this session added before, when it writes again."""

from typing import Any

__all__ = [
    "app_set_cookie",
    "delete_cookie",
    "delete_old_cookie",
    "partitioned_kw",
    "replace_header",
    "send_header",
]


_PARTITIONED = {"partitioned": True}
_NO_KW: dict[str, bool] = {}


def partitioned_kw(partitioned: bool) -> dict[str, bool]:
    """The keywords for an app's own ``set_cookie``. WebOb 1.8's has no ``partitioned``: it is
    passed only when the option is on, so apps that leave it off see the call they always did."""
    return _PARTITIONED if partitioned else _NO_KW


def delete_old_cookie(session: Any, response: Any) -> None:
    """Expire the Pyramid signed cookie the session was moved from. Once per user, so always
    through the response's own ``delete_cookie`` (which calls its ``set_cookie``)."""
    name = session._delete_old_cookie
    path, domain = session._cookie_path, session._cookie_domain
    delete = getattr(response, "delete_cookie", None)
    if delete is not None:
        delete(name, path=path, domain=domain)
    else:
        response.set_cookie(name, None, path=path, domain=domain)


def delete_cookie(session: Any, response: Any, webob: bool) -> None:
    """Expire the cookie. Through ``set_cookie`` with no value, as WebOb's ``delete_cookie``
    does, but with every attribute (a ``SameSite=None; secure`` or partitioned cookie needs
    them to be deleted); so an app's own ``set_cookie`` sees the deletion too."""
    if webob:
        send_header(session, response.headerlist, session._codec.delete_header)
    else:
        app_set_cookie(session, response, None)
    session._vary(response)


def send_header(session: Any, headerlist: Any, value: str) -> None:
    """Add the session's ``Set-Cookie`` header to a stock response, in place of the one it
    added before (written again: a change made in a later response callback)."""
    header = ("Set-Cookie", value)
    if session._sent is not None:
        replace_header(headerlist, session._sent)
    session._sent = header
    headerlist.append(header)


def app_set_cookie(session: Any, response: Any, *value: Any, **written: Any) -> None:
    """The cookie through the app's own ``response.set_cookie``, with every attribute: a
    deletion passes the value ``None``, a write ``value=`` and ``max_age=`` (the calls apps have
    always seen)."""
    response.set_cookie(
        session._cookie_name,
        *value,
        **written,
        path=session._cookie_path,
        domain=session._cookie_domain,
        secure=session._cookie_secure,
        httponly=session._cookie_httponly,
        samesite=session._cookie_samesite,
        **session._partitioned_kw(),
    )


def replace_header(headerlist: Any, sent: Any) -> None:
    """Take the session's earlier Set-Cookie header (``sent``) off a stock response's
    ``headerlist``, so that the response carries one cookie, the last state written."""
    try:
        headerlist.remove(sent)
    except ValueError:
        pass  # taken off by the app: it stays off
