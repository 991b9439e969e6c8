"""Where the benchmark's databases live: one PostgreSQL server for the whole
run (from ``tests/servers/postgres.py``), a fresh database per saver and
scenario on it, and SQLite files in a temporary directory."""

from __future__ import annotations

import contextlib
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from servers.postgres import drop_database, fresh_database, postgres_server  # noqa: E402


def libpq_url(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as a libpq URI for psycopg.

    Only the scheme differs (both percent-encode the same parts), and doing it
    without SQLAlchemy keeps it out of a process that runs only an official
    saver (``peak_rss`` measures such a process's memory)."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


@dataclass
class BenchEnv:
    """The places one run of the benchmark writes to."""

    pg_server: str | None
    scratch: Path
    _databases: list[str] = field(default_factory=list)

    def pg(self, name: str) -> str:
        """A new, empty database ``bench_<name>`` and its SQLAlchemy URL."""
        if self.pg_server is None:
            raise RuntimeError("this run has no PostgreSQL server")
        db = "bench_" + re.sub(r"[^a-z0-9_]", "_", name.lower())
        self._databases.append(db)
        return fresh_database(self.pg_server, db)

    def sqlite(self, name: str) -> Path:
        """A path for a new SQLite file (nothing there yet)."""
        path = self.scratch / f"{re.sub(r'[^A-Za-z0-9_]', '_', name)}.sqlite"
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return path

    def versions(self) -> dict[str, str]:
        """The database servers and drivers this run uses."""
        import sqlite3

        import psycopg

        found = {"sqlite": sqlite3.sqlite_version, "psycopg": psycopg.__version__}
        if self.pg_server is not None:
            with psycopg.connect(libpq_url(self.pg_server)) as conn:
                row = conn.execute("SHOW server_version").fetchone()
            found["postgresql"] = row[0] if row else "?"
        return found

    def drop_all(self) -> None:
        if self.pg_server is None:
            return
        for db in self._databases:
            with contextlib.suppress(Exception):
                drop_database(self.pg_server, db)
        self._databases.clear()


@contextlib.contextmanager
def bench_env(need_postgres: bool) -> Iterator[BenchEnv]:
    """A PostgreSQL server (if needed) and a scratch directory for one run."""
    with tempfile.TemporaryDirectory(prefix="lgsa-bench-") as scratch:
        if not need_postgres:
            yield BenchEnv(None, Path(scratch))
            return
        with postgres_server() as server:
            env = BenchEnv(server, Path(scratch))
            try:
                yield env
            finally:
                env.drop_all()
