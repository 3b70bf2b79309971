"""The example app, loaded from its .ini as pserve loads it, driven through WebTest."""

import json
import os

import pytest
from pyramid.interfaces import ISessionFactory
from webtest import TestApp

from .helpers import require_examples

require_examples()

INI = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "development.ini")


@pytest.fixture
def app():
    from pyramid.paster import get_app

    return TestApp(get_app(INI))


def log_in(app, username="ann", password="demo"):
    form = app.get("/").forms[0]
    form["username"] = username
    form["password"] = password
    return form.submit().follow()


def test_visit_counter_counts(app):
    app.get("/")
    assert 'id="visits">2<' in app.get("/").text


def test_login_flashes_once_and_keeps_the_user(app):
    page = log_in(app)
    assert "Welcome, ann!" in page.text and "<b id='user'>ann</b>" in page.text
    page = app.get("/")
    assert "Welcome" not in page.text and "<b id='user'>ann</b>" in page.text


def test_wrong_password_is_refused_with_a_flash(app):
    page = log_in(app, password="nope")
    assert "Wrong user name or password." in page.text and "Not logged in" in page.text


def test_post_without_csrf_token_is_refused(app):
    app.get("/")
    app.post("/login", {"username": "eve", "password": "demo"}, status=400)


def test_session_page_shows_state_and_cookie_size(app):
    log_in(app)
    page = app.get("/session")
    state = json.loads(page.html.find(id="state").text)
    assert state["user"] == "ann" and "_csrft_" in state
    size = int(page.html.find(id="cookie-size").text)
    assert size == len(app.cookies["demo_session"])


def test_logout_ends_the_session_and_says_so(app):
    page = log_in(app)
    old = app.cookies["demo_session"]
    page = page.forms[0].submit().follow()
    # The session is over: a new one, holding the message alone, takes the cookie's place.
    assert "You are logged out, ann" in page.html.find(class_="flash").text
    assert "Not logged in" in page.text and 'id="visits">1<' in page.text
    assert app.cookies["demo_session"] != old
    assert "user" not in json.loads(app.get("/session").html.find(id="state").text)
    assert "You are logged out" not in app.get("/").text  # a flash shows once


def test_get_login_shows_the_form(app):
    page = app.get("/login")
    assert page.status_int == 200
    assert page.html.find(id="username") is not None and page.html.find(id="login") is not None
    form = page.forms[0]
    form["username"], form["password"] = "ann", "demo"
    assert "<b id='user'>ann</b>" in form.submit().follow().text
    assert app.get("/login").status_int == 303  # once logged in, home


def test_every_page_takes_the_stylesheet_and_flashes_are_marked(app):
    style = app.get("/style.css")
    assert style.content_type == "text/css" and ".flash" in style.text
    page = log_in(app, password="nope")
    assert page.html.find("link", rel="stylesheet")["href"] == "/style.css"
    flash = page.html.find(class_="flash")
    assert flash["role"] == "status" and "error" in flash["class"]
    assert flash.text == "Wrong user name or password."


def test_without_revocation_there_is_no_revocation_page(app):
    log_in(app)
    assert 'href="/revocation"' not in app.get("/").text
    app.get("/revocation", status=404)


def test_cookie_is_httponly_and_samesite_lax_as_configured(app):
    header = app.get("/").headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header


SIGNED_INI = os.path.join(os.path.dirname(INI), "signed.ini")
MIGRATE_SIGNED_INI = os.path.join(os.path.dirname(INI), "migrate-signed.ini")


def test_moving_the_example_off_signed_cookies_keeps_the_user_logged_in():
    from pyramid.paster import get_app

    before = TestApp(get_app(SIGNED_INI))
    log_in(before)
    signed = before.cookies["session"]
    assert "demo_session" not in before.cookies
    assert "<b id='user'>ann</b>" in before.get("/").text

    after = TestApp(get_app(MIGRATE_SIGNED_INI))
    after.set_cookie("session", signed)
    response = after.get("/")
    assert "<b id='user'>ann</b>" in response.text
    set_cookies = response.headers.getall("Set-Cookie")
    assert any(h.startswith("demo_session=") for h in set_cookies)
    assert any(h.startswith("session=;") and "Max-Age=0" in h for h in set_cookies)
    # Only the new, encrypted cookie from now on.
    sealed = after.cookies["demo_session"]
    after.reset()
    after.set_cookie("demo_session", sealed)
    page = after.get("/session")
    assert json.loads(page.html.find(id="state").text)["user"] == "ann"


REVOCATION_INI = os.path.join(os.path.dirname(INI), "revocation.ini")


@pytest.fixture
def redis_server(tmp_path):
    from .redis_server import RedisServer

    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def revocation_app(tmp_path, redis_server):
    """examples/revocation.ini (beside a copy of development.ini), on a test Redis."""
    from pyramid.paster import get_app

    server = redis_server
    with open(INI) as f:
        (tmp_path / "development.ini").write_text(f.read())
    with open(REVOCATION_INI) as f:
        text = f.read()
    assert "redis://127.0.0.1:6379/0" in text
    (tmp_path / "revocation.ini").write_text(text.replace("redis://127.0.0.1:6379/0", server.url))
    app = get_app(str(tmp_path / "revocation.ini"))
    yield app
    app.registry.queryUtility(ISessionFactory).revocation.close()


def test_log_out_everywhere_ends_the_users_sessions_in_every_browser(revocation_app):
    laptop, phone = TestApp(revocation_app), TestApp(revocation_app)
    log_in(phone, "bob")
    page = log_in(laptop, "bob")
    assert 'href="/revocation"' in page.text
    page = laptop.get("/revocation")
    assert page.html.find(id="session-id").text
    page = page.forms[0].submit().follow()
    assert "Every session of bob is logged out" in page.text and "Not logged in" in page.text
    # The phone's cookie still opens with the key; the revocation refuses it.
    assert "Not logged in" in phone.get("/").text


def test_the_revocation_page_sends_a_stranger_to_log_in(revocation_app):
    browser = TestApp(revocation_app)
    page = browser.get("/revocation").follow()
    assert page.request.path == "/login" and "Log in first" in page.text


@pytest.mark.redis
def test_the_devices_page_lists_each_browser_of_the_user_and_ends_one(tmp_path):
    from pyramid.paster import get_app

    from .redis_server import RedisServer

    server = RedisServer(tmp_path).start()
    devices_ini = os.path.join(os.path.dirname(INI), "devices.ini")
    with open(devices_ini) as f:
        text = f.read().replace("redis://127.0.0.1:6379/0", server.url)
    ini = tmp_path / "devices.ini"
    ini.write_text(text)
    wsgi = get_app(str(ini))
    try:
        laptop = TestApp(wsgi, extra_environ={"HTTP_USER_AGENT": "Laptop"})
        phone = TestApp(wsgi, extra_environ={"HTTP_USER_AGENT": "Phone"})
        log_in(laptop)
        log_in(phone)
        page = laptop.get("/devices")
        rows = page.html.find_all("tr", class_="device")
        assert sorted(row.td.text for row in rows) == ["Laptop", "Phone"]
        assert "this device" in [row.find_all("td")[2].text for row in rows]
        (end,) = [form for form in page.forms.values() if form.action == "/devices/end"]
        end.submit().follow()
        assert "Not logged in" in phone.get("/").text
        rows = laptop.get("/devices").html.find_all("tr", class_="device")
        assert [row.td.text for row in rows] == ["Laptop"]
        assert "<b id='user'>ann</b>" in laptop.get("/").text
    finally:
        from pyramid.interfaces import ISessionFactory

        wsgi.registry.queryUtility(ISessionFactory).revocation.close()
        server.stop()
