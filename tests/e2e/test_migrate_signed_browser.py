"""The move off Pyramid's SignedCookieSessionFactory, in a real browser against pserve: a user
logged in on the example app as it was (examples/signed.ini) is still logged in on the app as it
is now (examples/migrate-signed.ini), and from then on holds only the encrypted cookie.

Both servers listen on 127.0.0.1, on two ports: cookies do not depend on the port, so the
browser brings the cookie the old server set to the new one, as it would after a deploy.
"""

import sys

import pytest

from ..helpers import free_port
from ..servers import listening_on, serve, stop
from .chromium import require_browser

require_browser()

from .chromium import (  # noqa: E402
    COOKIE,
    FIRST_KEY,
    INI,
    SECOND_KEY,
    log_in,
    opens,
    session_cookie,
    visits,
    who,
)

EXAMPLES = INI.parent


def _serve(tmp, name):
    """pserve on a copy of examples/<name> (next to a copy of development.ini, which
    migrate-signed.ini builds on); returns the process, its log and its URL."""
    port = free_port()
    for ini in ("development.ini", name):
        (tmp / ini).write_text(listening_on(EXAMPLES / ini, port)[0])
    (tmp / "demo-secret.key").write_text(f"{FIRST_KEY}\n{SECOND_KEY}\n")
    (tmp / "demo-secret.key").chmod(0o600)  # session.secret_file refuses a key file others read
    command = [sys.executable, "-m", "pyramid.scripts.pserve", str(tmp / name)]
    return (*serve(command, port, tmp), f"http://127.0.0.1:{port}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """(old URL, new URL): the example on signed cookies, and the example after the move."""
    running = []
    try:
        for name in ("signed.ini", "migrate-signed.ini"):
            running.append(_serve(tmp_path_factory.mktemp(name.replace(".", "-")), name))
        yield running[0][2], running[1][2]
    finally:
        for proc, log, _ in running:
            stop(proc, log)


def test_a_user_logged_in_on_signed_cookies_stays_logged_in_after_the_move(chromium, servers):
    old_url, new_url = servers
    log_in(chromium, old_url)
    assert who(chromium) == "Logged in as ann"
    chromium.get(old_url + "/")
    counted = visits(chromium)
    signed = chromium.get_cookie("session")
    assert signed is not None and session_cookie(chromium) is None

    chromium.get(new_url + "/")
    assert who(chromium) == "Logged in as ann"
    assert visits(chromium) == counted + 1  # the same session, not a new one
    assert chromium.get_cookie("session") is None  # the old cookie was deleted
    sealed = session_cookie(chromium)
    assert sealed is not None
    assert opens(FIRST_KEY, sealed)["user"] == "ann"

    chromium.refresh()
    assert who(chromium) == "Logged in as ann"
    assert visits(chromium) == counted + 2


def test_a_tampered_signed_cookie_logs_nobody_in(chromium, servers):
    old_url, new_url = servers
    log_in(chromium, old_url)
    value = chromium.get_cookie("session")["value"]
    middle = len(value) // 2
    forged = value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]
    chromium.delete_all_cookies()
    chromium.add_cookie({"name": "session", "value": forged, "path": "/"})
    chromium.get(new_url + "/")
    assert who(chromium) == "Not logged in"
    assert visits(chromium) == 1


def test_the_new_app_does_not_read_the_old_cookie_once_it_has_its_own(chromium, servers):
    old_url, new_url = servers
    chromium.get(new_url + "/")
    assert who(chromium) == "Not logged in"
    log_in(chromium, old_url)  # a signed login arrives next to our own cookie
    chromium.get(new_url + "/")
    assert who(chromium) == "Not logged in"
    assert COOKIE in {c["name"] for c in chromium.get_cookies()}
