"""What the browser tests share: whether Chromium, chromedriver and selenium are here, and
what the example app's pages show. The ``browser`` fixture is in conftest.py.

Needs Debian's chromium and chromium-driver and the selenium package (scripts/install-browser).
Without them each module skips (``require_browser()``), unless CI_REQUIRE_BROWSER=1 asks for a
failure instead.
"""

import configparser
import importlib.util
import os
import shutil
import time
from pathlib import Path

import pytest

from pyramid_nacl_session import EncryptedSerializer, generate_secret

try:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # require_browser() skips every module that would use them
    pass

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


def require_browser():
    """Skip the calling test module, saying what is missing (a failure under
    CI_REQUIRE_BROWSER=1), when the browser parts are not all here."""
    missing = _missing_browser_parts()
    if missing:
        reason = f"browser tests need {', '.join(missing)}; run scripts/install-browser"
        if os.environ.get("CI_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CI_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason, allow_module_level=True)


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
    submit_button(driver, driver.find_element(By.ID, button_id))


def submit_button(driver, button):
    """``submit`` for a button found otherwise than by its id."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    wait = WebDriverWait(driver, 30)
    wait.until(_gone(page))
    # The old page is gone as soon as the next one is committed, which may still be loading.
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def log_in(driver, base_url, username="ann", password="demo"):
    driver.get(base_url + "/")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    submit(driver, "login")
