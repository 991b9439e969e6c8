"""Checkpoint TTL: expiry honoured before any sweep, refresh on read, both
sweep strategies, pins, concurrent sweepers, the sweeper thread and task, and
a real graph whose thread expires. Every backend, sync and async, with a
controllable clock (the savers' ``_clock``)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any, TypedDict

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.base import CheckpointTuple, empty_checkpoint
from langgraph.graph import END, START, StateGraph

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.models import CheckpointTTLRecord
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import ttl as ttl_plans
from test_cli import SHARED_BACKENDS
from test_cli import ok as cli_ok
from test_cli import ok_json as cli_json
from test_cli import run as cli_run

from conftest import Backend

TTL_TABLE = CheckpointTTLRecord.__table__
Saver = SQLAlchemySaver | AsyncSQLAlchemySaver


class Clock:
    """The savers' clock, moved by hand (naive UTC, as the side table keeps)."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(tzinfo=None)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


class Face:
    """A sync or async saver behind one awaitable interface (``name`` for
    the sync saver is ``a`` + ``name`` for the async one)."""

    def __init__(self, saver: Saver, clock: Clock) -> None:
        self.saver = saver
        self.clock = clock
        saver._clock = clock  # type: ignore[method-assign]

    @property
    def is_async(self) -> bool:
        return isinstance(self.saver, AsyncSQLAlchemySaver)

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return await getattr(self.saver, "a" + name)(*args, **kwargs)
        return getattr(self.saver, name)(*args, **kwargs)

    async def list(self, config: Any) -> list[CheckpointTuple]:
        if isinstance(self.saver, AsyncSQLAlchemySaver):
            return [t async for t in self.saver.alist(config)]
        return list(self.saver.list(config))

    async def get(self, thread_id: str, ns: str = "") -> CheckpointTuple | None:
        return await self.call("get_tuple", _config(thread_id, ns))  # type: ignore[no-any-return]

    async def write(self, thread_id: str, steps: int = 1, ns: str = "") -> None:
        """``steps`` checkpoints on one thread, each with a blob and a write."""
        config = _config(thread_id, ns)
        for step in range(steps):
            checkpoint = empty_checkpoint()
            checkpoint["channel_values"] = {"log": ["x" * 50, step]}
            checkpoint["channel_versions"] = {"log": f"{step + 1:08}"}
            config = await self.call(
                "put", config, checkpoint, {"step": step}, {"log": f"{step + 1:08}"}
            )
            await self.call("put_writes", config, [("log", step)], f"task{step}")

    async def threads(self) -> set[str]:
        return {t.config["configurable"]["thread_id"] for t in await self.list(None)}

    async def side_rows(self) -> dict[str, tuple[datetime | None, bool]]:
        stmt = sa.select(
            TTL_TABLE.c.thread_id, TTL_TABLE.c.expires_at, TTL_TABLE.c.pinned
        )
        if isinstance(self.saver, AsyncSQLAlchemySaver):
            async with self.saver.bind.connect() as aconn:  # type: ignore[union-attr]
                rows = (await aconn.execute(stmt)).all()
        else:
            with self.saver.bind.connect() as conn:  # type: ignore[union-attr]
                rows = conn.execute(stmt).all()
        return {r.thread_id: (r.expires_at, bool(r.pinned)) for r in rows}

    async def close(self) -> None:
        if isinstance(self.saver, AsyncSQLAlchemySaver):
            await self.saver.aclose()
        else:
            self.saver.close()


def _config(thread_id: str, ns: str = "") -> Any:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}


class Savers:
    """Opens savers on the test's database, sync or async, all on one clock."""

    def __init__(self, backend: Backend, mode: str) -> None:
        self.backend = backend
        self.mode = mode
        self.clock = Clock()
        self.opened: list[Face] = []

    async def open(self, **ttl: Any) -> Face:
        kwargs: dict[str, Any] = {"ttl": ttl} if ttl else {}
        saver: Saver
        if self.mode == "async":
            saver = await self.backend.asaver(**kwargs)
        else:
            saver = self.backend.saver(**kwargs)
        face = Face(saver, self.clock)
        self.opened.append(face)
        return face

    async def beside(self, face: Face, **ttl: Any) -> Face:
        """Another saver on ``face``'s own engine (one in-memory database)."""
        cls = type(face.saver)
        other = cls(
            face.saver.bind,  # type: ignore[arg-type]
            force_portable=self.backend.force_portable,
            ttl=ttl or None,
        )
        face = Face(other, self.clock)
        self.opened.append(face)
        return face


@pytest.fixture(params=["sync", "async"])
async def savers(
    request: pytest.FixtureRequest, backend: Backend
) -> AsyncIterator[Savers]:
    opened = Savers(backend, request.param)
    try:
        yield opened
    finally:
        for face in reversed(opened.opened):  # savers beside others first
            await face.close()


# -- expiry before any sweep ------------------------------------------------


async def test_expired_threads_are_never_served(savers: Savers) -> None:
    face = await savers.open(default_ttl=10)
    await face.write("old", 2)
    await face.write("child", 1, ns="sub:1")
    savers.clock.advance(6)
    await face.write("fresh")
    assert await face.threads() == {"old", "child", "fresh"}

    savers.clock.advance(5)  # "old" and "child" are 11 minutes old, "fresh" 5
    assert await face.get("old") is None
    assert await face.get("child", "sub:1") is None
    assert await face.list(_config("old")) == []
    assert await face.list({"configurable": {"thread_id": "old"}}) == []
    assert await face.threads() == {"fresh"}
    assert await face.get("fresh") is not None

    # Hidden, not yet deleted: a saver without a TTL still sees every row.
    plain = await savers.beside(face)
    assert await plain.threads() == {"old", "child", "fresh"}


async def test_writing_again_extends_the_ttl(savers: Savers) -> None:
    face = await savers.open(default_ttl=10, refresh_on_read=False)
    await face.write("t")
    savers.clock.advance(8)
    await face.write("t")
    savers.clock.advance(8)  # 16 minutes after the first write, 8 after the last
    assert await face.get("t") is not None


@pytest.mark.parametrize("refresh", [True, False])
async def test_refresh_on_read(savers: Savers, refresh: bool) -> None:
    face = await savers.open(default_ttl=10, refresh_on_read=refresh)
    await face.write("read-by-get")
    await face.write("read-by-list")
    savers.clock.advance(8)
    assert await face.get("read-by-get") is not None
    assert len(await face.list(_config("read-by-list"))) == 1
    savers.clock.advance(5)  # 13 minutes after the write, 5 after the reads
    alive = {t for t in ("read-by-get", "read-by-list") if await face.get(t)}
    assert alive == ({"read-by-get", "read-by-list"} if refresh else set())


async def test_a_read_that_would_barely_move_the_expiry_writes_nothing(
    savers: Savers,
) -> None:
    face = await savers.open(default_ttl=10)
    await face.write("t")
    before = (await face.side_rows())["t"][0]
    savers.clock.advance(0.5)  # under a tenth of the TTL
    assert await face.get("t") is not None
    assert (await face.side_rows())["t"][0] == before
    savers.clock.advance(1)
    assert await face.get("t") is not None
    after = (await face.side_rows())["t"][0]
    assert after is not None and before is not None and after > before


async def test_no_ttl_writes_no_side_row(savers: Savers) -> None:
    face = await savers.open()
    await face.write("t", 2)
    assert await face.get("t") is not None
    assert await face.side_rows() == {}
    with_ttl = await savers.beside(face, default_ttl=5)
    await with_ttl.write("u")
    assert set(await face.side_rows()) == {"u"}


# -- sweeping ---------------------------------------------------------------


async def test_sweep_delete(savers: Savers) -> None:
    face = await savers.open(default_ttl=10)
    for n in range(5):
        await face.write(f"old{n}", 2)
    savers.clock.advance(11)
    await face.write("fresh")
    assert await face.call("sweep_ttl", batch_size=2) == 5
    assert await face.call("sweep_ttl") == 0
    plain = await savers.beside(face)
    assert await plain.threads() == {"fresh"}
    assert set(await face.side_rows()) == {"fresh"}


async def test_sweep_keep_latest(savers: Savers) -> None:
    face = await savers.open(default_ttl=10, strategy="keep_latest")
    await face.write("t", 4)
    await face.write("t", 3, ns="sub:1")
    await face.write("fresh", 3)
    savers.clock.advance(6)
    await face.write("fresh")
    savers.clock.advance(5)
    # Expired: the latest checkpoint stays served, the sweep trims the rest.
    latest = await face.get("t")
    assert latest is not None and latest.metadata["step"] == 3
    assert len(await face.list(_config("t"))) == 4
    assert await face.call("sweep_ttl") == 1
    plain = await savers.beside(face)
    assert len(await plain.list(_config("t"))) == 1
    assert len(await plain.list(_config("t", "sub:1"))) == 1
    assert len(await plain.list(_config("fresh"))) == 4  # not expired: untouched
    after = await face.get("t")
    assert after is not None and after.checkpoint == latest.checkpoint
    # Not swept again until written.
    assert await face.call("sweep_ttl") == 0
    await face.write("t", 2)
    savers.clock.advance(11)
    assert await face.call("sweep_ttl") == 2  # "t" and "fresh"
    assert len(await plain.list(_config("t"))) == 1


@pytest.mark.parametrize("strategy", ["delete", "keep_latest"])
async def test_a_write_after_expiry_never_brings_old_checkpoints_back(
    savers: Savers, strategy: str
) -> None:
    face = await savers.open(default_ttl=10, strategy=strategy)
    await face.write("t", 3)
    savers.clock.advance(11)  # expired; no sweep has run
    await face.write("t")
    history = await face.list(_config("t"))
    # As if the sweep had come first: nothing old (delete), or the latest
    # old checkpoint under the new one (keep_latest).
    assert [t.metadata["step"] for t in history] == (
        [0] if strategy == "delete" else [0, 2]
    )
    assert await face.get("t") is not None
    assert await face.call("sweep_ttl") == 0  # alive again


async def test_strategy_given_to_the_sweep_wins(savers: Savers) -> None:
    face = await savers.open(default_ttl=1, strategy="keep_latest")
    await face.write("t", 3)
    savers.clock.advance(2)
    assert await face.call("sweep_ttl", strategy="delete") == 1
    assert await (await savers.beside(face)).threads() == set()
    with pytest.raises(ValueError, match="unknown TTL strategy"):
        await face.call("sweep_ttl", strategy="keep_last")
    with pytest.raises(ValueError, match="batch_size"):
        await face.call("sweep_ttl", batch_size=0)


# -- pins -------------------------------------------------------------------


async def test_pins_are_served_and_survive_sweeps(savers: Savers) -> None:
    face = await savers.open(default_ttl=10)
    await face.write("kept", 2)
    await face.write("gone")
    await face.call("pin_thread", "kept")
    await face.call("pin_thread", "kept")  # twice is once
    await face.call("pin_thread", "later")  # no checkpoint yet: pinned ahead
    assert await face.call("list_pinned_threads") == ["kept", "later"]
    savers.clock.advance(60)
    await face.write("kept")  # a write keeps the pin
    savers.clock.advance(60)
    assert await face.get("kept") is not None
    assert await face.call("sweep_ttl") == 1
    assert await face.threads() == {"kept"}
    assert len(await face.list(_config("kept"))) == 3

    await face.call("unpin_thread", "kept")
    await face.call("unpin_thread", "never-pinned")  # no error
    assert await face.call("list_pinned_threads") == ["later"]
    assert await face.get("kept") is None  # its expiry had passed
    assert await face.call("sweep_ttl") == 1
    assert await (await savers.beside(face)).threads() == set()


async def test_delete_and_copy_handle_the_side_row(savers: Savers) -> None:
    face = await savers.open(default_ttl=10)
    await face.write("src", 2)
    await face.call("pin_thread", "src")
    await face.call("copy_thread", "src", "copy")
    assert await face.call("list_pinned_threads") == ["src"]  # the copy is not
    savers.clock.advance(11)
    assert await face.get("src") is not None
    assert await face.get("copy") is None  # copied with a TTL of its own
    await face.call("delete_thread", "src")
    assert await face.call("list_pinned_threads") == []
    assert "src" not in await face.side_rows()
    # A saver without a TTL leaves the side table alone (it may run on a
    # database not yet upgraded to lgcp0003); the TTL saver's sweep clears
    # the row it left.
    plain = await savers.beside(face)
    await plain.call("delete_thread", "copy")
    assert await face.get("copy") is None
    assert "copy" in await face.side_rows()
    await face.call("sweep_ttl")
    assert await face.side_rows() == {}


async def test_refused_copy_leaves_no_side_row(savers: Savers) -> None:
    face = await savers.open(default_ttl=10)
    await face.write("a")
    await face.write("b")
    await face.call("delete_thread", "b")
    plain = await savers.beside(face)
    await plain.write("b")  # b has checkpoints, no side row
    with pytest.raises(ValueError, match="already has checkpoints"):
        await face.call("copy_thread", "a", "b")
    assert "b" not in await face.side_rows()


# -- the sweeper ------------------------------------------------------------


async def test_sweeper_starts_sweeps_and_stops(savers: Savers) -> None:
    face = await savers.open(default_ttl=1, sweep_interval_minutes=0.0005)
    await face.write("t")
    savers.clock.advance(2)
    swept: list[int] = []
    # Counted on the way (a saver reading beside it would share a
    # one-connection engine's connection with the sweeper).
    if isinstance(face.saver, AsyncSQLAlchemySaver):
        asweep = face.saver.asweep_ttl

        async def counted_async() -> int:
            swept.append(await asweep())
            return swept[-1]

        face.saver.asweep_ttl = counted_async  # type: ignore[method-assign,assignment]
    else:
        sweep = face.saver.sweep_ttl

        def counted() -> int:
            swept.append(sweep())
            return swept[-1]

        face.saver.sweep_ttl = counted  # type: ignore[method-assign,assignment]
    face.saver.start_ttl_sweeper()
    face.saver.start_ttl_sweeper()  # running already: nothing more
    for _ in range(1000):
        if len(swept) >= 2:
            break
        await asyncio.sleep(0.01)
    if isinstance(face.saver, AsyncSQLAlchemySaver):
        await face.saver.stop_ttl_sweeper()
    else:
        assert face.saver.stop_ttl_sweeper(10)
    assert swept[0] == 1 and sum(swept) == 1
    calls = len(swept)
    await face.write("u")
    savers.clock.advance(2)
    await asyncio.sleep(0.1)  # many intervals: a stopped sweeper sweeps nothing
    assert len(swept) == calls
    assert await (await savers.beside(face)).threads() == {"u"}


async def test_close_stops_the_sweeper(backend: Backend) -> None:
    sync = backend.saver(ttl={"default_ttl": 1, "sweep_interval_minutes": 0.01})
    sync.start_ttl_sweeper()
    sweeper = sync._sweeper
    assert sweeper is not None and sweeper.running
    sync.close()
    assert not sweeper.running

    asaver = await backend.asaver(ttl={"default_ttl": 1})
    async with asaver:
        asaver.start_ttl_sweeper()
        task_sweeper = asaver._sweeper
        assert task_sweeper is not None and task_sweeper.running
    assert not task_sweeper.running


async def test_a_sweeper_needs_a_ttl(backend: Backend) -> None:
    with backend.saver() as saver:
        with pytest.raises(ValueError, match="no ttl"):
            saver.start_ttl_sweeper()
        assert saver.stop_ttl_sweeper()  # none running: fine


# -- concurrency --------------------------------------------------------------


async def test_concurrent_sweepers_sweep_each_thread_once(backend: Backend) -> None:
    clock = Clock()
    with backend.saver(ttl={"default_ttl": 1}) as writer:
        writer._clock = clock  # type: ignore[method-assign]
        face = Face(writer, clock)
        for n in range(40):
            await face.write(f"t{n:02}")
        clock.advance(2)
        # Separate engines (separate connections); the in-memory database
        # lives in one engine, whose one saver sweeps from several threads.
        if backend.name == "sqlite-memory":
            sweepers = [writer] * 4
        else:
            sweepers = [backend.saver(ttl={"default_ttl": 1}) for _ in range(4)]
        counts: list[int] = []
        errors: list[BaseException] = []
        start = threading.Barrier(len(sweepers))

        def sweep(saver: SQLAlchemySaver) -> None:
            saver._clock = clock  # type: ignore[method-assign]
            try:
                start.wait()
                counts.append(saver.sweep_ttl(batch_size=3))
            except BaseException as exc:  # reported below
                errors.append(exc)

        workers = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        for s in sweepers:
            if s.bind is not writer.bind:
                s.close()
        assert not errors, errors
        assert sum(counts) == 40
        assert await face.threads() == set()


@pytest.fixture(params=["postgres", "postgres-pgbouncer", "mariadb"])
def server_backend(request: pytest.FixtureRequest, tmp_path: Any) -> Backend:
    from conftest import make_backend

    return make_backend(request.param, request, tmp_path)


def test_a_batch_in_progress_skips_and_is_skipped(server_backend: Backend) -> None:
    """A batch holds its claimed rows until it commits: a second sweeper skips
    them instead of waiting, a writer of a claimed thread waits for that one
    batch only, and then writes a thread that lives on."""
    clock = Clock()
    with server_backend.saver(ttl={"default_ttl": 1}) as saver:
        saver._clock = clock  # type: ignore[method-assign]
        face = Face(saver, clock)
        for name in ("a", "b", "c"):
            asyncio.run(face.write(name))
        clock.advance(2)
        engine = sa.create_engine(server_backend.sync_url)
        try:
            with engine.connect() as conn, conn.begin():
                plan = ttl_plans.sweep_batch(clock(), "delete", 2)
                claim = next(plan)
                # The first batch claims two threads (the earliest expiries) …
                result = conn.execute(claim.statement)  # type: ignore[arg-type]
                claimed = [r.thread_id for r in result]
                assert len(claimed) == 2
                # … a second sweeper skips them and takes the third at once
                # (then waits a moment for the two, and leaves them here).
                with server_backend.saver() as other:
                    other._clock = clock  # type: ignore[method-assign]
                    assert other.sweep_ttl(batch_size=10) == 1
                # A writer of a claimed thread waits for this batch.
                done = threading.Event()

                def write() -> None:
                    clock_now = clock()
                    saver._clock = lambda: clock_now  # type: ignore[method-assign]
                    asyncio.run(face.write(claimed[0]))
                    done.set()

                writer = threading.Thread(target=write)
                writer.start()
                assert not done.wait(0.5)
                try:
                    plan.send(_Result(claimed))
                    for step in plan:
                        conn.execute(step.statement, step.params)  # type: ignore[arg-type]
                except StopIteration:
                    pass
            writer.join(60)
            assert done.is_set()  # the batch committed, the writer went on
        finally:
            engine.dispose()
        # The writer's checkpoint outlived the sweep; the rest is gone.
        assert asyncio.run(face.threads()) == {claimed[0]}


class _Result:
    """What the driver would send back for the claim."""

    def __init__(self, ids: list[str]) -> None:
        self._rows = [type("Row", (), {"thread_id": i})() for i in ids]

    def __iter__(self) -> Any:
        return iter(self._rows)


# -- validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "error", "match"),
    [
        ({"default_ttl": 5, "stratgy": "delete"}, ValueError, "unknown ttl keys"),
        ({}, ValueError, "default_ttl"),
        ({"strategy": "delete"}, ValueError, "default_ttl"),
        ({"default_ttl": 0}, ValueError, "positive"),
        ({"default_ttl": -1}, ValueError, "positive"),
        ({"default_ttl": float("inf")}, ValueError, "positive"),
        ({"default_ttl": "60"}, TypeError, "number of minutes"),
        ({"default_ttl": True}, TypeError, "number of minutes"),
        ({"default_ttl": 5, "strategy": "keep_last"}, ValueError, "strategy"),
        ({"default_ttl": 5, "sweep_interval_minutes": 0}, ValueError, "positive"),
        ({"default_ttl": 5, "refresh_on_read": "yes"}, TypeError, "bool"),
        ([("default_ttl", 5)], TypeError, "dict"),
    ],
)
def test_ttl_is_validated(
    ttl: Any, error: type[Exception], match: str, tmp_path: Any
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/v.db")
    with pytest.raises(error, match=match):
        SQLAlchemySaver(engine, ttl=ttl)
    with pytest.raises(error, match=match):
        SQLAlchemySaver.from_url("sqlite://", ttl=ttl)


async def test_ttl_settings_and_defaults(tmp_path: Any) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/v.db")
    saver = SQLAlchemySaver(engine, ttl={"default_ttl": 90})
    assert saver.ttl is not None
    assert saver.ttl.strategy == "delete"
    assert saver.ttl.refresh_on_read is True
    assert saver.ttl.sweep_interval_minutes == 5
    asaver = AsyncSQLAlchemySaver.from_url(
        "sqlite+aiosqlite://",
        ttl={
            "default_ttl": 1.5,
            "strategy": "keep_latest",
            "sweep_interval_minutes": 2,
            "refresh_on_read": False,
        },
    )
    assert asaver.ttl == (1.5, "keep_latest", 2.0, False)
    await asaver.aclose()
    assert SQLAlchemySaver(engine).ttl is None


# -- a real graph -------------------------------------------------------------


class _State(TypedDict):
    count: int


def _graph(checkpointer: Any) -> Any:
    builder = StateGraph(_State)
    builder.add_node("inc", lambda s: {"count": s["count"] + 1})
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    return builder.compile(checkpointer=checkpointer)


async def test_a_graph_thread_expires_and_is_swept(savers: Savers) -> None:
    face = await savers.open(default_ttl=30)
    graph = _graph(face.saver)
    config = {"configurable": {"thread_id": "chat"}}
    if face.is_async:
        assert (await graph.ainvoke({"count": 1}, config))["count"] == 2
        savers.clock.advance(20)
        assert (await graph.aget_state(config)).values == {"count": 2}
        savers.clock.advance(20)  # refreshed by the read: 20 of 30 minutes
        assert (await graph.ainvoke({"count": 5}, config))["count"] == 6
        savers.clock.advance(31)
        assert (await graph.aget_state(config)).values == {}
        # A run on the expired thread starts afresh, and history is its own.
        assert (await graph.ainvoke({"count": 10}, config))["count"] == 11
        history = [s async for s in graph.aget_state_history(config)]
    else:
        assert graph.invoke({"count": 1}, config)["count"] == 2
        savers.clock.advance(20)
        assert graph.get_state(config).values == {"count": 2}
        savers.clock.advance(20)
        assert graph.invoke({"count": 5}, config)["count"] == 6
        savers.clock.advance(31)
        assert graph.get_state(config).values == {}
        assert graph.invoke({"count": 10}, config)["count"] == 11
        history = list(graph.get_state_history(config))
    assert [s.values for s in history] == [{"count": 11}, {"count": 10}, {}]
    savers.clock.advance(31)
    assert await face.call("sweep_ttl") == 1
    assert await (await savers.beside(face)).threads() == set()


# -- the command line -----------------------------------------------------------


@pytest.fixture(params=SHARED_BACKENDS)
def cli_backend(request: pytest.FixtureRequest, tmp_path: Any) -> Backend:
    from conftest import make_backend

    return make_backend(request.param, request, tmp_path)


def test_cli_sweeps_shows_and_pins(cli_backend: Backend) -> None:
    url = cli_backend.sync_url
    clock = Clock()
    with cli_backend.saver(ttl={"default_ttl": 10}) as saver:
        face = Face(saver, clock)
        for name in ("a", "b", "c"):
            asyncio.run(face.write(name, 2))
        clock.advance(-20)  # "c" written 20 minutes ago: its 10 are up
        asyncio.run(face.write("c"))
    cli_ok("pin", "a", "later", "--url", url)
    shown = {r["thread_id"]: r for r in cli_json("ttl", "show", "--url", url)}
    assert set(shown) == {"a", "b", "c", "later"}
    assert shown["a"]["pinned"] and shown["later"]["expires_at"] is None
    assert [r["thread_id"] for r in shown.values() if r["expired"]] == ["c"]
    listed = {t["thread_id"]: t["pinned"] for t in cli_json("threads", "--url", url)}
    assert listed == {"a": True, "b": False, "c": False}
    assert "yes" in cli_ok("threads", "--url", url).stdout  # the pinned column

    dry = cli_json("ttl", "sweep", "--url", url, "--dry-run")
    assert dry == {"dry_run": True, "expired": ["c"], "swept": 0}
    assert cli_run("ttl", "sweep", "--url", url, input="n\n").exit_code != 0
    swept = cli_json("ttl", "sweep", "--url", url, "--yes")
    assert swept == {"dry_run": False, "expired": ["c"], "swept": 1}
    assert "no expired thread" in cli_ok("ttl", "sweep", "--url", url, "--yes").stdout
    assert {t["thread_id"] for t in cli_json("threads", "--url", url)} == {"a", "b"}

    unpinned = cli_json("unpin", "a", "--url", url)
    assert unpinned == {"unpin": ["a"], "pinned": ["later"]}
    assert cli_json("ttl", "show", "--url", url, "--pinned") == [
        {"thread_id": "later", "expires_at": None, "pinned": True, "expired": False}
    ]


def test_sweeps_in_several_processes_sweep_each_thread_once(
    cli_backend: Backend,
) -> None:
    """Three `ttl sweep` processes at once, as replicas or overlapping
    CronJobs would run them."""
    clock = Clock()
    clock.advance(-60)  # written an hour ago: their 10 minutes are up
    with cli_backend.saver(ttl={"default_ttl": 10}) as saver:
        face = Face(saver, clock)
        for n in range(30):
            asyncio.run(face.write(f"t{n:02}"))
    command = [
        sys.executable,
        "-m",
        "langgraph.checkpoint.sqlalchemy",
        "ttl",
        "sweep",
        "--url",
        cli_backend.sync_url,
        "--batch-size",
        "2",
        "--yes",
        "--json",
    ]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    reports = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
        reports.append(json.loads(out))
    assert sum(r["swept"] for r in reports) == 30
    assert cli_json("threads", "--url", cli_backend.sync_url) == []
