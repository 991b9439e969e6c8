"""``SQLAlchemySaver``: the sync face, one line per method of the base
interface on top of ``SaverCore`` (what both savers share) and a
``runtime.driver.Runner`` (which runs its jobs on an ``Engine`` or
``Connection``)."""

from __future__ import annotations

import builtins
import time
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
from langgraph.checkpoint.sqlalchemy.runtime.sweeper import Sweeper
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
        ttl: checkpoint TTL, with the keys of ``langgraph.json``'s
            ``checkpointer.ttl``: ``default_ttl`` (minutes a thread lives
            after its last write; required), ``strategy`` (``"delete"``, the
            default, or ``"keep_latest"``), ``sweep_interval_minutes``
            (default 5) and ``refresh_on_read`` (default ``True``). With
            ``"delete"``, expired threads are not served even before
            ``sweep_ttl()`` or the sweeper (``start_ttl_sweeper()``) removes
            them. ``None`` (the default):
            threads never expire and no statement about expiry runs. See
            docs/operations.md, "Checkpoint TTL".
        force_portable: use the statements written for dialects without a
            native upsert, even where one exists (for testing that path).

    Raises:
        TypeError: ``bind`` is not an ``Engine`` or ``Connection``.
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
        bind: Engine | Connection,
        *,
        serde: SerializerProtocol | None = None,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
        force_portable: bool = False,
        ttl: Mapping[str, Any] | None = None,
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
            ttl=ttl,
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
        serde: SerializerProtocol | None = None,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
        ttl: Mapping[str, Any] | None = None,
    ) -> SQLAlchemySaver:
        """A saver on a new engine for ``url``, which it disposes when closed.

        Use it as a context manager (``with SQLAlchemySaver.from_url(...) as
        saver:``) or call ``close()``. A URL that names no driver gets one:
        ``postgresql://`` → psycopg 3, ``sqlite://`` → the standard library's
        sqlite3, ``mysql://`` → PyMySQL. ``sqlite:///:memory:`` is one shared
        in-memory database for the saver's life. A call that meets a
        connection killed by a server restart runs again on a fresh one.
        With ``poolclass=StaticPool`` the saver keeps its one connection open
        between calls, as the official ``PostgresSaver(conn)`` does, instead
        of a pool checkout per call.

        Args:
            url: the database URL, as a string or a SQLAlchemy ``URL``.
            engine_kwargs: passed to ``create_engine``; they override the
                defaults above (``connect_args`` key by key).
            serde: as for the class.
            schema: as for the class.
            version_table: as for the class.
            ttl: as for the class.

        Returns:
            The saver, which owns its engine.

        Raises:
            sqlalchemy.exc.ArgumentError: ``url`` can't be parsed, or names a
                database SQLAlchemy has no dialect for.
            ImportError: the URL's driver is not installed, or is older than
                this package supports.
            TypeError: ``engine_kwargs["poolclass"]`` is not a pool class.
            ValueError: ``schema`` is empty or not a ``str``, or
                ``engine_kwargs`` make the engine autocommit every statement
                (``isolation_level="AUTOCOMMIT"``).
        """
        engine = make_engine(url, engine_kwargs)
        saver = cls(
            engine, serde=serde, schema=schema, version_table=version_table, ttl=ttl
        )
        saver._owned_engine = engine
        return saver

    def close(self) -> None:
        """Release the saver's connection and, if it made it, its engine.

        Closes the connection the saver keeps on a one-connection engine, and
        disposes of the engine if this saver made it (``from_url``). An engine
        or connection the caller passed in stays open. A running TTL sweeper
        is stopped first.
        """
        self.stop_ttl_sweeper()
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
        """Create the tables and indexes if they are missing.

        Idempotent, and safe when several processes call it at once. With a
        ``schema``, the schema (PostgreSQL) or database (MySQL) is created
        first where it can be.

        Raises:
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule gives up (``runtime.retry``; a statement that failed
                because another process was creating the tables at the same
                moment is run again first).
            TimeoutError: another process's migration held the setup lock
                (MySQL/MariaDB) for more than 60 s.
        """
        self._runner.run(self._setup_job(), contended=True)

    # -- BaseCheckpointSaver -------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Fetch the checkpoint ``config`` names, or the latest of its thread.

        Args:
            config: names the thread (``thread_id``), the namespace
                (``checkpoint_ns``, default ``""``) and, optionally, the
                checkpoint (``checkpoint_id``); without one, the namespace's
                latest checkpoint is read.

        Returns:
            The checkpoint with its metadata, parent config and pending writes
            (in ``writes_sort_key`` order), or ``None`` if there is none.

        Raises:
            InvalidConfigError: ``config`` has no ``configurable`` dict or no
                ``thread_id`` in it, the ``thread_id`` is empty or not a
                ``str``, ``int`` or ``UUID``, or ``checkpoint_ns`` or
                ``checkpoint_id`` is not a ``str``.
            ValueError: a key holds a NUL character, or is longer than its
                column (every database but PostgreSQL bounds the key columns).
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule (``runtime.retry``) gives up.
        """
        return self._run(self._get_tuple_job(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """List checkpoints, newest first.

        Optionally of one thread (and namespace), whose metadata contains
        ``filter``, older than ``before``, at most ``limit``. The filter runs
        in SQL with bound parameters. Checkpoints are read a page at a time,
        each page in its own short transaction, as the iterator advances: no
        connection is held between pages.

        Args:
            config: ``None``, or a config whose ``configurable`` has no
                ``thread_id``, for every thread; else the thread, and the
                namespace if ``checkpoint_ns`` is given (every namespace
                otherwise), and ``checkpoint_id`` to list that one checkpoint.
            filter: key-value pairs (JSON values) a checkpoint's metadata
                must contain.
            before: a config whose ``checkpoint_id`` the listed checkpoints
                are older than.
            limit: the most checkpoints to list; ``None`` for no limit.

        Returns:
            An iterator of checkpoint tuples.

        Raises:
            InvalidConfigError: at the call: ``config["configurable"]`` is not
                a dict, its ``thread_id``, ``checkpoint_ns`` or
                ``checkpoint_id`` is of the wrong type, or ``before`` has no
                ``str`` ``checkpoint_id``.
            TypeError: at the call: ``filter`` is not a dict, has a key that is
                not a ``str`` or a value JSON can't hold, or ``limit`` is not an
                ``int``.
            ValueError: at the call: ``limit`` is negative, or a key of
                ``config`` holds a NUL character or is longer than its column.
            sqlalchemy.exc.DBAPIError: while iterating, the database's error,
                once the retry rule (``runtime.retry``) gives up.
        """
        return iter_pages(self._pager(config, filter, before, limit), self._run)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the values of its changed channels.

        Both are written in one transaction (or one statement). Values are
        serialized before any connection is taken.

        Args:
            config: the thread and namespace to store in; its
                ``checkpoint_id``, if any, is the new checkpoint's parent.
            checkpoint: the checkpoint to store.
            metadata: its metadata, merged with the config's extras and
                stored as JSON.
            new_versions: the channels whose values changed, with their new
                versions; only those values are stored.

        Returns:
            The config that points at the stored checkpoint.

        Raises:
            InvalidConfigError: ``config`` has no ``configurable`` dict or no
                ``thread_id`` in it, the ``thread_id`` is empty or not a
                ``str``, ``int`` or ``UUID``, or ``checkpoint_ns`` or
                ``checkpoint_id`` is not a ``str``.
            TypeError: ``checkpoint`` is not a dict with a ``str`` ``id``, or
                the metadata holds a value JSON can't hold.
            ValueError: a key (the checkpoint ID, a channel name or version, a
                key of ``config``) holds a NUL character or is longer than its
                column.
            PayloadTooLargeError: on MySQL/MariaDB, the write is larger than the
                server's ``max_allowed_packet``; nothing is stored.
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule (``runtime.retry``) gives up.
        """
        return self._run(self._put_job(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes for the checkpoint ``config`` names.

        Idempotent: regular writes already stored are kept as they are, so a
        replayed task changes nothing; special writes (errors, interrupts…)
        overwrite, so the last one of a task wins.

        Args:
            config: names the thread, namespace and checkpoint
                (``checkpoint_id`` is required).
            writes: ``(channel, value)`` pairs, in order.
            task_id: the task that made the writes.
            task_path: the task's path in the graph.

        Raises:
            InvalidConfigError: ``config`` names no ``checkpoint_id``, or is
                invalid as for ``get_tuple``.
            ValueError: ``task_id``, ``task_path``, a channel name or a key of
                ``config`` holds a NUL character or is longer than its column.
            PayloadTooLargeError: on MySQL/MariaDB, the writes are larger than
                the server's ``max_allowed_packet``; nothing is stored.
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule (``runtime.retry``) gives up.
        """
        self._run(self._put_writes_job(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of a thread.

        In one transaction. A thread with nothing stored is no error.

        Args:
            thread_id: the thread to delete.

        Raises:
            InvalidConfigError: ``thread_id`` is empty or not a ``str``,
                ``int`` or ``UUID``.
            ValueError: ``thread_id`` holds a NUL character.
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule (``runtime.retry``) gives up.
        """
        self._run(self._delete_thread_job(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints the given runs created.

        With them go their writes and the blobs only they referenced; other
        checkpoints of the same threads stay. The runs are found by the
        ``run_id`` in the checkpoints' metadata, and all are deleted in one
        transaction.

        Args:
            run_ids: the run IDs.

        Raises:
            TypeError: ``run_ids`` is a single string or not a sequence.
            InvalidConfigError: a run ID is empty or not a ``str``, ``int`` or
                ``UUID``.
            ValueError: a run ID holds a NUL character.
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule (``runtime.retry``) gives up.
        """
        if (job := self._delete_for_runs_job(run_ids)) is not None:
            self._run(job)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy a thread to a new thread ID.

        Every namespace, checkpoint, blob and write of it is copied, in one
        transaction. Nothing is overwritten: the target must have no
        checkpoints. A source with nothing stored copies nothing.

        Args:
            source_thread_id: the thread to copy.
            target_thread_id: the new thread ID.

        Raises:
            InvalidConfigError: either ID is empty or not a ``str``, ``int`` or
                ``UUID``.
            ValueError: the target already has checkpoints, or is the source;
                or an ID holds a NUL character or is longer than its column.
            sqlalchemy.exc.DBAPIError: the database's error. The copy is not
                run again after a lost connection: had it been committed, a
                second attempt would find the target taken.
        """
        self._run(self._copy_thread_job(source_thread_id, target_thread_id))

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep: int | None = None,
    ) -> None:
        """Prune threads: delete their older checkpoints, or the threads whole.

        ``"keep_latest"`` keeps each namespace's latest checkpoint with its
        writes and blobs, and, for ``DeltaChannel`` threads, the ancestors its
        delta channels are rebuilt from; it deletes everything older.
        ``"keep_last"`` does the same keeping the ``keep`` latest checkpoints.
        Each thread is pruned in its own transaction, and a run writing
        meanwhile loses nothing. ``"delete"`` deletes the threads whole, all in
        one transaction. The arguments are all checked before anything is
        deleted.

        Args:
            thread_ids: the threads to prune.
            strategy: ``"keep_latest"``, ``"keep_last"`` or ``"delete"``.
            keep: how many checkpoints ``"keep_last"`` keeps per namespace;
                only with that strategy.

        Raises:
            ValueError: ``strategy`` is unknown, ``"keep_last"`` comes without
                a positive ``int`` ``keep``, or ``keep`` comes with another
                strategy.
            TypeError: ``thread_ids`` is a single string or not a sequence.
            InvalidConfigError: a thread ID is empty or not a ``str``, ``int``
                or ``UUID``.
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule (``runtime.retry``) gives up. Threads already pruned,
                each in its own transaction, stay pruned.
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
        """Prune every thread whose latest checkpoint is older than ``older_than``.

        Threads go by in batches, with the ``strategy`` of ``prune``: each
        batch is found in its own transaction, then pruned as ``prune`` prunes
        it (``"delete"``: the batch's threads in one transaction; the other
        strategies: each thread in its own). An interrupted sweep keeps what
        it did, and running it again finishes the rest.

        Ages come from the checkpoint IDs, which LangGraph makes time-ordered
        (UUIDv6), so the sweep needs no timestamp column and no JSON parsing.

        Args:
            older_than: a moment (a naive ``datetime`` is taken as UTC), or an
                age such as ``timedelta(days=30)``.
            strategy: as for ``prune``; by default the threads are deleted.
            keep: as for ``prune``.
            batch_size: how many stale threads are found, and pruned, at a time.

        Returns:
            How many threads it pruned.

        Raises:
            TypeError: ``older_than`` is not a ``datetime`` or ``timedelta``.
            ValueError: ``batch_size`` is not a positive ``int``, or
                ``strategy`` and ``keep`` are refused as by ``prune``.
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule (``runtime.retry``) gives up. What was pruned before
                stays pruned.
        """
        sweep = self._sweep(older_than, batch_size)
        self._prune_jobs([], strategy, keep)  # check the arguments up front
        while (job := sweep.next_job()) is not None:
            for prune in self._prune_jobs(
                sweep.advance(self._run(job)), strategy, keep
            ):
                self._run(prune)
        return sweep.threads

    # -- checkpoint TTL ------------------------------------------------------

    def sweep_ttl(self, *, strategy: str | None = None, batch_size: int = 100) -> int:
        """Sweep the threads whose TTL has run out; returns how many.

        A thread expires ``default_ttl`` minutes after its last write (or
        read, with ``refresh_on_read``); pinned threads never do. Threads go
        by in batches, each claimed and pruned in one transaction: several
        processes can sweep at once, each thread is swept by one of them, and
        a writer waits at most for the one batch that holds its thread (see
        docs/databases.md for each database's rule).

        Args:
            strategy: ``"delete"`` deletes the threads whole; ``"keep_latest"``
                keeps each namespace's latest checkpoint (and what it needs,
                as ``prune``) and clears the expiry until the next write.
                Default: the ``ttl``'s strategy (``"delete"`` without one).
            batch_size: how many threads one transaction sweeps.

        Returns:
            How many threads this call swept.

        Raises:
            ValueError: ``strategy`` is unknown or ``batch_size`` not a
                positive ``int``.
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule (``runtime.retry``) gives up. Batches already swept stay
                swept.
        """
        sweep = self._ttl_sweep(strategy, batch_size)
        while (job := sweep.next_job()) is not None:
            if sweep.pause:
                time.sleep(sweep.pause)
            sweep.advance(self._run(job))
        return sweep.removed

    def start_ttl_sweeper(self) -> None:
        """Run ``sweep_ttl()`` every ``sweep_interval_minutes`` on a daemon
        thread, until ``stop_ttl_sweeper()`` or ``close()``. The first sweep
        comes one interval after the start; a failed sweep is logged and
        tried again at the next. A second call while it runs does nothing.

        Raises:
            ValueError: the saver has no ``ttl``.
        """
        if self._sweeper is None:
            self._sweeper = Sweeper(
                self.sweep_ttl, self._sweep_interval(), name="checkpoint-ttl-sweeper"
            )
        self._sweeper.start()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread (a batch in progress finishes first).

        Returns:
            Whether it ended within ``timeout`` seconds (``True`` if none ran).
        """
        sweeper, self._sweeper = self._sweeper, None
        return True if sweeper is None else sweeper.stop(timeout)

    def pin_thread(self, thread_id: str) -> None:
        """Keep a thread forever: it never expires nor is swept, whatever its
        TTL, until ``unpin_thread``. A thread not written yet can be pinned.
        ``delete_thread`` still deletes it (and its pin); a copy of it is
        not pinned.

        Raises:
            InvalidConfigError: ``thread_id`` is empty or not a ``str``,
                ``int`` or ``UUID``.
            ValueError: ``thread_id`` holds a NUL character or is longer than
                its column.
        """
        self._run(self._pin_job(thread_id, True))

    def unpin_thread(self, thread_id: str) -> None:
        """Undo ``pin_thread``: the thread expires again as its TTL says (an
        expiry already past makes it expired at once). Unpinning a thread
        that is not pinned is no error."""
        self._run(self._pin_job(thread_id, False))

    def list_pinned_threads(self) -> builtins.list[str]:
        """The pinned thread IDs, in ID order."""
        return self._run(self._pinned_job())

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """Per channel, the writes since its last stored value.

        What a ``DeltaChannel`` is rebuilt from: the writes, oldest first,
        since the checkpoint that holds the channel's last stored value
        (``seed``), read with a few queries per thousand ancestors.

        Args:
            config: names the thread, namespace and, optionally, the checkpoint
                (its namespace's latest without one).
            channels: the channels to read; none returns ``{}`` at once,
                without checking ``config``.

        Returns:
            For each channel, ``{"writes": [...]}`` and its ``"seed"`` where
            there is one; no writes for any when the namespace has no
            checkpoint.

        Raises:
            InvalidConfigError: ``config`` has no ``configurable`` dict or no
                ``thread_id`` in it, the ``thread_id`` is empty or not a
                ``str``, ``int`` or ``UUID``, or ``checkpoint_ns`` or
                ``checkpoint_id`` is not a ``str``.
            ValueError: a key holds a NUL character, or is longer than its
                column (every database but PostgreSQL bounds the key columns).
            sqlalchemy.exc.DBAPIError: the database's error, once the retry
                rule (``runtime.retry``) gives up.
        """
        if not channels:
            return {}
        return self._run(self._delta_history_job(config, channels))
