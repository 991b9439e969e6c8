"""The memory store's TTL on every backend: expired items are never
returned, even before a sweep; reads refresh; sweeps delete each expired item
once, in batches, with several sweepers at once and a writer beside them."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from langgraph.store.base import GetOp, PutOp
from sqlalchemy import func, select, update

from langgraph.checkpoint.sqlalchemy.models import StoreRecord
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Job, Plan
from langgraph.store.sqlalchemy import AsyncSQLAlchemyStore, SQLAlchemyStore

from conftest import Backend

STORE = StoreRecord.__table__


def _expire(store: SQLAlchemyStore, prefix: str, *, ago: float = 1.0) -> None:
    """Move the expiry of every item under ``prefix`` into the past, as the
    clock would have."""
    past = datetime.now(timezone.utc) - timedelta(minutes=ago)
    with store.bind.begin() as conn:  # type: ignore[union-attr]
        conn.execute(
            update(STORE).where(STORE.c.prefix == prefix).values(expires_at=past)
        )


def _expiry(store: SQLAlchemyStore, prefix: str, key: str) -> datetime | None:
    with store.bind.connect() as conn:  # type: ignore[union-attr]
        return conn.execute(
            select(STORE.c.expires_at).where(
                STORE.c.prefix == prefix, STORE.c.key == key
            )
        ).scalar_one()


def _rows(store: SQLAlchemyStore, prefix: str | None = None) -> int:
    statement = select(func.count()).select_from(STORE)
    if prefix is not None:
        statement = statement.where(STORE.c.prefix == prefix)
    with store.bind.connect() as conn:  # type: ignore[union-attr]
        return int(conn.execute(statement).scalar_one())


def test_expired_items_are_never_returned_even_before_a_sweep(
    store: SQLAlchemyStore,
) -> None:
    store.put(("old",), "k", {"v": 1}, ttl=5)
    store.put(("live",), "k", {"v": 2}, ttl=5)
    store.put(("forever",), "k", {"v": 3})
    assert store.get(("old",), "k") is not None
    _expire(store, "old")
    assert store.get(("old",), "k") is None
    assert {i.namespace for i in store.search((), limit=10)} == {
        ("forever",),
        ("live",),
    }
    assert ("old",) not in store.list_namespaces()
    assert _rows(store, "old") == 1  # still stored: only a sweep deletes it
    assert store.sweep_ttl() == 1
    assert _rows(store, "old") == 0
    assert store.get(("live",), "k") is not None
    assert store.get(("forever",), "k") is not None
    assert store.sweep_ttl() == 0


def test_reads_refresh_the_expiry(store: SQLAlchemyStore) -> None:
    store.put(("r",), "k", {"v": 1}, ttl=60)
    store.put(("r",), "s", {"v": 1}, ttl=60)
    soon = datetime.now(timezone.utc) + timedelta(minutes=1)
    with store.bind.begin() as conn:  # type: ignore[union-attr]
        conn.execute(update(STORE).values(expires_at=soon))
    store.get(("r",), "k", refresh_ttl=False)
    assert _expiry(store, "r", "k") == soon
    store.get(("r",), "k")  # refresh_on_read defaults to True
    assert _expiry(store, "r", "k") > soon + timedelta(minutes=50)
    assert _expiry(store, "r", "s") == soon
    store.search(("r",), filter={"v": 1}, refresh_ttl=False)
    assert _expiry(store, "r", "s") == soon
    store.search(("r",), filter={"v": 1})
    assert _expiry(store, "r", "s") > soon + timedelta(minutes=50)


def test_a_refresh_never_revives_or_overrides(store: SQLAlchemyStore) -> None:
    """A read-only batch refreshes what it read in a transaction of its own;
    an item that expired, or was written again, in between keeps the expiry
    it has now."""
    from langgraph.checkpoint.sqlalchemy.repository.store import jobs

    store.put(("g",), "expired", {"v": 1}, ttl=60)
    store.put(("g",), "rewritten", {"v": 1}, ttl=60)
    reads = [GetOp(("g",), key, refresh_ttl=True) for key in ("expired", "rewritten")]
    outcome = store._run(store._batch_job(reads))
    assert [item.key for item in outcome.results] == ["expired", "rewritten"]  # type: ignore[union-attr]
    assert len(outcome.refresh) == 2
    _expire(store, "g", ago=1)
    expired_at = _expiry(store, "g", "expired")
    store.put(("g",), "rewritten", {"v": 2}, ttl=5)
    rewritten_at = _expiry(store, "g", "rewritten")
    store._run(jobs.refresh_job(outcome.refresh))
    assert _expiry(store, "g", "expired") == expired_at
    assert store.get(("g",), "expired") is None
    assert _expiry(store, "g", "rewritten") == rewritten_at


def test_ttl_config_defaults(backend: Backend) -> None:
    store = backend.store(ttl={"default_ttl": 30, "refresh_on_read": False})
    try:
        store.put(("d",), "k", {"v": 1})
        store.put(("d",), "none", {"v": 1}, ttl=None)
        expiry = _expiry(store, "d", "k")
        assert expiry is not None
        assert _expiry(store, "d", "none") is None
        past_soon = datetime.now(timezone.utc) + timedelta(minutes=1)
        with store.bind.begin() as conn:  # type: ignore[union-attr]
            conn.execute(
                update(STORE).where(STORE.c.key == "k").values(expires_at=past_soon)
            )
        store.get(("d",), "k")  # refresh_on_read=False: no refresh
        assert _expiry(store, "d", "k") == past_soon
    finally:
        store.close()


def test_a_fraction_of_a_minute(store: SQLAlchemyStore) -> None:
    """A TTL of 0.001 minutes (60 ms) is honoured as given (a read that
    refreshes would give it the whole minute ``ttl_minutes`` holds)."""
    store.put(("f",), "k", {"v": 1}, ttl=0.001)
    deadline = time.monotonic() + 30
    while store.get(("f",), "k", refresh_ttl=False) is not None:
        assert time.monotonic() < deadline, "a 60 ms TTL never expired"
        time.sleep(0.05)
    assert store.sweep_ttl() == 1


def test_parallel_sweepers_delete_each_item_once_beside_a_writer(
    backend: Backend, store: SQLAlchemyStore
) -> None:
    expired = 300
    store.batch(
        [
            PutOp(("sweep", str(i % 3)), f"k{i}", {"i": i}, ttl=10)
            for i in range(expired)
        ]
    )
    for shard in range(3):
        _expire(store, f"sweep.{shard}")
    # sqlite-memory is one database per engine: its sweepers share the store.
    shared = backend.name == "sqlite-memory"
    sweepers = [store if shared else backend.store() for _ in range(4)]
    counts: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(sweepers) + 1)

    def sweep(s: SQLAlchemyStore) -> None:
        try:
            start.wait()
            counts.append(s.sweep_ttl(batch_size=25))
        except BaseException as exc:  # reported below
            errors.append(exc)

    def write() -> None:
        try:
            start.wait()
            for i in range(50):
                store.put(("written",), f"w{i}", {"i": i}, ttl=60)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(s,)) for s in sweepers]
    threads.append(threading.Thread(target=write))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert sum(counts) == expired  # each expired item deleted exactly once
        assert sum(_rows(store, f"sweep.{s}") for s in range(3)) == 0
        assert len(store.search(("written",), limit=100)) == 50
    finally:
        for s in sweepers:
            if s is not store:
                s.close()


def test_swept_items_leave_no_vectors_on_every_backend(backend: Backend) -> None:
    """A vector index loses the vectors of swept items, batch by batch, and
    keeps those of the others: the exact index's table, which the store
    clears itself where the database does not cascade (and on MariaDB, where
    the exact index's key is too long, the MySQL index's)."""
    index = {"dims": 2, "embed": lambda texts: [[1.0, len(t)] for t in texts]}
    with backend.store() as plain:
        # From the backend's engine, so that sqlite-memory is one database.
        store = SQLAlchemyStore(
            plain.bind,  # type: ignore[arg-type]
            index=index,  # type: ignore[arg-type]
            force_exact=backend.database != "mariadb",
            force_portable=backend.force_portable,
        )
        store.setup()
        assert store._vectors is not None
        vectors = store._vectors.table
        try:
            store.batch(
                [PutOp(("gone",), f"k{i}", {"text": "x" * i}, ttl=10) for i in range(7)]
                + [PutOp(("kept",), f"k{i}", {"text": "y"}, ttl=10) for i in range(2)]
                + [PutOp(("kept",), "forever", {"text": "z"})]
            )
            _expire(store, "gone")
            assert store.sweep_ttl(batch_size=3) == 7
            with store.bind.connect() as conn:  # type: ignore[union-attr]
                left = conn.execute(select(vectors.c.prefix, vectors.c.key)).all()
            assert sorted(left) == [("kept", "forever"), ("kept", "k0"), ("kept", "k1")]
        finally:
            with store.bind.begin() as conn:  # type: ignore[union-attr]
                vectors.drop(conn)


@pytest.fixture(params=["postgres", "mariadb"])
def locking_backend(request: pytest.FixtureRequest, tmp_path: Any) -> Backend:
    from conftest import make_backend

    return make_backend(request.param, request, tmp_path)


def test_a_sweep_waits_for_expired_items_it_could_not_claim(
    locking_backend: Backend,
) -> None:
    """An item another transaction holds is skipped, not the end of the
    sweep: once it is released, the same sweep deletes it."""
    with locking_backend.store() as store:
        store.batch([PutOp(("held",), f"k{i}", {"i": i}, ttl=10) for i in range(5)])
        _expire(store, "held")
        swept: list[int] = []
        sweeper = threading.Thread(
            target=lambda: swept.append(store.sweep_ttl(batch_size=2))
        )
        with store.bind.connect() as conn:  # type: ignore[union-attr]
            with conn.begin():
                conn.execute(
                    select(STORE.c.key)
                    .where(STORE.c.prefix == "held", STORE.c.key == "k0")
                    .with_for_update()
                ).all()
                sweeper.start()
                time.sleep(0.3)  # the sweep has claimed the other four by now
            sweeper.join(60)
        assert swept == [5]
        assert _rows(store, "held") == 0


def test_the_sweeper_thread(store: SQLAlchemyStore) -> None:
    store.put(("bg",), "k", {"v": 1}, ttl=5)
    _expire(store, "bg")
    store.start_ttl_sweeper(sweep_interval_minutes=0.001)
    try:
        deadline = time.monotonic() + 60
        while _rows(store, "bg"):
            assert time.monotonic() < deadline, "the sweeper never swept"
            time.sleep(0.05)
    finally:
        assert store.stop_ttl_sweeper(timeout=30)


async def test_async_ttl_and_sweeper(backend: Backend) -> None:
    store = await backend.astore()
    try:
        await store.aput(("a",), "k", {"v": 1}, ttl=5)
        await store.aput(("a",), "stay", {"v": 1}, ttl=5)
        past = datetime.now(timezone.utc) - timedelta(minutes=1)
        statement: Any = update(STORE).where(STORE.c.key == "k").values(expires_at=past)
        async with store.bind.begin() as conn:  # type: ignore[union-attr]
            await conn.execute(statement)
        assert await store.aget(("a",), "k") is None
        assert [i.key for i in await store.asearch(("a",))] == ["stay"]
        assert await store.asweep_ttl() == 1
        await store.aput(("a",), "k2", {"v": 1}, ttl=5)
        async with store.bind.begin() as conn:  # type: ignore[union-attr]
            await conn.execute(
                update(STORE).where(STORE.c.key == "k2").values(expires_at=past)
            )
        await store.start_ttl_sweeper(sweep_interval_minutes=0.001)
        for _ in range(1200):
            if await store.aget(("a",), "k2") is None and not await _async_rows(
                store, "k2"
            ):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the async sweeper never swept")
        await store.stop_ttl_sweeper()
    finally:
        await store.aclose()


async def _async_rows(store: AsyncSQLAlchemyStore, key: str) -> int:
    """Rows under ``key``, counted through the store's own runner: on a
    one-connection engine a connection of the test's own would be the
    sweeper's, mid-transaction."""

    def count() -> Plan[int]:
        statement = select(func.count()).select_from(STORE).where(STORE.c.key == key)
        return int((yield Execute(statement)).scalar_one())

    return await store._arun(Job(count, read_only=True))
