"""What ours sends, caught and replayed: the floor under the PostgreSQL superstep.

:func:`captured` keeps every statement an engine runs, as it went to the
driver. :func:`statement_floor` uses it for our statements with no saver.

A superstep is three calls, and each waits for the server. However little
Python a saver runs, it cannot beat the time those three statements take by
themselves. This arm measures that: each round, our saver does its
supersteps on a recording database, untimed, while :func:`captured`
keeps every statement and its parameters exactly as they went to
psycopg; then the timed part sends the same statements, in order, on a raw
psycopg connection to a second database that has seen the same history, as
prepared statements, reading every row, with nothing else around them.

Its ratio to the official saver is the best ratio any saver sending these
statements could reach on this machine: a target below it asks for fewer
round trips or less server work, not less Python. The same round also times
three empty prepared statements (``SELECT 1``) per superstep on that
connection: the bare round trips, the floor of any saver whose three calls
each wait for the server, whatever its statements.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import Engine, event

from bench.adapters import POSTGRES, ours
from bench.plans import drive
from bench.servers import BenchEnv, libpq_url
from bench.workload import seed_thread, superstep

KEY = "statement_floor"
LABEL = "our statements on raw psycopg (no saver)"
OFFICIAL_KEY = "official_statement_floor"
OFFICIAL_LABEL = "the official saver's statements on raw psycopg"
EMPTY_LABEL = "3 empty round trips (SELECT 1)"
# A superstep's calls, each one round trip: the least any durable saver makes.
ROUND_TRIPS = 3
_EMPTY = "SELECT 1"

Statement = tuple[str, Any]


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement (and its DBAPI parameters) run on ``engine`` meanwhile."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _statements_of(saver: Any, plans: Iterator[Any]) -> list[Statement]:
    """What ``saver`` sent to run ``plans``, as it went to the driver."""
    with captured(saver.bind) as sent:
        for plan in plans:
            drive(plan, saver)
    return sent


def _empty_round_trips(conn: Any, count: int) -> None:
    with conn.cursor(binary=True) as cursor:
        for _ in range(count):
            cursor.execute(_EMPTY, prepare=True)
            cursor.fetchall()


def _replay(conn: Any, statements: Sequence[Statement]) -> None:
    with conn.cursor(binary=True) as cursor:
        for sql, params in statements:
            cursor.execute(sql, params, prepare=True)
            if cursor.pgresult is not None and cursor.pgresult.ntuples:
                cursor.fetchall()


@contextmanager
def statement_floor(
    env: BenchEnv, tag: str, threads: Sequence[str], steps: int
) -> Iterator[Callable[[], Mapping[str, float]]]:
    """A round function: ``steps`` supersteps' statements replayed, timed
    per superstep, after recording them on a saver of ours."""
    import psycopg

    from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

    recorded, replayed = (
        env.pg(f"{tag}_floor_recorded"),
        env.pg(f"{tag}_floor_replayed"),
    )
    with SQLAlchemySaver.from_url(replayed) as replica:
        replica.setup()  # the same tables and indexes as the recorder's
    with ExitStack() as stack:
        saver = stack.enter_context(ours(POSTGRES, one_connection=True).open(recorded))
        conn = stack.enter_context(
            psycopg.connect(libpq_url(replayed), autocommit=True)
        )
        next_version = saver.get_next_version
        _replay(
            conn,
            _statements_of(saver, (seed_thread(t, next_version) for t in threads)),
        )
        turn = itertools.cycle(threads)

        def round_() -> Mapping[str, float]:
            sent = _statements_of(
                saver, (superstep(next(turn), next_version) for _ in range(steps))
            )
            cpu, start = time.process_time(), time.perf_counter()
            _replay(conn, sent)
            replayed, cpu = time.perf_counter(), time.process_time() - cpu
            _empty_round_trips(conn, ROUND_TRIPS * steps)
            emptied = time.perf_counter()
            return {
                "superstep": (replayed - start) / steps,
                "cpu": cpu / steps,
                "round_trips": (emptied - replayed) / steps,
            }

        yield round_


# -- the official saver's statements ------------------------------------------

# One psycopg call as the official saver made it: execute or executemany, the
# query, its parameters, and the pipeline it ran in (None outside one).
Call = tuple[str, Any, Any, Any]


@contextmanager
def _psycopg_calls() -> Iterator[list[Call]]:
    """Every ``execute``/``executemany`` of a psycopg ``Cursor`` meanwhile."""
    import psycopg

    seen: list[Call] = []
    execute, executemany = psycopg.Cursor.execute, psycopg.Cursor.executemany

    def record_execute(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        seen.append(("execute", query, params, self.connection._pipeline))
        return execute(self, query, params, **kw)

    def record_executemany(self: Any, query: Any, params: Any, **kw: Any) -> Any:
        params = list(params)
        seen.append(("executemany", query, params, self.connection._pipeline))
        return executemany(self, query, params, **kw)

    psycopg.Cursor.execute = record_execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = record_executemany  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        psycopg.Cursor.execute = execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]


def _official_calls(saver: Any, plans: Iterator[Any]) -> list[Call]:
    with _psycopg_calls() as seen:
        for plan in plans:
            drive(plan, saver)
    return seen


def _replay_calls(conn: Any, calls: Sequence[Call]) -> None:
    """``calls`` on ``conn`` (prepared from the first execution, as the
    official saver's own connection is), a pipeline where they had one."""
    with conn.cursor(binary=True) as cursor:
        i = 0
        while i < len(calls):
            pipeline = calls[i][3]
            j = i + 1
            while pipeline is not None and j < len(calls) and calls[j][3] is pipeline:
                j += 1
            with conn.pipeline() if pipeline is not None else _nothing():
                for kind, query, params, _ in calls[i:j]:
                    if kind == "executemany":
                        cursor.executemany(query, params)
                    else:
                        cursor.execute(query, params)
                        result = cursor.pgresult
                        if pipeline is None and result is not None and result.ntuples:
                            cursor.fetchall()
            i = j


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def official_statement_floor(
    env: BenchEnv, tag: str, threads: Sequence[str], steps: int
) -> Iterator[Callable[[], Mapping[str, float]]]:
    """:func:`statement_floor` for the official ``PostgresSaver``: its
    statements, caught as they went to psycopg, replayed on a raw connection
    with the official saver's own settings (autocommit, prepared at once)."""
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

    from bench.adapters import official_pg_conn

    recorded, replayed = (
        env.pg(f"{tag}_official_floor_recorded"),
        env.pg(f"{tag}_official_floor_replayed"),
    )
    with PostgresSaver.from_conn_string(libpq_url(replayed)) as replica:
        replica.setup()
    with ExitStack() as stack:
        saver = stack.enter_context(official_pg_conn().open(recorded))
        conn = stack.enter_context(
            psycopg.connect(libpq_url(replayed), autocommit=True, prepare_threshold=0)
        )
        next_version = saver.get_next_version
        _replay_calls(
            conn,
            _official_calls(saver, (seed_thread(t, next_version) for t in threads)),
        )
        turn = itertools.cycle(threads)

        def round_() -> Mapping[str, float]:
            sent = _official_calls(
                saver, (superstep(next(turn), next_version) for _ in range(steps))
            )
            cpu, start = time.process_time(), time.perf_counter()
            _replay_calls(conn, sent)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            return {"superstep": elapsed / steps, "cpu": cpu / steps}

        yield round_
