"""Read-only summaries of the checkpoint tables, for the operator commands.

These read the tables directly (the saver has no API for counts and sizes);
everything that decodes or changes state goes through the saver.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.sqlalchemy.models import (
    Checkpoint,
    CheckpointBlob,
    CheckpointWrite,
)
from sqlalchemy import Connection, func, select

__all__ = [
    "HistoryRow",
    "ThreadStats",
    "checkpoints_like",
    "history",
    "namespace_counts",
    "thread_stats",
]

C, B, W = Checkpoint, CheckpointBlob, CheckpointWrite


@dataclass
class ThreadStats:
    """What ``threads`` shows for one thread.

    ``bytes`` is the stored size of its serialized channel values
    (``checkpoint_blobs.blob``) and pending writes (``checkpoint_writes.blob``);
    the JSON checkpoint documents (with small inline values) and metadata, and
    the database's own overhead (indexes, pages, compression), are left out.
    """

    thread_id: str
    checkpoints: int = 0
    namespaces: int = 0
    blobs: int = 0
    writes: int = 0
    bytes: int = 0
    last_checkpoint_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def thread_stats(
    conn: Connection, thread_ids: Sequence[str] | None = None
) -> dict[str, ThreadStats]:
    """Per thread (all of them, or ``thread_ids``): counts, bytes, the latest
    checkpoint ID and the latest root-namespace checkpoint's metadata."""
    stats: dict[str, ThreadStats] = {}

    def only(stmt: Any, column: Any) -> Any:
        return stmt if thread_ids is None else stmt.where(column.in_(thread_ids))

    rows = conn.execute(
        only(
            select(
                C.thread_id,
                func.count(),
                func.count(func.distinct(C.checkpoint_ns)),
                func.max(C.checkpoint_id),
            ).group_by(C.thread_id),
            C.thread_id,
        )
    )
    for thread_id, count, namespaces, last in rows:
        stats[thread_id] = ThreadStats(thread_id, count, namespaces, 0, 0, 0, last)
    for table, attr in ((B, "blobs"), (W, "writes")):
        rows = conn.execute(
            only(
                select(
                    table.thread_id,
                    func.count(),
                    func.coalesce(func.sum(func.length(table.blob)), 0),
                ).group_by(table.thread_id),
                table.thread_id,
            )
        )
        for thread_id, count, size in rows:
            entry = stats.setdefault(thread_id, ThreadStats(thread_id))
            setattr(entry, attr, int(count))
            entry.bytes += int(size or 0)
    latest = (
        select(C.thread_id, func.max(C.checkpoint_id).label("checkpoint_id"))
        .where(C.checkpoint_ns == "")
        .group_by(C.thread_id)
    )
    latest = only(latest, C.thread_id).subquery()
    rows = conn.execute(
        select(C.thread_id, C.metadata_).join(
            latest,
            (C.thread_id == latest.c.thread_id)
            & (C.checkpoint_ns == "")
            & (C.checkpoint_id == latest.c.checkpoint_id),
        )
    )
    for thread_id, metadata in rows:
        if thread_id in stats and isinstance(metadata, dict):
            stats[thread_id].metadata = metadata
    # Blobs or writes without a checkpoint are not a thread anyone can load.
    return {tid: s for tid, s in stats.items() if s.checkpoints}


def namespace_counts(
    conn: Connection, thread_ids: Iterable[str]
) -> dict[str, dict[str, int]]:
    """Per thread, the number of checkpoints in each namespace."""
    ids = list(thread_ids)
    counts: dict[str, dict[str, int]] = {tid: {} for tid in ids}
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            select(C.thread_id, C.checkpoint_ns, func.count())
            .where(C.thread_id.in_(ids[start : start + 500]))
            .group_by(C.thread_id, C.checkpoint_ns)
        )
        for thread_id, ns, count in rows:
            counts[thread_id][ns] = int(count)
    return counts


@dataclass
class HistoryRow:
    """One checkpoint of a thread's chain."""

    checkpoint_id: str
    parent_checkpoint_id: str | None
    ts: str | None
    metadata: dict[str, Any]


def history(
    conn: Connection, thread_id: str, checkpoint_ns: str, limit: int | None
) -> list[HistoryRow]:
    """A namespace's checkpoints, newest first."""
    stmt = (
        select(C.checkpoint_id, C.parent_checkpoint_id, C.checkpoint, C.metadata_)
        .where(C.thread_id == thread_id, C.checkpoint_ns == checkpoint_ns)
        .order_by(C.checkpoint_id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        HistoryRow(
            cid,
            parent,
            document.get("ts") if isinstance(document, dict) else None,
            metadata if isinstance(metadata, dict) else {},
        )
        for cid, parent, document, metadata in conn.execute(stmt)
    ]


def checkpoints_like(
    conn: Connection, thread_id: str, checkpoint_ns: str, prefix: str
) -> list[str]:
    """The IDs in a namespace that start with ``prefix`` (at most two)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (
        select(C.checkpoint_id)
        .where(
            C.thread_id == thread_id,
            C.checkpoint_ns == checkpoint_ns,
            C.checkpoint_id.like(escaped + "%", escape="\\"),
        )
        .order_by(C.checkpoint_id)
        .limit(2)
    )
    return [row[0] for row in conn.execute(stmt)]


def namespaces(conn: Connection, thread_id: str) -> list[str]:
    """The namespaces a thread has checkpoints in."""
    stmt = (
        select(C.checkpoint_ns)
        .where(C.thread_id == thread_id)
        .group_by(C.checkpoint_ns)
        .order_by(C.checkpoint_ns)
    )
    return [row[0] for row in conn.execute(stmt)]
