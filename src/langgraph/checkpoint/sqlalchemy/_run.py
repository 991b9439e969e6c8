"""The two drivers of plans (see ``repository.plan``).

A plan never knows whether it runs on an ``Engine`` or an ``AsyncEngine``:
:func:`run` drives it on a ``Connection``, and :func:`arun` on an
``AsyncConnection`` runs that same sync driver in SQLAlchemy's greenlet
(``run_sync``), as ``AsyncConnection.execute`` itself does. Each shell
opens one transaction per plan around them.

Statements marked ``hot`` (long-lived objects on the path of every
superstep) skip ``Connection.execute``: see :mod:`._compiled`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import (
    AsyncIterator,
    Callable,
    Iterator,
    Mapping,
)
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar, cast

from langgraph.checkpoint.sqlalchemy.repository.plan import (
    Call,
    Execute,
    Job,
    Plan,
)
from langgraph.checkpoint.sqlalchemy.runtime.compiled import (
    CompiledStatements,
    is_single,
)
from langgraph.checkpoint.sqlalchemy.runtime.greenlet import run_in_greenlet
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = [
    "RETRY_DELAYS",
    "AsyncBinding",
    "BindSettings",
    "Binding",
    "arun",
    "retry_delay",
    "run",
]

T = TypeVar("T")


def run(
    plan: Plan[T],
    conn: Connection,
    options: Mapping[str, Any] | None = None,
    statements: CompiledStatements | None = None,
) -> T:
    """Drive ``plan`` on a sync connection and return what it returns.

    ``options`` are execution options for every statement (the saver's
    ``schema_translate_map``); ``statements`` compiles the ``hot`` ones."""
    try:
        step = next(plan)
        while True:
            if isinstance(step, Call):
                result = step.fn(conn)
            else:
                result = _execute(step, conn, options, statements)
            step = plan.send(result)
    except StopIteration as done:
        return cast(T, done.value)


def _execute(
    step: Execute,
    conn: Connection,
    options: Mapping[str, Any] | None,
    statements: CompiledStatements | None,
) -> Any:
    """One statement: on the DBAPI cursor when it is hot and compiled,
    through ``Connection.execute`` otherwise (executemany included)."""
    params = step.params
    if statements is not None and step.hot and is_single(params):
        compiled = statements.get(step.statement, params)
        if compiled is not None:
            return statements.execute(conn, compiled, params)
    return conn.execute(step.statement, params, execution_options=options)


async def arun(
    plan: Plan[T],
    conn: AsyncConnection,
    options: Mapping[str, Any] | None = None,
    statements: CompiledStatements | None = None,
) -> T:
    """Drive ``plan`` on an async connection: :func:`run`, in the greenlet
    where SQLAlchemy turns the driver's awaits into plain calls."""
    return await conn.run_sync(
        lambda sync_conn: run(plan, sync_conn, options, statements)
    )


# Seconds to wait before each new attempt of an idempotent job that lost its
# connection: at once first (the pool has been invalidated and a restarted
# server is usually back), then backing off while a server comes back up.
# Bounded: about 3.5 s in all, then the error surfaces.
RETRY_DELAYS = (0.0, 0.25, 1.0, 2.25)


def retry_delay(
    job: Job[Any],
    error: DBAPIError,
    attempt: int,
    *,
    reached: bool,
    raced: bool = False,
) -> float | None:
    """How long to wait before attempt ``attempt + 1`` of ``job`` after
    ``error``, or None to give up and raise it.

    Only a job that may run twice is retried, and only when the connection
    was lost (the pool invalidated it), when the database rolled its whole
    transaction back for losing a race with another (``raced``: a deadlock
    or a serialization failure, whose documented answer is to run it
    again), or, once the database has been ``reached`` before, when a
    connection could not be made (an ``OperationalError`` with no statement:
    the server is not answering yet). A database never reached (a wrong
    host or password) fails at once.
    """
    if not job.retry or attempt >= len(RETRY_DELAYS):
        return None
    lost = error.connection_invalidated
    unreachable = isinstance(error, OperationalError) and error.statement is None
    again = lost or raced or (reached and unreachable)
    return RETRY_DELAYS[attempt] if again else None


@dataclass(frozen=True, slots=True)
class BindSettings:
    """How every job on one bind runs, worked out once from its engine
    (``dialects.bind_settings``).

    Attributes:
        options: execution options of every statement (the saver's
            ``schema_translate_map``).
        autocommit_options: the options of one-statement jobs, or None where
            such a job takes a transaction like the rest.
        read_only_options: the options of jobs that only read.
        setup_cursor: applied to the cursor of the hot statements (see
            ``dialects.binary_results``).
        lost_a_race: whether an error means the database rolled the
            transaction back for a deadlock or a serialization failure (see
            ``dialects.lost_a_race``); such a job runs again, but only in a
            transaction of the saver's own, never inside a caller's.
        single_writer: the database takes one writing transaction at a time
            (SQLite), so the saver's own writers take turns on a lock of
            its own before they check out a connection: SQLite's busy
            handler makes a blocked writer sleep in steps of milliseconds,
            which a lock in the process never does. Readers go on unhindered
            (WAL). A writer waits for the saver's previous one with no time
            limit (that is this process's own work under way); writers in
            other processes still meet the busy timeout.
    """

    options: Mapping[str, Any] | None
    autocommit_options: Mapping[str, Any] | None
    read_only_options: Mapping[str, Any]
    setup_cursor: Callable[[Any], None] | None = None
    single_writer: bool = False
    lost_a_race: Callable[[DBAPIError], bool] = lambda _error: False


E = TypeVar("E", Engine, AsyncEngine)
L = TypeVar("L", threading.RLock, asyncio.Lock)


class _Place(Generic[E, L]):
    """What both bindings hold: the bind, the lock that serializes a shared
    connection, the lock writers take turns on (``single_writer``), the
    execution options of every statement, the hot statements compiled for
    this bind, and the same pool with the options of one-statement and
    read-only jobs."""

    def __init__(
        self,
        bind: E | Connection | AsyncConnection,
        engine: E | None,
        lock: L | None,
        writers: L | None,
        settings: BindSettings,
    ) -> None:
        self.lock: L | None = lock
        # With a shared connection every job takes turns already.
        self.writers: L | None = writers if lock is None else None
        self.options = settings.options
        self.reached = False  # a connection was had once: see retry_delay
        # On a caller's connection the whole transaction is theirs: a
        # deadlock may have rolled back more than this job (MySQL does).
        self.retries_races = engine is not None
        self.lost_a_race = settings.lost_a_race
        self.statements = CompiledStatements(
            bind.dialect,
            (settings.options or {}).get("schema_translate_map"),
            settings.setup_cursor,
        )
        self.autocommit: E | None = None
        self.reader: E | None = None
        if engine is not None:
            if settings.autocommit_options is not None:
                self.autocommit = engine.execution_options(
                    **settings.autocommit_options
                )
            self.reader = engine.execution_options(**settings.read_only_options)

    def raced(self, error: DBAPIError) -> bool:
        """Whether ``error`` is a lost race this bind may run again."""
        return self.retries_races and self.lost_a_race(error)

    def writer_turn(self, job: Job[Any]) -> L | None:
        """The lock ``job`` must hold, checkout included, or None."""
        return None if job.read_only else self.writers


class Binding(_Place[Engine, threading.RLock]):
    """Where a sync saver's jobs run.

    ``keep_connection``: keep one connection open between jobs instead of
    checking one out for each (see ``engines.keeps_a_connection``: a
    one-connection engine whose connections autocommit at the driver). Jobs
    must take turns (a lock, or the async twin's)."""

    def __init__(
        self,
        bind: Engine | Connection,
        lock: threading.RLock | None,
        settings: BindSettings,
        *,
        keep_connection: bool = False,
    ) -> None:
        engine = bind if isinstance(bind, Engine) else None
        writers = threading.RLock() if settings.single_writer else None
        super().__init__(bind, engine, lock, writers, settings)
        self.bind = bind
        self.keep_connection = keep_connection and engine is not None
        self._kept: Connection | None = None
        self._kept_options: Mapping[str, Any] | None = None
        # The execution options of one-statement, read-only and other jobs,
        # each naming every key, so that setting one unsets the others'.
        autocommit = settings.autocommit_options or {}
        unset = dict.fromkeys([*autocommit, *settings.read_only_options])
        self._job_options = (
            {**unset, **autocommit},
            {**unset, **settings.read_only_options},
            unset,
        )

    @contextmanager
    def transaction(self, job: Job[Any]) -> Iterator[Connection]:
        """One transaction for ``job``: committed on success, rolled back on
        error. On a caller's ``Connection`` already in a transaction, a
        savepoint, so the caller's transaction decides what is committed."""
        with self.lock if self.lock is not None else nullcontext():
            if self.keep_connection:
                with self._on_kept_connection(job) as conn:
                    yield conn
            elif job.autocommit and self.autocommit is not None:
                with self.autocommit.connect() as conn:
                    yield conn
            elif isinstance(self.bind, Engine):
                engine = self.reader if job.read_only and self.reader else self.bind
                with engine.begin() as conn:
                    yield conn
            else:
                conn = self.bind
                with conn.begin_nested() if conn.in_transaction() else conn.begin():
                    yield conn

    @contextmanager
    def _on_kept_connection(self, job: Job[Any]) -> Iterator[Connection]:
        conn = self._kept
        if conn is None:
            assert isinstance(self.bind, Engine)
            conn = self._kept = self.bind.connect()
            self._kept_options = None
        # One connection serves every kind of job: it takes the options of
        # this one (only the begin listener reads them; see dialects).
        if job.autocommit:
            options = self._job_options[0]
        else:
            options = self._job_options[1 if job.read_only else 2]
        if options is not self._kept_options:
            conn.execution_options(**options)
            self._kept_options = options
        try:
            if not job.autocommit:
                with conn.begin():
                    yield conn
                return
            # One statement, committed by the driver. One that went through
            # Connection.execute began SQLAlchemy's transaction (sending no
            # BEGIN): end it, as a check-in would have.
            try:
                yield conn
            except DBAPIError:
                if conn.in_transaction():
                    conn.rollback()
                raise
            if conn.in_transaction():
                conn.commit()
        except DBAPIError:
            raise  # SQLAlchemy invalidated the connection if it was lost
        except Exception as exc:
            # A plan's own error (a refused copy) leaves the connection as it
            # was; a driver error SQLAlchemy did not wrap may have broken it.
            if isinstance(exc, conn.dialect.loaded_dbapi.Error):
                self.release(invalidate=True)
            raise
        except BaseException:
            # Interrupted (a cancelled task, Ctrl-C) with a statement maybe
            # still in flight: start over on a new connection.
            self.release(invalidate=True)
            raise

    def release(self, *, invalidate: bool = False) -> None:
        """Close the connection kept open between jobs (the next job opens a
        new one); ``invalidate`` closes it without a word to the server."""
        with self.lock if self.lock is not None else nullcontext():
            conn, self._kept = self._kept, None
        if conn is not None:
            if invalidate:
                conn.invalidate()
            conn.close()

    def attempt(self, job: Job[T]) -> T:
        """Run ``job`` once, in its transaction."""
        turn = self.writer_turn(job)
        with turn if turn is not None else nullcontext(), self.transaction(job) as conn:
            self.reached = True
            return run(job.make(), conn, self.options, self.statements)

    def run(self, job: Job[T]) -> T:
        """Run ``job``; again, after :func:`retry_delay`, if it may and lost
        its connection."""
        attempt = 0
        while True:
            try:
                return self.attempt(job)
            except DBAPIError as exc:
                delay = retry_delay(
                    job, exc, attempt, reached=self.reached, raced=self.raced(exc)
                )
                if delay is None:
                    raise
            time.sleep(delay)
            attempt += 1


class AsyncBinding(_Place[AsyncEngine, asyncio.Lock]):
    """The async twin of :class:`Binding`."""

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection,
        lock: asyncio.Lock | None,
        settings: BindSettings,
        *,
        keep_connection: bool = False,
    ) -> None:
        engine = bind if isinstance(bind, AsyncEngine) else None
        writers = asyncio.Lock() if settings.single_writer else None
        super().__init__(bind, engine, lock, writers, settings)
        self.bind = bind
        # On an engine, a whole attempt (checkout, transaction, statements,
        # check-in) runs as the sync Binding runs it, on the engine's
        # sync_engine, in one SQLAlchemy greenlet: through an AsyncConnection
        # it took one greenlet to connect, one per run_sync and one to close,
        # each a switch out to the event loop and back, which cost concurrent
        # tasks throughput (docs/performance.md). A shared connection (the lock) keeps the path below: its turns must
        # be taken on the loop, by an asyncio.Lock.
        # A one-connection engine whose connection is kept (the lock is then
        # only for turns) goes the same way, the lock taken around it.
        self.in_one_greenlet: Binding | None = None
        if engine is not None and (lock is None or keep_connection):
            # Writers take turns here, on the loop: a thread lock taken in a
            # greenlet would block the loop while its holder awaits.
            self.in_one_greenlet = Binding(
                engine.sync_engine,
                None,
                replace(settings, single_writer=False),
                keep_connection=keep_connection,
            )

    @asynccontextmanager
    async def transaction(self, job: Job[Any]) -> AsyncIterator[AsyncConnection]:
        async with self.lock if self.lock is not None else _NULL_ALOCK:
            if job.autocommit and self.autocommit is not None:
                async with self.autocommit.connect() as conn:
                    yield conn
            elif isinstance(self.bind, AsyncEngine):
                engine = self.reader if job.read_only and self.reader else self.bind
                async with engine.begin() as conn:
                    yield conn
            else:
                conn = self.bind
                async with (
                    conn.begin_nested() if conn.in_transaction() else conn.begin()
                ):
                    yield conn

    async def attempt(self, job: Job[T]) -> T:
        """Run ``job`` once, in its transaction."""
        turn = self.writer_turn(job)
        async with turn if turn is not None else _NULL_ALOCK:
            if self.in_one_greenlet is not None:
                async with self.lock if self.lock is not None else _NULL_ALOCK:
                    return await run_in_greenlet(self.in_one_greenlet.attempt, job)
            async with self.transaction(job) as conn:
                self.reached = True
                return await arun(job.make(), conn, self.options, self.statements)

    async def release(self) -> None:
        """Close the connections kept open between jobs, if any."""
        if self.in_one_greenlet is not None:
            async with self.lock if self.lock is not None else _NULL_ALOCK:
                await run_in_greenlet(self.in_one_greenlet.release)

    async def run(self, job: Job[T]) -> T:
        attempt = 0
        while True:
            try:
                return await self.attempt(job)
            except DBAPIError as exc:
                reached = self.reached or bool(
                    self.in_one_greenlet and self.in_one_greenlet.reached
                )
                delay = retry_delay(
                    job, exc, attempt, reached=reached, raced=self.raced(exc)
                )
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            attempt += 1


class _NullAsyncLock:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NULL_ALOCK = _NullAsyncLock()
