"""``revoke``: revoke sessions through the app's Redis (its ``revocation_url``).

The app's settings are read and checked by the app's own reader, and its session factory is made
as at the app's start: what the app would refuse to start with is refused here, before Redis is
written. redis-py is imported only by this command.
"""

import argparse
import datetime
import math
from typing import Any

from ..options import REVOCATION_PREFIX
from .argv import Arguments
from .base import EXIT_OK, Unreadable, UsageError, out
from .ini import app_options


def add_parser(commands: Any, arguments: Arguments) -> None:
    """Add the ``revoke`` command to ``commands`` (an argparse subparsers object)."""
    revoke = commands.add_parser(
        "revoke",
        allow_abbrev=False,
        help="revoke one session, every session of a user, or every session issued before a time",
        description="Revoke sessions of the app named by --ini, through its revocation_url "
        "(Redis). Every worker refuses them within a second. KIND is 'session' (VALUE: a "
        "session id), 'user' (VALUE: the user, as the app's revocation_user names it) or "
        "'before' (VALUE: an ISO 8601 time, or seconds since the epoch, not after now; default "
        "now). Exit status: 0 revoked, 1 Redis did not take it, 2 usage error (or a revocation "
        "the app's settings cannot honour).",
        epilog="The .ini file names the app to import: point --ini only at a file you trust.",
    )
    add = arguments.add
    # Not recorded: an error about them is "bad or missing value (not shown)", as a bad KIND
    # may be a key typed in the wrong place.
    revoke.add_argument("kind", choices=("session", "user", "before"), metavar="KIND")
    revoke.add_argument("value", nargs="?", metavar="VALUE")
    add(revoke, "--ini", metavar="FILE", required=True, help="the app's Paste .ini file")
    add(revoke, "--app", metavar="NAME", help="the app section of --ini to read (default: main)")
    revoke.set_defaults(run=run)
    arguments.options["revoke"] = ["--help", "--ini", "--app"]


def run(args: argparse.Namespace) -> int:
    """Run ``revoke``; return the exit status."""
    try:
        options, names, where = app_options(args.ini, args.app, make_factory=True)
    except ImportError:  # the factory imports redis-py for revocation_url
        raise UsageError(
            "revoke needs redis-py where it runs: pip install 'pyramid-nacl-session[redis]'"
        ) from None
    url = options.get("revocation_url")
    if not url:
        raise UsageError(f"--ini: {where} has no session.revocation_url")
    # Now is Redis's (the time every worker's decisions are made by), not this host's.
    when, member = None, _member(args, options, where)
    if args.kind == "before" and args.value:
        when = _moment(args.value)

    from ..redis_url import RedisURL, describe_fault
    from ..revocation import write_now

    prefix = options.get("revocation_prefix") or REVOCATION_PREFIX
    try:
        when = write_now(url, int(options["absolute_timeout"]), member, when, prefix)
    except ValueError as e:  # refused by the revocation API (a time after now, a bad name)
        raise UsageError(f"{args.kind}: the revocation was refused: {e}") from None
    except Exception as e:  # redis-py's errors; their text may quote the URL
        fault = describe_fault(e, RedisURL(url).where)
        raise Unreadable(f"Redis did not take the revocation: {fault}") from None
    moment = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).isoformat()
    out(f"revoked {args.kind} {args.value or ''} (sessions created before {moment})".strip())
    return EXIT_OK


def _member(args: argparse.Namespace, options: "dict[str, Any]", where: str) -> str:
    """The Redis set member for what is revoked, written by the revocation API's encoders."""
    from ..revocation import before_member, session_member, user_member

    if args.kind == "before":
        return before_member()
    value: str = args.value or ""
    if not value:
        raise UsageError(
            f"{args.kind}: give the {'session id' if args.kind == 'session' else 'user'}"
        )
    if args.kind == "user" and options.get("revocation_user") is None:
        # The app's sessions carry no user, so no entry could ever match one: saying "revoked"
        # would report a logout that does not happen.
        raise UsageError(
            f"user: the sessions of {where} name no user (it has no session.revocation_user), "
            "so revoking a user would change nothing; set revocation_user, or revoke a session "
            "or everything before a time"
        )
    try:
        return session_member(value) if args.kind == "session" else user_member(value)
    except ValueError as e:  # refused by the revocation API (not an id, a name Redis cannot take)
        raise UsageError(f"{args.kind}: the revocation was refused: {e}") from None


def _moment(text: str) -> float:
    """``before``'s VALUE as POSIX seconds: a number of seconds or ISO 8601 text (naive means
    UTC)."""
    try:
        moment = float(text)
    except ValueError:
        try:
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(
                "before: expected an ISO 8601 time or seconds since the epoch"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        moment = parsed.timestamp()
    if not math.isfinite(moment):
        raise UsageError("before: expected an ISO 8601 time or seconds since the epoch")
    # A time after now is refused by write_now (revocation_time: the one rule, with its clock
    # skew), before Redis is written.
    return moment
