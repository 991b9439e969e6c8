"""Plans that shrink the checkpoint tables on purpose: ``prune`` and the
search for stale threads behind ``sweep``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.checkpoint.sqlalchemy.repository.checkpoints.reads import walk_chain
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.tables import (
    CHECKPOINTS,
    C,
    chunks,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.writes import (
    delete_checkpoints,
    delete_unreferenced_blobs,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Plan
from sqlalchemy import func, select, update

__all__ = ["prune_keep_last", "stale_threads"]


def _delta_channels(metadata: Mapping[str, Any] | None) -> list[str]:
    """The DeltaChannels a checkpoint's metadata says it has (see
    ``CheckpointMetadata.counters_since_delta_snapshot``)."""
    counters = (metadata or {}).get("counters_since_delta_snapshot")
    return sorted(counters) if isinstance(counters, Mapping) else []


def prune_keep_last(thread_id: str, keep: int) -> Plan[None]:
    """Keep each namespace's ``keep`` latest checkpoints, and what they need;
    delete the rest.

    "What they need": their pending writes, the blobs they reference, and, for
    every ``DeltaChannel`` they have, the ancestors back to the one holding the
    channel's last snapshot, with their writes, since that is what its value is
    rebuilt from. Only checkpoints *older* than the newest kept one are
    deleted, and only blobs that a deleted checkpoint referenced and no kept one
    does, so a run writing to the thread meanwhile loses nothing. A kept
    checkpoint loses its parent link when its parent goes.
    """
    namespaces = yield Execute(
        select(C.checkpoint_ns).where(C.thread_id == thread_id).distinct()
    )
    for ns in [row.checkpoint_ns for row in namespaces]:
        latest = yield Execute(
            select(C.checkpoint_id, C.metadata)
            .where(C.thread_id == thread_id, C.checkpoint_ns == ns)
            .order_by(C.checkpoint_id.desc())
            .limit(keep)
        )
        newest = [(row.checkpoint_id, row.metadata) for row in latest]
        if not newest:
            continue
        head = newest[0][0]
        kept = {checkpoint_id for checkpoint_id, _ in newest}
        for checkpoint_id, meta in newest:
            if delta := _delta_channels(meta):
                walk = yield from walk_chain(thread_id, ns, checkpoint_id, delta)
                kept |= walk.all_chain_ids()
        doomed_rows = yield Execute(
            select(C.checkpoint_id, C.checkpoint).where(
                C.thread_id == thread_id,
                C.checkpoint_ns == ns,
                C.checkpoint_id < head,
            )
        )
        doomed = {
            r.checkpoint_id: r.checkpoint
            for r in doomed_rows
            if r.checkpoint_id not in kept
        }
        if not doomed:
            continue
        yield from delete_checkpoints(thread_id, ns, doomed)
        for chunk in chunks(sorted(doomed)):
            yield Execute(
                update(CHECKPOINTS)
                .where(
                    C.thread_id == thread_id,
                    C.checkpoint_ns == ns,
                    C.checkpoint_id.in_(sorted(kept)),
                    C.parent_checkpoint_id.in_(chunk),
                )
                .values(parent_checkpoint_id=None)
            )
        yield from delete_unreferenced_blobs(thread_id, ns, doomed.values())


def stale_threads(cutoff_id: str, after: str | None, limit: int) -> Plan[list[str]]:
    """Up to ``limit`` threads, in ID order after ``after``, whose latest
    checkpoint (in any namespace) has an ID below ``cutoff_id``: with LangGraph's
    time-ordered (uuid6) IDs, whose latest checkpoint is older than the
    cutoff's moment."""
    stmt = select(C.thread_id).group_by(C.thread_id)
    if after is not None:
        stmt = stmt.where(C.thread_id > after)
    stmt = (
        stmt.having(func.max(C.checkpoint_id) < cutoff_id)
        .order_by(C.thread_id)
        .limit(limit)
    )
    result = yield Execute(stmt)
    return [row.thread_id for row in result]
