"""Plans that read checkpoints: ``get_tuple``, pages of ``list``, the
per-channel chain walk and ``get_delta_channel_history``'s rows.

Plans return raw stored rows (:mod:`.codec` types) for the caller to decode
once the transaction is over, so no deserialization happens inside one.
Statements used on every agent step are built once (module level or a cached
builder), with named bind parameters, so SQLAlchemy compiles each once per
dialect and the runtime may run them as ``hot``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.chain import (
    Ancestor,
    ChainWalk,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.codec import (
    EMPTY,
    StoredCheckpoint,
    StoredWrite,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.tables import (
    BLOBS,
    WRITES,
    B,
    C,
    W,
    chunks,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Plan
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.sql import Select

__all__ = [
    "CHAIN_PAGE_SIZE",
    "DeltaRows",
    "ListQuery",
    "attach_children",
    "delta_history",
    "get_tuple",
    "list_page",
    "walk_chain",
]

# How many ancestors one query of a chain walk reads.
CHAIN_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What ``list`` was asked for, validated."""

    thread_id: str | None
    checkpoint_ns: str | None
    checkpoint_id: str | None
    filter: Mapping[str, Any]
    before_id: str | None
    #: One more condition on the rows (a TTL's: the thread has not expired).
    where: ColumnElement[bool] | None = None


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


def _stored_write(row: Any, checkpoint_id: str) -> StoredWrite:
    """A ``checkpoint_writes`` row (as any read here selects it)."""
    return StoredWrite(
        checkpoint_id=checkpoint_id,
        task_id=row.task_id,
        channel=row.channel,
        type=row.type,
        blob=row.blob,
        task_path=row.task_path or "",
        idx=row.idx,
    )


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
        for n, id_chunk in enumerate(chunks(ids)):
            branches = [_writes_branch(thread_id, ns, id_chunk)]
            if n == 0:  # the blobs once, with the first chunk of writes
                branches += [
                    _blobs_branch(thread_id, ns, key_chunk)
                    for key_chunk in chunks(key_list)
                ]
            result = yield Execute(
                union_all(*branches) if len(branches) > 1 else branches[0]
            )
            for row in result:
                if row.kind == "b":
                    for owner in wanted.get((row.channel, row.key), ()):
                        owner.blobs[row.channel] = (row.type, row.blob)
                else:
                    by_id[row.key].writes.append(_stored_write(row, row.key))


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
        # faster with LIMIT 1 than with LIMIT ? (see docs/performance.md).
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
                writes.append(_stored_write(row, row.checkpoint_id))
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
    if query.where is not None:
        stmt = stmt.where(query.where)
    if after is not None:
        stmt = stmt.where(tuple_(C.checkpoint_id, C.thread_id, C.checkpoint_ns) < after)
    stmt = stmt.order_by(
        C.checkpoint_id.desc(), C.thread_id.desc(), C.checkpoint_ns.desc()
    ).limit(size)
    result = yield Execute(stmt)
    stored = [_stored(row) for row in result]
    yield from attach_children(stored)
    return stored


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
    for chunk in chunks(sorted(keys)):
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
    for chunk in chunks(chain_ids):
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
        writes += [_stored_write(r, r.checkpoint_id) for r in result]
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
