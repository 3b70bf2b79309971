"""``pyramid-nacl-session revoke``: revoke sessions through the app's Redis (revocation_url).

Kept apart from cli.py so that the rest of the command line never imports redis.
"""

import datetime
import os

__all__ = ["add_parser"]


def add_parser(commands, usage_error, unreadable):
    """Add the ``revoke`` command to ``commands`` (an argparse subparsers object)."""
    revoke = commands.add_parser(
        "revoke",
        allow_abbrev=False,
        help="revoke one session, every session of a user, or every session issued before a time",
        description="Revoke sessions of the app named by --ini, through its revocation_url "
        "(Redis). Every worker refuses them within a second. KIND is 'session' (VALUE: a "
        "session id), 'user' (VALUE: the user, as the app's revocation_user names it) or "
        "'before' (VALUE: an ISO 8601 time, or seconds since the epoch; default now). "
        "Exit status: 0 revoked, 1 Redis did not take it, 2 usage error.",
        epilog="The .ini file names the app to import: point --ini only at a file you trust.",
    )
    revoke.add_argument("kind", choices=("session", "user", "before"), metavar="KIND")
    revoke.add_argument("value", nargs="?", metavar="VALUE")
    revoke.add_argument("--ini", metavar="FILE", required=True, help="the app's Paste .ini file")
    revoke.add_argument(
        "--app", metavar="NAME", help="the app section of --ini to read (default: main)"
    )
    revoke.set_defaults(run=lambda args: _revoke(args, usage_error, unreadable))


def _revoke(args, usage_error, unreadable):
    from pyramid.paster import get_appsettings

    if not os.path.isfile(args.ini.split("#", 1)[0]):
        raise usage_error("--ini: no such file")  # not the path: maybe a key typed there
    try:
        settings = get_appsettings(args.ini, name=args.app)
    except Exception as e:
        raise usage_error(f"--ini: cannot read the app settings ({type(e).__name__})") from None
    setting = _settings_reader(settings)
    url, max_age = setting("revocation_url"), setting("absolute_timeout")
    if not url:
        raise usage_error("--ini: the app has no session.revocation_url")
    if not max_age or not max_age.strip().isdigit():
        raise usage_error("--ini: the app has no session.absolute_timeout in seconds")
    prefix = setting("revocation_prefix") or None

    from .revocation import (
        DEFAULT_PREFIX,
        before_member,
        check_url,
        session_member,
        user_member,
        write_now,
    )

    try:
        url = check_url(url, "session.revocation_url")
    except ValueError as e:
        raise usage_error(str(e)) from None
    when = datetime.datetime.now(datetime.timezone.utc).timestamp()
    try:
        if args.kind == "session":
            member = session_member(args.value or "")
        elif args.kind == "user":
            if not args.value:
                raise usage_error("user: give the user")
            member = user_member(args.value)
        else:
            member = before_member()
            if args.value:
                when = _moment(args.value, usage_error)
    except ValueError as e:
        raise usage_error(str(e)) from None
    try:
        write_now(url, int(max_age), member, when, prefix or DEFAULT_PREFIX)
    except ValueError as e:  # the time: refused before Redis is asked
        raise usage_error(str(e)) from None
    except Exception as e:  # redis-py's errors; their text may quote the URL
        raise unreadable(f"Redis did not take the revocation ({type(e).__name__})") from None
    moment = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).isoformat()
    print(f"revoked {args.kind} {args.value or ''} (sessions created before {moment})".strip())
    return 0


def _settings_reader(settings):
    def setting(name):
        for prefix in ("pynacl.session.", "session."):
            value = settings.get(prefix + name)
            if value:
                return str(value).strip()
        return None

    return setting


def _moment(text, usage_error):
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise usage_error("before: expected an ISO 8601 time or seconds since the epoch") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()
