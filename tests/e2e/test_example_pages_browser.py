"""The example's pages in Chromium: its stylesheet applies, flash messages stand out from the
text, logout says so, ``GET /login`` is a form, and, served with Redis (examples/revocation.ini),
"log out everywhere" ends the user's session in a second browser, and with track_sessions too
(examples/devices.ini) the Devices page lists the user's browsers and ends one.

Screenshots of each page are saved under target/screenshots/ (or $PNS_SCREENSHOTS), to be looked
at by whoever changes the pages.
"""

import os
import re
import sys
from pathlib import Path

import pytest

from ..helpers import eventually, free_port
from ..redis_server import RedisServer
from ..servers import listening_on, serve, stop
from .chromium import INI, require_browser

require_browser()

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from .chromium import FIRST_KEY, SECOND_KEY, log_in, submit, submit_button, who  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("PNS_SCREENSHOTS") or ROOT / "target" / "screenshots")


def shot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(1280, 800)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def serve_example(tmp, extra=""):
    """pserve on a copy of development.ini on a free port, with ``extra`` settings added to
    [app:main]; the process, its log and its URL."""
    port = free_port()
    text, _ = listening_on(INI, port)
    text = text.replace("\n[server:main]", "\n" + extra + "\n[server:main]", 1)
    (tmp / "development.ini").write_text(text)
    key_file = tmp / "demo-secret.key"
    key_file.write_text(f"{FIRST_KEY}\n{SECOND_KEY}\n")
    key_file.chmod(0o600)
    pserve = str(Path(sys.executable).with_name("pserve"))
    proc, log = serve([pserve, str(tmp / "development.ini")], port, tmp, env=os.environ.copy())
    return proc, log, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def plain_url(tmp_path_factory):
    proc, log, url = serve_example(tmp_path_factory.mktemp("plain"))
    yield url
    stop(proc, log)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


def serve_with_redis(tmp_path_factory, name, redis_url, *settings):
    """The example with the test's Redis and ``settings``: what examples/<name>.ini adds."""
    extra = "".join(
        f"session.{line}\n"
        for line in (f"revocation_url = {redis_url}", "revocation_user = user", *settings)
    )
    proc, log, url = serve_example(tmp_path_factory.mktemp(name), extra)
    return proc, log, url


@pytest.fixture(scope="module")
def revocation_url(tmp_path_factory, redis_url):
    proc, log, url = serve_with_redis(
        tmp_path_factory, "revocation", redis_url, "revocation_resync = 1"
    )
    yield url
    stop(proc, log)


@pytest.fixture(scope="module")
def devices_url(tmp_path_factory, redis_url):
    proc, log, url = serve_with_redis(
        tmp_path_factory,
        "devices",
        redis_url,
        "track_sessions = true",
        "track_sessions_label = User-Agent",
    )
    yield url
    stop(proc, log)


def style(driver, element, prop):
    return driver.execute_script(
        "return getComputedStyle(arguments[0]).getPropertyValue(arguments[1])", element, prop
    )


def test_the_stylesheet_applies_and_a_flash_stands_out(browser, plain_url):
    browser.get(plain_url + "/")
    body = browser.find_element(By.TAG_NAME, "body")
    assert "serif" not in style(browser, body, "font-family").replace("sans-serif", "")
    shot(browser, "home")
    log_in(browser, plain_url, password="wrong")
    flash = browser.find_element(By.CSS_SELECTOR, ".flash.error")
    assert flash.text == "Wrong user name or password."
    # A message, not body text: its own background and a coloured edge.
    body = browser.find_element(By.TAG_NAME, "body")
    assert style(browser, flash, "background-color") != style(browser, body, "background-color")
    assert float(style(browser, flash, "border-left-width").rstrip("px")) >= 3
    shot(browser, "wrong-password")
    log_in(browser, plain_url)
    assert browser.find_element(By.CSS_SELECTOR, ".flash").text == "Welcome, ann!"
    shot(browser, "welcome")


def test_logout_says_so(browser, plain_url):
    log_in(browser, plain_url)
    submit(browser, "logout")
    assert who(browser) == "Not logged in"
    assert "You are logged out, ann" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    shot(browser, "logged-out")


def test_get_login_is_a_form_that_logs_in(browser, plain_url):
    browser.get(plain_url + "/login")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Log in"
    shot(browser, "login")
    browser.find_element(By.ID, "username").send_keys("ann")
    browser.find_element(By.ID, "password").send_keys("demo")
    submit(browser, "login")
    assert who(browser) == "Logged in as ann"


@pytest.fixture
def other(tmp_path, monkeypatch):
    """Another Chromium, with its own profile: another device of the same user."""
    monkeypatch.setenv("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile-2'}",
    ):
        options.add_argument(arg)
    service = Service(executable_path="/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    yield driver
    driver.quit()


def test_log_out_everywhere_ends_the_users_session_in_another_browser(
    browser, other, revocation_url
):
    log_in(other, revocation_url, username="bob")
    assert who(other) == "Logged in as bob"
    log_in(browser, revocation_url, username="bob")
    browser.find_element(By.LINK_TEXT, "Revocation").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Revocation"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", browser.find_element(By.ID, "session-id").text)
    shot(browser, "revocation")
    submit(browser, "logout-everywhere")
    assert who(browser) == "Not logged in"
    assert "Every session of bob is logged out" in browser.page_source
    shot(browser, "logged-out-everywhere")
    # The other browser still holds its cookie, which still opens with the key: the
    # revocation set refuses it (this worker wrote it, so at once).
    other.refresh()
    assert who(other) == "Not logged in"


def devices_listed(driver):
    """The rows of the Devices page, once it lists two (a login's entry may reach Redis after
    its response)."""
    driver.refresh()
    rows = driver.find_elements(By.CSS_SELECTOR, "#devices tr.device")
    return rows if len(rows) == 2 else None


def test_the_devices_page_lists_each_browser_and_ends_the_other(browser, other, devices_url):
    log_in(other, devices_url, username="cid")
    log_in(browser, devices_url, username="cid")
    browser.find_element(By.LINK_TEXT, "Devices").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Your devices"
    rows = eventually(lambda: devices_listed(browser))
    assert rows, "the Devices page never listed both browsers"
    assert sorted(row.find_elements(By.TAG_NAME, "td")[2].text for row in rows) == [
        "End",
        "this device",
    ]
    shot(browser, "devices")
    submit_button(browser, browser.find_element(By.CSS_SELECTOR, "#devices button.end"))
    assert "That device is logged out." in browser.find_element(By.CSS_SELECTOR, ".flash").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#devices tr.device")
    assert [row.find_elements(By.TAG_NAME, "td")[2].text for row in rows] == ["this device"]
    shot(browser, "device-ended")
    other.refresh()
    assert who(other) == "Not logged in"
    assert who(browser) == "Logged in as cid"
