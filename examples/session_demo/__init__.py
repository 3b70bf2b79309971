"""A small Pyramid app that shows pyramid_nacl_session at work: a visit counter, flash
messages, a login form protected by a CSRF token, a page showing the session and its cookie,
logout, and, when the .ini turns revocation on (examples/revocation.ini), "log out everywhere";
with ``track_sessions`` on too (examples/devices.ini), the user's devices, each with an "end"
button. All session settings come from the .ini file."""

import json
import os
import tempfile
import time
from html import escape
from pathlib import Path
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.response import Response

from pyramid_nacl_session import generate_secret

PASSWORD = "demo"  # the demo accepts any user name with this password


STYLE = (Path(__file__).parent / "style.css").read_text(encoding="utf-8")


def page(request: Any, title: str, body: str) -> Response:
    session = request.session
    flashes = "".join(
        f'<p class="flash{kind}" role="status">{escape(message)}</p>'
        for queue, kind in (("error", " error"), ("", ""))
        for message in session.pop_flash(queue)
    )
    user = session.get("user")
    who = f"Logged in as <b id='user'>{escape(user)}</b>" if user else "Not logged in"
    links = '<a href="/">Home</a> <a href="/session">Session</a>'
    store = getattr(session, "revocation", None)  # not on Pyramid's own sessions
    if store is not None:
        links += ' <a href="/revocation">Revocation</a>'
        if store.registry is not None:
            links += ' <a href="/devices">Devices</a>'
    html = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/style.css"></head>
<body>
<nav>{links} <span id="who">{who}</span></nav>
<h1>{escape(title)}</h1>
{flashes}
{body}
</body></html>"""
    return Response(html)


def stylesheet(request: Any) -> Response:
    return Response(STYLE, content_type="text/css", charset="utf-8")


def csrf_field(request: Any) -> str:
    token = escape(request.session.get_csrf_token())
    return f'<input type="hidden" name="csrf_token" value="{token}">'


def login_form(request: Any) -> str:
    return f"""<form method="post" action="/login">{csrf_field(request)}
<label>User <input id="username" name="username" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password"
 autocomplete="current-password"></label>
<button id="login" type="submit">Log in</button></form>
<p class="hint">(Any user name, password <code>{PASSWORD}</code>.)</p>"""


def home(request: Any) -> Response:
    session = request.session
    session["visits"] = session.get("visits", 0) + 1
    if session.get("user"):
        form = f"""<form method="post" action="/logout">{csrf_field(request)}
<button id="logout" type="submit">Log out</button></form>"""
    else:
        form = login_form(request)
    body = f'<p>Visits in this session: <b id="visits">{session["visits"]}</b></p>\n{form}'
    return page(request, "pyramid_nacl_session demo", body)


def login_page(request: Any) -> Response:
    """``GET /login``: the form alone (where a browser lands after a refused login, say)."""
    if request.session.get("user"):
        return HTTPSeeOther("/")
    return page(request, "Log in", login_form(request))


def login(request: Any) -> Response:
    username = request.POST.get("username", "").strip()
    if not username or request.POST.get("password") != PASSWORD:
        request.session.flash("Wrong user name or password.", "error")
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
    user = request.session.get("user")
    # Ends the session (with revocation on, every copy of its cookie too); the flash starts a
    # new, empty one that carries the message to the next page.
    request.session.invalidate()
    if user:
        request.session.flash(f"You are logged out, {user}: this session is over.")
    return HTTPSeeOther("/")


def revocation_page(request: Any) -> Response:
    """``GET /revocation`` (revocation on): what this session's cookie is worth after a logout,
    and "log out everywhere"."""
    session = request.session
    user = session.get("user")
    if not user:
        session.flash("Log in first: revocation works on a logged-in user's sessions.", "error")
        return HTTPSeeOther("/login")
    sid = escape(session.session_id or "(given when the cookie is next written)")
    body = f"""<p>Revocation is on: logging out refuses every copy of the session's cookie, on
every worker, within a second, though the cookie itself still opens with the app's key.</p>
<p>This session's id: <code id="session-id">{sid}</code></p>
<p>Try it: log in as <b>{escape(user)}</b> in a second browser (or a private window), then
press the button below here, and reload the other one: it is logged out too.</p>
<form method="post" action="/logout-everywhere" class="inline">{csrf_field(request)}
<button id="logout-everywhere" class="danger" type="submit">Log out everywhere</button></form>
<p class="hint">It revokes every session of this user created before now; the operator's
command does the same: <code>pyramid-nacl-session revoke --ini examples/revocation.ini user
{escape(user)}</code>.</p>"""
    return page(request, "Revocation", body)


def logout_everywhere(request: Any) -> Response:
    session = request.session
    user = session.get("user")
    if user:
        session.revocation.revoke_user(user)
        session.invalidate()
        session.flash(f"Every session of {user} is logged out, in every browser.")
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


def make_key_file(path: str) -> None:
    """Make the file at ``path`` with one new key, readable by its owner alone, unless it
    exists: a convenience of this demo at its first start. A real app makes its key file once,
    by hand: ``(umask 077; pyramid-nacl-session secret > session.key)``."""
    if os.path.exists(path):
        return
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


def main(global_config: Any, **settings: Any) -> Any:
    """The Paste app factory named by ``use = egg:session-demo`` in the .ini file.

    The keys are read by ``session.secret_file``; the file it names is made, with one new key,
    at the first start. With ``session.revocation_url`` set, the Revocation page shows "log out
    everywhere". With ``demo.signed_secret`` set (examples/signed.ini), the app runs as it would
    have before the move: on Pyramid's own ``SignedCookieSessionFactory``, with Pyramid 2's
    defaults.
    """
    if settings.get("session.secret_file"):
        make_key_file(settings["session.secret_file"])
    config = Configurator(settings=settings)
    if settings.get("demo.signed_secret"):
        from pyramid.session import SignedCookieSessionFactory

        config.set_session_factory(SignedCookieSessionFactory(settings["demo.signed_secret"]))
    config.set_default_csrf_options(require_csrf=True)
    config.add_route("home", "/")
    config.add_route("style", "/style.css")
    config.add_route("login", "/login")
    config.add_route("logout", "/logout")
    config.add_route("session", "/session")
    config.add_view(home, route_name="home")
    config.add_view(stylesheet, route_name="style")
    config.add_view(login_page, route_name="login", request_method="GET")
    config.add_view(login, route_name="login", request_method="POST")
    config.add_view(logout, route_name="logout", request_method="POST")
    config.add_view(show_session, route_name="session")
    if settings.get("session.revocation_url"):
        config.add_route("revocation", "/revocation")
        config.add_route("logout_everywhere", "/logout-everywhere")
        config.add_view(revocation_page, route_name="revocation", request_method="GET")
        config.add_view(logout_everywhere, route_name="logout_everywhere", request_method="POST")
    config.add_route("devices", "/devices")
    config.add_route("end_device", "/devices/end")
    config.add_view(devices, route_name="devices")
    config.add_view(end_device, route_name="end_device", request_method="POST")
    return config.make_wsgi_app()
