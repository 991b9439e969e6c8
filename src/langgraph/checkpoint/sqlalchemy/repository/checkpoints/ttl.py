"""Plans and jobs of checkpoint TTL: the ``checkpoint_ttl`` side table's
expiry and pins, the guard that hides expired threads from reads, and the
sweep. The savers (``_core``) add these to their jobs only when a ``ttl`` is
configured, so a saver without one runs exactly the statements it ran before.

Moments are naive UTC ``datetime``s computed by the caller (one clock, the
saver's), so a plan never asks the database what time it is and tests can
move the clock.

Why the sweep never double-works or blocks writers: a batch *claims* its
expired rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and prunes their
threads in the same transaction. A second sweeper skips the rows the first
holds (PostgreSQL, MySQL 8, MariaDB 10.6+), and a row a writer is touching
right now (it holds that row's lock until its put commits) is skipped too,
not waited for. A writer that touches a claimed row waits for that one batch.
SQLite has no row locks (SQLAlchemy leaves ``FOR UPDATE`` out there): a batch
is a write transaction (``BEGIN IMMEDIATE``), so batches of several sweepers
run one after another and the second finds the rows gone.

Writers touch the side row *first* in their transaction, before any
checkpoint row, so a writer and a sweeper always lock in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.models import CheckpointTTLRecord
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import (
    retention,
    writes,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.tables import C, chunks
from langgraph.checkpoint.sqlalchemy.repository.expiry_sweep import (
    Batch,
    BatchedSweep,
    remaining,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Job, Plan
from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    delete,
    exists,
    false,
    or_,
    select,
    true,
    update,
)

__all__ = [
    "STRATEGIES",
    "TTL",
    "alive",
    "forget",
    "guard",
    "guarded",
    "pinned_threads",
    "set_pin",
    "side_rows",
    "sweep_batch",
    "then",
    "touch",
]

R = TypeVar("R")  # what a wrapped job returns

TTL: Table = CheckpointTTLRecord.__table__  # type: ignore[assignment]
T = TTL.c

STRATEGIES = ("delete", "keep_latest")

# Built once (run ``hot``): the statements of every put and read with a TTL.
SELECT_STATE = select(T.expires_at, T.pinned).where(
    T.thread_id == bindparam("thread_id")
)
EXTEND_LIVE = (
    update(TTL)
    .where(
        T.thread_id == bindparam("thread"),
        or_(
            T.expires_at.is_(None),
            T.expires_at > bindparam("now"),
            T.pinned == true(),
        ),
    )
    .values(expires_at=bindparam("new_expiry"))
)


def alive(now: datetime) -> ColumnElement[bool]:
    """True for a ``checkpoints`` row whose thread has not expired at
    ``now``: no side row, no expiry, a pin, or an expiry still ahead."""
    return ~exists().where(
        T.thread_id == C.thread_id, T.expires_at <= now, T.pinned == false()
    )


def _upsert(
    ops: DialectOps, row: Mapping[str, Any], columns: Sequence[str]
) -> Plan[None]:
    """Insert ``row``, or set only ``columns`` of the thread's existing row
    (so a touch never clears a pin, nor a pin an expiry)."""
    if ops.native_upsert:
        yield from ops.upsert(TTL, [row], columns)
        return
    # Portable: its upsert replaces whole rows, which would lose the others.
    result = yield Execute(
        update(TTL)
        .where(T.thread_id == row["thread_id"])
        .values({c: row[c] for c in columns})
    )
    if result.rowcount == 0:
        yield from ops.insert_ignore(TTL, [row])


def touch(
    ops: DialectOps,
    thread_id: str,
    now: datetime,
    expires_at: datetime,
    strategy: str,
) -> Plan[None]:
    """The thread, about to be written, expires at ``expires_at`` (a pin
    still wins).

    One statement when the thread is alive (an update of its row). When it
    has expired and no sweep took it yet, it is swept here first, with the
    sweep's ``strategy``, so a write never brings expired checkpoints back
    (the reads before it saw none)."""
    result = yield Execute(
        EXTEND_LIVE,
        {"thread": thread_id, "now": now, "new_expiry": expires_at},
        hot=True,
    )
    if result.rowcount:
        return
    # No row, or an expired one: hold it (a sweeper skips it meanwhile).
    held = yield Execute(SELECT_STATE.with_for_update(), {"thread_id": thread_id})
    row = held.first()
    # Checked again: a driver that counts changed rather than matched rows
    # reports 0 for an expiry set to the value it had.
    if (
        row is not None
        and not row.pinned
        and row.expires_at is not None
        and row.expires_at <= now
    ):
        yield from _sweep_threads([thread_id], strategy)
    yield from _upsert(
        ops, {"thread_id": thread_id, "expires_at": expires_at}, ("expires_at",)
    )


def set_pin(ops: DialectOps, thread_id: str, pinned: bool) -> Plan[None]:
    if pinned:
        yield from _upsert(ops, {"thread_id": thread_id, "pinned": True}, ("pinned",))
    else:
        yield Execute(update(TTL).where(T.thread_id == thread_id).values(pinned=False))


def pinned_threads() -> Plan[list[str]]:
    result = yield Execute(
        select(T.thread_id).where(T.pinned == true()).order_by(T.thread_id)
    )
    return [row.thread_id for row in result]


def forget(thread_ids: Sequence[str]) -> Plan[None]:
    """Drop the side rows of deleted threads (pins included)."""
    for chunk in chunks(list(thread_ids)):
        yield Execute(delete(TTL).where(T.thread_id.in_(chunk)))


def guard(
    thread_id: str,
    now: datetime,
    refresh_to: datetime | None,
    slack: timedelta,
    *,
    hide: bool,
) -> Plan[bool]:
    """Whether the thread may be served at ``now`` (with ``hide``, an expired
    one may not); with ``refresh_to``, push a live thread's expiry there when
    that moves it by more than ``slack`` (so a busy thread's reads do not
    each write)."""
    row = (yield Execute(SELECT_STATE, {"thread_id": thread_id}, hot=True)).first()
    if row is None or row.pinned or row.expires_at is None:
        return True
    if row.expires_at <= now:
        return not hide
    if refresh_to is not None and refresh_to - row.expires_at > slack:
        # Only if no one moved it meanwhile (nor a sweep claimed it).
        yield Execute(
            update(TTL)
            .where(T.thread_id == thread_id, T.expires_at == row.expires_at)
            .values(expires_at=refresh_to)
        )
    return True


def sweep_batch(now: datetime, strategy: str, limit: int) -> Plan[Batch]:
    """Claim up to ``limit`` threads expired at ``now`` and not pinned, and
    prune them: ``delete`` deletes each whole (side row included);
    ``keep_latest`` keeps each namespace's latest checkpoint and clears the
    expiry, so the thread is not swept again until it is written. Each
    claimed thread counts as swept (see ``expiry_sweep`` for an empty
    batch)."""
    expired = select(T.thread_id).where(T.expires_at <= now, T.pinned == false())
    claimed = yield Execute(
        expired.order_by(T.expires_at, T.thread_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = [row.thread_id for row in claimed]
    if not ids:
        return Batch(0, 0, unclaimed=(yield from remaining(expired)))
    yield from _sweep_threads(ids, strategy)
    return Batch(len(ids), len(ids))


def _sweep_threads(ids: Sequence[str], strategy: str) -> Plan[None]:
    if not ids:
        return
    if strategy == "delete":
        yield from writes.delete_thread(ids)
        yield from forget(ids)
    else:
        for thread_id in ids:
            yield from retention.prune_keep_last(thread_id, 1)
        yield Execute(update(TTL).where(T.thread_id.in_(ids)).values(expires_at=None))


# -- jobs ------------------------------------------------------------------


def then(first: Callable[[], Plan[Any]], job: Job[R]) -> Job[R]:
    """``job`` with ``first`` run before it, in its transaction (a touch of
    the side row goes before the checkpoint rows: see the module's note)."""

    def plan() -> Plan[R]:
        yield from first()
        return (yield from job.new_plan())

    return Job(plan, retry=job.retry)


def guarded(
    job: Job[R],
    empty: R,
    thread_id: str,
    now: Callable[[], datetime],
    refresh_by: timedelta | None,
    *,
    hide: bool,
) -> Job[R]:
    """``job`` (a read of one thread), or ``empty`` when the thread has
    expired and ``hide`` says so; with ``refresh_by``, reading pushes a live
    thread's expiry to now + ``refresh_by`` when that moves it by more than a
    tenth of it."""

    def plan() -> Plan[R]:
        moment = now()
        refresh_to = None if refresh_by is None else moment + refresh_by
        slack = (refresh_by or timedelta()) / 10
        if not (yield from guard(thread_id, moment, refresh_to, slack, hide=hide)):
            return empty
        return (yield from job.new_plan())

    # Each statement is atomic by itself: a sweep between the guard and the
    # read leaves the read finding nothing, never half a thread.
    return Job(
        plan,
        autocommit=job.autocommit,
        retry=job.retry,
        read_only=refresh_by is None,
    )


def ttl_sweep(now: datetime, strategy: str, batch_size: int) -> BatchedSweep:
    """The sweep of the threads expired at ``now``, a batch (one
    transaction) at a time; its ``removed`` counts the threads."""
    return BatchedSweep(lambda: Job(lambda: sweep_batch(now, strategy, batch_size)))


def side_rows(now: datetime) -> Plan[list[tuple[str, datetime | None, bool, bool]]]:
    """Every side row, soonest expiry first: (thread, expires_at, pinned,
    expired at ``now``), for operators."""
    result = yield Execute(
        select(T.thread_id, T.expires_at, T.pinned).order_by(T.expires_at, T.thread_id)
    )
    return [
        (
            r.thread_id,
            r.expires_at,
            bool(r.pinned),
            not r.pinned and r.expires_at is not None and r.expires_at <= now,
        )
        for r in result
    ]
