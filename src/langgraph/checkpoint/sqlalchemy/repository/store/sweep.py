"""The TTL sweep: expired items deleted in bounded batches.

Each batch is its own transaction: it picks at most ``size`` expired items
(oldest expiry first, through the ``expires_at`` index) and deletes them,
so no lock is held longer than one batch. Where the database has ``FOR
UPDATE SKIP LOCKED`` (PostgreSQL, MySQL 8, MariaDB 10.6), the picked rows are
locked and sweepers in other processes skip them: each item is deleted once,
no sweeper blocks on another's batch, and a writer waits at most for one batch, and
only when it writes an item being swept. Without it (SQLite) the database
takes one writer at a time, so a batch is simply one writing transaction.
The delete checks the expiry again: an item refreshed since it was picked
stays. A batch that picks nothing is not the end of the sweep by itself
(``repository.expiry_sweep``).
"""

from __future__ import annotations

from datetime import datetime

from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.repository.expiry_sweep import Batch, remaining
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Plan
from langgraph.checkpoint.sqlalchemy.repository.store.items import STORE, S
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.index import VectorIndex
from sqlalchemy import delete, select, tuple_

__all__ = ["sweep_batch"]


def sweep_batch(
    ops: DialectOps, now: datetime, size: int, vectors: VectorIndex | None = None
) -> Plan[Batch]:
    """One batch: the items it picked, and how many it deleted (fewer where
    an item was refreshed meanwhile)."""
    expired = select(S.prefix, S.key).where(S.expires_at < now)
    picked = expired.order_by(S.expires_at).limit(size)
    if ops.skip_locked:
        picked = picked.with_for_update(skip_locked=True)
    keys = [tuple(row) for row in (yield Execute(picked))]
    if not keys:
        return Batch(0, 0, unclaimed=(yield from remaining(expired)))
    deleted = yield Execute(
        delete(STORE).where(tuple_(S.prefix, S.key).in_(keys), S.expires_at < now)
    )
    if vectors is not None:
        yield from vectors.forget_deleted(keys)
    return Batch(len(keys), max(deleted.rowcount, 0))
