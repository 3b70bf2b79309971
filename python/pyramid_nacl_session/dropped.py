"""Sessions a user loses without the app asking, each logged once per factory and process: so
that the operator hears of it, and a log is not flooded by every request of every user."""

import logging
from typing import Any

__all__ = ["drop_unwritable", "note_refused_pickle"]

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


def note_refused_pickle(session: Any, error: Exception) -> None:
    """A pickle cookie that ``migrate_pickle`` cannot move to JSON (a datetime in it, say, named
    by its session key in ``error``): the user gets a fresh session, and the operator hears of
    it once."""
    factory = type(session)
    if not factory._pickle_warned:
        factory._pickle_warned = True
        log.warning(
            "session cookie %r holds a pickle that cannot move to JSON (%s); the user gets a "
            "fresh session: change such values to plain data before moving to JSON (logged "
            "once per process)",
            session._cookie_name,
            error,
        )
