"""One clock for the session and its core: Python's ``time.time``, which a test (or an app)
sets for both at once. The core reads it for the times in a cookie and for a Set-Cookie's
expiry date."""

import time

from pyramid.config import Configurator
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer

from .helpers import SECRET

HOUR = 3600
T = 2_000_000_000  # 2033-05-18 03:33:20 UTC


def app(**options):
    config = Configurator()
    config.set_session_factory(EncryptedCookieSessionFactory(SECRET, serializer="json", **options))

    def put(request):
        request.session["user"] = "ann"
        return {}

    def show(request):
        return {"user": request.session.get("user")}

    for view in (put, show):
        config.add_route(view.__name__, "/" + view.__name__)
        config.add_view(view, route_name=view.__name__, renderer="json")
    return TestApp(config.make_wsgi_app())


def test_the_expiry_date_follows_the_set_clock(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: T + 0.75)
    header = app(max_age=60).get("/put").headers["Set-Cookie"]
    assert "; expires=Wed, 18-May-2033 03:34:20 GMT" in header


def test_a_cookie_from_the_future_is_read_once_the_clock_gets_there(monkeypatch):
    now = time.time()
    serializer = EncryptedSerializer(SECRET, "json")
    cookie = serializer.dumps((now + HOUR, now + HOUR, {"user": "ann"}))
    test_app = app()
    test_app.set_cookie("session", cookie.decode())
    assert test_app.get("/show").json == {"user": None}  # an hour ahead: not yet
    monkeypatch.setattr(time, "time", lambda: now + HOUR)
    test_app.set_cookie("session", cookie.decode())
    assert test_app.get("/show").json == {"user": "ann"}
