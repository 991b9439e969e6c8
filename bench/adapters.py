"""Every saver the benchmark runs, behind one interface.

A :class:`Variant` knows how to get a place for itself (a fresh PostgreSQL
database or a new SQLite file) and how to open a set-up saver there, sync
(a context manager) or async (an async context manager). Scenarios never
construct savers themselves, so ours and the official ones go through the same
code; :func:`call` and :func:`acall` are the only places that differ between
the sync and async APIs (see ``plans.py``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.servers import BenchEnv, libpq_url

POSTGRES, SQLITE, MEMORY = "postgres", "sqlite", "memory"


@dataclass(frozen=True)
class Variant:
    """One saver configuration.

    Attributes:
        key: short identifier (used in JSON output).
        label: how tables name it.
        side: ``"ours"``, ``"official"`` or ``"floor"`` (``InMemorySaver``).
        backend: ``"postgres"``, ``"sqlite"`` or ``"memory"``.
        is_async: whether ``open`` is an async context manager.
        opener: the place (URL or file path) -> context manager of a saver.
    """

    key: str
    label: str
    side: str
    backend: str
    is_async: bool
    opener: Callable[[str], Any]

    def provision(self, env: BenchEnv, tag: str) -> str:
        """A fresh place for this variant in scenario ``tag``."""
        name = f"{tag}_{self.key}"
        if self.backend == POSTGRES:
            return env.pg(name)
        if self.backend == SQLITE:
            return str(env.sqlite(name))
        return ""

    def open(self, place: str) -> Any:
        return self.opener(place)


# -- ours ------------------------------------------------------------------


@contextlib.contextmanager
def _ours_sync(place: str, engine_kwargs: dict[str, Any] | None) -> Iterator[Any]:
    from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

    url = place if "://" in place else f"sqlite:///{place}"
    with SQLAlchemySaver.from_url(url, engine_kwargs=engine_kwargs) as saver:
        saver.setup()
        yield saver


@contextlib.asynccontextmanager
async def _ours_async(place: str, pool_size: int | None) -> AsyncIterator[Any]:
    from sqlalchemy.pool import StaticPool

    from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

    url = place if "://" in place else f"sqlite:///{place}"
    kwargs: dict[str, Any] | None = (
        {"poolclass": StaticPool}
        if pool_size is None
        else None
        if pool_size == DEFAULT_POOL
        else {"pool_size": pool_size, "max_overflow": 0}
    )
    async with AsyncSQLAlchemySaver.from_url(url, engine_kwargs=kwargs) as saver:
        await saver.setup()
        yield saver


def ours(backend: str, *, one_connection: bool = False) -> Variant:
    """Our sync saver from ``from_url``: on its default pool, or with
    ``one_connection`` on a ``StaticPool`` engine, whose one connection the
    saver keeps open between calls (the form of the official saver's
    ``PostgresSaver(conn)``)."""
    from sqlalchemy.pool import StaticPool

    where = "PG" if backend == POSTGRES else "SQLite"
    kwargs = {"poolclass": StaticPool} if one_connection else None
    return Variant(
        key=f"ours_{backend}" + ("_conn" if one_connection else ""),
        label=f"ours SQLAlchemySaver {where}" + (" (1 connection)" if kwargs else ""),
        side="ours",
        backend=backend,
        is_async=False,
        opener=lambda place: _ours_sync(place, kwargs),
    )


# ``ours_async(DEFAULT_POOL)``: from_url's own pool, as a user gets it.
DEFAULT_POOL = -1


def ours_async(pool_size: int | None, backend: str = POSTGRES) -> Variant:
    """Our async saver from ``from_url`` on a pool of ``pool_size``, or with
    None on one kept connection (``StaticPool``), or with ``DEFAULT_POOL``
    on its default pool: psycopg on PostgreSQL, aiosqlite on a SQLite file."""
    where = "PG" if backend == POSTGRES else "SQLite"
    form = (
        "1 connection"
        if pool_size is None
        else "default pool"
        if pool_size == DEFAULT_POOL
        else f"pool {pool_size}"
    )
    return Variant(
        key=f"ours_async_{'pg' if backend == POSTGRES else backend}"
        + ("_conn" if pool_size is None else "")
        + ("_default" if pool_size == DEFAULT_POOL else ""),
        label=f"ours AsyncSQLAlchemySaver {where} ({form})",
        side="ours",
        backend=backend,
        is_async=True,
        opener=lambda place: _ours_async(place, pool_size),
    )


# -- official PostgreSQL ---------------------------------------------------

# What langgraph-checkpoint-postgres requires of its connections.
_PG_CONN_KWARGS = {"autocommit": True, "prepare_threshold": 0}


def _pg_kwargs() -> dict[str, Any]:
    from psycopg.rows import dict_row

    return {**_PG_CONN_KWARGS, "row_factory": dict_row}


@contextlib.contextmanager
def _official_pg_conn(place: str) -> Iterator[Any]:
    from langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(libpq_url(place)) as saver:
        saver.setup()
        yield saver


@contextlib.contextmanager
def _official_pg_pool(place: str, size: int) -> Iterator[Any]:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg_pool import ConnectionPool

    with ConnectionPool(
        libpq_url(place), min_size=size, max_size=size, kwargs=_pg_kwargs()
    ) as pool:
        pool.wait()
        saver = PostgresSaver(pool)
        saver.setup()
        yield saver


@contextlib.asynccontextmanager
async def _official_pg_async_pool(place: str, size: int) -> AsyncIterator[Any]:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg_pool import AsyncConnectionPool

    async with AsyncConnectionPool(
        libpq_url(place), min_size=size, max_size=size, kwargs=_pg_kwargs(), open=False
    ) as pool:
        await pool.wait()
        saver = AsyncPostgresSaver(pool)
        await saver.setup()
        yield saver


def official_pg_conn() -> Variant:
    return Variant(
        key="official_pg_conn",
        label="PostgresSaver (1 connection)",
        side="official",
        backend=POSTGRES,
        is_async=False,
        opener=_official_pg_conn,
    )


def official_pg_pool(size: int) -> Variant:
    return Variant(
        key="official_pg_pool",
        label=f"PostgresSaver (ConnectionPool {size})",
        side="official",
        backend=POSTGRES,
        is_async=False,
        opener=lambda place: _official_pg_pool(place, size),
    )


def official_pg_async_pool(size: int) -> Variant:
    return Variant(
        key=f"official_async_pg_pool_{size}",
        label=f"AsyncPostgresSaver (AsyncConnectionPool {size})",
        side="official",
        backend=POSTGRES,
        is_async=True,
        opener=lambda place: _official_pg_async_pool(place, size),
    )


# -- official SQLite -------------------------------------------------------


@contextlib.contextmanager
def _official_sqlite(place: str, synchronous: str | None) -> Iterator[Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    # As SqliteSaver.from_conn_string opens it; setup() switches to WAL.
    conn = sqlite3.connect(place, check_same_thread=False)
    try:
        if synchronous is not None:
            conn.execute(f"PRAGMA synchronous={synchronous}")
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def _official_sqlite_async(place: str) -> AsyncIterator[Any]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    # As it comes: one aiosqlite connection; setup() switches to WAL.
    async with AsyncSqliteSaver.from_conn_string(place) as saver:
        await saver.setup()
        yield saver


def official_sqlite_async() -> Variant:
    return Variant(
        key="official_sqlite_async",
        label="AsyncSqliteSaver",
        side="official",
        backend=SQLITE,
        is_async=True,
        opener=_official_sqlite_async,
    )


def official_sqlite(synchronous: str | None = None) -> Variant:
    tuned = synchronous is not None
    return Variant(
        key="official_sqlite" + (f"_{synchronous.lower()}" if tuned else ""),
        label="SqliteSaver" + (f" (synchronous={synchronous})" if tuned else ""),
        side="official",
        backend=SQLITE,
        is_async=False,
        opener=lambda place: _official_sqlite(place, synchronous),
    )


# -- the floor -------------------------------------------------------------


@contextlib.contextmanager
def _in_memory(_place: str) -> Iterator[Any]:
    from langgraph.checkpoint.memory import InMemorySaver

    yield InMemorySaver()


def in_memory() -> Variant:
    return Variant(
        key="in_memory",
        label="InMemorySaver",
        side="floor",
        backend=MEMORY,
        is_async=False,
        opener=_in_memory,
    )
