"""The plan of one ``batch`` of store operations, in one transaction.

As LangGraph's own stores do, the reads of a batch (``GetOp``, ``SearchOp``,
``ListNamespacesOp``) see the store as it was before the batch, and its
writes (``PutOp``) are applied last, the last write of a key winning.
The operations arrive validated (``langgraph.store.sqlalchemy._core``).

A batch that only reads runs as a reader (one autocommitted statement when
it is one statement), and the TTL refresh of what it read, if any, follows in
a transaction of its own (:func:`refresh`): most items carry no TTL, and a
read should not take a writer's lock (SQLite's ``BEGIN IMMEDIATE``) on the
chance that one does. The refresh is guarded, so it never revives an item
that expired, or was written again, in between.

Where vector search plugs in: :func:`put_items` is where the rows of a
put are written (vector rows for the same items belong right after the
upsert, in the same transaction), and :func:`search_statement` is the one
statement a search runs (a ranked search replaces its ``ORDER BY`` with a
distance and keeps its filters).
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from langgraph.store.base import (
    GetOp,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    Result,
    SearchOp,
)

from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.tables import (
    IN_CHUNK,
    chunks,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Plan
from langgraph.checkpoint.sqlalchemy.repository.store.items import (
    COLUMNS,
    STORE,
    S,
    alive,
    filter_terms,
    namespace_of,
    prefix_of,
    to_item,
    to_search_item,
    under,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.index import (
    EmbeddingWork,
    VectorIndex,
)
from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    delete,
    insert,
    or_,
    select,
    true,
    update,
)

__all__ = [
    "ORDERING_OPERATORS",
    "Outcome",
    "Requests",
    "batch",
    "filter_terms",
    "namespaces_statement",
    "put_items",
    "refresh",
    "search_conditions",
    "search_statement",
    "ttl_minutes",
]

ORDERING_OPERATORS = ("$gt", "$gte", "$lt", "$lte")
OPERATORS = ("$eq", "$ne", *ORDERING_OPERATORS)
# What a write of an existing key replaces (created_at stays).
_REPLACED = ("value", "updated_at", "expires_at", "ttl_minutes")
_REFRESH = (
    update(STORE)
    .where(
        S.prefix == bindparam("r_prefix"),
        S.key == bindparam("r_key"),
        S.ttl_minutes == bindparam("r_minutes"),
        alive(bindparam("r_now")),
    )
    .values(expires_at=bindparam("r_expires_at"))
)
# The one statement of most gets: built once, so the runtime runs it compiled
# (``Execute.hot``).
_GET_ONE = select(*COLUMNS).where(
    S.prefix == bindparam("g_prefix"),
    S.key == bindparam("g_key"),
    alive(bindparam("g_now")),
)


@dataclass(frozen=True, slots=True)
class Requests:
    """A batch's operations by kind, each with its index in the batch."""

    gets: Sequence[tuple[int, GetOp]] = ()
    searches: Sequence[tuple[int, SearchOp]] = ()
    listings: Sequence[tuple[int, ListNamespacesOp]] = ()
    puts: Sequence[PutOp] = ()
    size: int = 0

    def one_statement(self, ops: DialectOps) -> bool:
        """Whether the batch, vector searches aside, is exactly one statement,
        atomic by itself: a get (or gets of one namespace, few enough for one
        ``IN`` list), a search, a listing, or a single put of a dialect with
        a native upsert (or a delete)."""
        reads = len(self.searches) + len(self.listings)
        if self.gets:
            prefixes = {op.namespace for _, op in self.gets}
            keys = {op.key for _, op in self.gets}
            reads += 1 if len(prefixes) == 1 and len(keys) <= IN_CHUNK else 2
        if not self.puts:
            return reads == 1
        if reads or len({(op.namespace, op.key) for op in self.puts}) != 1:
            return False
        return ops.native_upsert or self.puts[-1].value is None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A batch's results, and the TTL refresh its reads still owe (a
    read-only batch leaves it to :func:`refresh`, in its own transaction)."""

    results: list[Result]
    refresh: list[dict[str, Any]]


def ttl_minutes(ttl: float | None) -> int | None:
    """What the ``ttl_minutes`` column holds for a put's ``ttl``: whole
    minutes (the official store's type), rounded up, so a refresh never
    gives an item less time than its put did."""
    return None if ttl is None else max(1, math.ceil(ttl))


def batch(
    ops: DialectOps,
    requests: Requests,
    now: datetime,
    vectors: VectorIndex | None = None,
    work: EmbeddingWork | None = None,
) -> Plan[Outcome]:
    """Run ``requests`` at the moment ``now``; their results, in batch order.
    A batch with puts refreshes the TTLs of what it read itself; one without
    returns the refresh it owes.

    With a vector index, ``work`` holds the embeddings of the batch's texts
    and queries, computed before the transaction."""
    results: list[Result] = [None] * requests.size
    stale: dict[tuple[str, str], int] = {}

    by_prefix: dict[str, list[tuple[int, GetOp]]] = defaultdict(list)
    for i, op in requests.gets:
        by_prefix[prefix_of(op.namespace)].append((i, op))
    for prefix, entries in by_prefix.items():
        keys = list(dict.fromkeys(op.key for _, op in entries))
        found: dict[str, Any] = {}
        if len(keys) == 1:
            one = {"g_prefix": prefix, "g_key": keys[0], "g_now": now}
            found.update(
                (row.key, row) for row in (yield Execute(_GET_ONE, one, hot=True))
            )
        for part in chunks(keys) if len(keys) > 1 else ():
            statement = select(*COLUMNS).where(
                S.prefix == prefix, S.key.in_(part), alive(now)
            )
            found.update((row.key, row) for row in (yield Execute(statement)))
        for i, op in entries:
            row = found.get(op.key)
            if row is not None:
                results[i] = to_item(row)
                if op.refresh_ttl and row.ttl_minutes is not None:
                    stale[(prefix, row.key)] = row.ttl_minutes

    for i, search in requests.searches:
        if search.query and vectors is not None and work is not None:
            where = functools.partial(search_conditions, ops, search, now)
            ranked = yield from vectors.search(search, work, ops, now, where)
            results[i] = [item for item, _ in ranked]
            rows = [row for _, row in ranked]
        else:
            rows = (yield Execute(search_statement(ops, search, now))).all()
            results[i] = [to_search_item(row) for row in rows]
        if search.refresh_ttl:
            for row in rows:
                if row.ttl_minutes is not None:
                    stale[(row.prefix, row.key)] = row.ttl_minutes

    for i, listing in requests.listings:
        prefixes = (yield Execute(namespaces_statement(listing, now))).scalars()
        results[i] = list_namespaces(prefixes, listing)

    owed = [
        {
            "r_prefix": prefix,
            "r_key": key,
            "r_minutes": minutes,
            "r_now": now,
            "r_expires_at": now + timedelta(minutes=minutes),
        }
        for (prefix, key), minutes in stale.items()
    ]
    if not requests.puts:
        return Outcome(results, owed)
    yield from refresh(owed)
    yield from put_items(ops, requests.puts, now)
    if vectors is not None and work is not None:
        yield from vectors.write(requests.puts, work)
    return Outcome(results, [])


def refresh(owed: list[dict[str, Any]]) -> Plan[None]:
    """Push the expiry of the items read (``owed``, from :func:`batch`)."""
    if len(owed) == 1:
        yield Execute(_REFRESH, owed[0], hot=True)
    elif owed:
        yield Execute(_REFRESH, owed)


def put_items(ops: DialectOps, puts: Sequence[PutOp], now: datetime) -> Plan[None]:
    """Write ``puts`` (the last of each key wins; a ``None`` value deletes)."""
    latest: dict[tuple[str, str], PutOp] = {}
    for op in puts:
        latest[(prefix_of(op.namespace), op.key)] = op
    deletes: dict[str, list[str]] = defaultdict(list)
    rows: list[dict[str, Any]] = []
    for (prefix, key), op in latest.items():
        if op.value is None:
            deletes[prefix].append(key)
            continue
        rows.append(
            {
                "prefix": prefix,
                "key": key,
                "value": op.value,
                "created_at": now,
                "updated_at": now,
                "expires_at": None
                if op.ttl is None
                else now + timedelta(minutes=op.ttl),
                "ttl_minutes": ttl_minutes(op.ttl),
            }
        )
    for prefix, keys in deletes.items():
        for part in chunks(keys):
            yield Execute(delete(STORE).where(S.prefix == prefix, S.key.in_(part)))
    if not rows:
        return
    if ops.native_upsert:
        statement = ops.insert_statement(STORE, _REPLACED)
        if len(rows) == 1:
            yield Execute(statement, rows[0], hot=True)
        else:
            yield Execute(statement, rows)
        return
    # Portable: update in place (keeping created_at), insert what was not there.
    for row in rows:
        changed = yield Execute(
            update(STORE)
            .where(S.prefix == row["prefix"], S.key == row["key"])
            .values({c: row[c] for c in _REPLACED})
        )
        if not changed.rowcount:
            yield Execute(insert(STORE), row)


def search_statement(ops: DialectOps, op: SearchOp, now: datetime) -> Select[Any]:
    """The items ``op`` finds: under its namespace prefix, matching its
    filter (in SQL, bound), most recently updated first (then by namespace
    and key, so pages never overlap), one page."""
    statement = select(*COLUMNS).where(*search_conditions(ops, op, now))
    return (
        statement.order_by(S.updated_at.desc(), S.prefix, S.key)
        .limit(op.limit)
        .offset(op.offset)
    )


def search_conditions(
    ops: DialectOps, op: SearchOp, now: datetime
) -> list[ColumnElement[bool]]:
    """What an item must be for ``op`` to find it: alive at ``now``, under
    its namespace prefix, matching its filter."""
    conditions = [alive(now)]
    if op.namespace_prefix:
        conditions.append(under(op.namespace_prefix))
    for key, operator, value in filter_terms(op.filter):
        conditions.append(ops.store_filter(S.value, key, operator, value))
    return conditions


def namespaces_statement(op: ListNamespacesOp, now: datetime) -> Select[Any]:
    """The distinct prefixes that may match ``op``'s conditions: their
    literal leading (prefix) or trailing (suffix) labels narrow the search
    in SQL, with escaped ``LIKE`` patterns; :func:`list_namespaces` then
    applies the conditions exactly (a ``*`` is any one label, which ``LIKE``
    can't say)."""
    statement = select(S.prefix).distinct().where(alive(now))
    for condition in op.match_conditions or ():
        statement = statement.where(_narrowing(condition))
    return statement


def _narrowing(condition: MatchCondition) -> Any:
    path = list(condition.path)
    if condition.match_type == "suffix":
        path.reverse()
    literal: list[str] = []
    for label in path:
        if label == "*":
            break
        literal.append(label)
    if not literal:
        return true()
    whole = len(literal) == len(path)
    if condition.match_type == "suffix":
        joined = prefix_of(literal[::-1])
        part = S.prefix.endswith("." + joined, autoescape=True)
    else:
        joined = prefix_of(literal)
        part = S.prefix.startswith(joined + ".", autoescape=True)
    return or_(S.prefix == joined, part) if whole else part


def _matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = condition.path
    if len(namespace) < len(path):
        return False
    if condition.match_type == "suffix":
        namespace = namespace[len(namespace) - len(path) :]
    return all(p in ("*", n) for p, n in zip(path, namespace, strict=False))


def list_namespaces(
    prefixes: Iterator[str] | Sequence[str], op: ListNamespacesOp
) -> list[tuple[str, ...]]:
    """The namespaces ``op`` lists, from the candidate ``prefixes``: those
    every condition matches, cut to ``max_depth``, distinct, sorted, one page."""
    conditions = op.match_conditions or ()
    found = set()
    for prefix in prefixes:
        namespace = namespace_of(prefix)
        if all(_matches(c, namespace) for c in conditions):
            if op.max_depth is not None:
                namespace = namespace[: op.max_depth]
            found.add(namespace)
    return sorted(found)[op.offset : op.offset + op.limit]
