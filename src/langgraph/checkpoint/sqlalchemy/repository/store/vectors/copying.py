"""Items' vectors copied with them from one database to another
(``store_transfer.py``), beside ``repository.store.copying``'s items.

A copy embeds nothing: it moves the ``store_vectors`` rows as they are
(field names and both time columns unchanged), each embedding decoded by the
source's :class:`VectorOps` into float32 bytes and encoded by the target's,
so pgvector's ``vector``/``halfvec``, sqlite-vec's BLOBs and MariaDB's go
into one another. It never creates the target's table: its index (distance,
HNSW or IVFFlat) is the target store's ``index`` configuration, which a copy
does not know; the store's ``setup()`` makes it.

The rule follows the items': the vectors of an item come along with the
version of the item a page writes (the target's old ones go); an item the
target keeps as newer keeps its own; an item the target holds at the very
same version gets the source's vectors only if it has none (an earlier
transfer ran before the target had a vector table), so a rerun writes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings

from langgraph.checkpoint.sqlalchemy.dialects.vectors import (
    BLOB,
    VectorOps,
    storage_ops,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Plan
from langgraph.checkpoint.sqlalchemy.repository.store.items import STORE
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.config import (
    VectorConfig,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.plans import (
    delete_vectors,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.table import (
    TABLE_NAME,
    vectors_table,
)
from sqlalchemy import Table, func, insert, select, tuple_
from sqlalchemy.engine import Dialect

__all__ = [
    "TABLE_NAME",
    "VectorSide",
    "count_vectors",
    "indexed_fields",
    "merge_vectors",
    "read_vectors",
]

Key = tuple[str, str]
#: An item's vector rows, each embedding as float32 bytes.
Vectors = Mapping[Key, Sequence[Mapping[str, Any]]]


class _NoModel(Embeddings):
    """The model of a copy's configuration: a copy never embeds."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise RuntimeError("a copy of vectors does not embed")

    def embed_query(self, text: str) -> list[float]:
        raise RuntimeError("a copy of vectors does not embed")


# A copy reads and writes the embedding column by its values; it neither
# creates a table nor casts a query, the only uses of ``dims`` and the
# index's settings, so one configuration serves every table.
_CONFIG = VectorConfig(dims=1, embeddings=_NoModel(), fields=("$",))


@dataclass(frozen=True)
class VectorSide:
    """One database's ``store_vectors``, as a copy reads or writes it."""

    ops: VectorOps
    table: Table

    @classmethod
    def of(cls, dialect: Dialect) -> VectorSide:
        ops = storage_ops(dialect, _CONFIG)
        return cls(ops, vectors_table(STORE, ops))

    def shape(self, schema: str | None) -> Plan[tuple[str, int | None]]:
        """The existing table's embedding type and dimension (``VectorOps.
        stored_embeddings``)."""
        return (yield from self.ops.stored_embeddings(self.table, schema))

    def accepts(self, kind: str, dims: int | None, source_dims: int) -> bool:
        """Whether a table that :meth:`shape` found as ``kind``, ``dims``
        takes embeddings of ``source_dims``: the same dimension, or an empty
        BLOB table, which takes any."""
        return dims == source_dims or (kind == BLOB and dims is None)


def count_vectors(side: VectorSide, keys: Sequence[Key]) -> Plan[dict[Key, int]]:
    """How many vectors each of the items ``keys`` has (absent: none)."""
    if not keys:
        return {}
    t = side.table
    result = yield Execute(
        select(t.c.prefix, t.c.key, func.count())
        .where(tuple_(t.c.prefix, t.c.key).in_(keys))
        .group_by(t.c.prefix, t.c.key)
    )
    return {(prefix, key): int(n) for prefix, key, n in result}


def indexed_fields(
    side: VectorSide, versions: Mapping[Key, Any]
) -> Plan[dict[Key, list[str]]]:
    """The field names vectored for each item that this database holds at
    the version ``versions`` gives it (its ``updated_at``), sorted in Python
    (collations differ between databases), one per vector row; an item held
    at another version, or not at all, is absent. What a transfer's
    verification compares on both sides: the embeddings themselves may
    round, as in a ``halfvec``."""
    if not versions:
        return {}
    t = side.table
    on = (STORE.c.prefix == t.c.prefix) & (STORE.c.key == t.c.key)
    result = yield Execute(
        select(STORE.c.prefix, STORE.c.key, STORE.c.updated_at, t.c.field_name)
        .join_from(STORE, t, on, isouter=True)
        .where(tuple_(STORE.c.prefix, STORE.c.key).in_(list(versions)))
    )
    found: dict[Key, list[str]] = {}
    for prefix, key, updated_at, field in result:
        if updated_at != versions[(prefix, key)]:
            continue
        fields = found.setdefault((prefix, key), [])
        if field is not None:
            fields.append(field)
    return {key: sorted(fields) for key, fields in found.items()}


def read_vectors(
    side: VectorSide, versions: Mapping[Key, Any]
) -> Plan[dict[Key, list[Any]]]:
    """The vector rows of the items ``versions`` names, by item, each
    embedding as float32 bytes (``VectorOps.to_float32``). Only those of
    the item's version read with the page (its ``updated_at``): an item
    written in between has other vectors, which come with its next copy."""
    if not versions:
        return {}
    t = side.table
    on = (STORE.c.prefix == t.c.prefix) & (STORE.c.key == t.c.key)
    result = yield Execute(
        select(
            t.c.prefix,
            t.c.key,
            t.c.field_name,
            side.ops.read_embedding(t.c.embedding).label("embedding"),
            t.c.created_at,
            t.c.updated_at,
            STORE.c.updated_at.label("item_updated_at"),
        )
        .join_from(t, STORE, on)
        .where(tuple_(t.c.prefix, t.c.key).in_(list(versions)))
        .order_by(t.c.prefix, t.c.key, t.c.field_name)
    )
    found: dict[Key, list[Any]] = {}
    for row in result:
        values = dict(row._mapping)
        if values.pop("item_updated_at") != versions[(row.prefix, row.key)]:
            continue
        if values["embedding"] is not None:
            values["embedding"] = side.ops.to_float32(values["embedding"])
        found.setdefault((row.prefix, row.key), []).append(values)
    return found


def merge_vectors(
    side: VectorSide,
    vectors: Vectors,
    written: Iterable[Key],
    same: Iterable[Key],
    *,
    write: bool = True,
) -> Plan[int]:
    """Bring ``vectors`` (from :func:`read_vectors`) into this database, in
    the transaction that merged their items: those of the items ``written``
    replace the ones there; those of the items held at the ``same`` version
    go in only where such an item has none. How many rows were (with
    ``write=False``: would be) inserted."""
    replace = list(written)
    fill = [key for key in same if vectors.get(key)]
    if fill:
        t = side.table
        found = yield Execute(
            select(t.c.prefix, t.c.key)
            .where(tuple_(t.c.prefix, t.c.key).in_(fill))
            .distinct()
        )
        held = {(row.prefix, row.key) for row in found}
        fill = [key for key in fill if key not in held]
    rows = [row for key in [*replace, *fill] for row in vectors.get(key, ())]
    if write:
        yield from delete_vectors(side.table, replace)
        if rows:
            bind = side.ops.bind_float32
            yield Execute(
                insert(side.table),
                [
                    {
                        **row,
                        "embedding": None
                        if row["embedding"] is None
                        else bind(row["embedding"]),
                    }
                    for row in rows
                ],
            )
    return len(rows)
