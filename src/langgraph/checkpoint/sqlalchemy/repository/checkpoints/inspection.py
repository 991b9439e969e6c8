"""Read-only plans over the checkpoint tables for the operators' tools (the
CLI, ``transfer``): counts and sizes per thread, a namespace's chain, the keys
and writes of a thread as stored. The saver's API has no such reads;
everything that decodes or changes state goes through the saver.

Plans, like the rest of the repository: the tools run them on their
connection (``runtime.driver.run``), with the saver's ``schema_translate_map``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.sqlalchemy.repository.checkpoints.tables import (
    BLOBS,
    CHECKPOINTS,
    WRITES,
    C,
    W,
    chunks,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Plan
from sqlalchemy import func, select
from sqlalchemy.sql.expression import TableClause

__all__ = [
    "HistoryRow",
    "ThreadStats",
    "checkpoint_keys",
    "checkpoints_like",
    "history",
    "namespace_counts",
    "namespaces",
    "thread_count",
    "thread_ids_page",
    "thread_stats",
    "writes_of",
]


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
    thread_ids: Sequence[str] | None = None,
) -> Plan[dict[str, ThreadStats]]:
    """Per thread (all of them, or ``thread_ids``): counts, bytes, the latest
    checkpoint ID and the latest root-namespace checkpoint's metadata."""
    stats: dict[str, ThreadStats] = {}

    def only(stmt: Any, column: Any) -> Any:
        return stmt if thread_ids is None else stmt.where(column.in_(thread_ids))

    rows = yield Execute(
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
    for table, attr in ((BLOBS, "blobs"), (WRITES, "writes")):
        rows = yield Execute(
            only(
                select(
                    table.c.thread_id,
                    func.count(),
                    func.coalesce(func.sum(func.length(table.c.blob)), 0),
                ).group_by(table.c.thread_id),
                table.c.thread_id,
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
    rows = yield Execute(
        select(C.thread_id, C.metadata).join(
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


def namespace_counts(thread_ids: Iterable[str]) -> Plan[dict[str, dict[str, int]]]:
    """Per thread, the number of checkpoints in each namespace."""
    ids = list(thread_ids)
    counts: dict[str, dict[str, int]] = {tid: {} for tid in ids}
    for chunk in chunks(ids):
        rows = yield Execute(
            select(C.thread_id, C.checkpoint_ns, func.count())
            .where(C.thread_id.in_(chunk))
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
    thread_id: str, checkpoint_ns: str, limit: int | None
) -> Plan[list[HistoryRow]]:
    """A namespace's checkpoints, newest first."""
    stmt = (
        select(C.checkpoint_id, C.parent_checkpoint_id, C.checkpoint, C.metadata)
        .where(C.thread_id == thread_id, C.checkpoint_ns == checkpoint_ns)
        .order_by(C.checkpoint_id.desc())
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    result = yield Execute(stmt)
    return [
        HistoryRow(
            cid,
            parent,
            document.get("ts") if isinstance(document, dict) else None,
            metadata if isinstance(metadata, dict) else {},
        )
        for cid, parent, document, metadata in result
    ]


def checkpoints_like(
    thread_id: str, checkpoint_ns: str, prefix: str
) -> Plan[list[str]]:
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
    result = yield Execute(stmt)
    return [row[0] for row in result]


def namespaces(thread_id: str) -> Plan[list[str]]:
    """The namespaces a thread has checkpoints in."""
    stmt = (
        select(C.checkpoint_ns)
        .where(C.thread_id == thread_id)
        .group_by(C.checkpoint_ns)
        .order_by(C.checkpoint_ns)
    )
    result = yield Execute(stmt)
    return [row[0] for row in result]


def thread_count(checkpoints: TableClause = CHECKPOINTS) -> Plan[int]:
    """How many threads have checkpoints (in ``checkpoints``: ours by default,
    or another layout's table with the same key columns)."""
    c = checkpoints.c
    result = yield Execute(select(func.count(c.thread_id.distinct())))
    return int(result.scalar_one())


def thread_ids_page(
    after: str | None, limit: int, checkpoints: TableClause = CHECKPOINTS
) -> Plan[list[str]]:
    """Up to ``limit`` thread IDs in ID order, after ``after``."""
    c = checkpoints.c
    query = select(c.thread_id).distinct().order_by(c.thread_id).limit(limit)
    if after is not None:
        query = query.where(c.thread_id > after)
    result = yield Execute(query)
    return [str(r) for r in result.scalars()]


def checkpoint_keys(
    thread_id: str, checkpoints: TableClause = CHECKPOINTS
) -> Plan[set[tuple[str, str]]]:
    """The (namespace, checkpoint ID) of every checkpoint of a thread."""
    c = checkpoints.c
    result = yield Execute(
        select(c.checkpoint_ns, c.checkpoint_id).where(c.thread_id == thread_id)
    )
    return {(str(ns or ""), str(cid)) for ns, cid in result}


def writes_of(thread_id: str, checkpoint_ids: Sequence[str]) -> Plan[list[Any]]:
    """The pending writes of some checkpoints of a thread, as stored (task
    paths and indexes included): rows of namespace, checkpoint ID, task ID,
    task path, index, channel, type and blob."""
    result = yield Execute(
        select(
            W.checkpoint_ns,
            W.checkpoint_id,
            W.task_id,
            W.task_path,
            W.idx,
            W.channel,
            W.type,
            W.blob,
        ).where(W.thread_id == thread_id, W.checkpoint_id.in_(checkpoint_ids))
    )
    return list(result.all())
