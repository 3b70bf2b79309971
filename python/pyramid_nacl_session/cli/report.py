"""What ``decode`` and ``decode --signed`` print about a session, and the cookie value they take
from what the operator pasted: shared by both, so neither imports the other."""

import datetime
from typing import Any

from .base import Unreadable


def cookie_value(text: str) -> str:
    """The cookie value from what the operator pasted: a bare value, ``name=value``, or the
    start of a Set-Cookie header (``name=value; Path=/; ...``)."""
    text = text.strip().split(";", 1)[0].strip()
    name, sep, value = text.partition("=")
    # A bare padded value also holds '=', but only at its end.
    if sep and name.strip() and value.rstrip("="):
        text = value.strip()
    return text.strip('"')


def report(
    state: Any, accessed: float, created: float, opened_by: str, payload: str
) -> "dict[str, Any]":
    """What ``decode`` prints about one session."""
    try:
        accessed_utc, created_utc = _utc(accessed), _utc(created)
    except (ValueError, OverflowError, OSError):
        raise Unreadable("not a pyramid session: its times are out of range") from None
    try:
        state = _jsonable(state)
    except RecursionError:
        raise Unreadable("the session state is nested too deeply to show") from None
    return {
        "created": created,
        "created_utc": created_utc,
        "accessed": accessed,
        "accessed_utc": accessed_utc,
        "opened_by": opened_by,
        "payload": payload,
        "state": state,
    }


def _utc(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat()


def _jsonable(obj: Any) -> Any:
    """``obj`` with what JSON cannot hold (bytes, sets, non-str keys from a pickle) as repr()."""
    if isinstance(obj, dict):
        return {k if isinstance(k, str) else repr(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return repr(obj)
