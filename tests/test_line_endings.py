"""A clone made as GitHub's Windows runners make it (``core.autocrlf=true``) keeps LF in every
text file (.gitattributes), so its shell scripts run: with a CR in them, bash stops at the first
line (``set: -: invalid option``). The clone is of the committed tree, as a runner gets it."""

import shutil
import subprocess

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(
    not (ROOT / ".git").exists() or shutil.which("git") is None,
    reason="needs a git clone (an unpacked sdist has no history to clone)",
)


@pytest.fixture(scope="module")
def crlf_clone(tmp_path_factory):
    dest = tmp_path_factory.mktemp("crlf") / "clone"
    subprocess.run(
        [
            "git",
            "-c",
            "core.autocrlf=true",
            "clone",
            "--quiet",
            "--no-hardlinks",
            str(ROOT),
            str(dest),
        ],
        check=True,
    )
    return dest


def test_no_checked_out_text_file_has_a_carriage_return(crlf_clone):
    listed = subprocess.run(
        ["git", "ls-files", "--eol", "-z"], cwd=crlf_clone, capture_output=True, check=True
    ).stdout.decode()
    crlf = [entry.split("\t", 1)[1] for entry in listed.split("\0") if "w/crlf" in entry]
    # Fuzz seeds are bytes (-text): one holds a CRLF on purpose.
    assert [name for name in crlf if not name.startswith("fuzz/seeds/")] == []


@pytest.mark.parametrize(
    "command, status",
    [
        # Each stops on its own check before doing any work, after its first lines ran.
        (["bash", "scripts/apt-install"], 0),
        (["sh", "scripts/test-wheel", "no-such-dist"], 2),
        (["bash", "scripts/run-example", "--port", "not-a-number"], 2),
        (["bash", "-c", '. scripts/constraints.sh && test -f "$PIP_CONSTRAINT"'], 0),
        (["bash", ".ci/run", "--not-an-option"], None),
    ],
    ids=["apt-install", "test-wheel", "run-example", "constraints.sh", "ci-run-syntax"],
)
def test_the_scripts_run_from_that_clone(crlf_clone, command, status):
    if status is None:  # .ci/run would do everything: only parse it
        command = ["bash", "-n", command[1]]
        status = 0
    done = subprocess.run(command, cwd=crlf_clone, capture_output=True, text=True)
    assert "\r" not in done.stderr and "invalid option" not in done.stderr, done.stderr
    assert done.returncode == status, done.stderr
