"""The Pyramid app that tests/test_revocation_processes.py serves in several processes (pserve,
``use = call:tests.revocation_app:main``): it logs in, shows the user, logs out, logs a user out
everywhere from a JSON body, and revokes many sessions at once, as an admin view would (waiting
for Redis, or not, then waiting apart)."""

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
    ]:
        config.add_route(name, "/" + name)
        config.add_view(view, route_name=name, renderer="json")
    return config.make_wsgi_app()
