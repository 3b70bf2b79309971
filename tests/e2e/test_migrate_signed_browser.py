"""The move off Pyramid's SignedCookieSessionFactory, in a real browser against pserve: a user
logged in on the example app as it was (examples/signed.ini) is still logged in on the app as it
is now (examples/migrate-signed.ini), and from then on holds only the encrypted cookie.

Both servers listen on 127.0.0.1, on two ports: cookies do not depend on the port, so the
browser brings the cookie the old server set to the new one, as it would after a deploy.
"""

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# Skips this module as it skips that one when the browser parts are missing.
from .test_browser import (
    COOKIE,
    FIRST_KEY,
    INI,
    SECOND_KEY,
    _free_port,
    browser,  # noqa: F401 (the fixture, under the name pytest knows)
    log_in,
    opens,
    session_cookie,
    visits,
    who,
)

EXAMPLES = INI.parent


def _listening_on(path, port):
    """The .ini's text with [server:main] listening on ``port``, nothing else changed."""
    lines, section = [], None
    for line in path.read_text().splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
        elif section == "server:main" and stripped.split("=")[0].strip() == "listen":
            line = f"listen = 127.0.0.1:{port}\n"
        lines.append(line)
    return "".join(lines)


def _serve(tmp, name):
    """pserve on a copy of examples/<name> (next to a copy of development.ini, which
    migrate-signed.ini builds on); returns the process and its URL."""
    port = _free_port()
    for ini in ("development.ini", name):
        (tmp / ini).write_text(_listening_on(EXAMPLES / ini, port))
    (tmp / "demo-secret.key").write_text(f"{FIRST_KEY}\n{SECOND_KEY}\n")
    (tmp / "demo-secret.key").chmod(0o600)  # session.secret_file refuses a key file others read
    log_path = tmp / f"{name}.log"
    pserve = Path(sys.executable).with_name("pserve")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(pserve), str(tmp / name)], stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"pserve exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return proc, url
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                proc.terminate()
                pytest.fail(f"pserve did not answer on {url} in 30 s:\n{log_path.read_text()}")
            time.sleep(0.1)


@pytest.fixture
def chromium(browser):  # noqa: F811 (the fixture imported above)
    """test_browser.py's headless Chromium."""
    return browser


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """(old URL, new URL): the example on signed cookies, and the example after the move."""
    procs = []
    try:
        for name in ("signed.ini", "migrate-signed.ini"):
            proc, url = _serve(tmp_path_factory.mktemp(name.replace(".", "-")), name)
            procs.append((proc, url))
        yield procs[0][1], procs[1][1]
    finally:
        for proc, _ in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
