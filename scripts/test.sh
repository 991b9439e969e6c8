#!/usr/bin/env bash
# The whole test suite, from a fresh clone: makes .venv, installs the project
# with its test dependencies, and runs pytest (which starts its own database
# servers; see tests/servers/). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,lint]"

# Database servers come from the machine: install PostgreSQL's binaries when
# they are missing and we may (root with apt-get), so one command is enough.
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v pg_config >/dev/null \
    && [ -z "${TEST_POSTGRES_URL:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing PostgreSQL server binaries (apt-get)..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

exec .venv/bin/python -m pytest "$@"
