"""Sessions a user loses without the app asking, each logged once per factory and process: so
that the operator hears of it, and a log is not flooded by every request of every user."""

import logging
from typing import Any

from ._core import RefusedPickle

__all__ = ["drop_unwritable", "note_unreadable"]

log = logging.getLogger("pyramid_nacl_session")


def drop_unwritable(session: Any, error: Exception) -> None:
    """Empty ``session``, whose cookie could not be written again (a reissue or a reseal the app
    did not ask for), and say why once."""
    factory = type(session)
    if not factory._reseal_warned:
        factory._reseal_warned = True
        log.warning(
            "session cookie %r could not be written again (%s: %s); the user gets a fresh "
            "session (logged once per process)",
            session._cookie_name,
            type(error).__name__,
            error,
        )
    dict.clear(session)


def note_unreadable(session: Any, error: Exception) -> None:
    """A cookie ``session`` could not read, so the user gets a fresh session. Said once when it
    is a pickle that ``migrate_pickle`` cannot move to JSON (a datetime in it, say, named by its
    session key in ``error``); any other unreadable cookie (another app's, a forged one, one
    under a dropped key) is not the operator's to hear of."""
    factory = type(session)
    if isinstance(error, RefusedPickle) and not getattr(factory, "_pickle_warned", False):
        factory._pickle_warned = True
        log.warning(
            "session cookie %r holds a pickle that cannot move to JSON (%s); the user gets a "
            "fresh session: change such values to plain data before moving to JSON (logged "
            "once per process)",
            session._cookie_name,
            error,
        )
