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
from .base import EXIT_OK, PROG, Unreadable, UsageError, out
from .ini import app_options

#: What ``revoke`` revokes.
KINDS = ("session", "user", "before")


def add_parser(commands: Any, arguments: Arguments) -> None:
    """Add the ``revoke`` command to ``commands`` (an argparse subparsers object)."""
    revoke = commands.add_parser(
        "revoke",
        allow_abbrev=False,
        usage="%(prog)s --ini FILE [--app NAME] KIND [VALUE]",
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
    # A bad KIND is named with the kinds it may be, never quoted: it may be a key typed in the
    # wrong place. VALUE is not recorded (its error is "bad or missing value (not shown)").
    revoke.add_argument(
        "kind",
        choices=KINDS,
        metavar="KIND",
        help="what to revoke: session (one session, by its id), user (every session of a "
        "user) or before (every session issued before a time)",
    )
    arguments.kinds["KIND"] = ("choice", f"KIND: expected {', '.join(KINDS[:-1])} or {KINDS[-1]}")
    revoke.add_argument(
        "value",
        nargs="?",
        metavar="VALUE",
        help="the session id, the user, or the time (ISO 8601 or seconds since the epoch; "
        "default now)",
    )
    # Checked by run(), not by argparse, whose error for it would say only "bad command line".
    add(revoke, "--ini", metavar="FILE", help="the app's Paste .ini file (required)")
    add(revoke, "--app", metavar="NAME", help="the app section of --ini to read (default: main)")
    revoke.set_defaults(run=run)
    arguments.options["revoke"] = ["--help", "--ini", "--app"]


def run(args: argparse.Namespace) -> int:
    """Run ``revoke``; return the exit status."""
    if not args.ini:
        raise UsageError(
            f"revoke needs --ini FILE, the app's .ini file (which names its Redis); see {PROG} "
            "revoke --help"
        )
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
    if args.kind == "session":
        out(f"revoked session {args.value}")
    elif args.kind == "user":
        out(f"revoked user {args.value} (their sessions created before {moment})")
    else:
        out(f"revoked every session created before {moment}")
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
