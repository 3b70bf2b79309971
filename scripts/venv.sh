# shellcheck shell=bash
# Sourced by the set-up commands: creates .venv if needed, activates it, and (re)builds the
# package into it in release mode with its test extras, every version pinned by
# constraints/constraints.txt (scripts/constraints.sh).
. scripts/constraints.sh
if [[ ! -x .venv/bin/python ]]; then
    echo "== making .venv"
    python3 -m venv .venv
fi
# shellcheck source=/dev/null  # made by python -m venv, maybe not yet
. .venv/bin/activate
python -m pip install --quiet --upgrade pip maturin
# pip stays quiet while cargo compiles; say so, or the wait looks like a hang.
echo "== building pyramid_nacl_session (Rust, release mode) into .venv with its test tools" \
     "and the example app: about a minute the first time, seconds when nothing changed"
python -m pip install --quiet -e ".[test]" -e examples/
echo "== .venv ready: $(python -c 'import pyramid_nacl_session as p, importlib.metadata as m; print("pyramid-nacl-session", m.version("pyramid-nacl-session"))')"
