"""The pinned tool chain: constraints/constraints.txt pins every package constraints.in names, each
pin inside the range constraints.in accepts (an edit of the ranges that was never re-locked fails
here), and scripts/constraints.sh hands pip the pins, or with PNS_UNPINNED=1 the ranges, so that
one switch gives either verdict: the pinned set's or the newest releases'."""

import os
import re
import shutil
import subprocess

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.helpers import ROOT

CONSTRAINTS = ROOT / "constraints"


def requirement_lines(path):
    for line in path.read_text().splitlines():
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        if line:
            yield line


def pins():
    pinned = {}
    for line in requirement_lines(CONSTRAINTS / "constraints.txt"):
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", line
        pinned.setdefault(canonicalize_name(requirement.name), []).append(Version(spec.version))
    return pinned


def test_every_range_is_pinned_and_every_pin_is_inside_its_range():
    pinned = pins()
    ranges = [Requirement(line) for line in requirement_lines(CONSTRAINTS / "constraints.in")]
    assert ranges
    for wanted in ranges:
        versions = pinned.get(canonicalize_name(wanted.name))
        assert versions, (
            f"{wanted.name} is in constraints.in but not pinned: run scripts/lock-constraints"
        )
        outside = [str(v) for v in versions if not wanted.specifier.contains(v, prereleases=True)]
        assert outside == [], f"{wanted}: pinned at {outside}: run scripts/lock-constraints"


@pytest.mark.skipif(
    not (ROOT / "scripts" / "constraints.sh").exists() or shutil.which("bash") is None,
    reason="needs the clone's scripts/ (an unpacked sdist holds none)",
)
@pytest.mark.parametrize(
    "unpinned, constraint, upgrade",
    [("", "constraints.txt", ""), ("1", "constraints.in", "1")],
    ids=["pinned", "unpinned"],
)
def test_constraints_sh_names_the_pins_or_the_ranges(unpinned, constraint, upgrade):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PNS_UNPINNED"] = unpinned
    done = subprocess.run(
        [
            "bash",
            "-c",
            '. scripts/constraints.sh && printf "%s\\n" "$PIP_CONSTRAINT" '
            '"$PIP_BUILD_CONSTRAINT" "${PIP_UPGRADE:-}"',
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = str(CONSTRAINTS / constraint)
    assert done.stdout.splitlines() == [expected, expected, upgrade]
