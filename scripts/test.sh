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
# (MariaDB likewise.)
have_postgres() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
    # pg_config alone proves nothing: Debian's libpq-dev ships one with no server.
    command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]
}
missing=()
if ! have_postgres && [ -z "${TEST_POSTGRES_URL:-}" ]; then
    missing+=(postgresql)
fi
if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ] && [ -z "${TEST_MARIADB_URL:-}" ]; then
    missing+=(mariadb-server-core mariadb-client-core)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing database servers: ${missing[*]} (apt-get)..."
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "note: no local ${missing[*]}; tests use TEST_*_URL or Docker, or skip (fail under CI=true)" >&2
    fi
fi

exec .venv/bin/python -m pytest "$@"
