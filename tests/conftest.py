"""Databases for the tests: real servers, never mocks.

Every test that takes ``backend`` runs once per supported database:
``sqlite`` (a file), ``sqlite-memory``, ``sqlite-portable`` (a file, with the
statements meant for dialects without a native upsert), ``sqlite-one-connection``
(a file through a one-connection engine, which the savers keep open between
calls), ``postgres`` (see
``servers/postgres.py`` for where the server comes from; under ``CI=true`` a
missing server fails the run instead of skipping), ``postgres-one-connection``
(the same server through a one-connection engine), ``postgres-pgbouncer``
(the same database through PgBouncer in transaction pooling mode, with a
plain URL; see ``servers/pgbouncer.py``) and ``mariadb``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import langgraph.checkpoint.base as _checkpoint_base
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver, metadata
from langgraph.checkpoint.sqlalchemy._compat import HAS_DELTA_CHANNELS
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.runtime.private_api import (
    ENV_VAR,
    PRIVATE_API_ALLOWED,
)
from langgraph.store.sqlalchemy import AsyncSQLAlchemyStore, SQLAlchemyStore

BACKENDS = [
    "sqlite",
    "sqlite-memory",
    "sqlite-portable",
    "sqlite-one-connection",
    "postgres",
    "postgres-one-connection",
    "postgres-pgbouncer",
    "mariadb",
]


#: For tests of DeltaChannel support, which langgraph-checkpoint 4.0 (a floor
#: we support, CI's floor run) does not have.
needs_delta_channels = pytest.mark.skipif(
    not HAS_DELTA_CHANNELS, reason="langgraph-checkpoint 4.0 has no DeltaChannel"
)


#: For tests of an order-sensitive DeltaChannel rebuilt exactly as the run
#: built it: LangGraph applies a super-step's writes in ``writes_sort_key``
#: order from langgraph-checkpoint 4.3 on; before, Send tasks of one step
#: applied in creation order, which nothing stores.
needs_writes_sort_key = pytest.mark.skipif(
    not hasattr(_checkpoint_base, "writes_sort_key"),
    reason="langgraph-checkpoint before 4.3 applies Send writes in creation order",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Two kinds of test that cannot run everywhere, skipped by name:

    - with the public routes forced (``LANGGRAPH_SQLALCHEMY_PRIVATE_API=0``,
      one of CI's runs), the tests of the fast paths themselves
      (``fast_path``); every other test runs through the public routes;
    - on Python 3.10, the async runs of graphs that interrupt
      (``async_interrupts``): LangGraph's ``interrupt()`` reads its config
      from a context variable that asyncio tasks carry only from 3.11 on,
      with any checkpointer (the official one too)."""
    no_fast_paths = pytest.mark.skip(reason=f"{ENV_VAR}=0: the fast paths are off")
    no_task_context = pytest.mark.skip(
        reason="interrupt() in an async graph needs Python 3.11 (LangGraph)"
    )
    for item in items:
        if not PRIVATE_API_ALLOWED and item.get_closest_marker("fast_path"):
            item.add_marker(no_fast_paths)
        if (
            sys.version_info < (3, 11)
            and item.get_closest_marker("async_interrupts")
            and _runs_async(item)
        ):
            item.add_marker(no_task_context)


def _runs_async(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    run = callspec.params.get("run") if callspec is not None else None
    return run in (None, "async")


@dataclass(frozen=True)
class Backend:
    """How to reach one database for one test."""

    name: str
    sync_url: str
    async_url: str
    force_portable: bool = False
    engine_kwargs: dict[str, Any] | None = None

    @property
    def database(self) -> str:
        """The database behind the name: ``sqlite``, ``postgres`` or ``mariadb``."""
        return self.name.split("-")[0]

    def saver(self, **kwargs: Any) -> SQLAlchemySaver:
        """A set-up sync saver on a fresh engine (closed by the caller)."""
        engine_kwargs = kwargs.pop("engine_kwargs", self.engine_kwargs)
        saver = SQLAlchemySaver.from_url(
            self.sync_url, engine_kwargs=engine_kwargs, **kwargs
        )
        if self.force_portable:
            saver = SQLAlchemySaver(saver.bind, force_portable=True, **kwargs)
            saver._owned_engine = saver.bind  # type: ignore[assignment]
        saver.setup()
        return saver

    async def asaver(self, **kwargs: Any) -> AsyncSQLAlchemySaver:
        """A set-up async saver on a fresh engine (closed by the caller)."""
        engine_kwargs = kwargs.pop("engine_kwargs", self.engine_kwargs)
        saver = AsyncSQLAlchemySaver.from_url(
            self.async_url, engine_kwargs=engine_kwargs, **kwargs
        )
        if self.force_portable:
            engine = saver.bind
            saver = AsyncSQLAlchemySaver(engine, force_portable=True, **kwargs)
            saver._owned_engine = engine  # type: ignore[assignment]
        await saver.setup()
        return saver

    def store(self, **kwargs: Any) -> SQLAlchemyStore:
        """A set-up sync store on a fresh engine (closed by the caller)."""
        engine_kwargs = kwargs.pop("engine_kwargs", self.engine_kwargs)
        store = SQLAlchemyStore.from_url(
            self.sync_url, engine_kwargs=engine_kwargs, **kwargs
        )
        if self.force_portable:
            engine = store.bind
            store = SQLAlchemyStore(engine, force_portable=True, **kwargs)
            store._owned_engine = engine  # type: ignore[assignment]
        store.setup()
        return store

    async def astore(self, **kwargs: Any) -> AsyncSQLAlchemyStore:
        """A set-up async store on a fresh engine (closed by the caller)."""
        engine_kwargs = kwargs.pop("engine_kwargs", self.engine_kwargs)
        store = AsyncSQLAlchemyStore.from_url(
            self.async_url, engine_kwargs=engine_kwargs, **kwargs
        )
        if self.force_portable:
            engine = store.bind
            store = AsyncSQLAlchemyStore(engine, force_portable=True, **kwargs)
            store._owned_engine = engine  # type: ignore[assignment]
        await store.setup()
        return store


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database on a PostgreSQL server that lives for the session."""
    from servers.postgres import fresh_database, postgres_server

    try:
        with postgres_server() as server:
            yield fresh_database(server, "lgsa_tests")
    except RuntimeError as exc:  # no server anywhere
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no PostgreSQL available: {exc}")


@pytest.fixture(scope="session")
def pgbouncer_url(postgres_url: str) -> Iterator[str]:
    """The database of ``postgres_url`` through a PgBouncer in transaction
    pooling mode that lives for the session."""
    from servers.pgbouncer import pgbouncer_server

    try:
        with pgbouncer_server(postgres_url) as pooler:
            yield pooler.url
    except RuntimeError as exc:  # no pgbouncer binary
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no PgBouncer available: {exc}")


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """A database on a MariaDB server that lives for the session."""
    from servers.mariadb import fresh_database, mariadb_server

    try:
        with mariadb_server() as server:
            yield fresh_database(server, "lgsa_tests")
    except RuntimeError as exc:  # no server anywhere
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no MariaDB available: {exc}")


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A database with the ``vector`` extension created, on a PostgreSQL
    server with pgvector that lives for the session (``servers/pgvector.py``)."""
    from servers.pgvector import create_extension, pgvector_server
    from servers.postgres import fresh_database

    try:
        with pgvector_server() as server:
            url = fresh_database(server, "lgsa_vectors")
            create_extension(url)
            yield url
    except RuntimeError as exc:  # no server with pgvector anywhere
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no PostgreSQL with pgvector available: {exc}")


def _empty_tables(url: str) -> None:
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()
        with saver.bind.begin() as conn:  # type: ignore[union-attr]
            # The store's table exists once a store test set it up.
            present = set(sa.inspect(conn).get_table_names())
            for table in reversed(metadata.sorted_tables):
                if table.name in present:
                    conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """One database, empty, for one test."""
    return make_backend(request.param, request, tmp_path)


def make_backend(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The empty database ``name`` (one of :data:`BACKENDS`) for one test;
    a test module that only suits some backends defines its own ``backend``
    fixture with this and fewer params, so that none is skipped."""
    if name in ("postgres", "postgres-one-connection"):
        url = request.getfixturevalue("postgres_url")
        _empty_tables(url)
        if name == "postgres":
            return Backend(name, url, url)
        return Backend(name, url, url, engine_kwargs={"poolclass": StaticPool})
    if name == "postgres-pgbouncer":
        _empty_tables(request.getfixturevalue("postgres_url"))
        url = request.getfixturevalue("pgbouncer_url")
        return Backend(name, url, url)
    if name == "mariadb":
        url = request.getfixturevalue("mariadb_url")
        _empty_tables(url)
        return Backend(name, url, url.replace("+pymysql", "+asyncmy"))
    if name == "sqlite-memory":
        return Backend(name, "sqlite:///:memory:", "sqlite+aiosqlite:///:memory:")
    path = tmp_path / "checkpoints.db"
    return Backend(
        name,
        f"sqlite:///{path}",
        f"sqlite+aiosqlite:///{path}",
        force_portable=name == "sqlite-portable",
        engine_kwargs=(
            {"poolclass": StaticPool} if name == "sqlite-one-connection" else None
        ),
    )


@pytest.fixture
def saver(backend: Backend) -> Iterator[SQLAlchemySaver]:
    saver = backend.saver()
    try:
        yield saver
    finally:
        saver.close()


@pytest.fixture
async def asaver(backend: Backend) -> AsyncIterator[AsyncSQLAlchemySaver]:
    saver = await backend.asaver()
    try:
        yield saver
    finally:
        await saver.aclose()


@pytest.fixture
def store(backend: Backend) -> Iterator[SQLAlchemyStore]:
    """A set-up sync memory store on ``backend``."""
    store = backend.store()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
async def astore(backend: Backend) -> AsyncIterator[AsyncSQLAlchemyStore]:
    """A set-up async memory store on ``backend``."""
    store = await backend.astore()
    try:
        yield store
    finally:
        await store.aclose()
