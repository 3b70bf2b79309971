# Sourced by the set-up commands: creates .venv if needed, activates it, and (re)builds the
# package into it in release mode with its test extras.
if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade "pip>=23" "maturin>=1.7,<2"
python -m pip install --quiet -e ".[test]" -e examples/
