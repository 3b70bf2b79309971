# shellcheck shell=sh
# Sourced by every script that installs with pip: pip then takes the versions pinned in
# constraints/constraints.txt, in this process and in every pip it starts (build environments,
# the test suite's 1.0.0 virtualenv, the benchmarks'), so a check's verdict does not depend on
# the day it runs. PYRAMID=2.0.x swaps the Pyramid 2.1 pin for the 2.0.x one the same file
# holds (for CPython 3.9), so both Pyramid lines meet every interpreter. POSIX sh; sourced
# from the clone's root, where every script starts.
constraints_root=$PWD
[ -f "$constraints_root/constraints/constraints.txt" ] \
    || { echo "constraints.sh: no constraints/constraints.txt in $PWD (source it from the clone's root)" >&2; exit 2; }
PIP_CONSTRAINT="$constraints_root/constraints/constraints.txt"
if [ "${PYRAMID:-latest}" = "2.0.x" ]; then
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
