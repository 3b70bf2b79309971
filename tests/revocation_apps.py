"""What the revocation tests share: a real Pyramid app with revocation on (log in, show the
user, log out, log out everywhere), the cookie helpers around it, and the command line run
in-process. The fixtures (``redis_server``, ``apps``) are in conftest.py."""

from pyramid.config import Configurator
from webtest import TestApp

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer

from .helpers import SECRET, add_json_views

#: The apps' absolute_timeout: how long revocations are kept.
MAX_AGE = 3600


def make_app(url, **options):
    """An app whose views log in, show the user, log out and revoke; and its factory."""
    options.setdefault("absolute_timeout", MAX_AGE)
    options.setdefault("revocation_resync", 1)
    factory = EncryptedCookieSessionFactory(
        SECRET, serializer="json", revocation_url=url, revocation_user="user", **options
    )
    config = Configurator()
    config.set_session_factory(factory)

    def login(request):
        request.session.invalidate()
        request.session["user"] = request.params["user"]
        return {"user": request.session["user"]}

    def whoami(request):
        return {"user": request.session.get("user"), "state": dict(request.session)}

    def logout(request):
        request.session.invalidate()
        return {}

    def everywhere(request):
        user = request.session["user"]
        request.session.revocation.revoke_user(user)
        request.session.invalidate()
        request.session["user"] = user  # this browser logs in again at once
        return {}

    add_json_views(config, login, whoami, logout, everywhere)
    return TestApp(config.make_wsgi_app()), factory


def cookie_of(app):
    return app.cookies["session"]


def as_thief(app, cookie):
    """Another browser holding a copy of ``cookie``."""
    thief = TestApp(app.app)
    thief.set_cookie("session", cookie)
    return thief


def user_seen(app, cookie):
    return as_thief(app, cookie).get("/whoami").json["user"]


def sid_of(cookie):
    accessed, created, state = EncryptedSerializer(SECRET, "json").loads(cookie)
    return state["_sid_"]


def write_ini(tmp_path, **settings):
    lines = ["[app:main]", "use = egg:session-demo", "session.secret = " + "00" * 32]
    lines += [f"session.{k} = {v}" for k, v in settings.items()]
    path = tmp_path / "app.ini"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run_cli(*args):
    from pyramid_nacl_session.cli import main

    return main(list(args))
