#!/usr/bin/env bash
# The quick start from a fresh clone: makes .venv, installs the project, and
# runs the ReAct weather agent twice — two processes, one conversation
# thread — on ./quickstart.db (or the database of --url URL).
# Every argument goes to both runs: bash scripts/quickstart.sh --thread t2
#
# The extras are those of everything the README shows after the quick start:
# the drivers --url may need (PostgreSQL, MySQL), aiosqlite for the async saver
# on SQLite (the "Use" block, examples/quickstart_async.py) and the CLI's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[examples,postgres,sqlite-async,mysql,cli]"

echo "== run 1: a fresh process =="
.venv/bin/python examples/quickstart.py "$@"
echo "== run 2: a new process, same thread =="
.venv/bin/python examples/quickstart.py "$@"
