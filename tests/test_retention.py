"""Bounded tables: keep the last N checkpoints, prune threads gone stale,
batched, resumable, safe while runs write, and DeltaChannel-safe."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.conformance.test_utils import generate_config
from langgraph.checkpoint.memory import InMemorySaver

from langgraph.checkpoint.sqlalchemy import CheckpointBlobRecord, SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.codec import (
    checkpoint_id_at,
)
from test_graphs import _delta_graph

from conftest import Backend


def _write_chain(
    saver: SQLAlchemySaver,
    thread_id: str,
    count: int,
    *,
    ns: str = "",
    start: datetime | None = None,
) -> list[dict[str, Any]]:
    """``count`` checkpoints, each with a new blob and two writes; IDs made at
    ``start`` (then a microsecond apart) when given, else now."""
    configs: list[dict[str, Any]] = []
    parent: dict[str, Any] | None = None
    for step in range(count):
        checkpoint = empty_checkpoint()
        if start is not None:
            base = uuid.UUID(checkpoint_id_at(start + timedelta(microseconds=step)))
            checkpoint["id"] = str(
                uuid.UUID(int=base.int | uuid.uuid4().int & 0xFFFF_FFFF)
            )
        checkpoint["channel_values"] = {"log": [step] * 10, "step": step}
        checkpoint["channel_versions"] = {
            "log": f"{step + 1:08}",
            "step": f"{step + 1:08}",
        }
        config = generate_config(thread_id, checkpoint_ns=ns)
        if parent is not None:
            config["configurable"]["checkpoint_id"] = parent["configurable"][
                "checkpoint_id"
            ]
        parent = saver.put(
            config,
            checkpoint,
            {"source": "loop", "step": step},
            {"log": f"{step + 1:08}"},
        )
        saver.put_writes(parent, [("log", step), ("step", step)], task_id=f"t{step}")
        configs.append(parent)
    return configs


def _blob_count(saver: SQLAlchemySaver, thread_id: str) -> int:
    with saver.bind.connect() as conn:  # type: ignore[union-attr]
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(CheckpointBlobRecord)
                .where(CheckpointBlobRecord.thread_id == thread_id)
            ).scalar_one()
        )


def test_keep_last_n(saver: SQLAlchemySaver) -> None:
    root = _write_chain(saver, "t", 10)
    child = _write_chain(saver, "t", 4, ns="child:1")
    other = _write_chain(saver, "other", 5)
    assert _blob_count(saver, "t") == 14
    saver.prune(["t"], strategy="keep_last", keep=3)

    kept = list(saver.list(generate_config("t")))
    assert [t.config for t in kept] == list(reversed(root[-3:]))
    assert all(len(t.pending_writes or []) == 2 for t in kept)
    kept_child = list(saver.list(generate_config("t", checkpoint_ns="child:1")))
    assert [t.config for t in kept_child] == list(reversed(child[-3:]))
    assert kept[-1].parent_config is None  # its parent is gone
    assert kept[0].checkpoint["channel_values"]["log"] == [9] * 10
    assert _blob_count(saver, "t") == 6  # only the kept checkpoints' blobs
    assert len(list(saver.list(generate_config("other")))) == len(other)


def test_keep_last_arguments(saver: SQLAlchemySaver) -> None:
    with pytest.raises(ValueError, match="positive int"):
        saver.prune(["t"], strategy="keep_last")
    with pytest.raises(ValueError, match="positive int"):
        saver.prune(["t"], strategy="keep_last", keep=0)
    with pytest.raises(ValueError, match="keep_last"):
        saver.prune(["t"], strategy="delete", keep=2)
    with pytest.raises(TypeError, match="older_than"):
        saver.prune_stale("30 days")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        saver.prune_stale(timedelta(days=1), batch_size=0)


def test_keep_last_keeps_what_a_delta_channel_needs(saver: SQLAlchemySaver) -> None:
    config = {"configurable": {"thread_id": "delta"}}
    graph = _delta_graph(saver)
    expected = _delta_graph(InMemorySaver()).invoke({"n": 0, "items": []}, config)
    graph.invoke({"n": 0, "items": []}, config)
    history = list(graph.get_state_history(config))
    saver.prune(["delta"], strategy="keep_last", keep=2)
    after = list(graph.get_state_history(config))
    assert 2 <= len(after) < len(history)
    assert graph.get_state(config).values == expected
    # The second kept checkpoint rebuilds exactly as before, too.
    assert after[1].values == history[1].values


@pytest.mark.parametrize("strategy", ["delete", "keep_latest"])
def test_prune_stale_in_batches(saver: SQLAlchemySaver, strategy: str) -> None:
    long_ago = datetime.now(timezone.utc) - timedelta(days=90)
    for i in range(5):
        _write_chain(saver, f"old-{i}", 3, start=long_ago + timedelta(hours=i))
    _write_chain(saver, "fresh-0", 3)
    # A thread that is old but was written to yesterday is not stale.
    _write_chain(saver, "revived", 2, start=long_ago)
    _write_chain(
        saver, "revived", 1, start=datetime.now(timezone.utc) - timedelta(days=1)
    )

    pruned = saver.prune_stale(timedelta(days=30), strategy=strategy, batch_size=2)
    assert pruned == 5
    for i in range(5):
        remaining = list(saver.list(generate_config(f"old-{i}")))
        assert len(remaining) == (0 if strategy == "delete" else 1)
    assert len(list(saver.list(generate_config("fresh-0")))) == 3
    assert len(list(saver.list(generate_config("revived")))) == 3

    # Running it again finishes nothing new and breaks nothing.
    again = saver.prune_stale(timedelta(days=30), strategy=strategy, batch_size=2)
    assert again == (0 if strategy == "delete" else 5)
    assert len(list(saver.list(generate_config("fresh-0")))) == 3


def test_keep_last_while_a_run_writes(backend: Backend, saver: SQLAlchemySaver) -> None:
    """Pruning never deletes what a run writes meanwhile."""
    writer = saver if backend.name == "sqlite-memory" else backend.saver()
    _write_chain(saver, "busy", 5)
    written: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            latest = writer.get_tuple(generate_config("busy"))
            parent = latest.config if latest else generate_config("busy")
            for step in range(5, 30):
                checkpoint = empty_checkpoint()
                checkpoint["channel_values"] = {"log": [step], "step": step}
                checkpoint["channel_versions"] = {"log": f"{step + 1:08}"}
                parent = writer.put(
                    parent, checkpoint, {"step": step}, {"log": f"{step + 1:08}"}
                )
                writer.put_writes(parent, [("log", step)], task_id=f"w{step}")
                written.append(parent)
        except BaseException as exc:  # pragma: no cover - asserted below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    while thread.is_alive():
        saver.prune(["busy"], strategy="keep_last", keep=2)
    thread.join()
    assert errors == []
    latest = saver.get_tuple(generate_config("busy"))
    assert latest is not None
    assert latest.config == written[-1]
    assert latest.checkpoint["channel_values"] == {"log": [29], "step": 29}
    assert latest.pending_writes == [("w29", "log", 29)]
    if writer is not saver:
        writer.close()


async def test_async_retention(asaver: AsyncSQLAlchemySaver) -> None:
    config = await asaver.aput(generate_config("a"), empty_checkpoint(), {}, {})
    for _ in range(3):
        checkpoint = empty_checkpoint()
        config = await asaver.aput(config, checkpoint, {}, {})
    await asaver.aprune(["a"], strategy="keep_last", keep=2)
    assert len([t async for t in asaver.alist(generate_config("a"))]) == 2
    assert await asaver.aprune_stale(timedelta(days=1)) == 0
    assert await asaver.aprune_stale(timedelta(seconds=-60), strategy="delete") == 1
    assert [t async for t in asaver.alist(None)] == []
