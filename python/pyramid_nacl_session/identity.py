"""A session's identity at login: ``regenerate()``, a method of the session class, kept here so
that the request path's module stays about the request path."""

from typing import Any

from .bookkeeping import note_change

__all__ = ["regenerate"]

#: Pyramid's state key for the CSRF token.
CSRF_KEY = "_csrft_"


def regenerate(session: Any) -> None:
    """Give the session a new identity, keeping every value: call it when the user's
    privileges change, above all at login. The CSRF token, if there is one, is replaced, and
    ``created`` stays (so ``absolute_timeout`` still counts from the first visit). With
    revocation on, the session gets a new ``session_id`` and the old one is revoked: a copy of
    the cookie from before is refused by every worker. Without revocation, that copy stays
    valid until it expires. Sets the cookie."""
    note_change(session)
    if session.session_id is not None:
        session.revocation.revoke_session(session.session_id)
    elif session._named_by_created:
        # A session without an id is named by its creation time, which it keeps: revoked by
        # that name, it takes an id, which a request checks instead.
        session.revocation.revoke_created(session.created)
        session._named_by_created = False
    if session.revocation is not None:
        session._new_id()
    if dict.__contains__(session, CSRF_KEY):
        session.new_csrf_token()
