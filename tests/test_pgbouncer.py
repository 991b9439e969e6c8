"""PostgreSQL through PgBouncer in transaction pooling mode, with a plain URL.

The whole suite runs through PgBouncer too (the ``postgres-pgbouncer``
backend); these tests pin down how: an engine ``from_url`` makes finds the
pooler when it connects and turns psycopg's automatic prepared statements
off there, keeps them on a direct connection, and leaves a caller's own
``prepare_threshold`` alone."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.conformance.test_utils import generate_config
from langgraph.checkpoint.memory import InMemorySaver

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
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

        async def run(saver: AsyncSQLAlchemySaver, thread_id: str) -> None:
            config = generate_config(thread_id)
            for step in range(CALLS):
                checkpoint = empty_checkpoint()
                checkpoint["channel_versions"] = {"step": str(step + 1)}
                config = await saver.aput(
                    config, checkpoint, {"step": step}, {"step": str(step + 1)}
                )
                await saver.aput_writes(config, [("step", step)], task_id=f"t{step}")
                assert await saver.aget_tuple(generate_config(thread_id))

        await asyncio.gather(
            *(run(saver, f"apgb-{n}") for n, saver in enumerate(savers))
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
        # (runtime.engines.keeps_a_spare).
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


# -- faults behind the pooler ----------------------------------------------------


def test_restart_behind_pgbouncer_loses_no_turn() -> None:
    """PostgreSQL restarted behind PgBouncer: the saver's connections to
    PgBouncer live on, PgBouncer's to the server die; no invoke fails and
    every checkpoint is there, once."""
    from servers.pgbouncer import pgbouncer_server
    from servers.postgres import fresh_database, local_postgres

    config = {"configurable": {"thread_id": "survivor"}}
    oracle = _counter(InMemorySaver(), until=3)
    for _ in range(3):
        oracle.invoke({"count": 0, "log": []}, config)
    expected = len(list(oracle.get_state_history(config)))
    with local_postgres() as server:
        url = fresh_database(server.url, "restart")
        with (
            pgbouncer_server(url) as pooler,
            SQLAlchemySaver.from_url(pooler.url) as saver,
        ):
            saver.setup()
            graph = _counter(saver, until=3)
            for _ in range(3):
                graph.invoke({"count": 0, "log": []}, config)
                server.restart()  # every server session PgBouncer had is gone
            assert graph.get_state(config).values["log"][-1] == "bump3"
            assert len(list(saver.list(config))) == expected


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
                    stop.wait(0.1)
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
