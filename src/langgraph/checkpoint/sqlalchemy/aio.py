"""The async saver: the same plans as :class:`SQLAlchemySaver`, on an
``AsyncEngine`` or ``AsyncConnection``."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph.checkpoint.sqlalchemy._compat import DeltaChannelHistory
from langgraph.checkpoint.sqlalchemy._core import SaverCore
from langgraph.checkpoint.sqlalchemy.migrate import VERSION_TABLE
from langgraph.checkpoint.sqlalchemy.repository.plan import Job, T
from langgraph.checkpoint.sqlalchemy.runtime.driver import AsyncRunner
from langgraph.checkpoint.sqlalchemy.runtime.engines import make_async_engine
from langgraph.checkpoint.sqlalchemy.runtime.policy import TransactionPolicy
from langgraph.checkpoint.sqlalchemy.runtime.sweeper import AsyncSweeper
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["AsyncSQLAlchemySaver"]


class AsyncSQLAlchemySaver(SaverCore):
    """A checkpoint saver on a SQLAlchemy ``AsyncEngine`` or ``AsyncConnection``.

    Its sync methods (``get_tuple``, ``put``…) work from any thread other than
    the event loop's: LangGraph calls them from worker threads, for instance for
    a sync subgraph inside an async graph. On the loop's own thread they raise
    ``asyncio.InvalidStateError``, since blocking there would deadlock.

    Args:
        bind: the ``AsyncEngine`` (recommended) or ``AsyncConnection``.
        schema: keep every table, index and the version table in this
            PostgreSQL schema / MySQL database (created by ``setup()`` where it
            can be), without touching ``search_path``.
        version_table: the Alembic version table (its default never collides
            with a host application's ``alembic_version``).
        serde: the serializer for channel values and writes.
        ttl: checkpoint TTL, as for
            [`SQLAlchemySaver`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver]
            (the keys of ``langgraph.json``'s ``checkpointer.ttl``); the
            sweeper is an asyncio task here. See docs/operations.md,
            "Checkpoint TTL".
        force_portable: use the statements written for dialects without a
            native upsert (for testing that path).

    Raises:
        TypeError: ``bind`` is not an ``AsyncEngine`` or ``AsyncConnection``.
        ValueError: ``ttl`` has an unknown key, no ``default_ttl``, an unknown
            ``strategy`` or a number that is not positive (``TypeError``
            for a value of the wrong type); ``schema`` is not ``None`` or a
            non-empty ``str``; or
            ``bind`` autocommits every statement, or is an in-memory SQLite
            engine that gives each thread a database of its own (see
            ``runtime.policy.TransactionPolicy.for_bind``).
    """

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection,
        *,
        serde: SerializerProtocol | None = None,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
        force_portable: bool = False,
        ttl: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(bind, (AsyncEngine, AsyncConnection)):
            raise TypeError(
                "AsyncSQLAlchemySaver needs an AsyncEngine or AsyncConnection, not "
                f"{type(bind).__name__}; for an Engine use SQLAlchemySaver"
            )
        policy = TransactionPolicy.for_bind(bind)
        super().__init__(
            bind.dialect,
            serde=serde,
            schema=schema,
            version_table=version_table,
            force_portable=force_portable,
            ttl=ttl,
        )
        self.bind = bind
        self._runner = AsyncRunner(bind, policy, self._exec_options)
        self._owned_engine: AsyncEngine | None = None
        self._sweeper: AsyncSweeper | None = None
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    @classmethod
    def from_url(
        cls,
        url: str | URL,
        *,
        engine_kwargs: Mapping[str, Any] | None = None,
        serde: SerializerProtocol | None = None,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
        ttl: Mapping[str, Any] | None = None,
    ) -> AsyncSQLAlchemySaver:
        """A saver on a new async engine for ``url``, disposed when closed.

        The async form of [`SQLAlchemySaver.from_url`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.from_url], with the same
        arguments and errors. Use ``async with
        AsyncSQLAlchemySaver.from_url(...) as saver:`` or ``await
        saver.aclose()``. A URL with no driver gets an async one:
        ``postgresql://`` → psycopg 3 (async), ``sqlite://`` → aiosqlite,
        ``mysql://`` → asyncmy; a sync driver it names is swapped for its
        async twin (``+pymysql`` → ``+asyncmy``, ``+pysqlite`` →
        ``+aiosqlite``).

        Returns:
            The saver, which owns its engine.
        """
        engine = make_async_engine(url, engine_kwargs)
        saver = cls(
            engine, serde=serde, schema=schema, version_table=version_table, ttl=ttl
        )
        saver._owned_engine = engine
        return saver

    async def aclose(self) -> None:
        """Release the saver's connection and, if it made it, its engine.

        The async form of [`SQLAlchemySaver.close`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.close]: closes the connection the
        saver keeps on a one-connection engine, and disposes of the engine if
        this saver made it (``from_url``). A running TTL sweeper is stopped
        first.
        """
        await self.stop_ttl_sweeper()
        await self._runner.release()
        if self._owned_engine is not None:
            await self._owned_engine.dispose()
            self._owned_engine = None

    async def __aenter__(self) -> AsyncSQLAlchemySaver:
        self.loop = asyncio.get_running_loop()
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
        self.loop = asyncio.get_running_loop()
        return await self._runner.run(job, contended=contended)

    def _sync(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` on the saver's loop from another thread and wait."""
        try:
            on_loop = asyncio.get_running_loop() is not None
        except RuntimeError:
            on_loop = False
        if on_loop and (self.loop is None or asyncio.get_running_loop() is self.loop):
            _close(coro)
            raise asyncio.InvalidStateError(
                "Synchronous calls to AsyncSQLAlchemySaver are only allowed from a "
                "thread other than the event loop's; await the async method "
                "(aget_tuple, aput…) instead, or use SQLAlchemySaver."
            )
        if self.loop is None or not self.loop.is_running():
            _close(coro)
            raise asyncio.InvalidStateError(
                "AsyncSQLAlchemySaver's sync methods need its event loop running in "
                "another thread; no loop is running it. Use SQLAlchemySaver for sync code."
            )
        return asyncio.run_coroutine_threadsafe(_as_coroutine(coro), self.loop).result()

    # -- schema ------------------------------------------------------------

    async def setup(self) -> None:
        """Create the tables and indexes if they are missing (``await`` it).

        The async form of [`SQLAlchemySaver.setup`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.setup]: idempotent, and safe when
        several processes call it at once.

        Raises:
            sqlalchemy.exc.DBAPIError: as [`SQLAlchemySaver.setup`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.setup].
            TimeoutError: as [`SQLAlchemySaver.setup`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.setup].
        """
        await self._arun(self._setup_job(), contended=True)

    # -- async interface ---------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Fetch the checkpoint ``config`` names, or the latest of its thread.

        The async form of [`SQLAlchemySaver.get_tuple`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.get_tuple]: same arguments,
        result and errors.
        """
        return await self._arun(self._get_tuple_job(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """List checkpoints, newest first.

        The async form of [`SQLAlchemySaver.list`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.list]: same arguments and
        errors, except that all of them, argument errors included, are raised
        while iterating, since nothing runs before the first ``async for``
        step.

        Returns:
            An async iterator of checkpoint tuples.
        """
        pager = self._pager(config, filter, before, limit)
        while (job := pager.next_job()) is not None:
            for item in pager.advance(await self._arun(job)):
                yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the values of its changed channels.

        The async form of [`SQLAlchemySaver.put`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.put]: same arguments,
        result and errors.
        """
        return await self._arun(
            self._put_job(config, checkpoint, metadata, new_versions)
        )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for the checkpoint ``config`` names.

        The async form of [`SQLAlchemySaver.put_writes`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.put_writes]: same arguments,
        result and errors.
        """
        await self._arun(self._put_writes_job(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of a thread.

        The async form of [`SQLAlchemySaver.delete_thread`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.delete_thread]: same arguments,
        result and errors.
        """
        await self._arun(self._delete_thread_job(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints the given runs created.

        The async form of [`SQLAlchemySaver.delete_for_runs`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.delete_for_runs]: same arguments,
        result and errors.
        """
        if (job := self._delete_for_runs_job(run_ids)) is not None:
            await self._arun(job)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread to a new thread ID.

        The async form of [`SQLAlchemySaver.copy_thread`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.copy_thread]: same arguments,
        result and errors.
        """
        await self._arun(self._copy_thread_job(source_thread_id, target_thread_id))

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep: int | None = None,
    ) -> None:
        """Prune threads: delete their older checkpoints, or the threads whole.

        The async form of [`SQLAlchemySaver.prune`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.prune]: same arguments,
        result and errors.
        """
        for job in self._prune_jobs(thread_ids, strategy, keep):
            await self._arun(job)

    async def aprune_stale(
        self,
        older_than: datetime | timedelta,
        *,
        strategy: str = "delete",
        keep: int | None = None,
        batch_size: int = 100,
    ) -> int:
        """Prune every thread whose latest checkpoint is older than ``older_than``.

        The async form of [`SQLAlchemySaver.prune_stale`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.prune_stale]: same arguments,
        result and errors.
        """
        sweep = self._sweep(older_than, batch_size)
        self._prune_jobs([], strategy, keep)  # check the arguments up front
        while (job := sweep.next_job()) is not None:
            for prune in self._prune_jobs(
                sweep.advance(await self._arun(job)), strategy, keep
            ):
                await self._arun(prune)
        return sweep.threads

    # -- checkpoint TTL ------------------------------------------------------

    async def asweep_ttl(
        self, *, strategy: str | None = None, batch_size: int = 100
    ) -> int:
        """Sweep the threads whose TTL has run out; returns how many.

        The async form of [`SQLAlchemySaver.sweep_ttl`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.sweep_ttl]: same arguments,
        result and errors.
        """
        sweep = self._ttl_sweep(strategy, batch_size)
        while (job := sweep.next_job()) is not None:
            if sweep.pause:
                await asyncio.sleep(sweep.pause)
            sweep.advance(await self._arun(job))
        return sweep.removed

    def start_ttl_sweeper(self) -> None:
        """Run ``asweep_ttl()`` every ``sweep_interval_minutes`` in a task on
        the running event loop (call it from inside the loop), until ``await
        stop_ttl_sweeper()`` or ``aclose()``. As [`SQLAlchemySaver.start_ttl_sweeper`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.start_ttl_sweeper] otherwise.

        Raises:
            ValueError: the saver has no ``ttl``.
            RuntimeError: no event loop is running.
        """
        if self._sweeper is None:
            self._sweeper = AsyncSweeper(
                self.asweep_ttl, self._sweep_interval(), name="checkpoint-ttl-sweeper"
            )
        self._sweeper.start()

    async def stop_ttl_sweeper(self) -> None:
        """Cancel the sweeper task and wait for it to end (a no-op if none
        runs)."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            await sweeper.stop()

    async def apin_thread(self, thread_id: str) -> None:
        """Keep a thread forever. The async form of [`SQLAlchemySaver.pin_thread`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.pin_thread]."""
        await self._arun(self._pin_job(thread_id, True))

    async def aunpin_thread(self, thread_id: str) -> None:
        """Undo ``apin_thread``. The async form of [`SQLAlchemySaver.unpin_thread`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.unpin_thread]."""
        await self._arun(self._pin_job(thread_id, False))

    async def alist_pinned_threads(self) -> builtins.list[str]:
        """The pinned thread IDs, in ID order."""
        return await self._arun(self._pinned_job())

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """Per channel, the writes since its last stored value.

        The async form of [`SQLAlchemySaver.get_delta_channel_history`][langgraph.checkpoint.sqlalchemy.SQLAlchemySaver.get_delta_channel_history]: same arguments,
        result and errors.
        """
        if not channels:
            return {}
        return await self._arun(self._delta_history_job(config, channels))

    # -- sync interface, from other threads --------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The sync form of [`aget_tuple`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.aget_tuple], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        return self._sync(self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """The sync form of [`alist`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.alist], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises. Unlike it, this
        reads every page before returning, so every error comes at the call.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """

        async def collect() -> list[CheckpointTuple]:
            return [
                t
                async for t in self.alist(
                    config, filter=filter, before=before, limit=limit
                )
            ]

        return iter(self._sync(collect()))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """The sync form of [`aput`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.aput], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        return self._sync(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """The sync form of [`aput_writes`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.aput_writes], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        self._sync(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """The sync form of [`adelete_thread`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.adelete_thread], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        self._sync(self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """The sync form of [`adelete_for_runs`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.adelete_for_runs], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        self._sync(self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """The sync form of [`acopy_thread`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.acopy_thread], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        self._sync(self.acopy_thread(source_thread_id, target_thread_id))

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep: int | None = None,
    ) -> None:
        """The sync form of [`aprune`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.aprune], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        self._sync(self.aprune(thread_ids, strategy=strategy, keep=keep))

    def prune_stale(
        self,
        older_than: datetime | timedelta,
        *,
        strategy: str = "delete",
        keep: int | None = None,
        batch_size: int = 100,
    ) -> int:
        """The sync form of [`aprune_stale`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.aprune_stale], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        return self._sync(
            self.aprune_stale(
                older_than, strategy=strategy, keep=keep, batch_size=batch_size
            )
        )

    def sweep_ttl(self, *, strategy: str | None = None, batch_size: int = 100) -> int:
        """The sync form of [`asweep_ttl`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.asweep_ttl], from another thread.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        return self._sync(self.asweep_ttl(strategy=strategy, batch_size=batch_size))

    def pin_thread(self, thread_id: str) -> None:
        """The sync form of [`apin_thread`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.apin_thread], from another thread."""
        self._sync(self.apin_thread(thread_id))

    def unpin_thread(self, thread_id: str) -> None:
        """The sync form of [`aunpin_thread`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.aunpin_thread], from another thread."""
        self._sync(self.aunpin_thread(thread_id))

    def list_pinned_threads(self) -> builtins.list[str]:
        """The sync form of [`alist_pinned_threads`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.alist_pinned_threads], from another thread."""
        return self._sync(self.alist_pinned_threads())

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """The sync form of [`aget_delta_channel_history`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver.aget_delta_channel_history], from another thread.

        Runs it on the saver's event loop, waits, and raises what it raises.

        Raises:
            asyncio.InvalidStateError: called on the event loop's own thread,
                or while no running event loop serves the saver.
        """
        return self._sync(
            self.aget_delta_channel_history(config=config, channels=channels)
        )


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _close(awaitable: Awaitable[Any]) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()
