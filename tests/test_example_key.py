"""The example app makes its own key at its first start (examples/development.ini prints none),
keeps it for the next start, and takes several keys in that file for rotation."""

import re
import shutil
import stat
from pathlib import Path

import pytest
from pyramid.paster import get_app
from webtest import TestApp

from pyramid_nacl_session import generate_secret

pytest.importorskip("session_demo")  # pip install -e examples/

INI = Path(__file__).resolve().parent.parent / "examples" / "development.ini"


@pytest.fixture
def ini(tmp_path):
    copy = tmp_path / "development.ini"
    shutil.copy(INI, copy)
    return copy


def visits(page):
    return int(re.search(r'id="visits">(\d+)<', page.text).group(1))


def test_the_first_start_makes_a_key_only_its_owner_reads(ini):
    key_file = ini.parent / "demo-secret.key"
    assert not key_file.exists()
    TestApp(get_app(str(ini))).get("/")
    assert re.fullmatch(r"[0-9a-f]{64}\n", key_file.read_text())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_restart_keeps_the_key_and_the_sessions(ini):
    browser = TestApp(get_app(str(ini)))
    browser.get("/")
    key = (ini.parent / "demo-secret.key").read_text()
    cookie = browser.cookies["demo_session"]

    restarted = TestApp(get_app(str(ini)))
    restarted.set_cookie("demo_session", cookie)
    assert visits(restarted.get("/")) == 2
    assert (ini.parent / "demo-secret.key").read_text() == key


def test_a_new_key_first_in_the_file_rotates_without_a_logout(ini):
    browser = TestApp(get_app(str(ini)))
    browser.get("/")
    key_file = ini.parent / "demo-secret.key"
    old = key_file.read_text().strip()
    new = generate_secret().decode("ascii")
    key_file.write_text(f"{new}\n{old}\n")

    restarted = TestApp(get_app(str(ini)))
    restarted.set_cookie("demo_session", browser.cookies["demo_session"])
    assert visits(restarted.get("/")) == 2
    # resealed under the new key: it opens with the new key alone
    key_file.write_text(f"{new}\n")
    alone = TestApp(get_app(str(ini)))
    alone.set_cookie("demo_session", restarted.cookies["demo_session"])
    assert visits(alone.get("/")) == 3
