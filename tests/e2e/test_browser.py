"""The example app served by pserve (waitress) and driven by headless Chromium: what a real
browser does with the session cookie (HttpOnly, SameSite, deletion, key rotation) and the
login form's CSRF protection.

Needs what chromium.py names; skipped without it, unless CI_REQUIRE_BROWSER=1.
"""

import sys

import pytest

from ..helpers import free_port
from ..servers import listening_on, serve, stop
from .chromium import require_browser

require_browser()

from selenium.webdriver.common.by import By  # noqa: E402

from .chromium import (  # noqa: E402
    COOKIE,
    FIRST_KEY,
    INI,
    OTHER_KEY,
    SECOND_KEY,
    log_in,
    opens,
    seal,
    session_cookie,
    submit,
    visits,
    who,
)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    """The example app served by pserve from a copy of development.ini on a free port."""
    tmp = tmp_path_factory.mktemp("pserve")
    ini = tmp / "development.ini"
    port = free_port()
    text, replaced = listening_on(INI, port)
    assert replaced, f"no listen setting in [server:main] of {INI}"
    ini.write_text(text)
    (tmp / "demo-secret.key").write_text(f"{FIRST_KEY}\n{SECOND_KEY}\n")
    (tmp / "demo-secret.key").chmod(0o600)  # session.secret_file refuses a key file others read
    proc, log = serve([sys.executable, "-m", "pyramid.scripts.pserve", str(ini)], port, tmp)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc, log)


def test_login_is_kept_across_reloads_and_the_visit_counter_grows(browser, base_url):
    log_in(browser, base_url)
    assert who(browser) == "Logged in as ann"
    assert "Welcome, ann!" in browser.page_source
    before = visits(browser)
    browser.refresh()
    assert who(browser) == "Logged in as ann"
    assert "Welcome, ann!" not in browser.page_source  # a flash shows once
    assert visits(browser) == before + 1


def test_session_cookie_is_httponly_and_samesite_lax(browser, base_url):
    log_in(browser, base_url)
    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    # A script-visible cookie shows that document.cookie works here, so the session cookie's
    # absence from it is the HttpOnly flag at work.
    browser.add_cookie({"name": "probe", "value": "visible", "path": "/"})
    page_cookies = browser.execute_script("return document.cookie")
    assert "probe=visible" in page_cookies
    assert COOKIE not in page_cookies and cookie["value"] not in page_cookies


def test_logout_button_deletes_the_cookie(browser, base_url):
    log_in(browser, base_url)
    old = session_cookie(browser)
    submit(browser, "logout")
    # Logout's redirect lands on the home page, whose visit counter starts a new session at
    # once, so the jar holds a fresh cookie rather than none. Had the browser kept the old
    # cookie, the redirected request would have carried it and the page would show ann.
    assert who(browser) == "Not logged in"
    assert visits(browser) == 1
    fresh = session_cookie(browser)
    assert fresh is not None and fresh != old
    assert "user" not in opens(FIRST_KEY, fresh)
    # Control for the inference above: the old cookie is still a valid seal (the server keeps
    # no record of sessions), so only the browser dropping it ends the login.
    browser.delete_all_cookies()
    browser.add_cookie({"name": COOKIE, "value": old, "path": "/"})
    browser.get(base_url + "/")
    assert who(browser) == "Logged in as ann"


@pytest.mark.parametrize(
    "key, shown",
    [(OTHER_KEY, "Not logged in"), (FIRST_KEY, "Logged in as mallory")],
    ids=["other-key-ignored", "own-key-accepted"],
)
def test_cookie_counts_only_when_sealed_under_a_configured_key(browser, base_url, key, shown):
    browser.get(base_url + "/")  # add_cookie needs a page of the cookie's site
    browser.delete_all_cookies()
    forged = seal(key, {"user": "mallory"})
    browser.add_cookie({"name": COOKIE, "value": forged, "path": "/"})
    browser.get(base_url + "/")
    assert who(browser) == shown
    fresh = session_cookie(browser)
    assert fresh is not None and fresh != forged
    state = opens(FIRST_KEY, fresh)
    assert state is not None
    assert (state.get("user") == "mallory") == (key == FIRST_KEY)


@pytest.mark.parametrize(
    "tamper",
    [
        "document.querySelector('input[name=csrf_token]').remove()",
        "document.querySelector('input[name=csrf_token]').value = 'forged'",
    ],
    ids=["token-removed", "token-changed"],
)
def test_login_form_without_its_csrf_token_is_refused(browser, base_url, tamper):
    browser.get(base_url + "/")
    browser.execute_script(tamper)
    browser.find_element(By.ID, "username").send_keys("eve")
    browser.find_element(By.ID, "password").send_keys("demo")
    submit(browser, "login")
    assert browser.current_url == base_url + "/login"
    status = browser.execute_script(
        "return performance.getEntriesByType('navigation')[0].responseStatus"
    )
    assert status == 400
    assert "Bad CSRF token" in browser.page_source
    browser.get(base_url + "/")
    assert who(browser) == "Not logged in"


def test_cookie_sealed_under_the_second_key_is_accepted_and_resealed_under_the_first(
    browser, base_url
):
    browser.get(base_url + "/")
    browser.delete_all_cookies()
    old = seal(SECOND_KEY, {"user": "rotated"})
    assert opens(FIRST_KEY, old) is None
    browser.add_cookie({"name": COOKIE, "value": old, "path": "/"})
    browser.get(base_url + "/")
    assert who(browser) == "Logged in as rotated"
    new = session_cookie(browser)
    assert new is not None and new != old
    state = opens(FIRST_KEY, new)
    assert state is not None and state["user"] == "rotated"
    assert opens(SECOND_KEY, new) is None
