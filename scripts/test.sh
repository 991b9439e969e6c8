#!/usr/bin/env bash
# The whole test suite, from a fresh clone: makes .venv, installs the project
# with its test dependencies, and runs pytest (which starts its own database
# servers; see tests/servers/). Arguments go to pytest.
#
#   bash scripts/test.sh [pytest args]               the newest releases, in .venv
#   bash scripts/test.sh --deps lowest [pytest args] every declared floor
#       (tests/constraints-lowest.txt) on Python 3.10, in .venv-lowest
set -euo pipefail
cd "$(dirname "$0")/.."

deps=newest
if [ "${1:-}" = "--deps" ]; then
    deps="${2:?--deps takes newest or lowest}"
    shift 2
fi

# The oldest Python we support, for the floor run: python3.10 on PATH, or
# pyenv's; without one, the default python3 (said, not hidden).
python_310() {
    local candidate
    # pyenv's own build first: its python3.10 shim on PATH fails unless 3.10
    # is the active version. Each candidate must really run as 3.10.
    for candidate in "$HOME"/.pyenv/versions/3.10.*/bin/python "$(command -v python3.10 || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "note: no Python 3.10 found; the floor run uses python3" >&2
    command -v python3
}

case "$deps" in
    newest)
        venv=.venv
        python=python3
        install=(-e ".[test,test-official,test-server,lint]")
        ;;
    lowest)
        venv=.venv-lowest
        python="$(python_310)"
        install=(-c tests/constraints-lowest.txt -e ".[test]")
        ;;
    *)
        echo "--deps takes newest or lowest, not $deps" >&2
        exit 2
        ;;
esac

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q "${install[@]}"
if [ "$deps" = lowest ]; then
    "$venv/bin/python" - <<'EOF'
import sys
from importlib import metadata

names = ["sqlalchemy", "langgraph-checkpoint", "greenlet", "alembic", "psycopg",
         "aiosqlite", "pymysql", "asyncmy", "langgraph"]
print("floor run on Python %d.%d:" % sys.version_info[:2],
      ", ".join(f"{n} {metadata.version(n)}" for n in names))
EOF
fi

# Database servers come from the machine: install PostgreSQL's binaries when
# they are missing and we may (root with apt-get), so one command is enough.
# (MariaDB likewise, and PgBouncer, which the postgres-pgbouncer backend puts
# in front of the PostgreSQL server.)
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
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
    missing+=(pgbouncer)
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

exec "$venv/bin/python" -m pytest "$@"
