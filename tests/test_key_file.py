"""Keys out of the settings: ``secret_file`` (a private file of keys, one a line) and
``secret_env`` (an environment variable), through the factory, an .ini file and the command line,
and a rotation done by editing the file alone."""

import os
import time

import pytest
from pyramid.config import Configurator
from pyramid.paster import get_app
from webtest import TestApp

from pyramid_nacl_session import (
    EncryptedCookieSessionFactory,
    EncryptedSerializer,
    OptionError,
    generate_secret,
    session_factory_from_settings,
)
from pyramid_nacl_session.cli import main

from .helpers import session_app, set_cookie_value

NEW = generate_secret().decode("ascii")
OLD = generate_secret().decode("ascii")
POSIX = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX's")


def key_file(tmp_path, text, mode=0o600, name="session.key"):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


def opened_by(cookie, *keys):
    """Which of ``keys`` opens ``cookie`` (its index), or None."""
    for index, key in enumerate(keys):
        try:
            EncryptedSerializer(key, "json").loads(cookie)
            return index
        except ValueError:
            pass
    return None


def assert_secret_free(error, *texts):
    message = str(error) + repr(error)
    for text in (NEW, OLD, *texts):
        assert text not in message


# --- secret_file, from Python ---


def test_the_first_key_of_the_file_seals_and_every_key_opens(tmp_path):
    path = key_file(tmp_path, f"# the current key\n{NEW}\n\n   # kept for rotation\n{OLD}  # old\n")
    browser = session_app(EncryptedCookieSessionFactory(secret_file=path, serializer="json"))
    now = time.time()
    browser.set_cookie(
        "session", EncryptedSerializer(OLD, "json").dumps((now, now, {"user": "bob"})).decode()
    )
    response = browser.get("/show")
    assert response.json == {"user": "bob"}
    assert opened_by(set_cookie_value(response), NEW, OLD) == 0  # resealed under the first


def test_a_path_object_and_a_str_path_are_the_same(tmp_path):
    path = key_file(tmp_path, NEW + "\n")
    for given in (path, str(path)):
        response = session_app(
            EncryptedCookieSessionFactory(secret_file=given, serializer="json")
        ).get("/put?a=1")
        assert opened_by(set_cookie_value(response), NEW) == 0


def test_a_missing_file_is_refused_without_its_path(tmp_path):
    # The path may well be a key pasted into the wrong option.
    with pytest.raises(OptionError) as e:
        EncryptedCookieSessionFactory(secret_file=NEW)
    assert e.value.option == "secret_file"
    assert "no such file" in str(e.value)
    assert_secret_free(e.value)


def test_a_file_without_keys_is_refused(tmp_path):
    path = key_file(tmp_path, "# nothing here yet\n\n")
    with pytest.raises(OptionError, match="holds no key") as e:
        EncryptedCookieSessionFactory(secret_file=path)
    assert e.value.option == "secret_file"


@POSIX
@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o620, 0o602])
def test_a_file_open_to_other_users_is_refused(tmp_path, mode):
    path = key_file(tmp_path, NEW + "\n", mode=mode)
    with pytest.raises(OptionError, match="open to other users") as e:
        EncryptedCookieSessionFactory(secret_file=path)
    assert e.value.option == "secret_file"
    assert f"chmod 600 {path}" in str(e.value)
    assert_secret_free(e.value)


@POSIX
def test_a_file_only_its_owner_reads_is_taken(tmp_path):
    path = key_file(tmp_path, NEW + "\n", mode=0o400)
    EncryptedCookieSessionFactory(secret_file=path)


def test_a_bad_line_is_named_by_its_number_never_its_text(tmp_path):
    bad = "not-a-key-but-a-password"
    path = key_file(tmp_path, f"{NEW}\n\n{bad}\n")
    with pytest.raises(OptionError, match=r"line 3: .*length 24") as e:
        EncryptedCookieSessionFactory(secret_file=path)
    assert e.value.option == "secret_file"
    assert_secret_free(e.value, bad)


def test_two_keys_on_one_line_are_refused(tmp_path):
    path = key_file(tmp_path, f"{NEW} {OLD}\n")
    with pytest.raises(OptionError, match="line 1: one key a line") as e:
        EncryptedCookieSessionFactory(secret_file=path)
    assert_secret_free(e.value)


def test_a_binary_file_is_refused(tmp_path):
    path = tmp_path / "session.key"
    path.write_bytes(os.urandom(16) + b"\xff\xfe")
    os.chmod(path, 0o600)
    with pytest.raises(OptionError, match="not a text file") as e:
        EncryptedCookieSessionFactory(secret_file=path)
    assert e.value.option == "secret_file"


def test_secret_file_with_secret_is_refused(tmp_path):
    path = key_file(tmp_path, NEW + "\n")
    with pytest.raises(OptionError, match="one way") as e:
        EncryptedCookieSessionFactory(OLD, secret_file=path)
    assert e.value.option == "secret_file"
    assert_secret_free(e.value)


def test_no_key_at_all_names_the_three_ways():
    with pytest.raises(OptionError, match="secret, secret_file or secret_env") as e:
        EncryptedCookieSessionFactory()
    assert e.value.option == "secret"


# --- secret_env ---


def test_keys_from_the_environment_first_seals(monkeypatch):
    monkeypatch.setenv("MYAPP_SESSION_KEYS", f"{NEW}\n{OLD}")
    factory = EncryptedCookieSessionFactory(secret_env="MYAPP_SESSION_KEYS", serializer="json")
    response = session_app(factory).get("/put?a=1")
    assert opened_by(set_cookie_value(response), NEW, OLD) == 0


def test_an_unset_or_empty_variable_is_refused(monkeypatch):
    monkeypatch.delenv("MYAPP_SESSION_KEYS", raising=False)
    with pytest.raises(OptionError, match="MYAPP_SESSION_KEYS is not set") as e:
        EncryptedCookieSessionFactory(secret_env="MYAPP_SESSION_KEYS")
    assert e.value.option == "secret_env"
    monkeypatch.setenv("MYAPP_SESSION_KEYS", "  ")
    with pytest.raises(OptionError, match="not set, or empty"):
        EncryptedCookieSessionFactory(secret_env="MYAPP_SESSION_KEYS")


def test_a_bad_key_in_the_variable_is_named_by_its_place(monkeypatch):
    monkeypatch.setenv("MYAPP_SESSION_KEYS", f"{NEW} hunter2")
    with pytest.raises(OptionError, match=r"\$MYAPP_SESSION_KEYS, key 2: .*length 7") as e:
        EncryptedCookieSessionFactory(secret_env="MYAPP_SESSION_KEYS")
    assert_secret_free(e.value, "hunter2")


def test_a_key_given_as_the_variables_name_is_not_echoed():
    with pytest.raises(OptionError, match="looks like a key") as e:
        EncryptedCookieSessionFactory(secret_env=NEW)
    assert_secret_free(e.value)


def test_secret_env_with_secret_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MYAPP_SESSION_KEYS", NEW)
    path = key_file(tmp_path, NEW + "\n")
    with pytest.raises(OptionError, match="one way") as e:
        EncryptedCookieSessionFactory(secret_file=path, secret_env="MYAPP_SESSION_KEYS")
    assert e.value.option == "secret_env"


# --- from an .ini file ---


def app_factory(global_config, **settings):
    with Configurator(settings=settings) as config:
        config.include("pyramid_nacl_session")

        def count(request):
            request.session["visits"] = request.session.get("visits", 0) + 1
            return {"visits": request.session["visits"]}

        config.add_route("count", "/")
        config.add_view(count, route_name="count", renderer="json")
        return config.make_wsgi_app()


def write_ini(tmp_path, lines):
    ini = tmp_path / "app.ini"
    ini.write_text(f"[app:main]\nuse = call:{__name__}:app_factory\n" + "".join(lines))
    return str(ini)


def test_rotation_by_editing_the_file_alone(tmp_path):
    """The .ini names the file once; a rotation changes the file and restarts the app."""
    key_file(tmp_path, OLD + "\n")
    ini = write_ini(
        tmp_path,
        ["session.secret_file = %(here)s/session.key\n", "session.serializer = json\n"],
    )
    before = (tmp_path / "app.ini").read_text()
    browser = TestApp(get_app(ini))
    assert browser.get("/").json == {"visits": 1}
    assert opened_by(browser.cookies["session"], OLD) == 0

    key_file(tmp_path, f"{NEW}\n{OLD}\n")  # step 2 of a rotation: the new key first
    browser.app = get_app(ini)  # a restart
    assert browser.get("/").json == {"visits": 2}
    assert opened_by(browser.cookies["session"], NEW, OLD) == 0

    key_file(tmp_path, f"{NEW}\n")  # the old key dropped
    browser.app = get_app(ini)
    assert browser.get("/").json == {"visits": 3}
    assert (tmp_path / "app.ini").read_text() == before


@pytest.mark.parametrize(
    "settings, option",
    [
        ({"session.secret_file": "/no/such/file"}, "session.secret_file"),
        ({"pynacl.session.secret_file": "/no/such/file"}, "pynacl.session.secret_file"),
        ({"session.secret_env": "NO_SUCH_VARIABLE_HERE"}, "session.secret_env"),
        ({"session.secret_env": "NOT A NAME"}, "session.secret_env"),
    ],
)
def test_a_bad_setting_is_named(settings, option, monkeypatch):
    monkeypatch.delenv("NO_SUCH_VARIABLE_HERE", raising=False)
    with pytest.raises(OptionError) as e:
        session_factory_from_settings(settings)
    assert e.value.option == option


def test_settings_given_two_ways_name_both_settings(tmp_path):
    path = key_file(tmp_path, NEW + "\n")
    with pytest.raises(OptionError) as e:
        session_factory_from_settings({"session.secret": OLD, "session.secret_file": str(path)})
    assert e.value.option == "session.secret_file"
    assert "session.secret too" in str(e.value)
    assert_secret_free(e.value)


def test_the_setting_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MYAPP_SESSION_KEYS", f"{NEW} {OLD}")
    ini = write_ini(
        tmp_path, ["session.secret_env = MYAPP_SESSION_KEYS\n", "session.serializer = json\n"]
    )
    browser = TestApp(get_app(ini))
    browser.get("/")
    assert opened_by(browser.cookies["session"], NEW, OLD) == 0


# --- the command line, through --ini ---


@pytest.mark.parametrize("how", ["file", "env"])
def test_decode_reads_the_keys_the_ini_names(tmp_path, monkeypatch, capsys, how):
    monkeypatch.delenv("PYRAMID_NACL_SESSION_SECRET", raising=False)
    if how == "file":
        key_file(tmp_path, f"{NEW}\n{OLD}\n")
        line = "session.secret_file = %(here)s/session.key\n"
    else:
        monkeypatch.setenv("MYAPP_SESSION_KEYS", f"{NEW} {OLD}")
        line = "session.secret_env = MYAPP_SESSION_KEYS\n"
    ini = write_ini(tmp_path, [line, "session.serializer = json\n"])
    cookie = EncryptedSerializer(OLD, "json").dumps((1.0, 1.0, {"user": "bob"})).decode()
    assert main(["decode", "--ini", ini, cookie]) == 0
    out, err = capsys.readouterr()
    assert '"user": "bob"' in out
    assert '"opened_by": "key 2 of 2' in out
    assert NEW not in out + err and OLD not in out + err


@POSIX
def test_decode_refuses_a_key_file_open_to_others_naming_the_setting(tmp_path, capsys):
    key_file(tmp_path, NEW + "\n", mode=0o644)
    ini = write_ini(tmp_path, ["session.secret_file = %(here)s/session.key\n"])
    cookie = EncryptedSerializer(NEW, "json").dumps((1.0, 1.0, {})).decode()
    assert main(["decode", "--ini", ini, cookie]) == 2
    err = capsys.readouterr().err
    assert "session.secret_file" in err and "open to other users" in err
    assert NEW not in err


def test_the_file_is_read_once_when_the_factory_is_made(tmp_path):
    """A request never reads the file: a change takes effect on restart, all workers alike."""
    path = key_file(tmp_path, NEW + "\n")
    browser = session_app(EncryptedCookieSessionFactory(secret_file=path, serializer="json"))
    path.unlink()
    response = browser.get("/put?a=1")
    assert opened_by(set_cookie_value(response), NEW) == 0


def test_a_file_saved_by_a_windows_editor_is_read(tmp_path):
    path = tmp_path / "session.key"
    path.write_bytes(f"\ufeff# keys\r\n{NEW}\r\n{OLD}\r\n".encode())
    path.chmod(0o600)
    response = session_app(EncryptedCookieSessionFactory(secret_file=path, serializer="json")).get(
        "/put?a=1"
    )
    assert opened_by(set_cookie_value(response), NEW, OLD) == 0
