"""Real WSGI servers in child processes for the server tests: the example app's .ini, and
starting and stopping a server command on a loopback port."""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

INI = Path(__file__).resolve().parent.parent / "examples" / "development.ini"


def serve(cmd, port, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, log
        except OSError:
            time.sleep(0.1)
    stop(proc, log)
    log.seek(0)
    pytest.fail(f"server did not start: {cmd}\n{log.read()[-3000:]}")


def stop(proc, log):
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def listening_on(path, port):
    """The text of the .ini at ``path`` with [server:main] listening on 127.0.0.1:``port`` and
    nothing else changed (a ConfigParser round trip would drop the comments)."""
    lines, section, replaced = [], None, False
    for line in path.read_text().splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
        elif section == "server:main" and stripped.split("=")[0].strip() == "listen":
            line = f"listen = 127.0.0.1:{port}\n"
            replaced = True
        lines.append(line)
    return "".join(lines), replaced
