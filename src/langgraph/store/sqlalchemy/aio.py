"""``AsyncSQLAlchemyStore``: the same jobs as ``SQLAlchemyStore``, on an
``AsyncEngine`` or ``AsyncConnection``, with LangGraph's batching of
concurrent calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from langgraph.store.base import IndexConfig, Op, Result, TTLConfig
from langgraph.store.base.batch import AsyncBatchedBaseStore

from langgraph.checkpoint.sqlalchemy.migrate import VERSION_TABLE
from langgraph.checkpoint.sqlalchemy.repository.plan import Job, T
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.index import (
    engine_kwargs as vector_engine_kwargs,
)
from langgraph.checkpoint.sqlalchemy.runtime.driver import AsyncRunner
from langgraph.checkpoint.sqlalchemy.runtime.engines import make_async_engine
from langgraph.checkpoint.sqlalchemy.runtime.policy import TransactionPolicy
from langgraph.checkpoint.sqlalchemy.runtime.sweeper import AsyncSweeper
from langgraph.store.sqlalchemy._core import DEFAULT_SWEEP_BATCH, StoreCore
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["AsyncSQLAlchemyStore"]


class AsyncSQLAlchemyStore(StoreCore, AsyncBatchedBaseStore):
    """The memory store on an ``AsyncEngine`` or ``AsyncConnection``.

    Make it inside a running event loop (LangGraph's ``AsyncBatchedBaseStore``
    starts a task there that merges concurrent ``aget``/``aput``/``asearch``
    calls into batches). Its sync methods (``get``, ``put``, ``search``…)
    work from any other thread while that loop runs; on the loop's own
    thread they raise ``asyncio.InvalidStateError``, since blocking there
    would deadlock.

    Args and errors as [`SQLAlchemyStore`][langgraph.store.sqlalchemy.SQLAlchemyStore];
    also ``RuntimeError`` when no event loop is running.
    """

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection,
        *,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
        ttl: TTLConfig | None = None,
        index: IndexConfig | None = None,
        force_portable: bool = False,
        force_exact: bool = False,
    ) -> None:
        if not isinstance(bind, (AsyncEngine, AsyncConnection)):
            raise TypeError(
                "AsyncSQLAlchemyStore needs an AsyncEngine or AsyncConnection, not "
                f"{type(bind).__name__}; for an Engine use SQLAlchemyStore"
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
        AsyncBatchedBaseStore.__init__(self)
        self.bind = bind
        self._runner = AsyncRunner(bind, policy, self._exec_options)
        self._owned_engine: AsyncEngine | None = None
        self._sweeper: AsyncSweeper | None = None

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
    ) -> AsyncSQLAlchemyStore:
        """A store on a new async engine for ``url``, disposed when closed
        (``async with AsyncSQLAlchemyStore.from_url(...) as store:``). The
        URL gets the async drivers of ``AsyncSQLAlchemySaver.from_url``."""
        engine = make_async_engine(
            url, vector_engine_kwargs(url, engine_kwargs, index, is_async=True)
        )
        store = cls(
            engine, schema=schema, version_table=version_table, ttl=ttl, index=index
        )
        store._owned_engine = engine
        store._own_engine(engine.dialect.driver)
        return store

    async def aclose(self) -> None:
        """Stop the TTL sweeper, release the kept connection and, if the store
        made it, dispose of its engine."""
        await self.stop_ttl_sweeper()
        await self._runner.release()
        if self._owned_engine is not None:
            await self._owned_engine.dispose()
            self._owned_engine = None

    async def __aenter__(self) -> AsyncSQLAlchemyStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.bind.engine.url!r})"

    async def _arun(self, job: Job[T], *, contended: bool = False) -> T:
        return await self._runner.run(job, contended=contended)

    async def setup(self) -> None:
        """Create the store's table and indexes if missing (``await`` it);
        see [`SQLAlchemyStore.setup`][langgraph.store.sqlalchemy.SQLAlchemyStore.setup]."""
        await self._arun(self._setup_job(), contended=True)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in one transaction; see
        [`SQLAlchemyStore.batch`][langgraph.store.sqlalchemy.SQLAlchemyStore.batch]."""
        outcome = await self._arun(await self._abatch_job(ops))
        if (owed := self._refresh_job(outcome)) is not None:
            await self._arun(owed)
        return outcome.results

    async def asweep_ttl(self, *, batch_size: int = DEFAULT_SWEEP_BATCH) -> int:
        """Delete the expired items; see
        [`SQLAlchemyStore.sweep_ttl`][langgraph.store.sqlalchemy.SQLAlchemyStore.sweep_ttl]."""
        sweep = self._sweep(batch_size)
        while (job := sweep.next_job()) is not None:
            if sweep.pause:
                await asyncio.sleep(sweep.pause)
            sweep.advance(await self._arun(job))
        return sweep.removed

    def sweep_ttl(self, *, batch_size: int = DEFAULT_SWEEP_BATCH) -> int:
        """``asweep_ttl`` from another thread, on the store's loop."""
        if _on_loop(self._loop):
            raise asyncio.InvalidStateError(
                "AsyncSQLAlchemyStore.sweep_ttl() blocks; on the event loop's "
                "thread await asweep_ttl() instead"
            )
        return asyncio.run_coroutine_threadsafe(
            self.asweep_ttl(batch_size=batch_size), self._loop
        ).result()

    async def start_ttl_sweeper(
        self, sweep_interval_minutes: float | None = None
    ) -> None:
        """Sweep every ``sweep_interval_minutes`` (default: the TTL config's,
        else 5) in a task on the running loop, until ``stop_ttl_sweeper()``
        or ``aclose()``. A second call while it runs does nothing."""
        if self._sweeper is None or not self._sweeper.running:
            self._sweeper = AsyncSweeper(
                self.asweep_ttl,
                self._sweep_interval(sweep_interval_minutes),
                name="AsyncSQLAlchemyStore TTL sweeper",
            )
        self._sweeper.start()

    async def stop_ttl_sweeper(self) -> None:
        """Cancel the sweeper task and wait for it to end."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            await sweeper.stop()


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
