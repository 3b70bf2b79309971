# shellcheck shell=sh
# Sourced by every script that installs with pip: pip then takes the versions pinned in
# constraints/constraints.txt, in this process and in every pip it starts (build environments,
# the test suite's 1.0.0 virtualenv, the benchmarks'), so a check's verdict does not depend on
# the day it runs. PYRAMID=2.0.x swaps the Pyramid 2.1 pin for the 2.0.x one the same file
# holds (for CPython 3.9), so both Pyramid lines meet every interpreter. PNS_UNPINNED=1 installs
# the newest releases within constraints.in's ranges instead. POSIX sh; sourced from the
# clone's root, where every script starts.
constraints_root=$PWD
[ -f "$constraints_root/constraints/constraints.txt" ] \
    || { echo "constraints.sh: no constraints/constraints.txt in $PWD (source it from the clone's root)" >&2; exit 2; }
PIP_CONSTRAINT="$constraints_root/constraints/constraints.txt"
if [ "${PNS_UNPINNED:-}" = "1" ]; then
    # The other verdict: the newest release that each range in constraints.in accepts, as a
    # fresh clone would meet it the day that release comes out (before Dependabot proposes it).
    # PIP_UPGRADE: a virtualenv made before keeps nothing older. The Pyramid line needs no swap
    # here: test-wheel and test-matrix ask for it by range.
    PIP_CONSTRAINT="$constraints_root/constraints/constraints.in"
    PIP_UPGRADE=1
    export PIP_UPGRADE
    echo "constraints.sh: PNS_UNPINNED=1: the newest releases constraints/constraints.in accepts, not the pins" >&2
elif [ "${PYRAMID:-latest}" = "2.0.x" ]; then
    mkdir -p "$constraints_root/target"
    pyramid20=$(sed -n "s/^pyramid==\(2\.0\.[0-9]*\) *;.*/\1/p" "$PIP_CONSTRAINT")
    [ -n "$pyramid20" ] || { echo "constraints.sh: no pyramid 2.0.x pin in $PIP_CONSTRAINT" >&2; exit 2; }
    grep -v "^pyramid==" "$PIP_CONSTRAINT" > "$constraints_root/target/constraints-pyramid-2.0.txt"
    echo "pyramid==$pyramid20" >> "$constraints_root/target/constraints-pyramid-2.0.txt"
    PIP_CONSTRAINT="$constraints_root/target/constraints-pyramid-2.0.txt"
fi
# From pip 26.2 on, PIP_CONSTRAINT no longer reaches build environments (maturin's, for one):
# PIP_BUILD_CONSTRAINT does, and older pips ignore it.
PIP_BUILD_CONSTRAINT=$PIP_CONSTRAINT
export PIP_CONSTRAINT PIP_BUILD_CONSTRAINT
