"""What each job sends around its statements, on the engines ``from_url`` makes.

One-statement jobs (the whole hot path) must send nothing but their statement:
a BEGIN/COMMIT pair would be two more round trips. Jobs of several statements
must run in one transaction, which on a SQLite file and on psycopg is the
saver's own explicit BEGIN (those engines autocommit at the driver: see
``dialects.tune_engine``), and on the others SQLAlchemy's.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool, StaticPool

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

from conftest import Backend

# Backends whose from_url engine sends BEGIN itself.
EXPLICIT_BEGIN = {
    "sqlite": "BEGIN IMMEDIATE",
    "sqlite-portable": "BEGIN IMMEDIATE",
    "sqlite-one-connection": "BEGIN IMMEDIATE",
    "postgres": "BEGIN",
    "postgres-one-connection": "BEGIN",
    "postgres-pgbouncer": "BEGIN",
}
# Backends where get_tuple and put_writes are one statement (MySQL/MariaDB
# reads the writes apart; the portable mode reads before it writes).
ONE_STATEMENT_HOT_PATH = {
    "sqlite",
    "sqlite-memory",
    "sqlite-one-connection",
    "postgres",
    "postgres-one-connection",
    "postgres-pgbouncer",
}


def _sent(saver: SQLAlchemySaver, call: Any) -> list[str]:
    """The statements ``call()`` sent, first lines only."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement.strip().split("\n")[0])

    engine = saver.bind.engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


def test_one_statement_jobs_alone_and_the_rest_in_a_transaction(
    backend: Backend,
) -> None:
    with backend.saver() as saver:
        config: Any = saver.put(
            generate_config("t"), generate_checkpoint(), generate_metadata(), {}
        )
        saver.put(generate_config("u"), generate_checkpoint(), generate_metadata(), {})
        if backend.name in ONE_STATEMENT_HOT_PATH:
            # One statement each: no BEGIN, no SET, nothing else.
            writes = _sent(saver, lambda: saver.put_writes(config, [("a", 1)], "x"))
            assert len(writes) == 1, writes
            assert len(_sent(saver, lambda: saver.get_tuple(config))) == 1

        deleted = _sent(saver, lambda: saver.delete_thread("t"))
        assert len(deleted) > 1  # one DELETE per table
        begin = EXPLICIT_BEGIN.get(backend.name)
        if begin is not None:
            assert deleted[0] == begin
            assert not any(s.startswith("BEGIN") for s in deleted[1:])
        else:
            assert not any(s.startswith("BEGIN") for s in deleted)
        # Committed, and whole.
        assert saver.get_tuple(config) is None
        assert list(saver.list(generate_config("t"))) == []
        assert saver.get_tuple(generate_config("u")) is not None


def test_psycopg_connections_stay_in_autocommit(postgres_url: str) -> None:
    """The pool's connections never switch modes: a switch per checkout and
    one back per check-in cost more than a statement's client side."""
    with SQLAlchemySaver.from_url(postgres_url) as saver:
        saver.setup()
        config = saver.put(
            generate_config("t"), generate_checkpoint(), generate_metadata(), {}
        )
        saver.delete_thread("t")
        saver.get_tuple(config)
        engine = saver.bind.engine  # type: ignore[union-attr]
        raw = engine.raw_connection()
        try:
            assert raw.driver_connection.autocommit is True  # type: ignore[union-attr]
        finally:
            raw.close()


def test_a_chosen_isolation_level_is_kept(postgres_url: str) -> None:
    """engine_kwargs win: no explicit BEGIN then, SQLAlchemy's transactions."""
    with SQLAlchemySaver.from_url(
        postgres_url, engine_kwargs={"isolation_level": "SERIALIZABLE"}
    ) as saver:
        saver.setup()
        saver.put(generate_config("t"), generate_checkpoint(), generate_metadata(), {})
        deleted = _sent(saver, lambda: saver.delete_thread("t"))
        assert not any(s.startswith("BEGIN") for s in deleted)
        assert saver.get_tuple(generate_config("t")) is None
        with saver.bind.connect() as conn:  # type: ignore[union-attr]
            assert conn.get_isolation_level() == "SERIALIZABLE"


def _server_pids(url: str, application_name: str) -> set[int]:
    """The server processes serving connections named ``application_name``."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                {"n": application_name},
            )
            return {pid for (pid,) in rows}
    finally:
        engine.dispose()


def _sessions_end(url: str, application_name: str) -> bool:
    """Whether the server sessions named ``application_name`` are gone: a
    backend leaves ``pg_stat_activity`` a moment after its client hangs up,
    so a connection just closed may still be listed; one left open stays."""
    deadline = time.monotonic() + 10
    while _server_pids(url, application_name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_one_connection_engine_keeps_its_connection(postgres_url: str) -> None:
    """On a one-connection engine (StaticPool), the saver keeps its
    connection between calls: every kind of call runs on it without a pool
    checkout, one-statement calls still send only their statement, and
    close() closes the connection at the server."""
    name = "lgsa-kept-connection"
    # A second saver on the engine from_url made (and tuned): its close() has
    # a connection to give back and no engine to dispose.
    with SQLAlchemySaver.from_url(
        postgres_url,
        engine_kwargs={
            "poolclass": StaticPool,
            "connect_args": {"application_name": name},
        },
    ) as owner:
        saver = SQLAlchemySaver(owner.bind)  # type: ignore[arg-type]
        saver.setup()
        checkouts: list[object] = []
        event.listen(owner.bind, "checkout", lambda *args: checkouts.append(args))
        checkpoint = generate_checkpoint()
        first, copy = f"kept-{checkpoint['id']}", f"kept-copy-{checkpoint['id']}"
        config = saver.put(generate_config(first), checkpoint, generate_metadata(), {})
        assert len(_sent(saver, lambda: saver.put_writes(config, [("a", 1)], "x"))) == 1
        assert len(_sent(saver, lambda: saver.get_tuple(config))) == 1
        assert len(list(saver.list(generate_config(first)))) == 1
        saver.copy_thread(first, copy)
        with pytest.raises(ValueError, match="already has checkpoints"):
            saver.copy_thread(first, copy)  # refused: the connection stays
        saver.delete_thread(first)
        assert saver.get_tuple(config) is None
        assert checkouts == []  # all on the connection setup() opened
        assert len(_server_pids(postgres_url, name)) == 1
        saver.close()  # not its engine: gives the connection back
        assert checkouts == []
        # The next call opens it again, and the engine's owner closes it all.
        assert saver.get_tuple(generate_config(copy)) is not None
        assert len(checkouts) == 1
    assert _sessions_end(postgres_url, name)


def test_a_pooled_engine_keeps_one_connection_aside(postgres_url: str) -> None:
    """On the pool from_url makes, calls one after another run on one
    connection kept aside (no pool checkout each), calls at the same time
    from other threads take the pool's connections and all see the same
    data, and close() closes them all at the server. A pool told to ping or
    recycle at checkout keeps nothing aside."""
    from concurrent.futures import ThreadPoolExecutor

    name = "lgsa-spare-connection"
    with SQLAlchemySaver.from_url(
        postgres_url, engine_kwargs={"connect_args": {"application_name": name}}
    ) as saver:
        saver.setup()
        checkouts: list[object] = []
        event.listen(saver.bind, "checkout", lambda *args: checkouts.append(args))
        checkpoint = generate_checkpoint()
        config = saver.put(
            generate_config(f"spare-{checkpoint['id']}"),
            checkpoint,
            generate_metadata(),
            {},
        )
        before = len(checkouts)
        for _ in range(5):
            saver.put_writes(config, [("a", 1)], "task")
            assert saver.get_tuple(config) is not None
        assert len(checkouts) == before  # all on the connection kept aside

        def round_trip(i: int) -> bool:
            ckpt = generate_checkpoint()
            cfg = saver.put(
                generate_config(f"spare-{i}-{ckpt['id']}"),
                ckpt,
                generate_metadata(),
                {},
            )
            for _ in range(10):
                saver.put_writes(cfg, [("a", i)], f"task-{i}")
                found = saver.get_tuple(cfg)
                if found is None or found.checkpoint["id"] != ckpt["id"]:
                    return False
            return True

        with ThreadPoolExecutor(8) as threads:
            assert all(threads.map(round_trip, range(16)))
        assert len(_server_pids(postgres_url, name)) >= 1
    assert _sessions_end(postgres_url, name)

    # Only the engine's owner (what from_url returned) keeps one: another
    # saver or store the application builds on the same engine, and may
    # never close, holds none of the pool's connections between calls.
    from langgraph.store.sqlalchemy import SQLAlchemyStore

    with SQLAlchemySaver.from_url(postgres_url) as owner:
        owner.setup()
        absent = generate_config(f"absent-{checkpoint['id']}")
        assert owner.get_tuple(absent) is None
        pool = owner.bind.pool  # type: ignore[union-attr]
        assert pool.checkedout() == 1  # the owner's, kept aside
        guest = SQLAlchemySaver(owner.bind)
        shared = SQLAlchemyStore(owner.bind)
        shared.setup()
        for _ in range(3):
            assert guest.get_tuple(absent) is None
            assert shared.get(("a",), "b") is None
        assert pool.checkedout() == 1

    # A pool of one keeps nothing aside: a second thread would wait for a
    # connection that never goes back.
    with SQLAlchemySaver.from_url(
        postgres_url,
        engine_kwargs={"pool_size": 1, "max_overflow": 0, "pool_timeout": 5},
    ) as lone:
        with ThreadPoolExecutor(2) as threads:
            assert all(
                threads.map(lambda i: lone.get_tuple(config) is not None, range(40))
            )
        assert lone.bind.pool.checkedout() == 0  # type: ignore[union-attr]

    with SQLAlchemySaver.from_url(
        postgres_url, engine_kwargs={"pool_pre_ping": True}
    ) as pinging:
        checkouts = []
        event.listen(pinging.bind, "checkout", lambda *args: checkouts.append(args))
        pinging.get_tuple(config)
        pinging.get_tuple(config)
        assert len(checkouts) == 2  # each call through the pool, pinged


@pytest.mark.timeout(120)
async def test_an_async_pooled_engine_keeps_one_connection_aside(
    postgres_url: str,
) -> None:
    """The async saver from from_url keeps one connection aside too: calls one
    after another take no checkout, tasks at the same time take the pool's
    connections and see the same data, and aclose() while a task waits on
    the server for the kept connection waits for it on the event loop (a
    thread lock taken in SQLAlchemy's greenlet would stop the loop, and the
    task that holds it, for good)."""
    import asyncio

    from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

    name = "lgsa-async-spare"
    saver = AsyncSQLAlchemySaver.from_url(
        postgres_url, engine_kwargs={"connect_args": {"application_name": name}}
    )
    await saver.setup()
    sync_engine = saver.bind.sync_engine  # type: ignore[union-attr]
    checkouts: list[object] = []
    event.listen(sync_engine, "checkout", lambda *args: checkouts.append(args))
    checkpoint = generate_checkpoint()
    config = await saver.aput(
        generate_config(f"aspare-{checkpoint['id']}"),
        checkpoint,
        generate_metadata(),
        {},
    )
    before = len(checkouts)
    for _ in range(5):
        await saver.aput_writes(config, [("a", 1)], "task")
        assert await saver.aget_tuple(config) is not None
    assert len(checkouts) == before  # all on the connection kept aside

    async def round_trip(i: int) -> bool:
        ckpt = generate_checkpoint()
        cfg = await saver.aput(
            generate_config(f"aspare-{i}-{ckpt['id']}"), ckpt, generate_metadata(), {}
        )
        for _ in range(10):
            await saver.aput_writes(cfg, [("a", i)], f"task-{i}")
            found = await saver.aget_tuple(cfg)
            if found is None or found.checkpoint["id"] != ckpt["id"]:
                return False
        return True

    assert all(await asyncio.gather(*(round_trip(i) for i in range(16))))
    assert len(checkouts) > before  # the others went through the pool

    # A task on the kept connection, held up at the server by a lock.
    blocker = create_engine(postgres_url, poolclass=NullPool)
    with blocker.connect() as conn:
        conn.execute(text("LOCK TABLE checkpoint_writes IN ACCESS EXCLUSIVE MODE"))
        writing = asyncio.create_task(saver.aput_writes(config, [("b", 2)], "held"))
        await asyncio.sleep(0.3)
        assert not writing.done()
        closing = asyncio.create_task(saver.aclose())
        ticks = 0
        for _ in range(20):  # the loop keeps running while close waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not closing.done()
        conn.rollback()  # the lock goes; the write, then close, finish
    blocker.dispose()
    await asyncio.wait_for(writing, 30)
    await asyncio.wait_for(closing, 30)
    assert _sessions_end(postgres_url, name)


def _left_open_and_checked_in(engine: Engine) -> bool:
    """Insert a row in a transaction and give the connection back to the pool
    with the transaction open; whether the connection the pool hands out next
    is still in a transaction (psycopg, sqlite3 or aiosqlite, asked of the
    driver)."""
    raw = engine.raw_connection()
    cursor = raw.cursor()
    cursor.execute("BEGIN")
    cursor.execute(
        "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,"
        " checkpoint, metadata) VALUES ('left-open', '', 'c', '{}', '{}')"
    )
    cursor.close()
    raw.close()  # back to the pool with the transaction open
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if hasattr(driver, "info"):  # psycopg: 0 is IDLE
            return bool(driver.info.transaction_status != 0)
        return bool(driver.in_transaction)
    finally:
        raw.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_check_in_still_ends_an_open_transaction(backend: Backend) -> None:
    """The pools of these engines no longer roll back every connection they
    take back, only one the driver reports in a transaction: a transaction
    someone left open on the saver's engine is still rolled back, and the
    connection comes back idle."""
    with backend.saver() as saver:
        engine = saver.bind.engine  # type: ignore[union-attr]
        assert _left_open_and_checked_in(engine) is False
        assert saver.get_tuple(generate_config("left-open")) is None


async def test_an_async_check_in_still_ends_an_open_transaction(
    tmp_path: Any,
) -> None:
    """The same on aiosqlite, whose rollback is a trip to its thread."""
    from sqlalchemy.util.concurrency import greenlet_spawn

    from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

    url = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with AsyncSQLAlchemySaver.from_url(url) as saver:
        await saver.setup()
        engine = saver.bind.sync_engine  # type: ignore[union-attr]
        assert await greenlet_spawn(_left_open_and_checked_in, engine) is False
        assert await saver.aget_tuple(generate_config("left-open")) is None


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_an_engine_with_an_isolation_level_option_keeps_every_write(
    backend: Backend,
) -> None:
    """On ``engine.execution_options(isolation_level=...)``, the level of
    the engine wins over an AUTOCOMMIT option set on top of it: one-statement
    calls then run in a transaction of their own, committed. (They used to
    run in one nobody committed: every put and put_writes was rolled back at
    check-in.)"""
    from sqlalchemy.ext.asyncio import create_async_engine

    from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

    with backend.saver():  # the tables
        pass
    engine = create_engine(backend.sync_url).execution_options(
        isolation_level="SERIALIZABLE"
    )
    aengine = create_async_engine(backend.async_url).execution_options(
        isolation_level="SERIALIZABLE"
    )
    try:
        saver = SQLAlchemySaver(engine)
        config = saver.put(
            generate_config("sync"), generate_checkpoint(), generate_metadata(), {}
        )
        saver.put_writes(config, [("a", 1)], "task")
        asaver = AsyncSQLAlchemySaver(aengine)
        aconfig = await asaver.aput(
            generate_config("async"), generate_checkpoint(), generate_metadata(), {}
        )
        await asaver.aput_writes(aconfig, [("a", 2)], "task")
        with backend.saver() as reader:  # another engine: sees only commits
            for stored, value in ((config, 1), (aconfig, 2)):
                got = reader.get_tuple(stored)
                assert got is not None
                assert got.pending_writes == [("task", "a", value)]
    finally:
        engine.dispose()
        await aengine.dispose()
