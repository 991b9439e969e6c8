"""Faults injected for real: server restarts, clients killed inside a
transaction, many writers at once, an exhausted pool, statement timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.conformance.test_utils import generate_config
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.repository.plan import Job
from langgraph.checkpoint.sqlalchemy.runtime import retry
from langgraph.checkpoint.sqlalchemy.runtime.engines import make_engine
from test_graphs import _counter, _interview

from conftest import Backend
from servers._local import LocalServer

SERVERS = ["sqlite", "postgres", "mariadb"]  # databases more than one process can reach


def _superstep(
    saver: SQLAlchemySaver, thread_id: str, step: int, versions: dict[str, str]
) -> None:
    """What a graph does each step: read the latest, write a checkpoint, then
    the tasks' writes against it."""
    latest = saver.get_tuple(generate_config(thread_id))
    config = latest.config if latest else generate_config(thread_id)
    checkpoint = empty_checkpoint()
    for channel in ("messages", "count"):
        versions[channel] = saver.get_next_version(versions.get(channel))
    checkpoint["channel_values"] = {
        "messages": [{"n": i} for i in range(step + 1)],
        "count": step,
    }
    checkpoint["channel_versions"] = dict(versions)
    stored = saver.put(
        config, checkpoint, {"source": "loop", "step": step}, dict(versions)
    )
    saver.put_writes(
        stored, [("messages", {"n": step}), ("count", step)], task_id=f"task-{step}"
    )


# -- many writers ------------------------------------------------------------------

STEPS = 6
THREADS_PER_PROCESS = 8
PROCESSES = 8


def _writer_process(url: str, process_index: int, force_portable: bool) -> None:
    saver = SQLAlchemySaver.from_url(url)
    if force_portable:
        saver = SQLAlchemySaver(saver.bind, force_portable=True)

    def one_thread(thread_index: int) -> None:
        versions: dict[str, str] = {}
        for step in range(STEPS):
            _superstep(saver, f"p{process_index}-t{thread_index}", step, versions)
            # Thread 0 of every process also writes to one shared thread.
            if thread_index == 0:
                _superstep(saver, "shared", step, {})

    try:
        with ThreadPoolExecutor(THREADS_PER_PROCESS) as pool:
            list(pool.map(one_thread, range(THREADS_PER_PROCESS)))
    finally:
        saver.bind.dispose()  # type: ignore[union-attr]


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_eight_processes_of_eight_threads(backend: Backend) -> None:
    backend.saver().close()  # tables first
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_writer_process, args=(backend.sync_url, i, backend.force_portable)
        )
        for i in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(240)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    with SQLAlchemySaver.from_url(backend.sync_url) as saver:
        for i in range(PROCESSES):
            for t in range(THREADS_PER_PROCESS):
                listed = list(saver.list(generate_config(f"p{i}-t{t}")))
                assert len(listed) == STEPS, (i, t)
                assert all(len(c.pending_writes or []) == 2 for c in listed)
                assert listed[0].checkpoint["channel_values"]["count"] == STEPS - 1
        shared = list(saver.list(generate_config("shared")))
        assert (
            len(shared) == PROCESSES * STEPS
        )  # two writers on one thread lose nothing
        assert all(len(c.pending_writes or []) == 2 for c in shared)


def test_sqlite_readers_neither_wait_for_nor_block_a_writer(tmp_path: Any) -> None:
    """WAL lets readers run beside a writer; the saver's reads must not take a
    writer's lock (BEGIN IMMEDIATE) to do it. Another process's connection
    holds the write lock; every read still answers at once (the busy timeout
    is cut to 0.2 s, so a read that waited for the lock would fail), and the
    writer commits afterwards."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    config = generate_config("t")
    with SQLAlchemySaver.from_url(url) as writer_saver:
        writer_saver.setup()
        graph = _counter(writer_saver, until=3)
        graph.invoke({"count": 0, "log": []}, config)
    import sqlite3

    writer = sqlite3.connect(tmp_path / "shared.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM checkpoint_writes WHERE thread_id = 'nobody'")
    try:
        quick = {"connect_args": {"timeout": 0.2}}
        with SQLAlchemySaver.from_url(url, engine_kwargs=quick) as reader:
            assert reader.get_tuple(config) is not None
            assert len(list(reader.list(config))) == 5
            assert len(list(reader.list(None, filter={"source": "loop"}))) == 4
            assert _counter(reader, until=3).get_state(config).values["count"] == 3
            history = reader.get_delta_channel_history(
                config=config, channels=["count"]
            )
            assert "count" in history
    finally:
        writer.execute("COMMIT")
        writer.close()


def _log_checkpoint(step: int) -> Any:
    """A checkpoint whose one channel changed at ``step``, and its version."""
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"log": ["x" * 2000, step]}
    checkpoint["channel_versions"] = {"log": f"{step + 1:032d}.0.0"}
    return checkpoint, {"log": f"{step + 1:032d}.0.0"}


def test_sqlite_writers_of_one_saver_take_turns_without_busy_waits(
    tmp_path: Any,
) -> None:
    """SQLite takes one writer at a time, and its busy handler makes a
    blocked writer sleep in steps of milliseconds. The saver's own writers
    take turns in the process instead: with no busy timeout at all (a
    blocked writer would fail at once with "database is locked"), 8 threads
    writing at once all succeed, sync and async."""
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    no_wait = {"connect_args": {"timeout": 0}, "pool_size": 8}

    def writes(saver: SQLAlchemySaver, thread: str) -> None:
        config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        for step in range(15):
            checkpoint, versions = _log_checkpoint(step)
            config = saver.put(config, checkpoint, {"step": step}, versions)
            saver.put_writes(config, [("log", step), ("other", step)], f"t{step}")

    with SQLAlchemySaver.from_url(url, engine_kwargs=no_wait) as saver:
        saver.setup()
        with ThreadPoolExecutor(8) as pool:
            for done in [pool.submit(writes, saver, f"w{i}") for i in range(8)]:
                done.result()
        for i in range(8):
            config = generate_config(f"w{i}")
            assert len(list(saver.list(config))) == 15

    async def awrites(saver: AsyncSQLAlchemySaver, thread: str) -> None:
        config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        for step in range(15):
            checkpoint, versions = _log_checkpoint(step)
            config = await saver.aput(config, checkpoint, {"step": step}, versions)
            await saver.aput_writes(config, [("log", step), ("o", step)], f"t{step}")

    async def async_side() -> None:
        async with AsyncSQLAlchemySaver.from_url(url, engine_kwargs=no_wait) as asaver:
            await asyncio.gather(*(awrites(asaver, f"a{i}") for i in range(8)))
            for i in range(8):
                listed = [c async for c in asaver.alist(generate_config(f"a{i}"))]
                assert len(listed) == 15

    asyncio.run(async_side())


def test_many_threads_on_one_memory_database() -> None:
    with SQLAlchemySaver.from_url("sqlite:///:memory:") as saver:
        saver.setup()

        def one_thread(index: int) -> None:
            versions: dict[str, str] = {}
            for step in range(STEPS):
                _superstep(saver, f"t{index}", step, versions)

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one_thread, range(64)))
        for index in range(64):
            assert len(list(saver.list(generate_config(f"t{index}")))) == STEPS


# -- a client killed inside a transaction ------------------------------------------

KILLED_CLIENT = textwrap.dedent(
    """
    import sys, time
    import sqlalchemy as sa
    from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

    url, operation = sys.argv[1], sys.argv[2]
    saver = SQLAlchemySaver.from_url(url)

    @sa.event.listens_for(saver.bind, "after_cursor_execute")
    def pause_inside(conn, cursor, statement, params, context, executemany):
        autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        if not autocommit and statement.lstrip().upper().startswith(("INSERT", "DELETE")):
            print("INSIDE", flush=True)
            time.sleep(120)

    if operation == "delete":
        saver.delete_thread("victim")
    else:
        from langgraph.checkpoint.base import empty_checkpoint
        latest = saver.get_tuple({"configurable": {"thread_id": "victim"}})
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"messages": ["never", "committed"]}
        checkpoint["channel_versions"] = {"messages": "99"}
        saver.put(latest.config, checkpoint, {"step": 99}, {"messages": "99"})
    print("FINISHED", flush=True)
    """
)


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
@pytest.mark.parametrize("operation", ["delete", "put"])
def test_client_killed_inside_a_transaction(backend: Backend, operation: str) -> None:
    with backend.saver() as saver:
        versions: dict[str, str] = {}
        for step in range(3):
            _superstep(saver, "victim", step, versions)
        before = [
            (t.config, t.checkpoint, t.pending_writes)
            for t in saver.list(generate_config("victim"))
        ]
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CLIENT, backend.sync_url, operation],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line == "FINISHED":
        # PostgreSQL writes a put in one statement: there is no inside to be
        # killed in, and the put is whole.
        assert operation == "put" and backend.database == "postgres"
        child.wait(30)
        return
    assert line == "INSIDE"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    with SQLAlchemySaver.from_url(backend.sync_url) as saver:
        after = [
            (t.config, t.checkpoint, t.pending_writes)
            for t in saver.list(generate_config("victim"))
        ]
        assert after == before  # nothing half-done is visible
        # The thread carries on from its last complete checkpoint.
        _superstep(saver, "victim", 3, versions)
        latest = saver.get_tuple(generate_config("victim"))
        assert latest is not None
        assert latest.checkpoint["channel_values"]["count"] == 3
        assert latest.parent_config == before[0][0]


# -- a database server restarted under a running app ---------------------------------


# How each restartable server's savers make their engine: PostgreSQL also
# through one connection, which the saver keeps open between calls, and
# through PgBouncer in transaction mode (PostgreSQL behind it restarts).
ENGINE_KWARGS: dict[str, dict[str, Any] | None] = {
    "postgres": None,
    "postgres-one-connection": {"poolclass": sa.pool.StaticPool},
    "postgres-pgbouncer": None,
    "mariadb": None,
}


@pytest.fixture(params=list(ENGINE_KWARGS))
def restartable(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[LocalServer, str, dict[str, Any] | None]]:
    """A server of our own to restart, a database on it, and the
    ``engine_kwargs`` of the savers under test."""
    kwargs = ENGINE_KWARGS[request.param]
    if request.param == "postgres-pgbouncer":
        from servers.pgbouncer import pgbouncer_server
        from servers.postgres import fresh_database, local_postgres

        with local_postgres() as server, contextlib.ExitStack() as stack:
            url = fresh_database(server.url, "restart")
            try:
                pooler = stack.enter_context(pgbouncer_server(url))
            except RuntimeError as exc:  # no pgbouncer binary
                if os.environ.get("CI") == "true":
                    raise
                pytest.skip(f"no PgBouncer available: {exc}")
            yield server, pooler.url, kwargs
    elif request.param.startswith("postgres"):
        from servers.postgres import fresh_database, local_postgres

        with local_postgres() as server:
            yield server, fresh_database(server.url, "restart"), kwargs
    else:
        from servers.mariadb import fresh_database, local_mariadb

        with local_mariadb() as server:
            yield server, fresh_database(server.url, "restart"), kwargs


def test_restart_while_a_graph_runs(
    restartable: tuple[LocalServer, str, dict[str, Any] | None],
) -> None:
    server, url, engine_kwargs = restartable
    config = {"configurable": {"thread_id": "survivor"}}
    # The same calls on InMemorySaver say how many checkpoints there must be.
    oracle = _interview(InMemorySaver())
    oracle.invoke({"steps": []}, config)
    oracle.invoke(Command(resume="Ada"), config)
    oracle.invoke(Command(resume=36), config)
    expected = len(list(oracle.get_state_history(config)))
    with SQLAlchemySaver.from_url(url, engine_kwargs=engine_kwargs) as saver:
        saver.setup()
        graph = _interview(saver)
        graph.invoke({"steps": []}, config)

        server.restart()  # every pooled connection is now dead

        # Idempotent calls run again on a fresh connection: the app sees nothing.
        assert graph.get_state(config).next == ("ask",)
        graph.invoke(Command(resume="Ada"), config)
        server.restart()
        final = graph.invoke(Command(resume=36), config)
        assert final == {"steps": ["start", "Ada is 36", "finish"]}
        history = len(list(saver.list(config)))
        assert history == expected  # none lost, none twice

        server.restart()
        if _through_a_pooler(url, server):
            # The saver's connections are to the pooler, which outlive the
            # restart: even a call that is not safe to repeat just works.
            saver.copy_thread("survivor", "copy")
        else:
            # A call that is not safe to repeat (copy_thread) is not
            # retried: it surfaces the error, and the next call works.
            with pytest.raises(sa.exc.DBAPIError):
                saver.copy_thread("survivor", "copy")
            saver.copy_thread("survivor", "copy")
        copied = saver.list({"configurable": {"thread_id": "copy"}})
        assert len(list(copied)) == history


def _through_a_pooler(url: str, server: LocalServer) -> bool:
    """Whether ``url`` reaches ``server`` through a pooler (another port)."""
    return sa.engine.make_url(url).port != sa.engine.make_url(server.url).port


def test_server_down_for_a_while(
    restartable: tuple[LocalServer, str, dict[str, Any] | None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the server is down, idempotent calls retry with backoff, and
    succeed once it is back; if it stays down past the retries, the error
    surfaces (bounded), and the saver works again once the server is back."""
    server, url, engine_kwargs = restartable
    config = {"configurable": {"thread_id": "patient"}}
    delays = retry.RETRY_DELAYS
    # Generous delays, so that a slow machine's server start fits in them.
    monkeypatch.setattr(retry, "RETRY_DELAYS", (0.0, 0.5, 1.0, 2.0, 4.0, 8.0))
    with SQLAlchemySaver.from_url(url, engine_kwargs=engine_kwargs) as saver:
        saver.setup()
        graph = _counter(saver, until=3)
        graph.invoke({"count": 0, "log": []}, config)

        server.stop()
        coming_back = threading.Thread(target=server.start)
        coming_back.start()
        try:
            assert graph.get_state(config).values["count"] == 3
        finally:
            coming_back.join()

        monkeypatch.setattr(retry, "RETRY_DELAYS", (0.0, 0.1))
        server.stop()
        try:
            with pytest.raises(sa.exc.OperationalError):
                saver.get_tuple(config)
        finally:
            server.start()
        # With the saver's own delays: PgBouncer refuses clients for its
        # server_login_retry after the failed logins of the bounded retries.
        monkeypatch.setattr(retry, "RETRY_DELAYS", delays)
        assert graph.get_state(config).values["log"][-1] == "bump3"


def test_retry_policy() -> None:
    """Which failures run a job again: lost connections and, once the
    database was reached, refused ones; never a job that may not run twice,
    a statement that failed on a live connection, or past the last delay."""
    job: Job[None] = Job(lambda: iter(()))
    refused = sa.exc.OperationalError(None, None, Exception("connection refused"))
    assert retry.retry_delay(job, refused, 0, reached=False) is None  # wrong host
    delays = [
        retry.retry_delay(job, refused, i, reached=True)
        for i in range(len(retry.RETRY_DELAYS) + 1)
    ]
    assert delays == [*retry.RETRY_DELAYS, None]
    assert delays[1:-1] == sorted(delays[1:-1]) and delays[1] > 0  # backing off
    once = Job(lambda: iter(()), retry=False)
    assert retry.retry_delay(once, refused, 0, reached=True) is None
    failed = sa.exc.OperationalError("SELECT 1", {}, Exception("statement timeout"))
    assert retry.retry_delay(job, failed, 0, reached=True) is None
    failed.connection_invalidated = True
    assert retry.retry_delay(job, failed, 0, reached=True) == 0.0
    # A transaction the server rolled back for a deadlock runs again, with
    # the same bounded backoff; a job that may not run twice still doesn't.
    deadlock = sa.exc.OperationalError("INSERT", {}, Exception("deadlock"))
    assert retry.retry_delay(job, deadlock, 0, reached=True, lost_a_race=True) == 0.0
    assert retry.retry_delay(job, deadlock, 0, reached=True, lost_a_race=False) is None
    assert retry.retry_delay(once, deadlock, 0, reached=True, lost_a_race=True) is None
    last = len(retry.RETRY_DELAYS)
    assert (
        retry.retry_delay(job, deadlock, last, reached=True, lost_a_race=True) is None
    )


def test_lost_races_are_told_from_other_errors() -> None:
    """The drivers' own exceptions for a deadlock or a serialization failure
    (psycopg's SQLSTATE 40P01 / 40001, MySQL's 1213) count as lost races;
    a lost connection, a duplicate key or SQLite's busy error do not (the
    first has its own rule, the others would fail the same way again)."""
    import sqlite3

    import psycopg.errors
    import pymysql.err

    from langgraph.checkpoint.sqlalchemy.dialects import lost_a_race

    def wrapped(orig: BaseException) -> sa.exc.DBAPIError:
        return sa.exc.DBAPIError.instance("INSERT", {}, orig, Exception)

    raced = [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"),
    ]
    not_raced = [
        psycopg.errors.UniqueViolation("duplicate key"),
        pymysql.err.OperationalError(2013, "Lost connection to MySQL server"),
        pymysql.err.IntegrityError(1062, "Duplicate entry"),
        sqlite3.OperationalError("database is locked"),
    ]
    assert [lost_a_race(wrapped(e)) for e in raced] == [True] * len(raced)
    assert [lost_a_race(wrapped(e)) for e in not_raced] == [False] * len(not_raced)


async def test_restart_async(
    restartable: tuple[LocalServer, str, dict[str, Any] | None],
) -> None:
    server, url, engine_kwargs = restartable
    config = {"configurable": {"thread_id": "survivor-async"}}
    async with AsyncSQLAlchemySaver.from_url(url, engine_kwargs=engine_kwargs) as saver:
        await saver.setup()
        graph = _counter(saver, until=3)
        await graph.ainvoke({"count": 0, "log": []}, config)
        server.restart()
        state = await graph.aget_state(config)
        assert state.values["count"] == 3
        await graph.ainvoke({"count": 0, "log": []}, config)
        assert (await graph.aget_state(config)).values["log"][-1] == "bump3"


@pytest.mark.parametrize(
    "engine_kwargs",
    [{"pool_size": 1, "max_overflow": 0}, {"poolclass": sa.pool.StaticPool}],
    ids=["pool-of-one", "one-connection"],
)
async def test_a_cancelled_call_gives_its_connection_back(
    postgres_url: str, engine_kwargs: dict[str, Any]
) -> None:
    """An async call cancelled while the server holds it (here: waiting for
    another transaction's lock) writes nothing, returns its connection to
    the pool in a usable state (or, kept by the saver, drops it), and the
    next call on that one connection goes through."""
    checkpoint = empty_checkpoint()
    async with AsyncSQLAlchemySaver.from_url(
        postgres_url, engine_kwargs=engine_kwargs
    ) as saver:
        await saver.setup()
        config = generate_config(f"cancelled-{checkpoint['id']}")
        blocker = sa.create_engine(postgres_url)
        try:
            with blocker.connect() as other:
                # The same key, uncommitted: our insert must wait for it.
                other.execute(
                    sa.text(
                        "INSERT INTO checkpoints (thread_id, checkpoint_ns,"
                        " checkpoint_id, checkpoint, metadata)"
                        " VALUES (:t, '', :c, '{}', '{}')"
                    ),
                    {"t": config["configurable"]["thread_id"], "c": checkpoint["id"]},
                )
                call = asyncio.ensure_future(saver.aput(config, checkpoint, {}, {}))
                await asyncio.sleep(0.5)
                assert not call.done()  # waiting on the lock
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
                other.rollback()
        finally:
            blocker.dispose()
        assert await saver.aget_tuple(config) is None  # nothing half-written
        pool = saver.bind.sync_engine.pool  # type: ignore[union-attr]
        if isinstance(pool, sa.pool.QueuePool):
            assert pool.checkedout() == 0
        stored = await asyncio.wait_for(saver.aput(config, checkpoint, {}, {}), 10)
        got = await saver.aget_tuple(stored)
        assert got is not None and got.checkpoint["id"] == checkpoint["id"]


# -- pool exhaustion and statement timeouts ------------------------------------------


@pytest.mark.parametrize("backend", SERVERS, indirect=True)
def test_pool_exhaustion_is_a_clear_error_and_passes(backend: Backend) -> None:
    engine = sa.create_engine(
        backend.sync_url, pool_size=1, max_overflow=0, pool_timeout=0.3
    )
    try:
        saver = SQLAlchemySaver(engine)
        saver.setup()
        held = engine.connect()
        with pytest.raises(sa.exc.TimeoutError, match="QueuePool limit"):
            saver.get_tuple(generate_config("t"))
        held.close()
        _superstep(saver, "t", 0, {})
        assert saver.get_tuple(generate_config("t")) is not None
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgres", "mariadb"], indirect=True)
def test_statement_timeout_is_a_clear_error_and_passes(backend: Backend) -> None:
    if backend.database == "postgres":
        connect_args: dict[str, Any] = {"options": "-c statement_timeout=300"}
        lock_sql, timeout_words = (
            "LOCK TABLE checkpoints IN ACCESS EXCLUSIVE MODE",
            "statement timeout",
        )
    else:
        connect_args = {
            "init_command": "SET SESSION max_statement_time=0.3, lock_wait_timeout=1"
        }
        lock_sql, timeout_words = (
            "LOCK TABLES checkpoints WRITE",
            "timeout|interrupted|Lock wait",
        )
    with SQLAlchemySaver.from_url(backend.sync_url) as setup:
        setup.setup()
        _superstep(setup, "t", 0, {})
    saver = SQLAlchemySaver.from_url(
        backend.sync_url, engine_kwargs={"connect_args": connect_args}
    )
    blocker = sa.create_engine(backend.sync_url)
    try:
        conn = blocker.connect()
        trans = conn.begin()
        conn.exec_driver_sql(lock_sql)
        with pytest.raises(sa.exc.OperationalError, match=timeout_words):
            saver.get_tuple(generate_config("t"))
        trans.rollback()
        conn.exec_driver_sql("UNLOCK TABLES") if backend.database == "mariadb" else None
        conn.close()
        assert saver.get_tuple(generate_config("t")) is not None
    finally:
        saver.close()
        blocker.dispose()


def test_unique_thread_ids_do_not_collide_across_savers(backend: Backend) -> None:
    """Two savers on one database in two threads interleave safely."""
    first = backend.saver()
    second = first if backend.name == "sqlite-memory" else backend.saver()
    try:
        errors: list[BaseException] = []

        def work(saver: SQLAlchemySaver, prefix: str) -> None:
            try:
                versions: dict[str, str] = {}
                for step in range(5):
                    _superstep(
                        saver, f"{prefix}-{uuid.uuid4().hex[:6]}", step, versions
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=work, args=(s, n))
            for s, n in ((first, "a"), (second, "b"))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
    finally:
        first.close()
        if second is not first:
            second.close()


def test_sqlite_connections_opening_a_new_file_at_once(tmp_path: Any) -> None:
    """Switching a new file to WAL takes an exclusive lock that SQLite's busy
    handler does not wait for, so connections opening it at the same moment
    (processes starting together, CI's concurrent setup()) were told
    "database is locked" at once. Eight threads open each of 25 new files
    together; every connection must open, in WAL."""
    failures: list[BaseException] = []

    def open_it(engine: sa.Engine, start: threading.Barrier) -> None:
        start.wait()
        try:
            with engine.connect() as conn:
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                assert mode == "wal"
        except BaseException as exc:  # collected, then asserted below
            failures.append(exc)

    for n in range(25):
        url = f"sqlite:///{tmp_path / f'new{n}.db'}"
        engines = [make_engine(url, one_owner=False) for _ in range(8)]
        start = threading.Barrier(len(engines))
        threads = [
            threading.Thread(target=open_it, args=(engine, start)) for engine in engines
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for engine in engines:
            engine.dispose()
    assert failures == []
