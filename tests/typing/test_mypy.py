"""The typed API holds: mypy --strict passes on code using every public name, and the stubs of
the native module match what it really exports. Skipped when mypy is not installed."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("mypy")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_mypy_strict_passes_on_every_public_name_and_the_example_app():
    result = run(
        "mypy",
        "--config-file",
        "mypy.ini",
        "--strict",
        "--no-incremental",
        "tests/typing/use_every_name.py",
        "examples/session_demo",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_stubs_match_the_native_module():
    result = run("mypy.stubtest", "--mypy-config-file", "mypy.ini", "pyramid_nacl_session._core")
    assert result.returncode == 0, result.stdout + result.stderr
