"""The operator command line: ``pyramid-nacl-session`` / ``python -m pyramid_nacl_session``."""

import base64
import datetime
import io
import json
import os
import pickle
import re
import subprocess
import sys
import time

import pytest
import webtest
from pyramid.config import Configurator
from pyramid.paster import get_app

from pyramid_nacl_session import EncryptedCookieSessionFactory, EncryptedSerializer, generate_secret
from pyramid_nacl_session.cli import ENV_VAR, main

KEY = generate_secret().decode("ascii")
OLD_KEY = generate_secret().decode("ascii")
OTHER_KEY = generate_secret().decode("ascii")
SECRETS = (KEY, OLD_KEY, OTHER_KEY)


@pytest.fixture(autouse=True)
def no_env_keys(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def run(capsys, *argv):
    """main(argv) -> (status, stdout, stderr), checking that no key ever reaches the output."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    for secret in SECRETS:
        assert secret.lower() not in (out + err).lower()
    return status, out, err


def _views(config):
    def login(request):
        request.session["user"] = "zoë"
        request.session["roles"] = ["admin", "ops"]
        return request.response

    config.add_route("login", "/login")
    config.add_view(login, route_name="login")


def app_factory(global_config, **settings):
    """A Paste app factory, so that an .ini file in a test can name a loadable app."""
    with Configurator(settings=settings) as config:
        config.include("pyramid_nacl_session")
        _views(config)
        return config.make_wsgi_app()


def session_cookie(app):
    """Log in to ``app``; return the Set-Cookie header and the session cookie's value."""
    res = webtest.TestApp(app).get("/login")
    header = res.headers["Set-Cookie"]
    return header, re.match(r"session=([^;]+)", header).group(1)


def json_cookie(secret=KEY):
    with Configurator() as config:
        config.set_session_factory(EncryptedCookieSessionFactory(secret, serializer="json"))
        _views(config)
        app = config.make_wsgi_app()
    return session_cookie(app)[1]


def decoded(out):
    report = json.loads(out)
    assert list(report) == [
        "created",
        "created_utc",
        "accessed",
        "accessed_utc",
        "payload",
        "state",
    ]
    return report


def nacl_cookie(plaintext, key=KEY):
    """A cookie as pyramid_nacl_session 1.0 sealed it, with PyNaCl."""
    nacl_secret = pytest.importorskip("nacl.secret")
    box = nacl_secret.SecretBox(bytes.fromhex(key))
    return base64.urlsafe_b64encode(box.encrypt(plaintext)).rstrip(b"=").decode("ascii")


def test_secret_prints_a_new_64_hex_digit_key(capsys):
    assert main(["secret"]) == 0
    first = capsys.readouterr().out.strip()
    main(["secret"])
    second = capsys.readouterr().out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != second
    # It is a key the library takes.
    EncryptedSerializer(first, "json")


def test_decode_with_secret_prints_the_session_as_json(capsys):
    before = time.time()
    cookie = json_cookie()
    status, out, err = run(capsys, "decode", "--secret", KEY, cookie)
    assert (status, err) == (0, "")
    report = decoded(out)
    assert report["payload"] == "json"
    assert report["state"] == {"user": "zoë", "roles": ["admin", "ops"]}
    assert "zoë" in out  # ensure_ascii=False
    assert before - 1 <= report["created"] <= time.time() + 1
    assert report["accessed"] >= int(before)
    created_utc = datetime.datetime.fromisoformat(report["created_utc"])
    assert created_utc.utcoffset() == datetime.timedelta(0)
    assert created_utc.timestamp() == pytest.approx(report["created"], abs=1e-3)
    accessed_utc = datetime.datetime.fromisoformat(report["accessed_utc"])
    assert accessed_utc.timestamp() == pytest.approx(report["accessed"], abs=1e-3)


def test_decode_reads_keys_from_the_environment(capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, f"  {OTHER_KEY}\n{KEY} ")
    status, out, _ = run(capsys, "decode", json_cookie())
    assert status == 0
    assert decoded(out)["state"]["user"] == "zoë"


def test_secret_option_wins_over_the_environment(capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, KEY)
    status, _, err = run(capsys, "decode", "--secret", OTHER_KEY, json_cookie())
    assert status == 1
    assert "tried 1 key)" in err


def write_ini(tmp_path, body):
    path = tmp_path / "app.ini"
    path.write_text(body)
    return str(path)


def test_decode_reads_keys_from_the_apps_ini_file(capsys, tmp_path):
    ini = write_ini(
        tmp_path,
        f"[app:main]\nuse = call:{__name__}:app_factory\n"
        f"session.secret =\n    {KEY}\n    {OLD_KEY}\nsession.serializer = json\n",
    )
    # The cookie comes from the very app that the .ini file configures.
    _, cookie = session_cookie(get_app(ini, "main"))
    status, out, err = run(capsys, "decode", "--ini", ini, cookie)
    assert (status, err) == (0, "")
    assert decoded(out)["state"]["roles"] == ["admin", "ops"]


def test_decode_reads_the_ini_section_named_by_app(capsys, tmp_path):
    ini = write_ini(
        tmp_path,
        f"[app:main]\nuse = call:{__name__}:app_factory\nsession.secret = {OTHER_KEY}\n\n"
        f"[app:admin]\nuse = call:{__name__}:app_factory\npynacl.session.secret = {KEY}\n",
    )
    cookie = json_cookie()
    assert run(capsys, "decode", "--ini", ini, cookie)[0] == 1
    status, out, _ = run(capsys, "decode", "--ini", ini, "--app", "admin", cookie)
    assert status == 0
    assert decoded(out)["state"]["user"] == "zoë"


def test_ini_without_a_secret_is_a_usage_error(capsys, tmp_path):
    ini = write_ini(tmp_path, f"[app:main]\nuse = call:{__name__}:app_factory\n")
    status, out, err = run(capsys, "decode", "--ini", ini, json_cookie())
    assert (status, out) == (2, "")
    assert "has no session.secret" in err


@pytest.mark.parametrize("missing", ["nosuch.ini", "app.ini#nosuchapp"])
def test_unreadable_ini_is_a_usage_error(capsys, tmp_path, missing):
    write_ini(tmp_path, f"[app:main]\nuse = call:{__name__}:app_factory\nsession.secret = {KEY}\n")
    status, _, err = run(capsys, "decode", "--ini", str(tmp_path / missing), "x")
    assert status == 2
    assert err.startswith("pyramid-nacl-session: --ini: ")
    assert err.count("\n") == 1


def test_decode_opens_a_cookie_sealed_by_an_older_key(capsys):
    cookie = json_cookie(secret=OLD_KEY)
    status, out, _ = run(capsys, "decode", "--secret", KEY, "--secret", OLD_KEY, cookie)
    assert status == 0
    assert decoded(out)["state"]["user"] == "zoë"


def test_wrong_key_exits_1_with_the_reason(capsys):
    status, out, err = run(
        capsys, "decode", "--secret", KEY, "--secret", OTHER_KEY, json_cookie(secret=OLD_KEY)
    )
    assert (status, out) == (1, "")
    assert err == "pyramid-nacl-session: wrong key or tampered (tried 2 keys)\n"


def test_tampered_cookie_exits_1(capsys):
    cookie = json_cookie()
    flipped = cookie[:30] + ("A" if cookie[30] != "A" else "B") + cookie[31:]
    status, _, err = run(capsys, "decode", "--secret", KEY, flipped)
    assert status == 1
    assert "wrong key or tampered" in err


@pytest.mark.parametrize(
    "garbage, reason",
    [
        ("not a cookie!", "not a session cookie: bad base64"),
        ("AAAA", "not a session cookie: too short"),
    ],
)
def test_garbage_exits_1_with_one_line_saying_why(capsys, garbage, reason):
    status, out, err = run(capsys, "decode", "--secret", KEY, garbage)
    assert (status, out) == (1, "")
    assert err.startswith(f"pyramid-nacl-session: {reason}")
    assert err.count("\n") == 1


def test_a_value_that_is_not_a_session_triple_is_refused(capsys):
    cookie = EncryptedSerializer(KEY, "json").dumps({"not": "a session"}).decode()
    status, out, err = run(capsys, "decode", "--secret", KEY, cookie)
    assert (status, out) == (1, "")
    assert err.startswith("pyramid-nacl-session: not a pyramid session")


def test_a_payload_that_is_neither_json_nor_pickle_is_not_a_session(capsys):
    class Text:
        def dumps(self, value):
            return b"hello"

        def loads(self, data):
            return data

    cookie = EncryptedSerializer(KEY, Text()).dumps(None).decode()
    status, _, err = run(capsys, "decode", "--secret", KEY, cookie)
    assert status == 1
    assert err.startswith("pyramid-nacl-session: not a pyramid session")
    assert "pickle" not in err


def test_decode_takes_name_equals_value_as_copied_from_a_browser(capsys):
    with Configurator() as config:
        config.set_session_factory(EncryptedCookieSessionFactory(KEY, serializer="json"))
        _views(config)
        header, _ = session_cookie(config.make_wsgi_app())
    name_value = header.split(";")[0]
    assert name_value.startswith("session=")
    for pasted in (name_value, header):  # also the whole Set-Cookie header
        status, out, _ = run(capsys, "decode", "--secret", KEY, pasted)
        assert status == 0
        assert decoded(out)["state"]["user"] == "zoë"


def test_decode_takes_a_padded_bare_value(capsys):
    cookie = json_cookie()
    padded = cookie + "=" * (-len(cookie) % 4)
    status, out, _ = run(capsys, "decode", "--secret", KEY, padded)
    assert status == 0
    assert decoded(out)["state"]["user"] == "zoë"


def test_decode_reads_the_cookie_from_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"session={json_cookie()}\n"))
    status, out, _ = run(capsys, "decode", "--secret", KEY, "-")
    assert status == 0
    assert decoded(out)["state"]["user"] == "zoë"


def test_no_keys_exits_2_naming_the_three_ways(capsys):
    status, out, err = run(capsys, "decode", json_cookie())
    assert (status, out) == (2, "")
    assert "--secret" in err and ENV_VAR in err and "--ini" in err


def test_bad_key_is_a_usage_error_that_does_not_echo_it(capsys):
    almost = KEY[:-1] + "g"
    status, out, err = run(capsys, "decode", "--secret", KEY, "--secret", almost, "x")
    assert (status, out) == (2, "")
    assert "secret[1]" in err
    assert almost not in err and KEY[:16] not in err


def test_pickle_of_plain_data_from_1_0_is_shown(capsys):
    now = time.time()
    cookie = nacl_cookie(pickle.dumps((now, now, {"a": 1}), 5))
    status, out, err = run(capsys, "decode", "--secret", KEY, cookie)
    assert (status, err) == (0, "")
    report = decoded(out)
    assert report["payload"] == "pickle (plain data)"
    assert report["state"] == {"a": 1}
    assert report["created"] == now


class _Hostile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_hostile_pickle_is_refused_and_runs_nothing(capsys, tmp_path):
    touched = tmp_path / "pwned"
    now = time.time()
    cookie = nacl_cookie(pickle.dumps((now, now, {"a": _Hostile(touched)}), 5))
    status, out, err = run(capsys, "decode", "--secret", KEY, cookie)
    assert (status, out) == (1, "")
    assert "pickle" in err and "could run code" in err
    assert not touched.exists()


def test_python_dash_m_runs_the_same_command_line():
    def python_m(*args):
        return subprocess.run(
            [sys.executable, "-m", "pyramid_nacl_session", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    secret = python_m("secret")
    assert secret.returncode == 0
    assert re.fullmatch(r"[0-9a-f]{64}\n", secret.stdout)
    helped = python_m("--help")
    assert helped.returncode == 0
    assert "usage: pyramid-nacl-session" in helped.stdout
    assert "decode" in helped.stdout and "secret" in helped.stdout


def test_cookie_starting_with_a_dash_is_taken_as_the_cookie(capsys):
    from pyramid_nacl_session import EncryptedSerializer

    serializer = EncryptedSerializer(KEY, "json")
    now = time.time()
    cookie = "x"
    while not cookie.startswith("-"):  # one cookie in 64 starts with '-'
        cookie = serializer.dumps((now, now, {"a": 1})).decode()
    status, out, _ = run(capsys, "decode", "--secret", KEY, cookie)
    assert status == 0 and decoded(out)["state"] == {"a": 1}
