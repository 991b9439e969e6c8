"""``SQLAlchemyStore``: the sync face, one line per method on top of
``StoreCore`` (what both stores share) and the saver's ``Runner``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from langgraph.store.base import BaseStore, IndexConfig, Op, Result, TTLConfig

from langgraph.checkpoint.sqlalchemy.migrate import VERSION_TABLE
from langgraph.checkpoint.sqlalchemy.repository.plan import Job, T
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.index import (
    engine_kwargs as vector_engine_kwargs,
)
from langgraph.checkpoint.sqlalchemy.runtime.driver import Runner
from langgraph.checkpoint.sqlalchemy.runtime.engines import make_engine
from langgraph.checkpoint.sqlalchemy.runtime.policy import TransactionPolicy
from langgraph.checkpoint.sqlalchemy.runtime.sweeper import Sweeper
from langgraph.store.sqlalchemy._core import DEFAULT_SWEEP_BATCH, StoreCore
from sqlalchemy import Connection, Engine
from sqlalchemy.engine.url import URL

__all__ = ["SQLAlchemyStore"]


class SQLAlchemyStore(StoreCore, BaseStore):
    """LangGraph's long-term memory store on a SQLAlchemy ``Engine`` or
    ``Connection``: PostgreSQL, SQLite, MySQL and MariaDB.

    Thread-safe. Each ``batch`` runs in one transaction; on a ``Connection``
    already in a transaction, in a savepoint of it, so the caller's
    transaction decides what is committed. On PostgreSQL its table is the
    official ``PostgresStore``'s (``store``), which either store can read.

    Args:
        bind: the ``Engine`` (recommended) or ``Connection`` to use.
        schema: keep the table and the version table in this PostgreSQL
            schema / MySQL database, as the saver's ``schema``.
        version_table: the Alembic version table (shared with the saver:
            each branch is one row of it).
        ttl: a ``TTLConfig``: ``default_ttl`` (minutes) for puts that give
            none, ``refresh_on_read`` (default True), and
            ``sweep_interval_minutes`` for ``start_ttl_sweeper``.
        force_portable: use the statements written for dialects without a
            native upsert (for testing that path).

    Raises:
        TypeError: ``bind`` is not an ``Engine`` or ``Connection``, or ``ttl``
            is not a dict.
        ValueError: ``schema`` is empty or not a ``str``; ``ttl`` holds an
            unknown key or a value out of range; or ``bind`` autocommits
            every statement (see ``TransactionPolicy.for_bind``).
    """

    def __init__(
        self,
        bind: Engine | Connection,
        *,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
        ttl: TTLConfig | None = None,
        index: IndexConfig | None = None,
        force_portable: bool = False,
        force_exact: bool = False,
    ) -> None:
        if not isinstance(bind, (Engine, Connection)):
            raise TypeError(
                "SQLAlchemyStore needs a sqlalchemy Engine or Connection, not "
                f"{type(bind).__name__}; for an AsyncEngine use AsyncSQLAlchemyStore"
            )
        policy = TransactionPolicy.for_bind(bind)
        self._configure(
            bind.dialect,
            schema=schema,
            version_table=version_table,
            ttl=ttl,
            force_portable=force_portable,
            index=index,
            force_exact=force_exact,
        )
        self.bind = bind
        self._runner = Runner(bind, policy, self._exec_options)
        self._owned_engine: Engine | None = None
        self._sweeper: Sweeper | None = None

    @classmethod
    def from_url(
        cls,
        url: str | URL,
        *,
        engine_kwargs: Mapping[str, Any] | None = None,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
        ttl: TTLConfig | None = None,
        index: IndexConfig | None = None,
    ) -> SQLAlchemyStore:
        """A store on a new engine for ``url``, which it disposes when closed.

        Use it as a context manager (``with SQLAlchemyStore.from_url(...) as
        store:``) or call ``close()``. The URL gets the drivers and engine
        defaults of ``SQLAlchemySaver.from_url``.

        Raises:
            sqlalchemy.exc.ArgumentError: ``url`` can't be parsed.
            ImportError: the URL's driver is not installed.
            TypeError, ValueError: as for the class.
        """
        engine = make_engine(url, vector_engine_kwargs(url, engine_kwargs, index))
        store = cls(
            engine, schema=schema, version_table=version_table, ttl=ttl, index=index
        )
        store._owned_engine = engine
        store._own_engine(engine.dialect.driver)
        return store

    def close(self) -> None:
        """Stop the TTL sweeper, release the kept connection and, if the store
        made it (``from_url``), dispose of its engine."""
        self.stop_ttl_sweeper()
        self._runner.release()
        if self._owned_engine is not None:
            self._owned_engine.dispose()
            self._owned_engine = None

    def __enter__(self) -> SQLAlchemyStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bind.engine.url!r})"

    def _run(self, job: Job[T], *, contended: bool = False) -> T:
        return self._runner.run(job, contended=contended)

    def setup(self) -> None:
        """Create the store's table and indexes if they are missing.

        Runs the ``langgraph_store`` branch of the packaged migrations to its
        head (not the checkpoint tables': that is the saver's ``setup()``).
        Idempotent, safe when several processes call it at once, and it
        adopts a table the official ``PostgresStore`` created.
        """
        self._run(self._setup_job(), contended=True)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in one transaction; their results, in order.

        Reads see the store as it was before the batch; puts apply last. A
        batch without puts reads without a writer's lock, and the TTL refresh
        of what it read (if any item carries a TTL) follows in a transaction
        of its own.

        Raises:
            TypeError, ValueError (``InvalidNamespaceError`` among them): an
                op is malformed; nothing of the batch ran.
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule gives up.
        """
        outcome = self._run(self._batch_job(ops))
        if (owed := self._refresh_job(outcome)) is not None:
            self._run(owed)
        return outcome.results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """``batch`` in a worker thread, so the event loop never blocks."""
        ops = list(ops)
        return await asyncio.get_running_loop().run_in_executor(None, self.batch, ops)

    def sweep_ttl(self, *, batch_size: int = DEFAULT_SWEEP_BATCH) -> int:
        """Delete the expired items, ``batch_size`` per transaction.

        Several sweepers (threads or processes) may run at once: each item is
        deleted once, and where the database has ``SKIP LOCKED`` none blocks
        on another's batch; a sweeper that finds expired items it cannot
        claim waits briefly for them before it ends (see
        ``repository.expiry_sweep``).

        Returns:
            How many items this call deleted.
        """
        sweep = self._sweep(batch_size)
        while (job := sweep.next_job()) is not None:
            if sweep.pause:
                time.sleep(sweep.pause)
            sweep.advance(self._run(job))
        return sweep.removed

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> None:
        """Sweep every ``sweep_interval_minutes`` (default: the TTL config's,
        else 5) on a daemon thread, until ``stop_ttl_sweeper()`` or
        ``close()``. A second call while it runs does nothing."""
        if self._sweeper is None or not self._sweeper.running:
            self._sweeper = Sweeper(
                self.sweep_ttl,
                self._sweep_interval(sweep_interval_minutes),
                name="SQLAlchemyStore TTL sweeper",
            )
        self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; whether it ended within ``timeout``."""
        sweeper, self._sweeper = self._sweeper, None
        return True if sweeper is None else sweeper.stop(timeout)
