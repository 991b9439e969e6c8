"""The sub-plans of vector search: set the table up, replace items' vectors,
rank items by a query vector. No I/O: the store's jobs yield from these.

Embeddings are computed before a job starts (the store's faces call the
model), so no transaction is held open while a model answers.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.dialects.vectors import (
    EXACT_BATCH,
    SubPlan,
    VectorOps,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Step
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.shape import (
    SearchShape,
    shape_conditions,
)
from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import Float, String

#: Items per ``IN`` list of a delete.
KEYS_PER_STATEMENT = 500

Ranked = list[tuple[Row[Any], float]]


def setup_vectors(ops: VectorOps, vectors: Table, schema: str | None) -> SubPlan:
    """Create ``store_vectors`` and its indexes where missing, after checking
    that an existing table was made for this configuration."""
    yield from ops.prepare_setup()
    yield Execute(CreateTable(vectors, if_not_exists=True))
    yield from ops.check_schema(vectors, schema)
    for index in [*vectors.indexes, *ops.indexes(vectors)]:
        yield Execute(CreateIndex(index, if_not_exists=True))


def replace_vectors(
    ops: VectorOps,
    vectors: Table,
    items: Sequence[tuple[str, str]],
    rows: Sequence[Mapping[str, Any]],
) -> SubPlan:
    """Delete the vectors of ``items`` (prefix, key), then insert ``rows``
    (prefix, key, field_name, vector). Runs after the items' own upsert or
    delete, in the same transaction."""
    yield from delete_vectors(vectors, items)
    if rows:
        now = datetime.now(timezone.utc)
        yield Execute(
            insert(vectors),
            [
                {
                    "prefix": r["prefix"],
                    "key": r["key"],
                    "field_name": r["field_name"],
                    "embedding": ops.bind_vector(r["vector"]),
                    "created_at": now,
                    "updated_at": now,
                }
                for r in rows
            ],
        )


def delete_vectors(vectors: Table, items: Sequence[tuple[str, str]]) -> SubPlan:
    """Delete the vectors of ``items`` (prefix, key)."""
    for start in range(0, len(items), KEYS_PER_STATEMENT):
        chunk = sorted(set(items[start : start + KEYS_PER_STATEMENT]))
        yield Execute(
            delete(vectors).where(tuple_(vectors.c.prefix, vectors.c.key).in_(chunk))
        )


def search_vectors(
    ops: VectorOps,
    store: Table,
    vectors: Table,
    columns: Sequence[ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]],
    query: Sequence[float],
    limit: int,
    offset: int,
    vectors_per_item: int = 1,
) -> Generator[Step, Any, Ranked]:
    """The items matching ``where`` (conditions on ``store``), nearest to
    ``query`` first, each with its score (an item with several vectors
    scores its best), ``offset`` skipped and ``limit`` kept; ``columns`` of
    ``store`` in each row. Items without vectors are not found.

    Where the database ranks (``ops.ranks_in_sql``) this is one statement:
    filters, namespace prefix and ranking together (see
    :func:`search_by_shape` for one built once); otherwise the candidates'
    embeddings are read in pages and ranked in Python, exactly.
    """
    if not ops.ranks_in_sql:
        return (
            yield from _exact_in_python(
                ops, store, vectors, columns, where, query, limit, offset
            )
        )
    statement = _ranked(ops, store, vectors, tuple(columns), where)
    return (
        yield from _run_ranked(
            ops, statement, {}, query, limit, offset, vectors_per_item, hot=False
        )
    )


def search_by_shape(
    ops: VectorOps,
    store: Table,
    vectors: Table,
    columns: tuple[ColumnElement[Any], ...],
    filters: DialectOps,
    shape: SearchShape,
    params: Mapping[str, Any],
    query: Sequence[float],
    limit: int,
    offset: int,
    vectors_per_item: int = 1,
) -> Generator[Step, Any, Ranked]:
    """:func:`search_vectors` (where ``ops.ranks_in_sql``) for a search of
    ``shape`` with the values ``params`` (``shape.py``): its statement is
    built once per shape and runs compiled."""
    statement = _shaped(ops, store, vectors, columns, filters, shape)
    return (
        yield from _run_ranked(
            ops, statement, params, query, limit, offset, vectors_per_item, hot=True
        )
    )


@functools.lru_cache(maxsize=256)
def _shaped(
    ops: VectorOps,
    store: Table,
    vectors: Table,
    columns: tuple[ColumnElement[Any], ...],
    filters: DialectOps,
    shape: SearchShape,
) -> Select[Any]:
    return _ranked(ops, store, vectors, columns, shape_conditions(filters, shape))


def _run_ranked(
    ops: VectorOps,
    statement: Select[Any],
    params: Mapping[str, Any],
    query: Sequence[float],
    limit: int,
    offset: int,
    vectors_per_item: int,
    *,
    hot: bool,
) -> Generator[Step, Any, Ranked]:
    """Run a statement of :func:`_ranked` with ``params`` and its own."""
    yield from ops.prepare_search()
    values = {
        **params,
        "query": ops.bind_vector(query),
        "limit": limit,
        "offset": offset,
    }
    if ops.uses_ann_index:
        # Enough candidates for items with several vectors; the best of each
        # item is kept after.
        values["candidates"] = (offset + limit) * max(1, vectors_per_item) * 2
    result = yield Execute(statement, values, hot=hot)
    return [(row, ops.score(row[-1])) for row in result.all()]


def _ranked(
    ops: VectorOps,
    store: Table,
    vectors: Table,
    columns: tuple[ColumnElement[Any], ...],
    where: Sequence[ColumnElement[bool]],
) -> Select[Any]:
    """The ranked search of the items matching ``where``: the query vector,
    ``limit``, ``offset`` and (with an ANN index) ``candidates`` bound by
    name."""
    on = and_(store.c.prefix == vectors.c.prefix, store.c.key == vectors.c.key)
    q: BindParameter[Any] = bindparam("query", type_=ops.query_type())
    distance = ops.distance(vectors.c.embedding, q)
    limit, offset = (
        bindparam("limit", type_=Integer()),
        bindparam("offset", type_=Integer()),
    )
    if not ops.uses_ann_index:
        # Exact, in the database: every candidate vector, the best per item.
        best_distance = func.min(distance).label("distance")
        return (
            select(*columns, best_distance)
            .join_from(store, vectors, on)
            .where(*where)
            .group_by(store.c.prefix, store.c.key)
            .order_by(best_distance, store.c.prefix, store.c.key)
            .limit(limit)
            .offset(offset)
        )
    # The index scan: ORDER BY the operator on the indexed column, with a
    # LIMIT, the filters checked on each row it yields (iterative scans read
    # on until enough pass).
    nearest = (
        select(vectors.c.prefix, vectors.c.key, distance.label("distance"))
        .join_from(vectors, store, on)
        .where(*where)
        .order_by(distance)
        .limit(bindparam("candidates", type_=Integer()))
        .subquery("nearest")
    )
    # The subqueries' columns named in text (fixed names, no data): their
    # .c collections would be built anew on every search that builds its
    # statement, which cost more client time than the database takes.
    n_prefix, n_key, n_distance = _columns("nearest")
    best = (
        select(n_prefix, n_key, func.min(n_distance).label("distance"))
        .select_from(nearest)
        .group_by(n_prefix, n_key)
        .subquery("best")
    )
    b_prefix, b_key, b_distance = _columns("best")
    return (
        select(*columns, b_distance)
        .select_from(best)
        .join(store, and_(store.c.prefix == b_prefix, store.c.key == b_key))
        .order_by(b_distance, store.c.prefix, store.c.key)
        .limit(limit)
        .offset(offset)
    )


def _columns(name: str) -> tuple[ColumnElement[Any], ...]:
    """``prefix``, ``key`` and ``distance`` of the subquery ``name``."""
    return (
        literal_column(f"{name}.prefix", String()),
        literal_column(f"{name}.key", String()),
        literal_column(f"{name}.distance", Float()),
    )


def _exact_in_python(
    ops: VectorOps,
    store: Table,
    vectors: Table,
    columns: Sequence[ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]],
    query: Sequence[float],
    limit: int,
    offset: int,
) -> Generator[Step, Any, Ranked]:
    """Pages of ``EXACT_BATCH`` candidate vectors, in key order (keyset
    paging: each page starts after the last row of the one before), ranked
    in Python; only the best ``offset + limit`` items stay in memory. Then
    one statement reads those items."""
    scorer = ops.py_scorer(query)
    keep = offset + limit
    if keep <= 0:
        return []
    on = and_(store.c.prefix == vectors.c.prefix, store.c.key == vectors.c.key)
    order = (vectors.c.prefix, vectors.c.key, vectors.c.field_name)
    page = (
        select(*order, vectors.c.embedding)
        .join_from(vectors, store, on)
        .where(*where)
        .order_by(*order)
        .limit(EXACT_BATCH)
    )
    p: BindParameter[Any] = bindparam("after_prefix")
    k: BindParameter[Any] = bindparam("after_key")
    f: BindParameter[Any] = bindparam("after_field")
    after = or_(
        vectors.c.prefix > p,
        and_(
            vectors.c.prefix == p,
            or_(vectors.c.key > k, and_(vectors.c.key == k, vectors.c.field_name > f)),
        ),
    )
    best: dict[tuple[str, str], float] = {}
    params: dict[str, Any] | None = None
    while True:
        statement = page if params is None else page.where(after)
        rows = (yield Execute(statement, params)).all()
        for prefix, key, _field, blob in rows:
            if blob is None:
                continue
            score = scorer(blob)
            if score > best.get((prefix, key), float("-inf")):
                best[(prefix, key)] = score
        if len(best) > 4 * keep:
            best = dict(_top(best, keep))
        if len(rows) < EXACT_BATCH:
            break
        last = rows[-1]
        params = {"after_prefix": last[0], "after_key": last[1], "after_field": last[2]}
    ranked = _top(best, keep)[offset:]
    if not ranked:
        return []
    wanted = [item for item, _ in ranked]
    result = yield Execute(
        select(*columns).where(tuple_(store.c.prefix, store.c.key).in_(wanted))
    )
    found = {(row.prefix, row.key): row for row in result.all()}
    return [(found[item], score) for item, score in ranked if item in found]


def _top(
    best: Mapping[tuple[str, str], float], n: int
) -> list[tuple[tuple[str, str], float]]:
    """The ``n`` best (item, score), best first; ties in key order, as the
    databases that rank in SQL order them."""
    return sorted(best.items(), key=lambda entry: (-entry[1], entry[0]))[:n]
