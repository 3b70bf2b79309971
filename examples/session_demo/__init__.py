"""A small Pyramid app that shows pyramid_nacl_session at work: a visit counter, flash
messages, a login form protected by a CSRF token, a page showing the session and its cookie,
and logout; with revocation and ``track_sessions`` on (examples/devices.ini), the user's devices,
each with an "end" button. All session settings come from the .ini file."""

import json
import os
import tempfile
import time
from html import escape
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response

from pyramid_nacl_session import generate_secret

PASSWORD = "demo"  # the demo accepts any user name with this password


def page(request: Any, title: str, body: str) -> Response:
    flashes = "".join(
        f'<p class="flash">{escape(message)}</p>' for message in request.session.pop_flash()
    )
    user = request.session.get("user")
    who = f"Logged in as <b id='user'>{escape(user)}</b>" if user else "Not logged in"
    html = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{escape(title)}</title></head>
<body>
<nav><a href="/">Home</a> | <a href="/session">Session</a> | <span id="who">{who}</span></nav>
<h1>{escape(title)}</h1>
{flashes}
{body}
</body></html>"""
    return Response(html)


def csrf_field(request: Any) -> str:
    token = escape(request.session.get_csrf_token())
    return f'<input type="hidden" name="csrf_token" value="{token}">'


def home(request: Any) -> Response:
    session = request.session
    session["visits"] = session.get("visits", 0) + 1
    if session.get("user"):
        form = f"""<form method="post" action="/logout">{csrf_field(request)}
<button id="logout" type="submit">Log out</button></form>"""
    else:
        form = f"""<form method="post" action="/login">{csrf_field(request)}
<label>User <input id="username" name="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="login" type="submit">Log in</button></form>
<p>(Any user name, password <code>{PASSWORD}</code>.)</p>"""
    body = f'<p>Visits in this session: <b id="visits">{session["visits"]}</b></p>\n{form}'
    return page(request, "pyramid_nacl_session demo", body)


def login(request: Any) -> Response:
    username = request.POST.get("username", "").strip()
    if not username or request.POST.get("password") != PASSWORD:
        request.session.flash("Wrong user name or password.")
        return HTTPSeeOther("/")
    # A new identity (and CSRF token) for the new privileges; the visits counted before stay.
    # Pyramid's own cookie session (examples/signed.ini, before the move) has no regenerate().
    if hasattr(request.session, "regenerate"):
        request.session.regenerate()
    else:
        request.session.new_csrf_token()
    request.session["user"] = username
    request.session.flash(f"Welcome, {username}!")
    return HTTPSeeOther("/")


def logout(request: Any) -> Response:
    request.session.invalidate()  # nothing stored after this: the cookie is deleted
    return HTTPSeeOther("/")


def show_session(request: Any) -> Response:
    settings = request.registry.settings
    cookie = request.cookies.get(settings.get("session.cookie_name", "session"))
    state = json.dumps(dict(request.session), indent=2, ensure_ascii=False, sort_keys=True)
    size = len(cookie) if cookie else 0
    body = f"""<p>The cookie holds this session, encrypted: <b id="cookie-size">{size}</b> bytes
of the 4096 a browser keeps.</p>
<pre id="state">{escape(state)}</pre>"""
    return page(request, "What is in the session", body)


def devices(request: Any) -> Response:
    """The user's live sessions (``track_sessions``), each with a button that ends it."""
    session = request.session
    user = session.get("user")
    store = getattr(session, "revocation", None)
    if store is None or store.registry is None:
        return page(request, "Your devices", "<p>Needs revocation and track_sessions.</p>")
    if not user:
        return page(request, "Your devices", "<p>Log in to see your devices.</p>")
    rows = []
    for info in store.sessions(user):
        seen = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(info.last_seen))
        if info.session_id == session.session_id:
            action = "this device"
        else:
            action = f"""<form method="post" action="/devices/end">{csrf_field(request)}
<input type="hidden" name="session_id" value="{escape(info.session_id)}">
<button class="end" type="submit">End</button></form>"""
        rows.append(
            f'<tr class="device"><td>{escape(info.label or "unknown")}</td>'
            f"<td>{seen}</td><td>{action}</td></tr>"
        )
    body = f"""<table id="devices"><tr><th>Device</th><th>Last seen</th><th></th></tr>
{"".join(rows)}</table>"""
    return page(request, "Your devices", body)


def end_device(request: Any) -> Response:
    """Ends one of the user's own sessions (an id not in the user's list is ignored)."""
    session = request.session
    user, sid = session.get("user"), request.POST.get("session_id", "")
    if user and sid in {info.session_id for info in session.revocation.sessions(user)}:
        session.revocation.revoke_session(sid)
        session.flash("That device is logged out.")
    return HTTPSeeOther("/devices")


def demo_keys(path: str) -> str:
    """The keys in the file at ``path``, made (one new key) when there is no such file yet."""
    if not os.path.exists(path):
        # Published whole or not at all: several workers may start at once, and none may read a
        # half-written file or replace a key another one already serves with.
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".demo-secret-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(generate_secret().decode("ascii") + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    with open(path) as f:
        return f.read()


def main(global_config: Any, **settings: Any) -> Any:
    """The Paste app factory named by ``use = egg:session-demo`` in the .ini file.

    ``demo.secret_file`` names the file holding the keys (made, with one new key, at the first
    start), unless ``session.secret`` is given. With ``demo.signed_secret`` set
    (examples/signed.ini), the app runs as it would have before the move: on Pyramid's own
    ``SignedCookieSessionFactory``, with Pyramid 2's defaults.
    """
    if settings.get("demo.secret_file") and not settings.get("session.secret"):
        settings["session.secret"] = demo_keys(settings["demo.secret_file"])
    config = Configurator(settings=settings)
    if settings.get("demo.signed_secret"):
        from pyramid.session import SignedCookieSessionFactory

        config.set_session_factory(SignedCookieSessionFactory(settings["demo.signed_secret"]))
    config.set_default_csrf_options(require_csrf=True)
    config.add_route("home", "/")
    config.add_route("login", "/login")
    config.add_route("logout", "/logout")
    config.add_route("session", "/session")
    config.add_view(home, route_name="home")
    config.add_view(login, route_name="login", request_method="POST")
    config.add_view(logout, route_name="logout", request_method="POST")
    config.add_view(show_session, route_name="session")
    config.add_route("devices", "/devices")
    config.add_route("end_device", "/devices/end")
    config.add_view(devices, route_name="devices")
    config.add_view(end_device, route_name="end_device", request_method="POST")
    return config.make_wsgi_app()
