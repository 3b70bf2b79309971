import re
import shutil
import subprocess
import sysconfig

import pytest

from pyramid_nacl_session import EncryptedSerializer
from pyramid_nacl_session.scripts import print_secret


def test_print_secret_prints_a_new_hex_key_that_works_as_a_secret(capsys):
    assert print_secret([]) == 0
    first = capsys.readouterr().out
    print_secret([])
    second = capsys.readouterr().out
    assert re.fullmatch(r"[0-9a-f]{64}\n", first) and first != second
    EncryptedSerializer(first.strip())  # usable as is


def test_print_secret_help_says_what_it_does(capsys):
    with pytest.raises(SystemExit) as info:
        print_secret(["--help"])
    assert info.value.code == 0
    assert "32-byte secret" in capsys.readouterr().out


def test_print_secret_refuses_arguments(capsys):
    with pytest.raises(SystemExit) as info:
        print_secret(["extra"])
    assert info.value.code == 2


def console_script(name):
    """The console script installed beside the interpreter under test: not whichever one comes
    first on PATH (an older install elsewhere on the machine, 1.0's own print_secret)."""
    found = shutil.which(name, path=sysconfig.get_path("scripts"))
    assert found, f"{name} is not in {sysconfig.get_path('scripts')}: is the package installed?"
    return found


def test_print_secret_console_script():
    out = subprocess.run(
        [console_script("print_secret")], capture_output=True, text=True, check=True
    ).stdout
    assert re.fullmatch(r"[0-9a-f]{64}\n", out)
