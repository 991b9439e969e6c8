"""A store's vector index: its configuration, its database's way of
ranking, and its table, bound together once per store.

The store's faces ask it what to embed (:meth:`VectorIndex.embedding_work`),
call the model outside any transaction, and hand the vectors to the batch's
plan, which yields from :meth:`VectorIndex.write` after its upserts and from
:meth:`VectorIndex.search` for a search with a ``query``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from langgraph.store.base import PutOp, SearchItem, SearchOp

from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.dialects.vectors import (
    SubPlan,
    VectorOps,
    engine_options,
    vector_ops,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Step
from langgraph.checkpoint.sqlalchemy.repository.store.items import (
    COLUMNS,
    STORE,
    prefix_of,
    to_search_item,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors import plans
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.codec import (
    check_vector,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.config import (
    VectorConfig,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.shape import (
    search_shape,
    shape_params,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.table import (
    vectors_table,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.texts import (
    EmbedRequest,
    texts_to_embed,
)
from sqlalchemy import ColumnElement, Table
from sqlalchemy.engine import Dialect


@dataclass
class EmbeddingWork:
    """What a batch needs embedded: its puts' texts (``documents``) and its
    searches' queries. Filled with vectors by the face, then read by the plan."""

    documents: list[EmbedRequest] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    document_vectors: list[list[float]] = field(default_factory=list)
    query_vectors: dict[str, list[float]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.documents or self.queries)


class VectorIndex:
    """The ``index`` of one store."""

    def __init__(
        self, config: VectorConfig, dialect: Dialect, *, force_exact: bool = False
    ) -> None:
        self.config = config
        self.ops: VectorOps = (
            VectorOps(dialect, config) if force_exact else vector_ops(dialect, config)
        )
        self.table: Table = vectors_table(STORE, self.ops)

    # -- before the transaction ----------------------------------------------

    def embedding_work(
        self, puts: Sequence[PutOp], searches: Sequence[SearchOp]
    ) -> EmbeddingWork:
        """The texts of ``puts`` (the last put of each item; earlier ones
        are overwritten in the same batch) and the distinct queries of
        ``searches``."""
        latest: dict[tuple[tuple[str, ...], str], PutOp] = {}
        for op in puts:
            latest[(op.namespace, op.key)] = op
        queries = [op.query for op in searches if op.query]
        return EmbeddingWork(
            documents=texts_to_embed(latest.values(), self.config.fields),
            queries=list(dict.fromkeys(queries)),
        )

    def accept(
        self,
        work: EmbeddingWork,
        documents: Sequence[Sequence[float]],
        queries: Sequence[Sequence[float]],
    ) -> EmbeddingWork:
        """``work`` with the model's answers, checked: one vector per text,
        each of ``dims`` values."""
        dims = self.config.dims
        if len(documents) != len(work.documents) or len(queries) != len(work.queries):
            raise ValueError(
                f"the embedding model returned {len(documents)} vectors for "
                f"{len(work.documents)} texts (and {len(queries)} for "
                f"{len(work.queries)} queries)"
            )
        work.document_vectors = [
            check_vector(v, dims, f"the embedding of {r.field_name!r}")
            for v, r in zip(documents, work.documents, strict=True)
        ]
        work.query_vectors = {
            q: check_vector(v, dims, "the query's embedding")
            for q, v in zip(work.queries, queries, strict=True)
        }
        return work

    # -- in the transaction ----------------------------------------------------

    def setup(self, schema: str | None) -> SubPlan:
        yield from plans.setup_vectors(self.ops, self.table, schema)

    def write(self, puts: Sequence[PutOp], work: EmbeddingWork) -> SubPlan:
        """Replace the vectors of every item ``puts`` touched (after the
        items' own rows were written)."""
        items = list(dict.fromkeys((prefix_of(op.namespace), op.key) for op in puts))
        rows = [
            {
                "prefix": prefix_of(r.namespace),
                "key": r.key,
                "field_name": r.field_name,
                "vector": vector,
            }
            for r, vector in zip(work.documents, work.document_vectors, strict=True)
        ]
        yield from plans.replace_vectors(self.ops, self.table, items, rows)

    def search(
        self,
        op: SearchOp,
        work: EmbeddingWork,
        filters: DialectOps,
        now: datetime,
        where: Callable[[], Sequence[ColumnElement[bool]]],
    ) -> Generator[Step, Any, list[tuple[SearchItem, Any]]]:
        """The items of ``op`` at ``now``, ranked by its query; each with
        its row (for TTL refreshes). Where the database ranks and
        ``filters`` (the store's dialect) can, its statement is its shape's
        (``shape.py``); otherwise it is built with ``where()``, ``op``'s
        conditions on the items."""
        assert op.query is not None
        query = work.query_vectors[op.query]
        per_item = len(self.config.fields)
        shape = search_shape(filters, op) if self.ops.ranks_in_sql else None
        if shape is None:
            ranked = yield from plans.search_vectors(
                self.ops,
                STORE,
                self.table,
                COLUMNS,
                where(),
                query,
                op.limit,
                op.offset,
                vectors_per_item=per_item,
            )
        else:
            ranked = yield from plans.search_by_shape(
                self.ops,
                STORE,
                self.table,
                COLUMNS,
                filters,
                shape,
                shape_params(filters, op, now),
                query,
                op.limit,
                op.offset,
                vectors_per_item=per_item,
            )
        return [(to_search_item(row, score), row) for row, score in ranked]


def engine_kwargs(
    url: Any,
    given: Mapping[str, Any] | None,
    index: Mapping[str, Any] | None,
    *,
    is_async: bool = False,
) -> Mapping[str, Any] | None:
    """``create_engine`` options for a ``from_url`` store's engine: ``given``,
    plus what vector search needs of the driver (pysqlite3 on a Python whose
    sqlite3 can't load sqlite-vec)."""
    if index is None:
        return given
    return {**engine_options(url, is_async=is_async), **(given or {})}
