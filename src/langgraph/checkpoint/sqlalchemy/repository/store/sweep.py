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
stays. How a batch's statements are shaped is the database's
(``DialectOps.delete_oldest``). A batch that picks nothing is not the end
of the sweep by itself (``repository.expiry_sweep``).
"""

from __future__ import annotations

from datetime import datetime

from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.repository.expiry_sweep import Batch, remaining
from langgraph.checkpoint.sqlalchemy.repository.plan import Plan
from langgraph.checkpoint.sqlalchemy.repository.store.items import STORE, S
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.index import VectorIndex
from sqlalchemy import select

__all__ = ["sweep_batch"]


def sweep_batch(
    ops: DialectOps, now: datetime, size: int, vectors: VectorIndex | None = None
) -> Plan[Batch]:
    """One batch: the items it picked, and how many it deleted (fewer where
    an item was refreshed meanwhile)."""
    expired = select(S.prefix, S.key).where(S.expires_at < now)
    oldest = expired.order_by(S.expires_at).limit(size)
    # Vectors go with their item: by the foreign key's cascade where the
    # database enforces it, else deleted along in the batch.
    dependents = [] if vectors is None or vectors.ops.cascades else [vectors.table]
    claimed, deleted = yield from ops.delete_oldest(
        STORE, oldest, S.expires_at < now, dependents
    )
    if not claimed:
        return Batch(0, 0, unclaimed=(yield from remaining(expired)))
    return Batch(claimed, deleted)
