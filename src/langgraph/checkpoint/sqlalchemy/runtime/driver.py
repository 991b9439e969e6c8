"""The driver: runs plans (``repository.plan``) on connections, one job at
a time, under the bind's :class:`~.policy.TransactionPolicy` and the one
retry rule (:mod:`.retry`).

A plan never knows whether it runs on an ``Engine`` or an ``AsyncEngine``:
:func:`run` drives it on a ``Connection``, and :func:`arun` on an
``AsyncConnection`` runs that same sync driver in SQLAlchemy's greenlet
(``run_sync``), as ``AsyncConnection.execute`` itself does. A
:class:`Runner` (sync) or :class:`AsyncRunner` opens one transaction per job
around them and runs the job again where the retry rule says so; what both
decide alike is in :class:`RunnerBase`, so that each keeps only its own
``with`` or ``async with``.

Statements marked ``hot`` (long-lived objects on the path of every
superstep) skip ``Connection.execute``: see :mod:`.compiled`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import replace
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
from langgraph.checkpoint.sqlalchemy.runtime.engines import claim_spare
from langgraph.checkpoint.sqlalchemy.runtime.greenlet import run_in_greenlet
from langgraph.checkpoint.sqlalchemy.runtime.policy import TransactionPolicy
from langgraph.checkpoint.sqlalchemy.runtime.retry import retry_delay
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["AsyncRunner", "Runner", "RunnerBase", "arun", "run"]

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


E = TypeVar("E", Engine, AsyncEngine)
C = TypeVar("C", Connection, AsyncConnection)
L = TypeVar("L", threading.RLock, asyncio.Lock)


class RunnerBase(Generic[E, C, L]):
    """What both runners hold and decide alike: the bind, the lock that
    serializes a shared connection (``takes_turns``), the lock writers take
    turns on (``single_writer``), the execution options of every statement,
    the hot statements compiled for this bind, the same pool with the
    options of one-statement and read-only jobs, how a job's transaction is
    opened, and when a failed attempt runs again."""

    def __init__(
        self,
        bind: E | C,
        engine_type: type[E],
        policy: TransactionPolicy,
        options: Mapping[str, Any] | None,
        new_lock: Callable[[], L],
    ) -> None:
        engine = bind if isinstance(bind, engine_type) else None
        self.engine: E | None = engine
        self.connection: C | None = None if engine is not None else cast(C, bind)
        self.lock: L | None = new_lock() if policy.takes_turns else None
        # With a shared connection every job takes turns already.
        self.writers: L | None = (
            new_lock() if policy.single_writer and self.lock is None else None
        )
        self.options = options
        self.reached = False  # a connection was had once: see retry_delay
        self.unchecked = policy.check_first_connection
        # On a caller's connection the whole transaction is theirs: a
        # deadlock may have rolled back more than this job (MySQL does).
        self.retries_races = engine is not None
        self.policy = policy
        self.statements = CompiledStatements(
            bind.dialect,
            (options or {}).get("schema_translate_map"),
            policy.setup_cursor,
        )
        self.autocommit: E | None = None
        self.reader: E | None = None
        if engine is not None:
            if policy.autocommit_options is not None:
                self.autocommit = engine.execution_options(**policy.autocommit_options)
            self.reader = engine.execution_options(**policy.read_only_options)

    def writer_turn(self, job: Job[Any]) -> L | None:
        """The lock ``job`` must hold, checkout included, or None."""
        return None if job.read_only else self.writers

    def opening(self, job: Job[Any]) -> tuple[Any, C | None]:
        """What opens ``job``'s transaction (to enter with ``with`` or
        ``async with``), and the caller's connection when the job runs on
        it (what is entered is then a transaction, not a connection).

        On a caller's connection already in a transaction, a savepoint, so
        the caller's transaction decides what is committed."""
        if job.autocommit and self.autocommit is not None:
            return self.autocommit.connect(), None
        if self.engine is not None:
            reads = self.reader if job.read_only else None
            return (reads if reads is not None else self.engine).begin(), None
        conn = cast(C, self.connection)
        return (conn.begin_nested() if conn.in_transaction() else conn.begin()), conn

    def has_reached(self) -> bool:
        """Whether a connection to the database was had once."""
        return self.reached

    def check_once(self, conn: Connection) -> None:
        """The policy's ``check_first_connection``, on the first connection
        a job of this runner gets (again on the next if it failed)."""
        check = self.unchecked
        if check is not None:
            check(conn)
            self.unchecked = None

    def delay_before_retry(
        self, job: Job[Any], error: DBAPIError, attempt: int, *, contended: bool
    ) -> float | None:
        """:func:`.retry.retry_delay` for this bind."""
        return retry_delay(
            job,
            error,
            attempt,
            reached=self.has_reached(),
            lost_a_race=self.retries_races and self.policy.lost_a_race(error),
            contended=contended,
        )


class Runner(RunnerBase[Engine, Connection, threading.RLock]):
    """Runs a sync saver's jobs on an ``Engine`` or ``Connection``.

    With the policy's ``keep_connection`` it keeps one connection open
    between jobs instead of checking one out for each; jobs then take turns
    (its lock, or the async runner's)."""

    def __init__(
        self,
        bind: Engine | Connection,
        policy: TransactionPolicy,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(bind, Engine, policy, options, threading.RLock)
        self.keep_connection = policy.keep_connection and self.engine is not None
        pooled = self.engine is not None and not self.keep_connection
        # Each job checks a connection out of the engine's pool, and nothing
        # else: see attempt.
        self.direct = pooled and self.lock is None and self.writers is None
        # A pool's connection kept aside (claim_spare), for a call that
        # finds it free: holding the lock is having it. Where writers take
        # turns (single_writer), a writer looks for it in its turn, a reader
        # at once; no one waits for it: a call that finds it taken checks
        # out of the pool.
        self.spare: threading.Lock | None = (
            threading.Lock()
            if pooled
            and self.lock is None
            and self.engine is not None
            and claim_spare(self.engine)
            else None
        )
        self._kept: Connection | None = None
        self._kept_options: Mapping[str, Any] | None = None
        # The execution options of one-statement, read-only and other jobs,
        # each naming every key, so that setting one unsets the others'.
        autocommit = policy.autocommit_options or {}
        unset = dict.fromkeys([*autocommit, *policy.read_only_options])
        self._job_options = (
            {**unset, **autocommit},
            {**unset, **policy.read_only_options},
            unset,
        )

    @contextmanager
    def transaction(self, job: Job[Any]) -> Iterator[Connection]:
        """One transaction for ``job``: committed on success, rolled back on
        error (see :meth:`RunnerBase.opening`)."""
        with self.lock if self.lock is not None else nullcontext():
            if self.keep_connection:
                with self._on_kept_connection(job) as conn:
                    yield conn
                return
            opener, caller = self.opening(job)
            with opener as opened:
                yield opened if caller is None else caller

    @contextmanager
    def _on_kept_connection(self, job: Job[Any]) -> Iterator[Connection]:
        conn = self._kept
        if conn is not None and conn.invalidated:
            # Lost with its server: connect anew here rather than let the
            # next statement reconnect inside Connection.execute, whose error
            # would carry that statement and read as the statement's failure,
            # not as a server still coming back (see retry.retry_delay).
            self._release()
            conn = None
        if conn is None:
            assert self.engine is not None
            conn = self.engine.connect()
            self._kept = conn
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
            # BEGIN): end it, as a check-in would have, whatever failed (a
            # value that did not decode too), or the next job's begin()
            # would be refused.
            try:
                yield conn
            except Exception:
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
                self._release(invalidate=True)
            raise
        except BaseException:
            # Interrupted (a cancelled task, Ctrl-C) with a statement maybe
            # still in flight: start over on a new connection.
            self._release(invalidate=True)
            raise

    def release(self, *, invalidate: bool = False) -> None:
        """Close the connection kept open between jobs (the next job opens a
        new one).

        Args:
            invalidate: close it without a word to the server."""
        # The spare only once no job has it (a job releases it itself
        # through _release, holding the spare's lock already).
        with self.spare if self.spare is not None else nullcontext():
            self._release(invalidate=invalidate)

    def release_kept(self) -> None:
        """:meth:`release` for a caller that holds the spare's lock already
        (or where there is none)."""
        self._release()

    def _release(self, *, invalidate: bool = False) -> None:
        with self.lock if self.lock is not None else nullcontext():
            conn, self._kept = self._kept, None
        if conn is not None:
            if invalidate:
                conn.invalidate()
            conn.close()

    def attempt(self, job: Job[T]) -> T:
        """Run ``job`` once, in its transaction."""
        if self.unchecked is None:
            # The spare, for a job that finds it free; else a checkout, on a
            # pooled engine with no turns to take. A superstep's every call
            # comes here, so no context-manager generators in between (after
            # the first connection's check, which the path below makes).
            spare = self.spare
            if self.writers is None or job.read_only:
                if spare is not None and spare.acquire(blocking=False):
                    return self._on_spare(job, spare)
                if self.direct:
                    opener, _ = self.opening(job)
                    with opener as conn:
                        self.reached = True
                        return run(job.new_plan(), conn, self.options, self.statements)
            elif spare is not None:
                # A writer where writers take turns: the spare in its turn,
                # if free (no one ever waits for it); else the path below.
                with self.writers:
                    if spare.acquire(blocking=False):
                        return self._on_spare(job, spare)
        turn = self.writer_turn(job)
        with turn if turn is not None else nullcontext(), self.transaction(job) as conn:
            self.reached = True
            self.check_once(conn)
            return run(job.new_plan(), conn, self.options, self.statements)

    def _on_spare(self, job: Job[T], spare: threading.Lock) -> T:
        """Run ``job`` on the connection kept aside, whose lock the caller
        has just taken; give the lock back after."""
        try:
            with self._on_kept_connection(job) as conn:
                self.reached = True
                return run(job.new_plan(), conn, self.options, self.statements)
        finally:
            spare.release()

    def run(self, job: Job[T], *, contended: bool = False) -> T:
        """Run ``job``, again where the retry rule says so.

        Args:
            job: what to run.
            contended: ``job`` races the same job in other processes (see
                :func:`.retry.retry_delay`).

        Returns:
            What its plan returns.

        Raises:
            DBAPIError: the last attempt's error, once the rule gives up.
        """
        attempt = 0
        while True:
            try:
                return self.attempt(job)
            except DBAPIError as exc:
                delay = self.delay_before_retry(job, exc, attempt, contended=contended)
                if delay is None:
                    clearer = self.policy.explain(exc)
                    if clearer is None:
                        raise
                    raise clearer from exc
            time.sleep(delay)
            attempt += 1


class AsyncRunner(RunnerBase[AsyncEngine, AsyncConnection, asyncio.Lock]):
    """Runs an async saver's jobs on an ``AsyncEngine`` or
    ``AsyncConnection``: on an engine, each attempt is a sync
    :class:`Runner`'s, in one greenlet."""

    def __init__(
        self,
        bind: AsyncEngine | AsyncConnection,
        policy: TransactionPolicy,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(bind, AsyncEngine, policy, options, asyncio.Lock)
        # On an engine, a whole attempt (checkout, transaction, statements,
        # check-in) runs as the sync Runner runs it, on the engine's
        # sync_engine, in one SQLAlchemy greenlet: through an AsyncConnection
        # it took one greenlet to connect, one per run_sync and one to close,
        # each a switch out to the event loop and back, which cost concurrent
        # tasks throughput (docs/performance.md). A shared connection (the
        # lock) keeps the path below: its turns must be taken on the loop, by
        # an asyncio.Lock.
        # A one-connection engine whose connection is kept (the lock is then
        # only for turns) goes the same way, the lock taken around it.
        self.in_one_greenlet: Runner | None = None
        engine = self.engine
        if engine is not None and (self.lock is None or policy.keep_connection):
            # Turns are taken here, on the loop: a thread lock taken in a
            # greenlet would block the loop while its holder awaits.
            self.in_one_greenlet = Runner(
                engine.sync_engine,
                replace(policy, takes_turns=False, single_writer=False),
                options,
            )

    @asynccontextmanager
    async def transaction(self, job: Job[Any]) -> AsyncIterator[AsyncConnection]:
        """One transaction for ``job`` (see :meth:`Runner.transaction`)."""
        async with self.lock if self.lock is not None else _NULL_ALOCK:
            opener, caller = self.opening(job)
            async with opener as opened:
                yield opened if caller is None else caller

    async def attempt(self, job: Job[T]) -> T:
        """Run ``job`` once, in its transaction."""
        turn = self.writer_turn(job)
        async with turn if turn is not None else _NULL_ALOCK:
            if self.in_one_greenlet is not None:
                async with self.lock if self.lock is not None else _NULL_ALOCK:
                    return await run_in_greenlet(self.in_one_greenlet.attempt, job)
            async with self.transaction(job) as conn:
                self.reached = True
                if self.unchecked is not None:
                    await conn.run_sync(self.check_once)
                return await arun(job.new_plan(), conn, self.options, self.statements)

    async def release(self) -> None:
        """Close the connections kept open between jobs, if any."""
        inner = self.in_one_greenlet
        if inner is None:
            return
        async with self.lock if self.lock is not None else _NULL_ALOCK:
            spare = inner.spare
            if spare is None:
                await run_in_greenlet(inner.release)
                return
            # A task running on the connection kept aside holds its thread
            # lock while it awaits the server on this loop: waiting for the
            # lock in the greenlet (Runner.release) would stop the loop, and
            # that task with it. Wait here, on the loop, instead: polled, as
            # the lock is a thread's, given back in a greenlet that knows no
            # event to set (and closing is rare).
            while not spare.acquire(blocking=False):  # noqa: ASYNC110
                await asyncio.sleep(0.001)
            try:
                await run_in_greenlet(inner.release_kept)
            finally:
                spare.release()

    def has_reached(self) -> bool:
        """Whether a connection to the database was had once, here or by
        the sync runner in the greenlet."""
        inner = self.in_one_greenlet
        return self.reached or (inner is not None and inner.reached)

    async def run(self, job: Job[T], *, contended: bool = False) -> T:
        """See :meth:`Runner.run`."""
        attempt = 0
        while True:
            try:
                return await self.attempt(job)
            except DBAPIError as exc:
                delay = self.delay_before_retry(job, exc, attempt, contended=contended)
                if delay is None:
                    clearer = self.policy.explain(exc)
                    if clearer is None:
                        raise
                    raise clearer from exc
            await asyncio.sleep(delay)
            attempt += 1


class _NullAsyncLock:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NULL_ALOCK = _NullAsyncLock()
