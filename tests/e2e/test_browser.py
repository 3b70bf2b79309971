"""The example app served by pserve (waitress) and driven by headless Chromium: what a real
browser does with the session cookie (HttpOnly, SameSite, deletion, key rotation) and the
login form's CSRF protection.

Needs Debian's chromium and chromium-driver and the selenium package (scripts/install-browser).
Without them the module is skipped, unless CI_REQUIRE_BROWSER=1 asks for a failure instead.
"""

import configparser
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INI = Path(__file__).resolve().parents[2] / "examples" / "development.ini"


def _missing_browser_parts():
    missing = []
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium package")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (shutil.which(path) and os.access(path, os.X_OK)):
            missing.append(path)
    return missing


_missing = _missing_browser_parts()
if _missing:
    _reason = f"browser tests need {', '.join(_missing)}; run scripts/install-browser"
    if os.environ.get("CI_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CI_REQUIRE_BROWSER=1 but {_reason}", pytrace=False)
    pytest.skip(_reason, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from pyramid_nacl_session import EncryptedSerializer, generate_secret  # noqa: E402


def _app_settings():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(INI)
    return parser["app:main"]


SETTINGS = _app_settings()
COOKIE = SETTINGS["session.cookie_name"]
# The example reads its keys from the file session.secret_file names (beside the .ini): the copy
# served here gets these two, the first sealing, so that rotation is seen at work.
FIRST_KEY, SECOND_KEY = generate_secret().decode(), generate_secret().decode()
OTHER_KEY = bytes(range(7, 39))


def seal(key, state):
    now = time.time()
    return EncryptedSerializer(key, "json").dumps((now, now, state)).decode("ascii")


def opens(key, cookie):
    """The session state in ``cookie`` if ``key`` opens it, else None."""
    try:
        return EncryptedSerializer(key, "json").loads(cookie)[2]
    except ValueError:
        return None


def _ini_listening_on(port):
    """development.ini's text with [server:main] listening on ``port`` and nothing else changed
    (a ConfigParser round trip would drop the comments and could reorder keys)."""
    lines, section, replaced = [], None, False
    for line in INI.read_text().splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
        elif section == "server:main" and stripped.split("=")[0].strip() == "listen":
            line = f"listen = 127.0.0.1:{port}\n"
            replaced = True
        lines.append(line)
    assert replaced, f"no listen setting in [server:main] of {INI}"
    return "".join(lines)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    """The example app served by pserve from a copy of development.ini on a free port."""
    tmp = tmp_path_factory.mktemp("pserve")
    ini = tmp / "development.ini"
    port = _free_port()
    ini.write_text(_ini_listening_on(port))
    (tmp / "demo-secret.key").write_text(f"{FIRST_KEY}\n{SECOND_KEY}\n")
    (tmp / "demo-secret.key").chmod(0o600)  # session.secret_file refuses a key file others read
    pserve = Path(sys.executable).with_name("pserve")
    log_path = tmp / "pserve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(pserve), str(ini)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"pserve exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"pserve did not answer on {url} in 30 s:\n{log_path.read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser(tmp_path, monkeypatch):
    """Headless Chromium with a fresh profile, run by the system chromedriver."""
    # The driver and browser paths are given, so Selenium Manager has nothing to find; offline
    # mode makes sure it never tries the network if a Selenium release consults it anyway.
    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",  # containers often have a tiny /dev/shm
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(arg)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def who(driver):
    return driver.find_element(By.ID, "who").text


def visits(driver):
    return int(driver.find_element(By.ID, "visits").text)


def session_cookie(driver):
    cookie = driver.get_cookie(COOKIE)
    return cookie["value"] if cookie else None


def _gone(element):
    """``staleness_of``, also when Chromium answers for a node of a document already replaced
    with "Node with given id does not belong to the document" (a plain WebDriverException,
    which ``staleness_of`` lets through), as it does now and then mid-navigation."""

    def check(driver):
        try:
            element.is_enabled()
        except WebDriverException:  # StaleElementReferenceException among them
            return True
        return False

    return check


def submit(driver, button_id):
    """Click a form's submit button and wait for the next page: a click returns as soon as the
    event is dispatched, before the form's navigation has replaced the page."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, button_id).click()
    wait = WebDriverWait(driver, 30)
    wait.until(_gone(page))
    # The old page is gone as soon as the next one is committed, which may still be loading.
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def log_in(driver, base_url, username="ann", password="demo"):
    driver.get(base_url + "/")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    submit(driver, "login")


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
