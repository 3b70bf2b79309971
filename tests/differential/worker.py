"""One side of the differential: a real Pyramid app on whichever pyramid_nacl_session this
interpreter imports (1.0.0 in its own virtualenv, or ours), driven over stdin/stdout.

Every line in is a JSON command, every line out its JSON answer. Kept free of anything but
Pyramid, WebTest and the package itself, so it runs unchanged in both environments (started
with ``python -I``, so nothing but that environment can supply the package).

Commands:

``{"op": "hello"}``
  The package's file and version, to prove which side this is.
``{"op": "app", "kwargs": {...}}`` or ``{"op": "app", "settings": {...}}``
  Make an app whose session factory comes from ``EncryptedCookieSessionFactory(**kwargs)``
  (``secret`` in hex) or from ``session_factory_from_settings(settings)``; answers its id, or
  the error the factory raised.
``{"op": "request", "app": id, "now": t, "seed": n, "ops": [...], "cookie": header}``
  One GET through WebTest with ``Cookie: header`` (none when null), while ``time.time()`` is
  ``now`` and ``os.urandom`` is a generator seeded with ``seed`` (so both sides mint the same
  CSRF tokens). The view runs ``ops`` on ``request.session``. Answers the status, the JSON
  body, every Set-Cookie header, or the error that escaped the app.
"""

import hashlib
import json
import os
import sys
import time
import traceback

from pyramid.config import Configurator
from webtest import TestApp

import pyramid_nacl_session

REAL_TIME = time.time
REAL_URANDOM = os.urandom


class Clock:
    now = None

    def __call__(self):
        return REAL_TIME() if self.now is None else self.now


CLOCK = Clock()
# Both packages call time.time() through the module, so one patch serves Pyramid and us.
time.time = CLOCK


class Boom(Exception):
    """Raised by the ``raise`` op, after the session was changed."""


def seeded_urandom(seed):
    counter = [0]

    def urandom(n):
        out = b""
        while len(out) < n:
            counter[0] += 1
            out += hashlib.sha256(f"{seed}:{counter[0]}".encode()).digest()
        return out[:n]

    return urandom


def build(spec):
    """A Python value JSON cannot carry, from its description (pickle mode stores these)."""
    import datetime
    import decimal

    kind, arg = spec
    if kind == "tuple":
        return tuple(arg)
    if kind == "bytes":
        return bytes.fromhex(arg)
    if kind == "set":
        return frozenset(arg) if len(arg) % 2 else set(arg)
    if kind == "datetime":
        return datetime.datetime.fromtimestamp(arg, datetime.timezone.utc)
    if kind == "decimal":
        return decimal.Decimal(arg)
    if kind == "intkeys":
        return {i: v for i, v in enumerate(arg)}
    if kind == "deep":
        value = []
        for _ in range(arg):
            value = [value]
        return value
    if kind == "shared":
        return [arg, arg]  # one object twice
    raise ValueError(kind)


def show(value):
    """A result as JSON, keeping what JSON would blur (tuple vs list, bytes, sets...)."""
    if isinstance(value, (list, tuple)):
        items = [show(v) for v in value]
        return items if type(value) is list else {"<tuple>": items}
    if isinstance(value, dict):
        items = [[show(k), show(v)] for k, v in value.items()]
        if all(isinstance(k, str) for k in value):
            return {k: show(v) for k, v in value.items()}
        return {"<dict>": items}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (set, frozenset)):  # in an order that string hashing cannot change
        return {"<" + type(value).__name__ + ">": sorted(repr(v) for v in value)}
    return {"<" + type(value).__name__ + ">": repr(value)}


def run_op(session, op):
    """Run one operation on the session; return what a view would show of it."""
    name = op["op"]
    k = op.get("k")
    v = op.get("v")
    try:
        if name == "set":
            session[k] = v
            return None
        if name == "set_odd_key":
            session[build(k) if isinstance(k, list) else k] = v
            return None
        if name == "set_py":
            session[k] = build(v)
            return None
        if name == "get":
            return session.get(k)
        if name == "getitem":
            return session[k]
        if name == "delete":
            del session[k]
            return None
        if name == "pop":
            return session.pop(k, None)
        if name == "contains":
            return k in session
        if name == "len":
            return len(session)
        if name == "keys":
            return list(session.keys())
        if name == "items":
            return [list(i) for i in session.items()]
        if name == "values":
            return list(session.values())
        if name == "iter":
            return list(iter(session))
        if name == "setdefault":
            return session.setdefault(k, v)
        if name == "update":
            session.update(v)
            return None
        if name == "clear":
            session.clear()
            return None
        if name == "popitem":
            return list(session.popitem())
        if name == "flash":
            session.flash(v, op.get("queue", ""), op.get("allow_duplicate", True))
            return None
        if name == "pop_flash":
            return session.pop_flash(op.get("queue", ""))
        if name == "peek_flash":
            return session.peek_flash(op.get("queue", ""))
        if name == "csrf":
            return session.get_csrf_token()
        if name == "new_csrf":
            return session.new_csrf_token()
        if name == "invalidate":
            session.invalidate()
            return None
        if name == "changed":
            session.changed()
            return None
        if name == "append_unmarked":
            # A common app mistake: mutating a stored list without calling changed().
            dict.get(session, k, []).append(v)
            return None
        if name == "adjust_timeout":  # 2.0 only
            session.adjust_timeout_for_session(v)
            return None
        if name == "new":
            return session.new
        if name == "created":
            return session.created
        if name == "callback_set":
            # The app writes the session from a response callback of its own, registered now
            # (after the session was read, so after ours when reading registered one).
            session.request.add_response_callback(
                lambda request, response: request.session.__setitem__(k, v)
            )
            return None
        if name == "raise":
            raise Boom()
    except (KeyError, TypeError) as e:
        return {"raised": type(e).__name__}
    raise ValueError(f"unknown op {name!r}")


def make_app(factory):
    config = Configurator()
    config.set_session_factory(factory)

    def view(request):
        ops = json.loads(request.params["ops"])
        results = [show(run_op(request.session, op)) for op in ops]
        return {"results": results}

    def boom(exc, request):
        request.response.status = 500
        return {"boom": True}

    config.add_route("ops", "/ops")
    config.add_view(view, route_name="ops", renderer="json")
    config.add_view(boom, context=Boom, renderer="json")
    return TestApp(config.make_wsgi_app())


APPS = []


def cmd_app(msg):
    from pyramid_nacl_session import EncryptedCookieSessionFactory, session_factory_from_settings

    try:
        if "settings" in msg:
            factory = session_factory_from_settings(msg["settings"])
        else:
            kwargs = dict(msg["kwargs"])
            kwargs["secret"] = bytes.fromhex(kwargs["secret"])
            if "serializer_object" in kwargs:
                from pyramid.session import JSONSerializer, PickleSerializer

                kind = kwargs.pop("serializer_object")
                kwargs["serializer"] = {"json": JSONSerializer, "pickle": PickleSerializer}[kind]()
            factory = EncryptedCookieSessionFactory(**kwargs)
    except Exception as e:
        return {"error": type(e).__name__, "message": str(e)}
    APPS.append(make_app(factory))
    return {"app": len(APPS) - 1}


def cmd_request(msg):
    app = APPS[msg["app"]]
    app.reset()  # WebTest's own cookie jar stays out of it: the harness is the browser
    headers = {} if msg.get("cookie") is None else {"Cookie": msg["cookie"]}
    CLOCK.now = msg["now"]
    os.urandom = seeded_urandom(msg["seed"])
    try:
        res = app.get(
            "/ops", params={"ops": json.dumps(msg["ops"])}, headers=headers, expect_errors=True
        )
    except Exception as e:
        return {"error": type(e).__name__, "message": str(e)}
    finally:
        CLOCK.now = None
        os.urandom = REAL_URANDOM
        app.reset()
    return {
        "status": res.status_int,
        "body": res.json if res.content_type == "application/json" else res.text,
        "set_cookie": res.headers.getall("Set-Cookie"),
        "vary": res.headers.getall("Vary"),
    }


def cmd_hello(msg):
    from importlib.metadata import version

    return {
        "file": pyramid_nacl_session.__file__,
        "version": version("pyramid-nacl-session"),
        "pyramid": version("pyramid"),
        "webob": version("webob"),
        "python": sys.version.split()[0],
    }


def cmd_drop(msg):
    APPS[msg["app"]] = None  # a long run makes thousands of apps
    return {}


COMMANDS = {"hello": cmd_hello, "app": cmd_app, "request": cmd_request, "drop": cmd_drop}


def main():
    out = sys.stdout
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            answer = COMMANDS[msg["op"]](msg)
        except Exception:
            answer = {"crash": traceback.format_exc()}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
