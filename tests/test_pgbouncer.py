"""PostgreSQL through PgBouncer in transaction pooling mode, with a plain URL.

The whole suite runs through PgBouncer too (the ``postgres-pgbouncer``
backend); these tests pin down how: an engine ``from_url`` makes finds the
pooler when it connects and turns psycopg's automatic prepared statements
off there, keeps them on a direct connection, and leaves a caller's own
``prepare_threshold`` alone."""

from __future__ import annotations

import asyncio
import re
import threading
import warnings
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.conformance.test_utils import generate_config
from langgraph.checkpoint.memory import InMemorySaver

from langgraph.checkpoint.sqlalchemy import (
    PoolerWarning,
    PreparedStatementsBehindAPoolerError,
    SQLAlchemySaver,
)
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.dialects.postgresql import PREPARE_OFF
from test_graphs import _counter

# More than psycopg's prepare_threshold (5) runs of each hot statement.
CALLS = 20


def _threshold(engine: sa.Engine) -> Any:
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        driver = getattr(raw, "driver_connection", raw)
        return driver.prepare_threshold  # type: ignore[union-attr]


def _supersteps(saver: SQLAlchemySaver, thread_id: str) -> None:
    config = generate_config(thread_id)
    for step in range(CALLS):
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"step": step}
        checkpoint["channel_versions"] = {"step": str(step + 1)}
        config = saver.put(config, checkpoint, {"step": step}, {"step": str(step + 1)})
        saver.put_writes(config, [("step", step)], task_id=f"task-{step}")
        assert saver.get_tuple(generate_config(thread_id)) is not None


async def _async_supersteps(saver: AsyncSQLAlchemySaver, thread_id: str) -> None:
    config = generate_config(thread_id)
    for step in range(CALLS):
        checkpoint = empty_checkpoint()
        checkpoint["channel_versions"] = {"step": str(step + 1)}
        config = await saver.aput(
            config, checkpoint, {"step": step}, {"step": str(step + 1)}
        )
        await saver.aput_writes(config, [("step", step)], task_id=f"t{step}")
        assert await saver.aget_tuple(generate_config(thread_id))


def test_a_plain_url_through_pgbouncer_prepares_nothing(
    pgbouncer_url: str, postgres_url: str
) -> None:
    # Several savers (so several client connections, and their server
    # sessions shared by PgBouncer's small pool) run the same statements
    # past the prepare threshold, from threads at once: with psycopg's
    # prepared statements this failed at once (DuplicatePreparedStatement).
    savers = [SQLAlchemySaver.from_url(pgbouncer_url) for _ in range(3)]
    try:
        savers[0].setup()
        assert _threshold(savers[0].bind) is None  # type: ignore[arg-type]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(6) as pool:
            done = [
                pool.submit(_supersteps, saver, f"pgb-{i}-{n}")
                for n, saver in enumerate(savers)
                for i in range(2)
            ]
            for future in done:
                future.result()
        stored = list(savers[1].list(generate_config("pgb-0-0")))
        assert len(stored) == CALLS
    finally:
        for saver in savers:
            saver.close()


async def test_the_async_saver_finds_the_pooler_too(pgbouncer_url: str) -> None:
    savers = [AsyncSQLAlchemySaver.from_url(pgbouncer_url) for _ in range(3)]
    try:
        await savers[0].setup()
        await asyncio.gather(
            *(_async_supersteps(saver, f"apgb-{n}") for n, saver in enumerate(savers))
        )
        async with savers[2].bind.connect() as conn:  # type: ignore[union-attr]
            raw = (await conn.get_raw_connection()).dbapi_connection
            assert raw.driver_connection.prepare_threshold is None  # type: ignore[union-attr]
    finally:
        for saver in savers:
            await saver.aclose()


def test_a_direct_connection_keeps_its_prepared_statements(postgres_url: str) -> None:
    with SQLAlchemySaver.from_url(postgres_url) as saver:
        saver.setup()
        assert _threshold(saver.bind) == 5  # type: ignore[arg-type]
        _supersteps(saver, "direct")
        # Prepared statements live in one session: ask the connection that
        # ran the supersteps, the one the saver keeps aside on its pool
        # (runtime.engines.claim_spare).
        kept = saver._runner._kept
        assert kept is not None
        prepared = kept.exec_driver_sql(
            "SELECT count(*) FROM pg_prepared_statements"
        ).scalar()
        assert prepared  # the hot statements, prepared by psycopg


@pytest.mark.parametrize("threshold", [None, 3])
def test_a_callers_prepare_threshold_is_kept(
    pgbouncer_url: str, postgres_url: str, threshold: int | None
) -> None:
    # Their choice is final, and spares them the check's round trip.
    url = postgres_url if threshold else pgbouncer_url
    kwargs = {"connect_args": {"prepare_threshold": threshold}}
    with SQLAlchemySaver.from_url(url, engine_kwargs=kwargs) as saver:
        assert not sa.event.contains(
            saver.bind,
            "connect",
            _listener(),
        )
        assert _threshold(saver.bind) == threshold  # type: ignore[arg-type]


def _listener() -> Any:
    from langgraph.checkpoint.sqlalchemy.dialects import postgresql

    return postgresql._unprepared_behind_a_pooler


# -- an engine the caller made -----------------------------------------------------


def test_a_callers_engine_behind_pgbouncer_gets_a_warning_naming_the_fix(
    pgbouncer_url: str,
) -> None:
    # The saver leaves the caller's engine as it is, but says at its first
    # call, before psycopg prepared anything of the saver's, what to set.
    engine = sa.create_engine(pgbouncer_url)
    try:
        saver = SQLAlchemySaver(engine)
        with pytest.warns(PoolerWarning, match=re.escape(PREPARE_OFF)):
            saver.setup()
        assert _threshold(engine) == 5  # untouched
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            saver.get_tuple(generate_config("once"))  # said once per saver
    finally:
        engine.dispose()


def test_a_prepared_statement_that_fails_behind_pgbouncer_names_the_fix(
    pgbouncer_url: str,
) -> None:
    # Two engines that prepare, one after the other: PgBouncer hands the
    # second client the server session the first prepared "_pg3_0" on (the
    # pool is idle: it reuses the last session), and psycopg's own error
    # would say only that the name is taken.
    engines = [sa.create_engine(pgbouncer_url) for _ in range(2)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PoolerWarning)
            first, second = (SQLAlchemySaver(engine) for engine in engines)
            first.setup()
            _supersteps(first, "prepared-first")
            with pytest.raises(PreparedStatementsBehindAPoolerError) as info:
                _supersteps(second, "prepared-second")
    finally:
        for engine in engines:
            engine.dispose()
    assert PREPARE_OFF in str(info.value)
    assert isinstance(info.value.__cause__, sa.exc.DBAPIError)
    assert "prepared statement" in str(info.value.__cause__)


@pytest.mark.parametrize("run", ["sync", "async"])
def test_a_callers_engine_with_the_setting_works_behind_pgbouncer(
    pgbouncer_url: str, run: str
) -> None:
    # The documented setting: no warning, and the concurrent supersteps that
    # failed at once without it pass.
    with warnings.catch_warnings():
        warnings.simplefilter("error", PoolerWarning)
        if run == "sync":
            engines = [
                sa.create_engine(
                    pgbouncer_url, connect_args={"prepare_threshold": None}
                )
                for _ in range(3)
            ]
            try:
                savers = [SQLAlchemySaver(engine) for engine in engines]
                savers[0].setup()
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(3) as pool:
                    done = [
                        pool.submit(_supersteps, saver, f"set-{n}")
                        for n, saver in enumerate(savers)
                    ]
                    for future in done:
                        future.result()
                assert len(list(savers[1].list(generate_config("set-0")))) == CALLS
            finally:
                for engine in engines:
                    engine.dispose()
        else:
            asyncio.run(_async_supersteps_on_callers_engines(pgbouncer_url))


async def _async_supersteps_on_callers_engines(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engines = [
        create_async_engine(url, connect_args={"prepare_threshold": None})
        for _ in range(3)
    ]
    try:
        savers = [AsyncSQLAlchemySaver(engine) for engine in engines]
        await savers[0].setup()
        await asyncio.gather(
            *(_async_supersteps(s, f"aset-{n}") for n, s in enumerate(savers))
        )
        stored = [c async for c in savers[1].alist(generate_config("aset-0"))]
        assert len(stored) == CALLS
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_async_saver_warns_of_a_callers_engine_too(
    pgbouncer_url: str,
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(pgbouncer_url)
    try:
        saver = AsyncSQLAlchemySaver(engine)
        with pytest.warns(PoolerWarning, match=re.escape(PREPARE_OFF)):
            await saver.setup()
    finally:
        await engine.dispose()


def test_a_callers_engine_on_a_direct_connection_gets_no_warning(
    postgres_url: str,
) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PoolerWarning)
            saver = SQLAlchemySaver(engine)
            saver.setup()
            _supersteps(saver, "direct-callers")
    finally:
        engine.dispose()


# -- faults behind the pooler ----------------------------------------------------
# PostgreSQL restarted behind PgBouncer: test_reliability.py's restart tests
# (the postgres-pgbouncer case of their ``restartable`` fixture).


@pytest.mark.parametrize("run", ["sync", "async"])
def test_server_sessions_terminated_mid_run(
    pgbouncer_url: str, postgres_url: str, run: str
) -> None:
    """``pg_terminate_backend`` of every server session the saver is on,
    over and over while graphs run through PgBouncer: no invoke fails, no
    turn is lost."""
    turns = 15
    oracle = _counter(InMemorySaver(), until=2)
    probe = {"configurable": {"thread_id": "oracle"}}
    for _ in range(turns):
        oracle.invoke({"count": 0, "log": []}, probe)
    expected = len(list(oracle.get_state_history(probe)))
    stop = threading.Event()
    killed = 0

    def terminate() -> None:
        nonlocal killed
        engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                while not stop.is_set():
                    killed += len(
                        conn.exec_driver_sql(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = current_database()"
                            " AND pid <> pg_backend_pid()"
                            " AND backend_type = 'client backend'"
                        ).all()
                    )
                    # Not faster: the retry rule gives a job four attempts,
                    # and on a loaded host one attempt can outlast a shorter
                    # period, so every attempt would be cut (seen on a loaded host).
                    stop.wait(0.4)
        finally:
            engine.dispose()

    killer = threading.Thread(target=terminate)
    # The faults start once the saver has set up and reached the database:
    # setup() is not what is under test, and a database never reached (a
    # first connection that fails) is, by the retry rule, an error at once.
    try:
        if run == "sync":
            with SQLAlchemySaver.from_url(pgbouncer_url) as saver:
                saver.setup()
                killer.start()
                graph = _counter(saver, until=2)
                for thread in range(3):
                    config = {"configurable": {"thread_id": f"kill-{thread}"}}
                    for _ in range(turns):
                        graph.invoke({"count": 0, "log": []}, config)
        else:

            async def arun() -> None:
                async with AsyncSQLAlchemySaver.from_url(pgbouncer_url) as saver:
                    await saver.setup()
                    killer.start()
                    graph = _counter(saver, until=2)

                    async def one(thread: int) -> None:
                        config = {"configurable": {"thread_id": f"akill-{thread}"}}
                        for _ in range(turns):
                            await graph.ainvoke({"count": 0, "log": []}, config)

                    await asyncio.gather(*(one(t) for t in range(3)))

            asyncio.run(arun())
    finally:
        stop.set()
        if killer.is_alive():
            killer.join()
    assert killed  # the faults happened
    prefix = "kill" if run == "sync" else "akill"
    with SQLAlchemySaver.from_url(pgbouncer_url) as saver:
        for thread in range(3):
            config = {"configurable": {"thread_id": f"{prefix}-{thread}"}}
            assert len(list(saver.list(config))) == expected  # no turn lost
