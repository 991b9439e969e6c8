"""Plans that write checkpoints: ``put``, ``put_writes``, ``copy_thread``
and the deletes (of threads, of runs, of the rows a prune frees).

Plans take rows already encoded by :mod:`.codec`, so no serializer runs while
a transaction is open. The upserts themselves are the dialect's
(``DialectOps.insert_ignore``, ``upsert``, ``insert_ignore_then_upsert``):
the plan says what to write, the dialect how.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langgraph.checkpoint.sqlalchemy._validate import PayloadTooLargeError
from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.tables import (
    BLOBS,
    CHECKPOINTS,
    WRITES,
    B,
    C,
    chunks,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Plan
from sqlalchemy import delete, insert, literal, select, tuple_

__all__ = [
    "copy_thread",
    "delete_checkpoints",
    "delete_for_runs",
    "delete_thread",
    "delete_unreferenced_blobs",
    "put",
    "put_writes",
    "split_writes",
]

# Payloads smaller than this are not checked against the server's packet
# limit (MySQL's smallest default, 4 MiB, is far above it).
PACKET_CHECK_FROM = 1 << 20
# Room for the statement text and the other columns around the blobs.
PACKET_SLACK = 64 << 10


def _fits_in_a_packet(ops: DialectOps, rows: Sequence[Mapping[str, Any]]) -> Plan[None]:
    """Refuse, before sending anything, a write the server would drop the
    connection over (MySQL/MariaDB ``max_allowed_packet``)."""
    if ops.packet_limit is None:
        return
    size = sum(len(row.get("blob") or b"") for row in rows)
    if size < PACKET_CHECK_FROM:
        return
    limit = (yield Execute(ops.packet_limit)).scalar()
    if limit is not None and size + PACKET_SLACK > int(limit):
        raise PayloadTooLargeError(
            f"this write carries {size} bytes of serialized values, more than the "
            f"server's max_allowed_packet ({int(limit)} bytes) allows in one "
            "statement. Raise max_allowed_packet on the server (for instance "
            "SET GLOBAL max_allowed_packet = 268435456) or store smaller values. "
            "Nothing was written."
        )


def put(
    ops: DialectOps,
    checkpoint_row: Mapping[str, Any],
    blob_rows: Sequence[Mapping[str, Any]],
) -> Plan[None]:
    """A checkpoint and its new blobs, atomically (one statement or one
    transaction).

    Blobs go first and are never overwritten: a (channel, version) names one
    value for good, so a retried put is harmless.
    """
    yield from _fits_in_a_packet(ops, blob_rows)
    yield from ops.insert_ignore_then_upsert(
        BLOBS, blob_rows, CHECKPOINTS, checkpoint_row, update=("checkpoint", "metadata")
    )


def split_writes(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """Regular writes (kept first: a replayed task changes nothing) and
    special ones (errors, interrupts…: the last one of a task wins, as in
    ``InMemorySaver``), each with one row per key."""
    regular: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    special: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        key = (row["task_id"], row["idx"])
        if row["idx"] < 0:
            special[key] = row
        else:
            regular.setdefault(key, row)
    return list(regular.values()), list(special.values())


def put_writes(
    ops: DialectOps,
    regular: Sequence[Mapping[str, Any]],
    special: Sequence[Mapping[str, Any]],
) -> Plan[None]:
    """A task's pending writes: regular ones inserted once, so replaying a
    task's writes changes nothing; special ones overwriting."""
    yield from _fits_in_a_packet(ops, [*regular, *special])
    yield from ops.insert_ignore(WRITES, regular)
    yield from ops.upsert(WRITES, special, update=("channel", "type", "blob"))


def delete_thread(thread_ids: Sequence[str]) -> Plan[None]:
    for table in (WRITES, BLOBS, CHECKPOINTS):
        yield Execute(delete(table).where(table.c.thread_id.in_(thread_ids)))


def delete_for_runs(run_ids: Sequence[str]) -> Plan[None]:
    """Checkpoints whose metadata ``run_id`` is listed, their writes, and the
    blobs no remaining checkpoint of their namespace references."""
    run_id = C.metadata["run_id"].as_string()
    result = yield Execute(
        select(C.thread_id, C.checkpoint_ns, C.checkpoint_id, C.checkpoint).where(
            run_id.in_(run_ids)
        )
    )
    doomed: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in result:
        doomed.setdefault((row.thread_id, row.checkpoint_ns), {})[row.checkpoint_id] = (
            row.checkpoint
        )
    for (thread_id, ns), documents in doomed.items():
        yield from delete_checkpoints(thread_id, ns, documents)
        yield from delete_unreferenced_blobs(thread_id, ns, documents.values())


def _versions(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(ch, str(v)) for ch, v in (document.get("channel_versions") or {}).items()}


def delete_checkpoints(thread_id: str, ns: str, ids: Iterable[str]) -> Plan[None]:
    """Delete checkpoints ``ids`` of one namespace and their pending writes,
    an IN list at a time (their blobs are :func:`delete_unreferenced_blobs`'
    to judge)."""
    for chunk in chunks(sorted(ids)):
        for table in (WRITES, CHECKPOINTS):
            yield Execute(
                delete(table).where(
                    table.c.thread_id == thread_id,
                    table.c.checkpoint_ns == ns,
                    table.c.checkpoint_id.in_(chunk),
                )
            )


def delete_unreferenced_blobs(
    thread_id: str, ns: str, freed_documents: Iterable[Mapping[str, Any]]
) -> Plan[None]:
    """Delete the blobs the freed checkpoints referenced that no checkpoint
    left in the namespace references. Only freed versions are candidates, so a
    blob a concurrent run has just written for a new checkpoint is never one."""
    freed: set[tuple[str, str]] = set()
    for document in freed_documents:
        freed |= _versions(document)
    if not freed:
        return
    result = yield Execute(
        select(C.checkpoint).where(C.thread_id == thread_id, C.checkpoint_ns == ns)
    )
    for row in result:
        freed -= _versions(row.checkpoint)
    for chunk in chunks(sorted(freed)):
        yield Execute(
            delete(BLOBS).where(
                B.thread_id == thread_id,
                B.checkpoint_ns == ns,
                tuple_(B.channel, B.version).in_(chunk),
            )
        )


def copy_thread(source: str, target: str) -> Plan[bool]:
    """Copy every row of ``source`` to ``target``; refuse a non-empty target.

    Returns whether the target was empty (and so was written).
    """
    taken = yield Execute(select(C.thread_id).where(C.thread_id == target).limit(1))
    if taken.first() is not None:
        return False
    for table in (BLOBS, CHECKPOINTS, WRITES):
        names = [c.name for c in table.columns]
        columns = [
            literal(target, type_=table.c.thread_id.type).label("thread_id")
            if name == "thread_id"
            else table.c[name]
            for name in names
        ]
        yield Execute(
            insert(table).from_select(
                names, select(*columns).where(table.c.thread_id == source)
            )
        )
    return True
