"""Every statement the savers run, and one plan per operation. No I/O.

A plan is a generator that yields steps (``_run.Execute``/``_run.Call``) and is
sent each result; ``_run.run`` and ``_run.arun`` drive it on a sync or async
connection inside one transaction. Plans take rows already encoded by
``_codec`` and return raw stored rows for ``_codec`` to decode, so neither
serialization nor deserialization happens while a transaction is open.

Statements used on every agent step are built once at import, with named bind
parameters, so SQLAlchemy compiles each of them once per dialect.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.sqlalchemy import migrate
from langgraph.checkpoint.sqlalchemy._validate import PayloadTooLargeError
from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.models import (
    Checkpoint,
    CheckpointBlob,
    CheckpointWrite,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.chain import (
    Ancestor,
    ChainWalk,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.codec import (
    EMPTY,
    StoredCheckpoint,
    StoredWrite,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Call, Execute, Plan
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.schema import CreateSchema
from sqlalchemy.sql import Select

C = Checkpoint.__table__.c
B = CheckpointBlob.__table__.c
W = CheckpointWrite.__table__.c
CHECKPOINTS: Table = Checkpoint.__table__  # type: ignore[assignment]
BLOBS: Table = CheckpointBlob.__table__  # type: ignore[assignment]
WRITES: Table = CheckpointWrite.__table__  # type: ignore[assignment]

# How many ancestors one query of a chain walk reads.
CHAIN_PAGE_SIZE = 1000
# How many keys go in one IN list (well under every driver's parameter limit).
IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What ``list`` was asked for, validated."""

    thread_id: str | None
    checkpoint_ns: str | None
    checkpoint_id: str | None
    filter: Mapping[str, Any]
    before_id: str | None


# -- statements ------------------------------------------------------------

_CHECKPOINT_COLUMNS = (
    C.thread_id,
    C.checkpoint_ns,
    C.checkpoint_id,
    C.parent_checkpoint_id,
    C.checkpoint,
    C.metadata,
)

SELECT_LATEST = (
    select(*_CHECKPOINT_COLUMNS)
    .where(C.thread_id == bindparam("thread_id"))
    .where(C.checkpoint_ns == bindparam("checkpoint_ns"))
    .order_by(C.checkpoint_id.desc())
    .limit(1)
)

SELECT_BY_ID = (
    select(*_CHECKPOINT_COLUMNS)
    .where(C.thread_id == bindparam("thread_id"))
    .where(C.checkpoint_ns == bindparam("checkpoint_ns"))
    .where(C.checkpoint_id == bindparam("checkpoint_id"))
)

SELECT_LATEST_ID = (
    select(C.checkpoint_id)
    .where(C.thread_id == bindparam("thread_id"))
    .where(C.checkpoint_ns == bindparam("checkpoint_ns"))
    .order_by(C.checkpoint_id.desc())
    .limit(1)
)


def _text_null() -> ColumnElement[Any]:
    return cast(null(), String)


def _blobs_branch(
    thread_id: str, ns: str, keys: Sequence[tuple[str, str]]
) -> Select[Any]:
    """Blob rows of one namespace as rows of the children union."""
    return select(
        literal_column("'b'").label("kind"),
        B.thread_id,
        B.checkpoint_ns,
        B.version.label("key"),
        B.channel,
        B.type,
        B.blob,
        _text_null().label("task_id"),
        _text_null().label("task_path"),
        cast(null(), Integer).label("idx"),
    ).where(
        B.thread_id == thread_id,
        B.checkpoint_ns == ns,
        tuple_(B.channel, B.version).in_(keys),
    )


def _writes_branch(
    thread_id: str, ns: str, checkpoint_ids: Sequence[str]
) -> Select[Any]:
    """Write rows of one namespace as rows of the children union."""
    return select(
        literal_column("'w'").label("kind"),
        W.thread_id,
        W.checkpoint_ns,
        W.checkpoint_id.label("key"),
        W.channel,
        W.type,
        W.blob,
        W.task_id,
        W.task_path,
        W.idx,
    ).where(
        W.thread_id == thread_id,
        W.checkpoint_ns == ns,
        W.checkpoint_id.in_(checkpoint_ids),
    )


def _stored(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(
        thread_id=row.thread_id,
        checkpoint_ns=row.checkpoint_ns,
        checkpoint_id=row.checkpoint_id,
        parent_checkpoint_id=row.parent_checkpoint_id,
        document=row.checkpoint,
        metadata=row.metadata or {},
    )


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def attach_children(stored: Sequence[StoredCheckpoint]) -> Plan[None]:
    """Load the blobs and pending writes of ``stored`` checkpoints: one query
    per namespace (a ``get_tuple`` makes exactly one), blobs and writes in a
    single ``UNION ALL``."""
    groups: dict[tuple[str, str], list[StoredCheckpoint]] = {}
    for s in stored:
        groups.setdefault((s.thread_id, s.checkpoint_ns), []).append(s)
    for (thread_id, ns), members in groups.items():
        by_id = {s.checkpoint_id: s for s in members}
        wanted: dict[tuple[str, str], list[StoredCheckpoint]] = {}
        for s in members:
            for key in s.blob_keys():
                wanted.setdefault(key, []).append(s)
        key_list = sorted(wanted)
        ids = sorted(by_id)
        for n, id_chunk in enumerate(_chunks(ids)):
            branches = [_writes_branch(thread_id, ns, id_chunk)]
            if n == 0:  # the blobs once, with the first chunk of writes
                branches += [
                    _blobs_branch(thread_id, ns, key_chunk)
                    for key_chunk in _chunks(key_list)
                ]
            result = yield Execute(
                union_all(*branches) if len(branches) > 1 else branches[0]
            )
            for row in result:
                if row.kind == "b":
                    for owner in wanted.get((row.channel, row.key), ()):
                        owner.blobs[row.channel] = (row.type, row.blob)
                else:
                    by_id[row.key].writes.append(
                        StoredWrite(
                            checkpoint_id=row.key,
                            task_id=row.task_id,
                            channel=row.channel,
                            type=row.type,
                            blob=row.blob,
                            task_path=row.task_path or "",
                            idx=row.idx,
                        )
                    )


# -- reads -----------------------------------------------------------------


@functools.cache
def _get_in_one(ops: DialectOps, by_id: bool) -> Select[Any]:
    """A checkpoint, its blobs and its writes as one ``UNION ALL``: the target
    row is a CTE; its blobs are joined through the JSON of its channel
    versions, its writes by key. One round trip for ``get_tuple``."""
    target_q = select(*_CHECKPOINT_COLUMNS).where(
        C.thread_id == bindparam("thread_id"),
        C.checkpoint_ns == bindparam("checkpoint_ns"),
    )
    if by_id:
        target_q = target_q.where(C.checkpoint_id == bindparam("checkpoint_id"))
    else:
        # Literal, not bound (a constant of ours): SQLite runs the statement
        # about twice as fast with LIMIT 1 as with LIMIT ?.
        one, none = literal_column("1", Integer), literal_column("0", Integer)
        target_q = target_q.order_by(C.checkpoint_id.desc()).limit(one).offset(none)
    target = target_q.cte("target")
    versions = ops.channel_versions(target.c.checkpoint)
    no_text, no_doc = _text_null(), cast(null(), C.checkpoint.type)
    checkpoint_branch = select(
        literal_column("'c'").label("kind"),
        target.c.checkpoint_id,
        target.c.parent_checkpoint_id,
        target.c.checkpoint,
        target.c.metadata,
        no_text.label("channel"),
        no_text.label("type"),
        cast(null(), B.blob.type).label("blob"),
        no_text.label("task_id"),
        no_text.label("task_path"),
        cast(null(), Integer).label("idx"),
        no_text.label("version"),
    )
    blob_of_version = and_(
        B.thread_id == target.c.thread_id,
        B.checkpoint_ns == target.c.checkpoint_ns,
        B.channel == versions.c.key,
        # As text: SQLite's json_each keeps integer versions integers.
        B.version == cast(versions.c.value, String),
    )
    if ops.blobs_by_lateral_lookup:
        # One primary-key lookup per channel, whatever the thread holds. The
        # LIMIT keeps the lateral subquery from being flattened into a join.
        lookup = (
            select(B.channel, B.type, B.blob, B.version)
            .where(blob_of_version)
            .limit(literal_column("1", Integer))
            .lateral("blob")
        )
        blob_source = select(
            lookup.c.channel, lookup.c.type, lookup.c.blob, lookup.c.version
        ).select_from(target.join(versions, true()).join(lookup, true()))
    else:
        # SQLite: channels without a blob (inline values) give a NULL row.
        blob_source = select(B.channel, B.type, B.blob, B.version).select_from(
            target.join(versions, true()).join(
                BLOBS, blob_of_version, isouter=ops.outer_join_keeps_order
            )
        )
    picked = blob_source.subquery("picked")
    blobs_branch = select(
        literal_column("'b'"),
        no_text,
        no_text,
        no_doc,
        no_doc,
        picked.c.channel,
        picked.c.type,
        picked.c.blob,
        no_text,
        no_text,
        cast(null(), Integer),
        picked.c.version,
    )
    writes_branch = select(
        literal_column("'w'"),
        W.checkpoint_id,
        no_text,
        no_doc,
        no_doc,
        W.channel,
        W.type,
        W.blob,
        W.task_id,
        W.task_path,
        W.idx,
        no_text,
    ).select_from(
        target.join(
            WRITES,
            and_(
                W.thread_id == target.c.thread_id,
                W.checkpoint_ns == target.c.checkpoint_ns,
                W.checkpoint_id == target.c.checkpoint_id,
            ),
        )
    )
    return union_all(checkpoint_branch, blobs_branch, writes_branch)  # type: ignore[return-value]


def get_tuple(
    ops: DialectOps, thread_id: str, ns: str, checkpoint_id: str | None
) -> Plan[StoredCheckpoint | None]:
    if ops.one_statement_reads:
        params = {"thread_id": thread_id, "checkpoint_ns": ns}
        if checkpoint_id is not None:
            params["checkpoint_id"] = checkpoint_id
        result = yield Execute(
            _get_in_one(ops, checkpoint_id is not None), params, hot=True
        )
        stored: StoredCheckpoint | None = None
        blobs: dict[str, tuple[str, bytes | None]] = {}
        writes: list[StoredWrite] = []
        for row in result:
            if row.kind == "c":
                stored = StoredCheckpoint(
                    thread_id=thread_id,
                    checkpoint_ns=ns,
                    checkpoint_id=row.checkpoint_id,
                    parent_checkpoint_id=row.parent_checkpoint_id,
                    document=row.checkpoint,
                    metadata=row.metadata or {},
                )
            elif row.kind == "b":
                if row.channel is not None:  # None: an inline value, no blob
                    blobs[row.channel] = (row.type, row.blob)
            else:
                writes.append(
                    StoredWrite(
                        checkpoint_id=row.checkpoint_id,
                        task_id=row.task_id,
                        channel=row.channel,
                        type=row.type,
                        blob=row.blob,
                        task_path=row.task_path or "",
                        idx=row.idx,
                    )
                )
        if stored is not None:
            stored.blobs, stored.writes = blobs, writes
        return stored
    params = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id is None:
        result = yield Execute(SELECT_LATEST, params)
    else:
        result = yield Execute(SELECT_BY_ID, {**params, "checkpoint_id": checkpoint_id})
    row = result.first()
    if row is None:
        return None
    stored = _stored(row)
    yield from attach_children([stored])
    return stored


def list_page(
    ops: DialectOps,
    query: ListQuery,
    after: tuple[str, str, str] | None,
    size: int,
) -> Plan[list[StoredCheckpoint]]:
    """One page of ``list``: newest first, continuing after the ``after`` key.

    Pages are keyed by (checkpoint_id, thread_id, checkpoint_ns), so a page
    boundary never skips or repeats a checkpoint, even across threads.
    """
    stmt = select(*_CHECKPOINT_COLUMNS)
    if query.thread_id is not None:
        stmt = stmt.where(C.thread_id == query.thread_id)
    if query.checkpoint_ns is not None:
        stmt = stmt.where(C.checkpoint_ns == query.checkpoint_ns)
    if query.checkpoint_id is not None:
        stmt = stmt.where(C.checkpoint_id == query.checkpoint_id)
    if query.filter:
        stmt = stmt.where(ops.metadata_matches(C.metadata, query.filter))
    if query.before_id is not None:
        stmt = stmt.where(C.checkpoint_id < query.before_id)
    if after is not None:
        stmt = stmt.where(tuple_(C.checkpoint_id, C.thread_id, C.checkpoint_ns) < after)
    stmt = stmt.order_by(
        C.checkpoint_id.desc(), C.thread_id.desc(), C.checkpoint_ns.desc()
    ).limit(size)
    result = yield Execute(stmt)
    stored = [_stored(row) for row in result]
    yield from attach_children(stored)
    return stored


# -- writes ----------------------------------------------------------------


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
        ids = sorted(documents)
        for chunk in _chunks(ids):
            for table in (WRITES, CHECKPOINTS):
                yield Execute(
                    delete(table).where(
                        table.c.thread_id == thread_id,
                        table.c.checkpoint_ns == ns,
                        table.c.checkpoint_id.in_(chunk),
                    )
                )
        yield from _delete_unreferenced_blobs(thread_id, ns, documents.values())


def _versions(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(ch, str(v)) for ch, v in (document.get("channel_versions") or {}).items()}


def _delete_unreferenced_blobs(
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
    for chunk in _chunks(sorted(freed)):
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


# -- chains: delta history and prune ---------------------------------------


def _chain_page(
    thread_id: str, ns: str, cursor: str, *, inclusive: bool
) -> Select[Any]:
    bound = C.checkpoint_id <= cursor if inclusive else C.checkpoint_id < cursor
    return (
        select(C.checkpoint_id, C.parent_checkpoint_id, C.checkpoint)
        .where(C.thread_id == thread_id, C.checkpoint_ns == ns, bound)
        .order_by(C.checkpoint_id.desc())
        .limit(CHAIN_PAGE_SIZE)
    )


def _present_blobs(
    thread_id: str, ns: str, keys: set[tuple[str, str]]
) -> Plan[set[tuple[str, str]]]:
    present: set[tuple[str, str]] = set()
    for chunk in _chunks(sorted(keys)):
        result = yield Execute(
            select(B.channel, B.version).where(
                B.thread_id == thread_id,
                B.checkpoint_ns == ns,
                B.type != EMPTY,
                tuple_(B.channel, B.version).in_(chunk),
            )
        )
        present |= {(r.channel, r.version) for r in result}
    return present


def walk_chain(
    thread_id: str, ns: str, target_id: str, channels: Sequence[str]
) -> Plan[ChainWalk]:
    """Walk the ancestors of ``target_id`` for ``channels``, a page at a time."""
    walk = ChainWalk(target_id=target_id, channels=channels)
    cursor, inclusive = target_id, True
    while not walk.finished:
        result = yield Execute(_chain_page(thread_id, ns, cursor, inclusive=inclusive))
        page = [
            Ancestor(
                checkpoint_id=row.checkpoint_id,
                parent_checkpoint_id=row.parent_checkpoint_id,
                versions={
                    ch: str(v)
                    for ch, v in (row.checkpoint.get("channel_versions") or {}).items()
                },
                inline=row.checkpoint.get("channel_values") or {},
            )
            for row in result
        ]
        if not page:
            break
        present = yield from _present_blobs(
            thread_id, ns, walk.blob_keys_to_probe(page)
        )
        walk.advance(page, present)
        if len(page) < CHAIN_PAGE_SIZE:
            break
        cursor, inclusive = page[-1].checkpoint_id, False
    return walk


@dataclass(slots=True)
class DeltaRows:
    """What ``get_delta_channel_history`` read, still serialized."""

    walk: ChainWalk
    writes: list[StoredWrite]
    seeds: dict[str, tuple[str, bytes | None]]


def delta_history(
    thread_id: str, ns: str, checkpoint_id: str | None, channels: Sequence[str]
) -> Plan[DeltaRows | None]:
    """The chain walk, then one query for the chains' writes and seed blobs."""
    if checkpoint_id is None:
        result = yield Execute(
            SELECT_LATEST_ID, {"thread_id": thread_id, "checkpoint_ns": ns}
        )
        checkpoint_id = result.scalar()
        if checkpoint_id is None:
            return None
    walk = yield from walk_chain(thread_id, ns, checkpoint_id, channels)
    writes: list[StoredWrite] = []
    seeds: dict[str, tuple[str, bytes | None]] = {}
    chain_ids = sorted(walk.all_chain_ids())
    for chunk in _chunks(chain_ids):
        result = yield Execute(
            select(
                W.checkpoint_id,
                W.task_id,
                W.channel,
                W.type,
                W.blob,
                W.task_path,
                W.idx,
            ).where(
                W.thread_id == thread_id,
                W.checkpoint_ns == ns,
                W.channel.in_(list(channels)),
                W.checkpoint_id.in_(chunk),
            )
        )
        writes += [
            StoredWrite(
                checkpoint_id=r.checkpoint_id,
                task_id=r.task_id,
                channel=r.channel,
                type=r.type,
                blob=r.blob,
                task_path=r.task_path or "",
                idx=r.idx,
            )
            for r in result
        ]
    if walk.seed_versions:
        result = yield Execute(
            select(B.channel, B.version, B.type, B.blob).where(
                B.thread_id == thread_id,
                B.checkpoint_ns == ns,
                tuple_(B.channel, B.version).in_(sorted(walk.seed_versions.items())),
            )
        )
        seeds = {r.channel: (r.type, r.blob) for r in result}
    return DeltaRows(walk=walk, writes=writes, seeds=seeds)


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
        for chunk in _chunks(sorted(doomed)):
            for table in (WRITES, CHECKPOINTS):
                yield Execute(
                    delete(table).where(
                        table.c.thread_id == thread_id,
                        table.c.checkpoint_ns == ns,
                        table.c.checkpoint_id.in_(chunk),
                    )
                )
        for chunk in _chunks(sorted(doomed)):
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
        yield from _delete_unreferenced_blobs(thread_id, ns, doomed.values())


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


# -- schema ----------------------------------------------------------------


def setup(ops: DialectOps, schema: str | None, version_table: str) -> Plan[None]:
    """Bring the schema to Alembic's head, under the setup lock.

    The migration scripts qualify names with ``schema`` themselves (so that
    ``--sql`` renders them too); the schema itself is created first where the
    database has such a thing.
    """
    if schema is not None and ops.has_schemas:
        yield Execute(CreateSchema(schema, if_not_exists=True))
    lock = ops.setup_lock()

    def upgrade(conn: Connection) -> None:
        if lock is not None and conn.execute(lock[0]).scalar() != 1:
            raise TimeoutError(
                "setup() waited 60 s for another process's schema migration "
                "to finish; call it again once that one is done"
            )
        try:
            migrate.upgrade(conn, schema=schema, version_table=version_table)
        finally:
            if lock is not None and lock[1] is not None:
                conn.execute(lock[1])

    yield Call(upgrade)


__all__ = [
    "CHAIN_PAGE_SIZE",
    "DeltaRows",
    "ListQuery",
    "attach_children",
    "copy_thread",
    "delete_for_runs",
    "delete_thread",
    "delta_history",
    "get_tuple",
    "list_page",
    "prune_keep_last",
    "put",
    "put_writes",
    "setup",
    "stale_threads",
    "walk_chain",
]
