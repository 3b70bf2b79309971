"""The browser tests' fixture: headless Chromium (chromium.py says what it needs)."""

import pytest

from .chromium import CHROMEDRIVER, CHROMIUM, require_browser


@pytest.fixture
def browser(tmp_path, monkeypatch):
    """Headless Chromium with a fresh profile, run by the system chromedriver."""
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

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


@pytest.fixture
def chromium(browser):
    """The same headless Chromium, under the name the modules that test Chromium itself use."""
    return browser
