"""``SQLAlchemySaver``: the sync face, one line per method of the base
interface on top of ``SaverCore`` (what both savers share) and a
``runtime.driver.Runner`` (which runs its jobs on an ``Engine`` or
``Connection``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.jobs import iter_pages
from langgraph.checkpoint.sqlalchemy.repository.plan import Job, T
from langgraph.checkpoint.sqlalchemy.runtime.driver import Runner
from langgraph.checkpoint.sqlalchemy.runtime.engines import make_engine
from langgraph.checkpoint.sqlalchemy.runtime.policy import TransactionPolicy
from sqlalchemy import Connection, Engine
from sqlalchemy.engine.url import URL

__all__ = ["SQLAlchemySaver"]


class SQLAlchemySaver(SaverCore):
    """A checkpoint saver on a SQLAlchemy ``Engine`` or ``Connection``.

    Thread-safe: LangGraph saves from background threads. Each call runs in one
    transaction; on a ``Connection`` already in a transaction, in a savepoint of
    it, so the caller's transaction decides what is committed.

    Args:
        bind: the ``Engine`` (recommended) or ``Connection`` to use.
        schema: keep every table, index and the version table in this
            PostgreSQL schema / MySQL database (created by ``setup()`` where it
            can be), without touching ``search_path``.
        version_table: the Alembic version table (its default never collides
            with a host application's ``alembic_version``).
        serde: the serializer for channel values and writes; defaults to
            LangGraph's ``JsonPlusSerializer``. ``EncryptedSerializer`` works.
        force_portable: use the statements written for dialects without a
            native upsert, even where one exists (for testing that path).

    Raises:
        TypeError: ``bind`` is not an ``Engine`` or ``Connection``.
        ValueError: ``bind`` autocommits every statement, or is an in-memory
            SQLite engine that gives each thread a database of its own (see
            ``runtime.policy.TransactionPolicy.for_bind``).
    """

    def __init__(
        self,
        bind: Engine | Connection,
        *,
        serde: SerializerProtocol | None = None,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
        force_portable: bool = False,
    ) -> None:
        if not isinstance(bind, (Engine, Connection)):
            raise TypeError(
                "SQLAlchemySaver needs a sqlalchemy Engine or Connection, not "
                f"{type(bind).__name__}; for an AsyncEngine use AsyncSQLAlchemySaver"
            )
        policy = TransactionPolicy.for_bind(bind)
        super().__init__(
            bind.dialect,
            serde=serde,
            schema=schema,
            version_table=version_table,
            force_portable=force_portable,
        )
        self.bind = bind
        self._runner = Runner(bind, policy, self._exec_options)
        self._owned_engine: Engine | None = None

    @classmethod
    def from_url(
        cls,
        url: str | URL,
        *,
        engine_kwargs: Mapping[str, Any] | None = None,
        serde: SerializerProtocol | None = None,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
    ) -> SQLAlchemySaver:
        """A saver on a new engine for ``url``, which it disposes when closed.

        Use it as a context manager (``with SQLAlchemySaver.from_url(...) as
        saver:``) or call ``close()``. A URL that names no driver gets one:
        ``postgresql://`` → psycopg 3, ``sqlite://`` → the standard library's
        sqlite3, ``mysql://`` → PyMySQL. ``sqlite:///:memory:`` is one shared
        in-memory database for the saver's life. A call that meets a
        connection killed by a server restart runs again on a fresh one.
        ``engine_kwargs`` go to ``create_engine`` and override these defaults
        (``connect_args`` key by key). With ``poolclass=StaticPool`` the saver
        keeps its one connection open between calls, as the official
        ``PostgresSaver(conn)`` does, instead of a pool checkout per call.
        """
        engine = make_engine(url, engine_kwargs)
        saver = cls(engine, serde=serde, schema=schema, version_table=version_table)
        saver._owned_engine = engine
        return saver

    def close(self) -> None:
        """Close the connection the saver keeps on a one-connection engine,
        and dispose of the engine if this saver made it (``from_url``)."""
        self._runner.release()
        if self._owned_engine is not None:
            self._owned_engine.dispose()
            self._owned_engine = None

    def __enter__(self) -> SQLAlchemySaver:
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

    def _run(self, job: Job[T]) -> T:
        return self._runner.run(job)

    # -- schema ------------------------------------------------------------

    def setup(self) -> None:
        """Create the tables and indexes if they are missing. Idempotent, and
        safe when several processes call it at once.

        Raises:
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule gives up (``runtime.retry``; a statement that failed
                because another process was creating the tables at the same
                moment is run again first).
            TimeoutError: another process's migration held the setup lock
                (MySQL) for more than 60 s.
        """
        self._runner.run(self._setup_job(), contended=True)

    # -- BaseCheckpointSaver -------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint ``config`` names, or the latest of its thread and
        namespace; ``None`` if there is none. Pending writes come in
        ``writes_sort_key`` order."""
        return self._run(self._get_tuple_job(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first, optionally of one thread (and namespace),
        whose metadata contains ``filter``, older than ``before``, at most
        ``limit``. The filter runs in SQL with bound parameters."""
        return iter_pages(self._pager(config, filter, before, limit), self._run)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the values of its changed channels, in one
        transaction. Returns the config that points at it."""
        return self._run(self._put_job(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes for the checkpoint ``config`` names. Idempotent."""
        self._run(self._put_writes_job(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of a thread."""
        self._run(self._delete_thread_job(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints the given runs created, with their writes and
        the blobs only they referenced."""
        if (job := self._delete_for_runs_job(run_ids)) is not None:
            self._run(job)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread, every namespace, checkpoint, blob and write of it, to a
        new thread ID. Raises ``ValueError`` if the target already has
        checkpoints (nothing is overwritten)."""
        self._run(self._copy_thread_job(source_thread_id, target_thread_id))

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep: int | None = None,
    ) -> None:
        """Prune threads.

        ``"keep_latest"`` keeps each namespace's latest checkpoint with its
        writes and blobs, and, for ``DeltaChannel`` threads, the ancestors its
        delta channels are rebuilt from; it deletes everything older.
        ``"keep_last"`` does the same keeping the ``keep`` latest checkpoints.
        Each thread is pruned in its own transaction, and a run writing
        meanwhile loses nothing. ``"delete"`` deletes the threads whole.
        """
        for job in self._prune_jobs(thread_ids, strategy, keep):
            self._run(job)

    def prune_stale(
        self,
        older_than: datetime | timedelta,
        *,
        strategy: str = "delete",
        keep: int | None = None,
        batch_size: int = 100,
    ) -> int:
        """Prune every thread whose latest checkpoint is older than
        ``older_than`` (a moment, or an age such as ``timedelta(days=30)``),
        with the ``strategy`` of ``prune``. Threads go by in batches, each thread
        in its own transaction: an interrupted sweep keeps what it did, and
        running it again finishes the rest. Returns how many threads it pruned.

        Ages come from the checkpoint IDs, which LangGraph makes time-ordered
        (UUIDv6), so the sweep needs no timestamp column and no JSON parsing.
        """
        sweep = self._sweep(older_than, batch_size)
        self._prune_jobs([], strategy, keep)  # check the arguments up front
        while (job := sweep.next_job()) is not None:
            for prune in self._prune_jobs(
                sweep.advance(self._run(job)), strategy, keep
            ):
                self._run(prune)
        return sweep.threads

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """Per channel, the writes since its last stored value (``seed``),
        oldest first, read with a few queries per thousand ancestors."""
        if not channels:
            return {}
        return self._run(self._delta_history_job(config, channels))
