"""The Pyramid app that tests/test_revocation_processes.py and tests/test_session_list.py serve
in several processes (pserve, ``use = call:tests.revocation_app:main``): it logs in (also
keeping the session, with ``regenerate()``), shows the user, fills a cart, logs out, logs a user
out everywhere from a JSON body, revokes many sessions at once, as an admin view would, and lists
and ends the user's sessions (``track_sessions``); and revokes without waiting, then waits
apart (a failover during a burst)."""

from pyramid.config import Configurator

from pyramid_nacl_session._core import new_session_id
from pyramid_nacl_session.options import OptionError


def login(request):
    request.session.invalidate()
    request.session["user"] = request.params["user"]
    return {"user": request.session["user"]}


def whoami(request):
    return {"user": request.session.get("user")}


def logout(request):
    request.session.invalidate()
    return {}


def revoke_user(request):
    # A JSON body, as a client sends it: json.loads turns "\ud800" into a lone surrogate.
    try:
        request.session.revocation.revoke_user(request.json_body["user"])
    except OptionError as exc:
        request.response.status = 400
        return {"refused": exc.option}
    return {"flushed": request.session.revocation.flush()}


def mass_logout(request):
    """Revokes ``n`` new session ids one call at a time (a mass logout after a breach), waits
    for Redis, and returns every ``step``-th id for the test to try."""
    store = request.session.revocation
    sids = [new_session_id() for _ in range(int(request.params["n"]))]
    for sid in sids:
        store.revoke_session(sid)
    flushed = store.flush(timeout=float(request.params.get("timeout", 120)))
    return {"flushed": flushed, "sample": sids[:: int(request.params.get("step", 1000))]}


def revoke_many(request):
    """Revokes ``n`` new session ids without waiting for Redis (logouts as they come) and
    returns them all."""
    store = request.session.revocation
    sids = [new_session_id() for _ in range(int(request.params["n"]))]
    for sid in sids:
        store.revoke_session(sid)
    return {"sids": sids}


def flush(request):
    """Whether every revocation made in this process is in Redis (``flush()``)."""
    return {"flushed": request.session.revocation.flush(float(request.params["timeout"]))}


def unsettled(request):
    """How many revocations made here are not in Redis yet (for benchmarks/failover.py)."""
    store = request.session.revocation
    return {"unsettled": store._queued - store._settled}


def cart(request):
    request.session.setdefault("cart", []).append(request.params["item"])
    request.session.changed()
    return {"cart": request.session["cart"]}


def login_keep(request):
    """Login as docs/usage.rst shows it: the session keeps its data under a new identity."""
    request.session.regenerate()
    request.session["user"] = request.params["user"]
    return {"user": request.session["user"]}


def state(request):
    session = request.session
    return {
        "user": session.get("user"),
        "cart": session.get("cart"),
        "session_id": session.session_id,
        "created": session.created,
        "csrf": session.get("_csrft_"),
    }


def csrf(request):
    return {"csrf": request.session.get_csrf_token()}


def sessions(request):
    """The session's user's list, or ``user``'s (as an admin page would show it)."""
    session = request.session
    user = request.params.get("user") or session.get("user")
    listed = session.revocation.sessions(user) if user else []
    return {
        "sessions": [
            dict(info._asdict(), current=info.session_id == session.session_id) for info in listed
        ]
    }


def end(request):
    """Ends one of the user's own sessions: an id not in the user's list is refused."""
    session = request.session
    user, sid = session.get("user"), request.params["session_id"]
    if not user or sid not in {info.session_id for info in session.revocation.sessions(user)}:
        request.response.status = 404
        return {}
    session.revocation.revoke_session(sid)
    return {"flushed": session.revocation.flush()}


def logout_others(request):
    session = request.session
    ended = session.revocation.revoke_others(session["user"], session)
    return {"ended": ended, "flushed": session.revocation.flush()}


def main(global_config, **settings):
    config = Configurator(settings=settings)
    config.include("pyramid_nacl_session")
    for name, view in [
        ("login", login),
        ("whoami", whoami),
        ("logout", logout),
        ("revoke-user", revoke_user),
        ("mass-logout", mass_logout),
        ("revoke-many", revoke_many),
        ("flush", flush),
        ("unsettled", unsettled),
        ("cart", cart),
        ("login-keep", login_keep),
        ("state", state),
        ("csrf", csrf),
        ("sessions", sessions),
        ("end", end),
        ("logout-others", logout_others),
    ]:
        config.add_route(name, "/" + name)
        config.add_view(view, route_name=name, renderer="json")
    return config.make_wsgi_app()
