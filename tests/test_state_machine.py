"""Hypothesis state machines: random sequences of saver calls, on every
backend, against LangGraph's ``InMemorySaver`` as the oracle; every read must
agree. (``InMemorySaver`` has no ``copy_thread`` or ``prune``: the oracle does
those on its storage directly, as the contract describes them.)"""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    CheckpointTuple,
    empty_checkpoint,
)
from langgraph.checkpoint.memory import InMemorySaver

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

from conftest import Backend, _empty_tables

THREADS = st.sampled_from(["a", "b", "c"])
NAMESPACES = st.sampled_from(["", "sub:1"])
CHANNELS = st.sampled_from(["x", "y", "z"])
JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
STEP = st.integers(0, 3)


def _observe(t: CheckpointTuple | None) -> Any:
    if t is None:
        return None
    c = t.config["configurable"]
    parent = (
        t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None
    )
    return (
        (c["thread_id"], c.get("checkpoint_ns", ""), c["checkpoint_id"]),
        t.checkpoint["channel_values"],
        t.checkpoint["channel_versions"],
        {k: v for k, v in t.metadata.items() if k != "writes"},
        parent,
        _writes_view(t.pending_writes or []),
    )


def _writes_view(writes: list[tuple[str, str, Any]]) -> Any:
    """Pending writes as far as their order is a contract: each task's regular
    writes in their order. Across tasks, and for special writes (errors,
    interrupts…), the savers differ: ``InMemorySaver`` keeps arrival order,
    the official PostgreSQL saver and ours sort by task path, task and index
    (special writes have negative indexes)."""
    regular: dict[str, list[tuple[str, Any]]] = {}
    for task, channel, value in writes:
        if channel not in WRITES_IDX_MAP:
            regular.setdefault(task, []).append((channel, value))
    special = sorted((w for w in writes if w[1] in WRITES_IDX_MAP), key=repr)
    return regular, special


class SaverVersusMemory(RuleBasedStateMachine):
    def __init__(self, backend: Backend) -> None:
        super().__init__()
        # Hypothesis makes a machine per example (some 25 per backend), each
        # SQLite file one in a folder of its own, removed by teardown().
        self.folder: tempfile.TemporaryDirectory[str] | None = None
        if backend.database in ("postgres", "mariadb"):
            _empty_tables(backend.sync_url)
            self.ours = SQLAlchemySaver.from_url(
                backend.sync_url, engine_kwargs=backend.engine_kwargs
            )
        elif backend.name == "sqlite-memory":
            self.ours = SQLAlchemySaver.from_url("sqlite:///:memory:")
        else:
            self.folder = tempfile.TemporaryDirectory(prefix="lgsa-machine-")
            path = Path(self.folder.name) / "machine.db"
            self.ours = SQLAlchemySaver.from_url(f"sqlite:///{path}")
            if backend.force_portable:
                self.ours = SQLAlchemySaver(self.ours.bind, force_portable=True)
        self.ours.setup()
        self.memory = InMemorySaver()
        self.versions: dict[tuple[str, str], dict[str, str]] = {}
        self.stored: list[dict[str, Any]] = []  # configs of checkpoints put
        self.copies = 0

    def teardown(self) -> None:
        self.ours.bind.dispose()  # type: ignore[union-attr]
        if self.folder is not None:
            self.folder.cleanup()

    def _both(self, method: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return getattr(self.ours, method)(*args, **kwargs), getattr(
            self.memory, method
        )(*args, **kwargs)

    @rule(
        thread=THREADS,
        ns=NAMESPACES,
        values=st.dictionaries(CHANNELS, JSONISH, max_size=3),
        step=STEP,
    )
    def put(self, thread: str, ns: str, values: dict[str, Any], step: int) -> None:
        latest = self.memory.get_tuple(
            {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
        )
        config: dict[str, Any] = {
            "configurable": {"thread_id": thread, "checkpoint_ns": ns}
        }
        current = self.versions.setdefault((thread, ns), {})
        carried: dict[str, Any] = {}
        if latest is not None:
            config["configurable"]["checkpoint_id"] = latest.config["configurable"][
                "checkpoint_id"
            ]
            carried = dict(latest.checkpoint["channel_values"])
        new_versions = {}
        for channel in values:
            current[channel] = self.ours.get_next_version(current.get(channel))
            new_versions[channel] = current[channel]
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {**carried, **values}
        checkpoint["channel_versions"] = dict(current)
        metadata: Any = {"source": "loop", "step": step}
        ours, theirs = self._both("put", config, checkpoint, metadata, new_versions)
        assert ours == theirs
        self.stored.append(ours)

    @precondition(lambda self: self.stored)
    @rule(
        data=st.data(),
        writes=st.lists(
            st.tuples(st.sampled_from(["x", "y", "__error__"]), JSONISH), max_size=3
        ),
        task=st.sampled_from(["t1", "t2"]),
        path=st.sampled_from(["", "~1", "~0"]),
    )
    def put_writes(
        self, data: st.DataObject, writes: list[tuple[str, Any]], task: str, path: str
    ) -> None:
        config = data.draw(st.sampled_from(self.stored))
        self._both("put_writes", config, writes, task, path)

    @rule(thread=THREADS, ns=NAMESPACES)
    def get_latest(self, thread: str, ns: str) -> None:
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
        ours, theirs = self._both("get_tuple", config)
        assert _observe(ours) == _observe(theirs)

    @precondition(lambda self: self.stored)
    @rule(data=st.data())
    def get_by_id(self, data: st.DataObject) -> None:
        ours, theirs = self._both("get_tuple", data.draw(st.sampled_from(self.stored)))
        assert _observe(ours) == _observe(theirs)

    @rule(
        thread=THREADS,
        ns=NAMESPACES,
        step=st.none() | STEP,
        limit=st.none() | st.integers(0, 4),
    )
    def list_namespace(
        self, thread: str, ns: str, step: int | None, limit: int | None
    ) -> None:
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
        filter = {"step": step} if step is not None else None
        ours, theirs = self._both("list", config, filter=filter, limit=limit)
        assert [_observe(t) for t in ours] == [_observe(t) for t in theirs]

    @rule(thread=st.none() | THREADS, step=st.none() | STEP)
    def list_everything(self, thread: str | None, step: int | None) -> None:
        # Across namespaces and threads the oracle groups rather than sorts,
        # so compare what is listed, not the order.
        config = {"configurable": {"thread_id": thread}} if thread else None
        filter = {"step": step} if step is not None else None
        ours, theirs = self._both("list", config, filter=filter)
        assert sorted(map(_observe, ours), key=repr) == sorted(
            map(_observe, theirs), key=repr
        )
        ids = [t.config["configurable"]["checkpoint_id"] for t in ours]
        assert ids == sorted(ids, reverse=True)  # ours: newest first, across all

    @rule(thread=THREADS)
    def delete_thread(self, thread: str) -> None:
        self._both("delete_thread", thread)
        self.stored = [
            c for c in self.stored if c["configurable"]["thread_id"] != thread
        ]

    @rule(source=THREADS)
    def copy_thread(self, source: str) -> None:
        self.copies += 1
        target = f"copy{self.copies}"
        self.ours.copy_thread(source, target)
        m = self.memory
        if source in m.storage:
            m.storage[target] = copy.deepcopy(m.storage[source])
        for (tid, ns, cid), writes in list(m.writes.items()):
            if tid == source:
                m.writes[(target, ns, cid)] = copy.deepcopy(writes)
        for (tid, ns, ch, ver), blob in list(m.blobs.items()):
            if tid == source:
                m.blobs[(target, ns, ch, ver)] = blob

    @rule(thread=THREADS)
    def prune_keep_latest(self, thread: str) -> None:
        self.ours.prune([thread], strategy="keep_latest")
        m = self.memory
        for ns, checkpoints in m.storage.get(thread, {}).items():
            if not checkpoints:
                continue
            head = max(checkpoints)
            document, metadata, _ = checkpoints[head]
            checkpoints.clear()
            checkpoints[head] = (document, metadata, None)
            for key in [
                k for k in m.writes if k[0] == thread and k[1] == ns and k[2] != head
            ]:
                del m.writes[key]
        self.stored = [
            c
            for c in self.stored
            if c["configurable"]["thread_id"] != thread
            or self.memory.get_tuple(c) is not None
        ]

    @invariant()
    def same_thread_heads(self) -> None:
        for thread in ("a", "b", "c"):
            config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
            assert _observe(self.ours.get_tuple(config)) == _observe(
                self.memory.get_tuple(config)
            )


def test_random_call_sequences_agree_with_memory(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Temporary files go to a folder of this test's, to see that none is left.
    scratch = tmp_path / "tempfiles"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    run_state_machine_as_test(
        lambda: SaverVersusMemory(backend),
        settings=settings(
            max_examples=25,
            # CI replays the same sequences every run (a red build is about the
            # change, not the dice); elsewhere each run explores new ones.
            derandomize=bool(os.environ.get("CI")),
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert list(scratch.iterdir()) == []
