"""Calls on a SQLite file that ``from_url`` opened: the saver's and the
store's calls run on a pool connection kept aside when it is free
(``Runner.spare``), readers at once, writers in their turn (writers still take
turns); a call that finds it taken checks out of the pool.

What must hold on that kept connection: every read sees what was committed
before it started, by this process or another, and no read leaves a
transaction open behind it (which would serve old snapshots and pin the
WAL, so that a checkpoint could not truncate it).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.store.base import GetOp
from sqlalchemy import event

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.store.sqlalchemy import SQLAlchemyStore


def _checkouts(engine: Any) -> list[object]:
    seen: list[object] = []
    event.listen(engine, "checkout", lambda *args: seen.append(args))
    return seen


def _wal_truncates(path: Path) -> bool:
    """Whether another connection can checkpoint the WAL down to nothing:
    busy is 1 while any connection still reads an old snapshot."""
    other = sqlite3.connect(path)
    try:
        busy, wal_frames, _ = other.execute(
            "PRAGMA wal_checkpoint(TRUNCATE)"
        ).fetchone()
    finally:
        other.close()
    return bool(busy == 0 and wal_frames == 0)


def _set_step_elsewhere(
    path: Path, thread_id: str, step: int, *, process: bool
) -> None:
    """Commit a new ``step`` in every checkpoint of ``thread_id`` from a
    sqlite3 connection of our own, or from another process."""
    sql = "UPDATE checkpoints SET metadata = json_set(metadata, '$.step', ?) WHERE thread_id = ?"
    if not process:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute(sql, (step, thread_id))
        finally:
            other.close()
        return
    script = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
        "c.execute(sys.argv[2], (int(sys.argv[3]), sys.argv[4]))\n"
        "c.close()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(path), sql, str(step), thread_id],
        check=True,
        timeout=60,
    )


def _opened(kind: Any, path: Path) -> Iterator[tuple[Any, Path]]:
    """``kind`` (the saver or the store) from_url on the file ``path``, set up."""
    with kind.from_url(f"sqlite:///{path}") as opened:
        opened.setup()
        yield opened, path


@pytest.fixture
def saver_file(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    yield from _opened(SQLAlchemySaver, tmp_path / "saver.db")


def test_saver_calls_one_at_a_time_skip_the_pool(saver_file: Any) -> None:
    saver, _ = saver_file
    config = saver.put(
        generate_config("spare"), generate_checkpoint(), generate_metadata(), {}
    )
    checkouts = _checkouts(saver.bind)
    saver.get_tuple(config)  # the first read keeps its connection aside
    before = len(checkouts)
    for _ in range(5):
        assert saver.get_tuple(config) is not None
        assert len(list(saver.list(config))) == 1
    assert len(checkouts) == before
    saver.put_writes(config, [("a", 1)], "task")
    newer = saver.put(config, generate_checkpoint(), generate_metadata(), {})
    assert len(checkouts) == before  # writers too, in their turn
    assert saver.get_tuple(config).pending_writes == [("task", "a", 1)]
    latest = saver.get_tuple(generate_config("spare"))
    assert (
        latest.config["configurable"]["checkpoint_id"]
        == (newer["configurable"]["checkpoint_id"])
    )


@pytest.mark.parametrize("process", [False, True], ids=["connection", "process"])
def test_saver_reads_see_writes_committed_elsewhere(
    saver_file: Any, process: bool
) -> None:
    saver, path = saver_file
    config = saver.put(
        generate_config("fresh"), generate_checkpoint(), generate_metadata(), {}
    )
    for step in range(3):
        _set_step_elsewhere(path, "fresh", 100 + step, process=process)
        found = saver.get_tuple(config)
        assert found is not None
        assert found.metadata["step"] == 100 + step
        listed = list(saver.list(config))
        assert [t.metadata["step"] for t in listed] == [100 + step]
    # And what the saver writes itself, on its other connections.
    newer = saver.put(config, generate_checkpoint(), generate_metadata(), {})
    found = saver.get_tuple({"configurable": {"thread_id": "fresh"}})
    assert found is not None
    assert found.config == newer


def test_saver_reads_leave_the_wal_free(saver_file: Any) -> None:
    saver, path = saver_file
    config = saver.put(
        generate_config("wal"), generate_checkpoint(), generate_metadata(), {}
    )
    for _ in range(3):
        saver.put_writes(config, [("a", 1)], "task")
        assert saver.get_tuple(config) is not None
        assert list(saver.list(None, limit=5))
        assert _wal_truncates(path)


def test_saver_readers_in_many_threads(saver_file: Any) -> None:
    saver, path = saver_file
    start = threading.Barrier(8)

    def thread(i: int) -> bool:
        start.wait()
        config = generate_config(f"many-{i}")
        for _ in range(10):
            checkpoint = generate_checkpoint()
            config = saver.put(config, checkpoint, generate_metadata(), {})
            saver.put_writes(config, [("a", i)], f"task-{i}")
            found = saver.get_tuple(config)
            if found is None or found.checkpoint["id"] != checkpoint["id"]:
                return False
            if found.pending_writes != [(f"task-{i}", "a", i)]:
                return False
            latest = next(iter(saver.list(generate_config(f"many-{i}"), limit=1)))
            if latest.checkpoint["id"] != checkpoint["id"]:
                return False
        return True

    with ThreadPoolExecutor(8) as threads:
        assert all(threads.map(thread, range(8)))
    assert _wal_truncates(path)


@pytest.fixture
def store_file(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    yield from _opened(SQLAlchemyStore, tmp_path / "store.db")


def _set_value_elsewhere(path: Path, key: str, value: str) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("UPDATE store SET value = ? WHERE key = ?", (value, key))
    finally:
        other.close()


def _get_both(store: Any) -> list[Any]:
    """Items a and b, in a batch of two statements (two namespaces): a
    reader's transaction, not one autocommitted statement."""
    ops = [GetOp(("docs",), "a"), GetOp(("docs",), "b"), GetOp(("other",), "a")]
    items = store.batch(ops)
    assert items[2] is None
    return [item.value for item in items[:2]]


def test_store_calls_skip_the_pool_and_see_other_writers(store_file: Any) -> None:
    store, path = store_file
    store.put(("docs",), "a", {"n": 0})
    store.put(("docs",), "b", {"n": 0})
    checkouts = _checkouts(store.bind)
    store.get(("docs",), "a")
    before = len(checkouts)
    for n in range(1, 4):
        _set_value_elsewhere(path, "a", f'{{"n": {n}}}')
        item = store.get(("docs",), "a")
        assert item is not None and item.value == {"n": n}
        found = store.search(("docs",), filter={"n": n})
        assert [i.key for i in found] == ["a"]
        many = _get_both(store)
        assert many == [{"n": n}, {"n": 0}]
    assert len(checkouts) == before
    store.put(("docs",), "b", {"n": 9})
    assert len(checkouts) == before
    assert store.get(("docs",), "b").value == {"n": 9}
    assert _wal_truncates(path)


def test_store_read_that_fails_leaves_the_kept_connection_usable(
    store_file: Any,
) -> None:
    store, path = store_file
    store.put(("docs",), "a", {"n": 1})
    store.put(("docs",), "b", {"n": 2})
    _set_value_elsewhere(path, "b", "not json")
    with pytest.raises(ValueError):
        store.search(("docs",))
    _set_value_elsewhere(path, "b", '{"n": 3}')
    # A reader's transaction next, on the connection the search failed on.
    assert _get_both(store) == [{"n": 1}, {"n": 3}]
    found = sorted(i.key for i in store.search(("docs",), filter={"n": 3}))
    assert found == ["b"]
    assert _wal_truncates(path)
