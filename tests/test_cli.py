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


def usage_error(capsys, *argv):
    """What ``main(argv)`` wrote to stderr, having exited 2 (a usage error) with nothing on
    stdout; :func:`run` checks that no key reached either."""
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    return err


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
        "opened_by",
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
    assert report["opened_by"] == "key 1 of 1"
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


def write_file(tmp_path, body, name="app.ini"):
    """The path of a file called ``name`` in ``tmp_path`` that holds ``body``."""
    path = tmp_path / name
    path.write_text(body)
    return str(path)


def test_an_app_that_cannot_be_imported_says_how_to_make_it_importable(
    capsys, tmp_path, monkeypatch
):
    # The Quickstart's layout: the app's module beside its .ini, served with PYTHONPATH=.
    (tmp_path / "quickstart_app_for_cli.py").write_text(
        "from pyramid.config import Configurator\n\n"
        "def main(global_config, **settings):\n"
        "    return Configurator(settings=settings).make_wsgi_app()\n"
    )
    ini = write_file(
        tmp_path,
        f"[app:main]\nuse = call:quickstart_app_for_cli:main\nsession.secret = {KEY}\n",
    )
    status, out, err = run(capsys, "decode", "--ini", ini, json_cookie())
    assert (status, out) == (2, "")
    assert "cannot be imported (module 'quickstart_app_for_cli')" in err
    assert "PYTHONPATH=." in err
    monkeypatch.syspath_prepend(str(tmp_path))
    status, out, err = run(capsys, "decode", "--ini", ini, json_cookie())
    assert (status, err) == (0, "")


def test_decode_reads_keys_from_the_apps_ini_file(capsys, tmp_path):
    ini = write_file(
        tmp_path,
        f"[app:main]\nuse = call:{__name__}:app_factory\n"
        f"session.secret =\n    {KEY}\n    {OLD_KEY}\nsession.serializer = json\n",
    )
    # The cookie comes from the very app that the .ini file configures.
    _, cookie = session_cookie(get_app(ini, "main"))
    status, out, err = run(capsys, "decode", "--ini", ini, cookie)
    assert (status, err) == (0, "")
    assert decoded(out)["state"]["roles"] == ["admin", "ops"]
    assert decoded(out)["opened_by"] == "key 1 of 2"


def test_decode_reads_the_ini_section_named_by_app(capsys, tmp_path):
    ini = write_file(
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
    ini = write_file(tmp_path, f"[app:main]\nuse = call:{__name__}:app_factory\n")
    err = usage_error(capsys, "decode", "--ini", ini, json_cookie())
    assert "session.secret: missing" in err


@pytest.mark.parametrize("missing", ["nosuch.ini", "app.ini#nosuchapp"])
def test_unreadable_ini_is_a_usage_error(capsys, tmp_path, missing):
    write_file(tmp_path, f"[app:main]\nuse = call:{__name__}:app_factory\nsession.secret = {KEY}\n")
    err = usage_error(capsys, "decode", "--ini", str(tmp_path / missing), "x")
    assert err.startswith("pyramid-nacl-session: --ini: ")
    assert err.count("\n") == 1


def test_decode_opens_a_cookie_sealed_by_an_older_key(capsys):
    cookie = json_cookie(secret=OLD_KEY)
    status, out, _ = run(capsys, "decode", "--secret", KEY, "--secret", OLD_KEY, cookie)
    assert status == 0
    assert decoded(out)["state"]["user"] == "zoë"
    # Which key, by its place in the list: never the key itself.
    assert decoded(out)["opened_by"] == "key 2 of 2"


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
    err = usage_error(capsys, "decode", json_cookie())
    assert "--secret" in err and ENV_VAR in err and "--ini" in err


def test_bad_key_is_a_usage_error_that_does_not_echo_it(capsys):
    almost = KEY[:-1] + "g"
    err = usage_error(capsys, "decode", "--secret", KEY, "--secret", almost, "x")
    assert "key 2 of 2, from --secret" in err
    assert "length 64" in err
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


# --- Usage errors never echo a value: any of them may be a key typed in the wrong place. ---

TYPOS = [
    # (argv, with K for a key and C for a cookie; what the error must name)
    (["decode", "C", "--secret", "K", "K"], "1 unexpected argument"),
    (["decode", "C", "-s", "K"], "unknown option -s"),
    (["decode", "-sK", "C"], "1 unexpected argument"),
    (["decode", "-K", "C"], "1 unexpected argument"),
    (["decode", "-s", "C", "-K"], "unknown option -s; 1 unexpected argument"),
    (["decode", "C", "--secrets", "K"], "unknown option --secrets (did you mean --secret?)"),
    (["decode", "--secrets=K", "C"], "unknown option --secrets (did you mean --secret?)"),
    (["K", "decode", "C"], "unknown command"),
    (["K"], "unknown command"),
    (["decode", "--secret", "K", "C", "K"], "1 unexpected argument"),
    (["secret", "K"], "1 unexpected argument"),
    (["decode", "--help=K"], "--help takes no value"),
    (["decode", "--secret-prompt=K", "C"], "--secret-prompt takes no value"),
    (["--version=K"], "--version takes no value"),
    (["decode", "--ini", "K", "C"], "--ini: no such file"),
    (["decode", "--secret-file", "K", "C"], "--secret-file: cannot read the file"),
    (["decode", "--ini", "K", "--app", "K", "C"], "--ini: no such file"),
    (["decode", "C", "--secret"], "--secret needs a value"),
    (["revoke", "--ini", "K", "before"], "--ini: no such file"),
    (["revoke", "K", "--ini", "app.ini"], "KIND: expected session, user or before (the value"),
    (["revoke", "--ini", "app.ini", "user", "K", "K"], "revoke: 1 unexpected argument"),
]


@pytest.mark.parametrize("argv, names", TYPOS)
def test_a_key_typed_in_the_wrong_place_is_never_echoed(capsys, argv, names):
    cookie = json_cookie()
    argv = [{"K": KEY, "C": cookie}.get(a, a.replace("K", KEY)) for a in argv]
    err = usage_error(capsys, *argv)  # run() fails if any key reaches the output
    assert names in err
    assert err.count("\n") == 1
    assert cookie not in err


def test_an_unknown_option_is_named_without_echoing_the_cookie(capsys):
    cookie = json_cookie()
    err = usage_error(capsys, "decode", "--inii", "app.ini", cookie)
    assert "unknown option --inii (did you mean --ini?)" in err
    assert cookie not in err and "app.ini" not in err


def test_secret_with_an_unknown_option_shows_only_what_was_typed(capsys):
    err = usage_error(capsys, "secret", "-n", "3")
    assert err == (
        "pyramid-nacl-session: secret: unknown option -n; 1 unexpected argument (not shown: it "
        "may be a key); see pyramid-nacl-session secret --help\n"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "give a command: secret, decode or revoke"),
        (["decode", "--secret", KEY], "decode needs COOKIE"),
    ],
)
def test_a_missing_command_or_cookie_is_a_usage_error(capsys, argv, message):
    err = usage_error(capsys, *argv)
    assert message in err


def test_the_real_command_never_echoes_a_key_on_a_typo():
    cookie = json_cookie()
    for argv in (
        ["decode", cookie, "--secret", KEY, OLD_KEY],
        ["decode", "-s", KEY, cookie],
        [KEY, "decode", cookie],
        ["decode", "--secret=" + KEY, "--inii", cookie, OLD_KEY],
    ):
        result = cli(*argv)
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.startswith("pyramid-nacl-session: ")
        for value in (KEY, OLD_KEY, cookie):
            assert value not in result.stderr


#: Pyramid's own import-time warning with setuptools 81 or later: not ours, and not what the
#: tests that read stderr are about.
NOT_OURS = ["-W", "ignore:pkg_resources is deprecated:UserWarning"]


def memory_capped(limit):
    """``subprocess.run`` arguments that cap the child's address space at ``limit`` bytes, or
    none where there is no ``resource`` module (Windows)."""
    try:
        import resource
    except ImportError:
        return {}

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return {"preexec_fn": cap}


def cli(*args, **kwargs):
    """Run the installed command in a child process."""
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env.update(kwargs.pop("env", {}))
    return subprocess.run(
        [sys.executable, *NOT_OURS, "-m", "pyramid_nacl_session", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        **kwargs,
    )


# --- The version ---


def test_version_prints_the_installed_version():
    import pyramid_nacl_session

    result = cli("--version")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"pyramid-nacl-session {pyramid_nacl_session.__version__}\n"


def test_the_package_version_is_the_one_in_cargo_toml_in_pep_440_form():
    # Written once, in Cargo.toml (pyproject.toml declares it dynamic): "2.0.0-dev.0" there is
    # "2.0.0.dev0" here.
    from packaging.version import Version

    import pyramid_nacl_session

    cargo = os.path.join(os.path.dirname(__file__), os.pardir, "Cargo.toml")
    with open(cargo, encoding="utf-8") as f:
        declared = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
    assert pyramid_nacl_session.__version__ == str(Version(declared))


# --- Keys that stay out of shell history and process listings ---


def test_secret_file_holds_the_keys(capsys, tmp_path):
    path = write_file(tmp_path, f"{OTHER_KEY}\n{OLD_KEY}\n", "keys")
    status, out, err = run(capsys, "decode", "--secret-file", path, json_cookie(OLD_KEY))
    assert (status, err) == (0, "")
    assert decoded(out)["opened_by"] == "key 2 of 2"


def test_secret_file_written_by_the_secret_command_opens_its_cookies(tmp_path):
    path = tmp_path / "key"
    with open(path, "w") as f:
        assert (
            subprocess.run(
                [sys.executable, "-m", "pyramid_nacl_session", "secret"], stdout=f, timeout=60
            ).returncode
            == 0
        )
    key = path.read_text().strip()
    result = cli("decode", "--secret-file", str(path), json_cookie(key))
    assert result.returncode == 0
    assert json.loads(result.stdout)["state"]["user"] == "zoë"
    assert key not in result.stdout + result.stderr


def test_an_apps_key_file_with_comments_opens_its_cookies(capsys, tmp_path):
    """The format secret_file reads (comments, blank lines, a BOM) is read here too."""
    path = tmp_path / "session.key"
    path.write_text(f"\ufeff# the current key\n{OTHER_KEY}\n\n{OLD_KEY}  # until May\n")
    status, out, err = run(capsys, "decode", "--secret-file", str(path), json_cookie(OLD_KEY))
    assert (status, err) == (0, "")
    assert decoded(out)["opened_by"] == "key 2 of 2"
    path.write_text("# no key here yet\n")
    status, _, err = run(capsys, "decode", "--secret-file", str(path), json_cookie())
    assert status == 2 and "--secret-file: no key given" in err


def test_secret_file_dash_reads_the_keys_from_standard_input():
    result = cli("decode", "--secret-file", "-", json_cookie(), input=f"{OLD_KEY} {KEY}\n")
    assert result.returncode == 0
    assert json.loads(result.stdout)["opened_by"] == "key 2 of 2"


def test_keys_and_cookie_cannot_both_come_from_standard_input(capsys):
    err = usage_error(capsys, "decode", "--secret-file", "-", "-")
    assert "standard input can hold the cookie or the keys, not both" in err


def test_keys_from_several_options_are_tried_in_the_order_given(capsys, tmp_path):
    path = write_file(tmp_path, OLD_KEY, "keys")
    cookie = json_cookie(OLD_KEY)
    status, out, _ = run(capsys, "decode", "--secret", KEY, "--secret-file", path, cookie)
    assert status == 0
    assert decoded(out)["opened_by"] == "key 2 of 2"


@pytest.mark.parametrize("content", ["", "  \n"])
def test_an_empty_secret_file_is_a_usage_error(capsys, tmp_path, content):
    path = write_file(tmp_path, content, "keys")
    err = usage_error(capsys, "decode", "--secret-file", path, json_cookie())
    assert "--secret-file: no key given" in err


def test_a_bad_key_in_a_secret_file_is_named_by_place_not_shown(capsys, tmp_path):
    path = write_file(tmp_path, f"{KEY}\n{OLD_KEY[:-2]}\n", "keys")
    err = usage_error(capsys, "decode", "--secret-file", path, json_cookie())
    assert "bad key (key 2 of 2, from --secret-file)" in err
    assert "length 62" in err


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs a pseudo-terminal")
def test_secret_prompt_reads_keys_from_the_terminal_without_echo():
    import pty

    cookie = json_cookie(OLD_KEY)
    pid, fd = pty.fork()
    if pid == 0:  # the child, on a new terminal
        os.environ.pop(ENV_VAR, None)
        os.execv(
            sys.executable,
            [sys.executable, "-m", "pyramid_nacl_session", "decode", "--secret-prompt", cookie],
        )
    seen = b""
    while b"not shown as you type" not in seen:
        seen += os.read(fd, 1024)
    os.write(fd, f"{KEY} {OLD_KEY}\n".encode())
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    text = seen.decode()
    assert os.WEXITSTATUS(status) == 0, text
    assert KEY not in text and OLD_KEY not in text  # the terminal did not echo them
    assert '"opened_by": "key 2 of 2"' in text


# --- decode shows stored text, never acts on it ---

TERMINAL_ACTIVE = {
    "bidi override": "\u202e",
    "CSI (C1)": "\x9b31m",
    "escape sequence": "\x1b[2J",
    "delete": "\x7f",
    "lone surrogate": "\ud800",
    "line separator": "\u2028",
    "language tag (astral format character)": "\U000e0001",
}


@pytest.mark.parametrize("kind", ["json", "pickle"])
def test_decode_escapes_what_a_terminal_would_act_on(kind):
    state = {f"{name} {text}": f"zoë {text} 😀" for name, text in TERMINAL_ACTIVE.items()}
    now = time.time()
    if kind == "json":
        cookie = EncryptedSerializer(KEY, "json").dumps((now, now, state)).decode()
    else:
        cookie = nacl_cookie(pickle.dumps((now, now, state), 4))
    result = cli("decode", "--secret", KEY, cookie, env={"PYTHONIOENCODING": "utf-8"})
    assert (result.returncode, result.stderr) == (0, "")
    for text in TERMINAL_ACTIVE.values():
        assert text not in result.stdout
    assert "zoë" in result.stdout and "😀" in result.stdout
    # Escaped as JSON escapes: the output still reads back to the very text stored.
    assert json.loads(result.stdout)["state"] == state


def test_decode_on_a_terminal_that_is_not_utf8_writes_ascii_escapes():
    state = {"t": "zoë \u202e \ud800"}
    now = time.time()
    cookie = EncryptedSerializer(KEY, "json").dumps((now, now, state)).decode()
    result = cli("decode", "--secret", KEY, cookie, env={"PYTHONIOENCODING": "ascii"})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.isascii()
    assert json.loads(result.stdout)["state"] == state


def test_error_messages_escape_what_a_terminal_would_act_on(capsys, tmp_path):
    ini = write_file(
        tmp_path, f"[app:main]\nuse = call:{__name__}:app_factory\n", "app\u202e\x9b.ini"
    )
    err = usage_error(capsys, "decode", "--ini", ini, json_cookie())
    assert "session.secret: missing" in err
    assert "app\\u202e\\u009b.ini" in err
    assert "\u202e" not in err and "\x9b" not in err


def test_ini_naming_an_app_that_is_not_installed_says_so(capsys, tmp_path):
    ini = write_file(
        tmp_path, f"[app:main]\nuse = call:no_such_app_module_xyz:main\nsession.secret = {KEY}\n"
    )
    err = usage_error(capsys, "decode", "--ini", ini, json_cookie())
    assert "'no_such_app_module_xyz'" in err
    assert "must be importable" in err


def test_ini_app_name_is_not_echoed_when_there_is_no_such_section(capsys, tmp_path):
    ini = write_file(tmp_path, f"[app:main]\nuse = call:{__name__}:app_factory\n")
    # usage_error() checks, through run(), that KEY is nowhere in the output.
    err = usage_error(capsys, "decode", "--ini", ini, "--app", KEY, json_cookie())
    assert "has no such app section" in err


def test_an_error_message_is_one_line_whatever_a_path_holds(capsys, tmp_path):
    ini = write_file(tmp_path, f"[app:main]\nuse = call:{__name__}:app_factory\n", "two\nlines.ini")
    err = usage_error(capsys, "decode", "--ini", ini, json_cookie())
    assert "two\\nlines.ini" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("when", [1e300, float("inf"), float("nan")])
def test_a_session_with_times_out_of_range_exits_1_without_a_traceback(capsys, when):
    cookie = EncryptedSerializer(KEY, "json").dumps((when, when, {"a": 1})).decode()
    status, out, err = run(capsys, "decode", "--secret", KEY, cookie)
    assert (status, out) == (1, "")
    assert err.startswith("pyramid-nacl-session: not a pyramid session")
    assert err.count("\n") == 1


def test_a_pickle_that_would_expand_beyond_any_cookie_is_refused_not_printed():
    # 479 bytes of pickle that share one list 2**40 times: decode must not write it all out.
    x = []
    for _ in range(40):
        x = [x, x]
    now = time.time()
    cookie = nacl_cookie(pickle.dumps((now, now, {"x": x}), 2))
    # The bound is memory, not time: a decode that began writing 2**40 lists out would hit a
    # 512 MiB address-space cap and end in a MemoryError traceback (where the platform has one).
    result = cli("decode", "--secret", KEY, cookie, **memory_capped(512 * 2**20))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("pyramid-nacl-session: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_a_pickle_refused_by_the_plain_data_reader_says_so(capsys):
    now = time.time()
    # A dict whose key is not a str, built with the DICT opcode: not plain session data.
    cookie = nacl_cookie(pickle.dumps((now, now, {(): 2}), 2))
    status, out, err = run(capsys, "decode", "--secret", KEY, cookie)
    assert (status, out) == (1, "")
    assert "holds a pickle that was not decoded" in err


# -- output that goes nowhere (issues 16 and 17) --------------------------------------------------


def big_cookie():
    # More than a pipe's buffer, so that the write itself meets the closed pipe.
    now = time.time()
    return EncryptedSerializer(KEY, "json").dumps((now, now, {"x": "y" * 200_000})).decode()


def test_decode_into_a_pipe_whose_reader_is_gone_exits_quietly():
    # As `decode ... | head -1` once head has exited: no BrokenPipeError traceback.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pyramid_nacl_session", "decode", "--secret", KEY, "-"],
            input=big_cookie(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141  # as a shell reports a command ended by SIGPIPE


def test_decode_piped_into_head_prints_no_traceback():
    command = f'"$0" -m pyramid_nacl_session decode --secret {KEY} - | head -c 1'
    result = subprocess.run(
        ["sh", "-c", command, sys.executable],
        input=big_cookie(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "{", "")


@pytest.mark.parametrize("command", [("secret",), ("decode", "--secret", KEY, "x" * 60)])
def test_a_closed_standard_output_is_a_clear_error(command):
    # `>&-`: Python starts with sys.stdout = None.
    result = subprocess.run(
        ["sh", "-c", '"$0" -m pyramid_nacl_session "$@" >&-', sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "pyramid-nacl-session: standard output is closed, so nothing could be printed\n"
    )


def test_decode_signed_never_echoes_a_bad_hashalg(capsys, monkeypatch):
    from pyramid_nacl_session.cli import SIGNED_ENV_VAR

    monkeypatch.setenv(SIGNED_ENV_VAR, "the old secret")
    err = usage_error(capsys, "decode", "--signed", "--hashalg", KEY, json_cookie())
    assert "--hashalg: expected one of" in err  # run() checks that KEY is not in it


# -- revoke: the app's settings, read as the app reads them (issues 16 and 17) --------------------


def revoke_ini(tmp_path, url, *lines):
    return write_file(
        tmp_path,
        "\n".join(
            [
                "[app:main]",
                f"use = call:{__name__}:app_factory",
                f"session.secret = {KEY}",
                "session.absolute_timeout = 3600",
                f"session.revocation_url = {url}",
                *lines,
            ]
        )
        + "\n",
    )


NOBODY = "redis://127.0.0.1:1/0"  # nothing listens: a revocation that got this far exits 1


def revoked(url):
    import redis

    client = redis.Redis.from_url(url)
    try:
        return client.zrange("pyramid_nacl_session:revoked", 0, -1, withscores=True)
    finally:
        client.close()


def test_revoke_user_on_an_app_whose_sessions_name_no_user_says_so(capsys, tmp_path):
    pytest.importorskip("redis")
    ini = revoke_ini(tmp_path, NOBODY)
    err = usage_error(capsys, "revoke", "--ini", ini, "user", "zed")
    assert "name no user" in err and "session.revocation_user" in err


@pytest.mark.parametrize(
    "line, setting",
    [
        ("session.revocation_user = user_id           # the state key", "session.revocation_user"),
        ("session.revocation_policy = sometimes", "session.revocation_policy"),
        ("session.revocation_resync = 0", "session.revocation_resync"),
        ("session.timout = 60", "session.timout"),
    ],
)
def test_revoke_refuses_settings_the_app_would_refuse(capsys, tmp_path, line, setting):
    pytest.importorskip("redis")
    ini = revoke_ini(tmp_path, NOBODY, line)
    err = usage_error(capsys, "revoke", "--ini", ini, "user", "zed")
    assert f"{setting}: " in err


def test_revoke_needs_what_the_app_needs(capsys, tmp_path):
    pytest.importorskip("redis")
    ini = write_file(
        tmp_path,
        f"[app:main]\nuse = call:{__name__}:app_factory\nsession.secret = {KEY}\n"
        f"session.revocation_url = {NOBODY}\n",
    )
    err = usage_error(capsys, "revoke", "--ini", ini, "before")
    assert "session.absolute_timeout: required when revocation_url is set" in err


def test_revoke_user_never_echoes_terminal_controls(capsys, tmp_path, redis_url):
    ini = revoke_ini(tmp_path, redis_url, "session.revocation_user = user")
    name = "zed\x1b]0;owned\x07\u202e"
    status, out, err = run(capsys, "revoke", "--ini", ini, "user", name)
    assert (status, err) == (0, "")
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "zed\\u001b]0;owned\\u0007\\u202e" in out
    assert [member for member, _ in revoked(redis_url)] == [("u:" + name).encode()]


@pytest.mark.parametrize("value", ["2099-01-01", "1e12", "an hour from now", "inf", "nan"])
def test_revoke_before_a_time_after_now_is_refused_and_writes_nothing(
    capsys, tmp_path, redis_url, value
):
    ini = revoke_ini(tmp_path, redis_url)
    if value == "an hour from now":
        value = str(time.time() + 3600)
    err = usage_error(capsys, "revoke", "--ini", ini, "before", value)
    assert err.startswith("pyramid-nacl-session: before: ") and err.count("\n") == 1
    assert revoked(redis_url) == []


def test_a_name_the_revocation_api_refuses_is_a_usage_error(capsys, tmp_path, redis_url):
    # A lone surrogate, as a non-UTF-8 argument arrives: Redis cannot be given it.
    ini = revoke_ini(tmp_path, redis_url, "session.revocation_user = user")
    err = usage_error(capsys, "revoke", "--ini", ini, "user", "zed\udcff")
    assert err.startswith("pyramid-nacl-session: user: the revocation was refused: ")
    assert "\udcff" not in err and err.count("\n") == 1
    assert revoked(redis_url) == []


def test_the_package_and_its_command_line_start_without_pkg_resources():
    # pyramid.path and pyramid.asset import pkg_resources, which is slow to import and, with
    # setuptools 67 to 81, prints a deprecation warning into every command's stderr (the matrix
    # found it on 3.12 and 3.13, whose virtualenvs get a newer setuptools). Only a setting
    # that names an object, or --ini, needs them.
    code = (
        "import sys, pyramid_nacl_session, pyramid_nacl_session.cli; "
        "print(sorted(m for m in ('pkg_resources', 'pyramid.path', 'pyramid.asset') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "[]\n", "")


def test_decode_ini_prints_no_warning_from_pyramid_on_its_stderr(tmp_path):
    # With --ini the command imports pyramid.paster (and so pkg_resources): what setuptools 67
    # to 81 say about that is kept out of the command's output (seen on 3.12 and 3.13 in the
    # matrix, whose virtualenvs get such a setuptools; an older one says nothing).
    ini = write_file(
        tmp_path,
        f"[app:main]\nuse = call:{__name__}:app_factory\nsession.secret = {KEY}\n"
        "session.serializer = json\n",
    )
    cookie = EncryptedSerializer(KEY, "json").dumps((1.0, 1.0, {"a": 1})).decode("ascii")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-m", "pyramid_nacl_session", "decode", "--ini", ini, cookie],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["state"] == {"a": 1}


# --- revoke's wording ---


def test_revoke_help_lists_the_kinds(capsys):
    assert main(["revoke", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # as argparse wraps it, unwrapped
    assert "session (one session, by its id), user (every session of a user) or before" in out
    assert "--ini FILE [--app NAME] KIND [VALUE]" in out


def test_revoke_without_ini_says_what_is_missing(capsys):
    err = usage_error(capsys, "revoke", "user", "bob")
    assert "revoke needs --ini FILE" in err


@pytest.mark.parametrize(
    "argv, said",
    [
        (["session", "PASTE_ID"], r"revoked session [A-Za-z0-9_-]{22}"),
        (["user", "bob"], r"revoked user bob \(their sessions created before \S+\)"),
        (["before"], r"revoked every session created before \S+"),
    ],
)
def test_revoke_says_what_it_revoked_in_one_plain_line(capsys, tmp_path, redis_url, argv, said):
    from pyramid_nacl_session._core import new_session_id

    ini = revoke_ini(tmp_path, redis_url, "session.revocation_user = user")
    argv = [new_session_id() if a == "PASTE_ID" else a for a in argv]
    status, out, err = run(capsys, "revoke", "--ini", ini, *argv)
    assert (status, err) == (0, "")
    assert re.fullmatch(said, out.strip())
    assert "  " not in out


# --- Redis URLs with any password, through --ini ---


@pytest.mark.parametrize("password", ["p#ss;w%rd", "p#ss", "p%ss", "p;ss", "p@ss:w/rd?x", "pàss"])
def test_a_redis_password_written_as_the_docs_say_reaches_redis_intact(tmp_path, password):
    """In an .ini, the password is percent-encoded (RFC 3986) and each '%' doubled for
    configparser: the app and the command line both read the URL redis-py is given."""
    pytest.importorskip("redis")
    import urllib.parse

    import redis

    encoded = urllib.parse.quote(password, safe="").replace("%", "%%")
    ini = revoke_ini(tmp_path, f"redis://:{encoded}@127.0.0.1:1/0")
    from pyramid_nacl_session.cli.ini import app_options

    options, _, _ = app_options(ini, None, make_factory=True)
    pool = redis.ConnectionPool.from_url(options["revocation_url"])
    assert pool.connection_kwargs["password"] == password


def test_a_raw_hash_in_a_redis_url_says_how_to_write_it(capsys, tmp_path):
    pytest.importorskip("redis")
    ini = revoke_ini(tmp_path, "redis://:p#ss@127.0.0.1:1/0")
    err = usage_error(capsys, "revoke", "--ini", ini, "before")
    assert "session.revocation_url" in err and "%%23" in err
    assert "p#ss" not in err


def test_an_ini_configparser_refuses_gives_its_reason_without_the_value(capsys, tmp_path):
    pytest.importorskip("redis")
    ini = revoke_ini(tmp_path, "redis://:p%23ss@127.0.0.1:1/0")
    err = usage_error(capsys, "revoke", "--ini", ini, "before")
    assert "session.revocation_url" in err
    assert "'%' must be followed by '%' or '('" in err and "%%" in err
    assert "p%23ss" not in err and "23ss" not in err


@pytest.mark.parametrize(
    "text, reason",
    [
        (f"[app:main]\nsession.secret = {KEY}\nsession.secret = {KEY}\n", "session.secret in "
         "[app:main] is given twice (line 3)"),
        (f"session.secret = {KEY}\n[app:main]\n", "line 1 comes before any [section] header"),
        (f"[app:main]\nuse = egg:myapp\n{KEY}\n", "line 3 is not 'name = value'"),
        ("[app:main]\nsession.secret = %(no_such)s\n", "session.secret in [app:main]: %(no_such)s"),
    ],
)  # fmt: skip
def test_an_ini_file_configparser_refuses_says_why_without_quoting_it(
    capsys, tmp_path, text, reason
):
    ini = write_file(tmp_path, text)
    err = usage_error(capsys, "decode", "--ini", ini, json_cookie())  # no key in err
    assert f"is not a valid .ini file: {reason}" in err
