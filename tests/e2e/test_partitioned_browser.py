"""CHIPS in a real browser: headless Chromium keeps the session cookie that ``partitioned``
marks (``Partitioned; secure``), sends it back, and files it under the top-level site's
partition; and it drops the cookie again when the app deletes it.

Served over plain HTTP on ``localhost``, which Chromium treats as a secure context: it keeps
``secure`` cookies set there (as it does not on any other http:// host), so no certificate is
needed. The app runs in waitress in a thread of this process.
"""

import threading

import pytest

from pyramid_nacl_session import EncryptedCookieSessionFactory

from ..helpers import SECRET, free_port, session_app
from .chromium import require_browser

require_browser()


def _app(partitioned):
    """helpers.session_app's views (/put, /show, /logout) under a secure, partitioned factory."""
    factory = EncryptedCookieSessionFactory(
        SECRET, serializer="json", secure=True, partitioned=partitioned, samesite="None"
    )
    return session_app(factory).app


def _serve(partitioned):
    from waitress.server import create_server

    port = free_port()
    server = create_server(_app(partitioned), host="127.0.0.1", port=port, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url():
    yield from _serve(partitioned=True)


@pytest.fixture(scope="module")
def unpartitioned_url():
    yield from _serve(partitioned=False)


def shown(driver):
    import json

    from selenium.webdriver.common.by import By

    return json.loads(driver.find_element(By.TAG_NAME, "body").text)


def stored_cookies(driver):
    """Every cookie in the profile, partitioned ones included, as Chromium's DevTools lists
    them (WebDriver's own get_cookies leaves the partition out)."""
    return driver.execute_cdp_cmd("Storage.getCookies", {})["cookies"]


def test_chromium_keeps_a_partitioned_session_cookie_and_sends_it_back(chromium, base_url):
    chromium.get(base_url + "/put?user=ann")
    assert shown(chromium) == {"user": "ann"}
    [cookie] = [c for c in stored_cookies(chromium) if c["name"] == "session"]
    assert cookie["secure"] is True
    # Filed under the top-level site's partition: this is what Partitioned asks for.
    partition = cookie.get("partitionKey")
    assert partition, cookie
    site = partition["topLevelSite"] if isinstance(partition, dict) else partition
    assert site.startswith("http://localhost")
    chromium.get(base_url + "/show")
    assert shown(chromium) == {"user": "ann"}


def test_chromium_drops_the_partitioned_cookie_when_the_app_deletes_it(chromium, base_url):
    chromium.get(base_url + "/put?user=ann")
    assert [c["name"] for c in stored_cookies(chromium)] == ["session"]
    chromium.get(base_url + "/logout")
    # The deletion carries Partitioned too, else it would address another cookie.
    assert stored_cookies(chromium) == []
    chromium.get(base_url + "/show")
    assert shown(chromium) == {}


def test_without_the_option_the_cookie_has_no_partition(chromium, unpartitioned_url):
    chromium.get(unpartitioned_url + "/put?user=ann")
    [cookie] = [c for c in stored_cookies(chromium) if c["name"] == "session"]
    assert not cookie.get("partitionKey"), cookie
