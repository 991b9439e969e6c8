"""A MariaDB (or MySQL) server for the tests, from wherever one can be had.

In this order: the ``TEST_MARIADB_URL`` environment variable; a container
through testcontainers when a Docker daemon answers; a throwaway server from
local binaries (Debian's ``mariadb-server-core``: ``mariadbd`` and
``mariadb-install-db``). Nothing found raises ``RuntimeError`` saying how to
get one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from servers._local import LocalServer, docker_answers, free_port, scratch_dir

ENV_VAR = "TEST_MARIADB_URL"


def _sqlalchemy_url(url: str) -> str:
    for prefix in ("mysql://", "mariadb://"):
        if url.startswith(prefix):
            return "mysql+pymysql://" + url[len(prefix) :]
    return url


def _binaries() -> tuple[Path, Path] | None:
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
    install = shutil.which("mariadb-install-db")
    if server and install:
        return Path(server), Path(install)
    return None


def _accepts(port: int) -> bool:
    import pymysql

    try:
        pymysql.connect(
            host="127.0.0.1", port=port, user="root", connect_timeout=1
        ).close()
        return True
    except pymysql.MySQLError:
        return False


@contextlib.contextmanager
def _local_server(server_bin: Path, install: Path) -> Iterator[LocalServer]:
    # --no-defaults: Debian's config would move the socket and more;
    # --user=root: mariadbd refuses to run as root without it.
    user = ["--user=root"] if os.geteuid() == 0 else []
    with scratch_dir("my", None) as root:
        data, log = root / "data", root / "log"
        subprocess.run(
            [
                str(install),
                "--no-defaults",
                *user,
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        port = free_port()
        server = LocalServer(
            [
                str(server_bin),
                "--no-defaults",
                *user,
                f"--datadir={data}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                f"--socket={root / 's'}",
                f"--pid-file={root / 'pid'}",
                "--skip-log-bin",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-buffer-pool-size=128M",
                "--max-connections=300",
                "--max-allowed-packet=256M",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_bin",
            ],
            log,
            f"mysql+pymysql://root@127.0.0.1:{port}/mysql",
            lambda: _accepts(port),
            stop_timeout=5,
        )
        with server.running():
            yield server


@contextlib.contextmanager
def local_mariadb() -> Iterator[LocalServer]:
    """A throwaway server this process owns and can restart."""
    if (binaries := _binaries()) is None:
        raise RuntimeError(
            "no local MariaDB binaries (apt-get install mariadb-server-core)"
        )
    with _local_server(*binaries) as server:
        yield server


@contextlib.contextmanager
def mariadb_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a MariaDB server that lives for the context."""
    if url := os.environ.get(ENV_VAR):
        yield _sqlalchemy_url(url)
        return
    if docker_answers():
        from testcontainers.mysql import MySqlContainer

        with MySqlContainer(
            "mariadb:11", username="root", password="test"
        ) as container:
            yield _sqlalchemy_url(
                container.get_connection_url().replace("mysql+pymysql", "mysql")
            )
        return
    if (binaries := _binaries()) is not None:
        with _local_server(*binaries) as server:
            yield server.url
        return
    raise RuntimeError(
        "No MariaDB server: set TEST_MARIADB_URL, start a Docker daemon "
        "(testcontainers), or `apt-get install mariadb-server-core`."
    )


def fresh_database(server_url: str, name: str) -> str:
    """Create (anew) database ``name`` on the server and return its URL."""
    import sqlalchemy as sa

    engine = sa.create_engine(server_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
            conn.exec_driver_sql(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )
    finally:
        engine.dispose()
    return server_url.rsplit("/", 1)[0] + f"/{name}"
