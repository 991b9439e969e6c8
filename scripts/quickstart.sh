#!/usr/bin/env bash
# The quick start, from a fresh clone: makes .venv, installs the project, and
# runs the ReAct weather agent twice — two processes, one conversation thread —
# on a SQLite file (or the database of --url URL). Arguments go to the example.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[examples]"

echo "== run 1: a fresh process =="
.venv/bin/python examples/quickstart.py "$@"
echo "== run 2: a new process, same thread =="
.venv/bin/python examples/quickstart.py --question "and what about nyc?" "$@"
