"""The README's Quickstart, as printed: its key command, its ``myapp.py`` and its ``app.ini``,
served by pserve from one directory with the command the README gives, on a free port in place
of the one printed (which may be taken here)."""

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from .helpers import free_port
from .servers import serve, stop

README = Path(__file__).resolve().parent.parent / "README.md"
BIN = Path(sys.executable).parent


def quickstart():
    """The Quickstart's blocks: (the key command, myapp.py, app.ini, the serve command)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quickstart") :]
    section = section[: section.index("\n## ", 1)]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, re.S)
    commands = [body[2:].strip() for lang, body in blocks if lang == "console"]
    [key_command] = [c for c in commands if "secret >" in c]
    [serve_command] = [c for c in commands if "pserve" in c]
    myapp = next(body for lang, body in blocks if lang == "python" and "def main(" in body)
    [ini] = [body for lang, body in blocks if lang == "ini"]
    return key_command, myapp, ini, serve_command


def test_the_quickstart_serves_a_session_as_printed(tmp_path):
    key_command, myapp, ini, serve_command = quickstart()
    printed_port = re.search(r"^listen = localhost:(\d+)$", ini, re.M).group(1)
    assert printed_port != "6543", "the example app serves on 6543"
    port = free_port()
    (tmp_path / "myapp.py").write_text(myapp)
    (tmp_path / "app.ini").write_text(ini.replace(f"localhost:{printed_port}", f"127.0.0.1:{port}"))
    env = {"PATH": f"{BIN}:/usr/bin:/bin"}
    subprocess.run(["bash", "-c", key_command], cwd=tmp_path, env=env, check=True)
    assert (tmp_path / "session.key").stat().st_mode & 0o077 == 0
    server, log = serve(["bash", "-c", serve_command], port, tmp_path, env=env)
    try:
        url = f"http://127.0.0.1:{port}/"
        first = urllib.request.urlopen(url, timeout=30)
        assert first.read() == b'{"visits": 1}'
        cookie = first.headers["Set-Cookie"].split(";", 1)[0]
        second = urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookie}))
        assert second.read() == b'{"visits": 2}'
    finally:
        stop(server, log)
