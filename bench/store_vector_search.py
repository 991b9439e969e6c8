"""Vector search latency on pgvector: our store against the official
``PostgresStore``, same database (100k items, 16 dimensions, HNSW).

Three stores answer the same queries, alternating, five rounds: ours made
with ``from_url`` (settings in each connection's session, one statement per
search), ours on an engine the caller made (settings per transaction: BEGIN,
set_config, the search, COMMIT) and the official store. Prints the medians
and their ratios. Run: ``.venv/bin/python -m bench.store_vector_search``.

``--profile`` instead runs 1,000 searches of ours (``from_url``) under
cProfile and prints where their time goes; ``--filter`` gives every search
(timed or profiled) the filter ``{"n": {"$gte": 5}}``; ``--items N`` loads
N items instead of 100k.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa
from langgraph.store.postgres import PostgresStore

from bench.servers import fresh_database, libpq_url  # puts tests/ on sys.path
from langgraph.store.sqlalchemy import SQLAlchemyStore

from servers.pgvector import create_extension, pgvector_server

N, DIMS, QUERIES, ROUNDS = 100_000, 16, 30, 5


def load(url: str, config: dict[str, Any], rng: random.Random, n: int = N) -> None:
    """The rows by COPY, the index built after them, as one would."""
    with SQLAlchemyStore.from_url(url, index=config) as store:
        store.setup()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("DROP INDEX store_vectors_embedding_idx")
        conn.execute("ALTER DATABASE bench SET maintenance_work_mem = '512MB'")
        with conn.cursor().copy("COPY store (prefix, key, value) FROM STDIN") as copy:
            for i in range(n):
                copy.write_row((f"docs.{i % 10}", f"k{i}", json.dumps({"n": i})))
        with conn.cursor().copy(
            "COPY store_vectors (prefix, key, field_name, embedding) FROM STDIN"
        ) as copy:
            for i in range(n):
                vector = ",".join(f"{rng.gauss(0, 1):.7f}" for _ in range(DIMS))
                copy.write_row((f"docs.{i % 10}", f"k{i}", "text", f"[{vector}]"))
    with SQLAlchemyStore.from_url(url, index=config) as store:
        store.setup()  # the index again, on the loaded rows
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute("ANALYZE store")
        conn.execute("ANALYZE store_vectors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--filter", action="store_true")
    parser.add_argument("--items", type=int, default=N)
    args = parser.parse_args()
    where = {"n": {"$gte": 5}} if args.filter else None
    rng = random.Random(5)
    current: list[list[float]] = [[0.0] * DIMS]
    config: dict[str, Any] = {
        "dims": DIMS,
        "embed": lambda texts: [current[0] for _ in texts],
        "fields": ["text"],
        "ann_index_config": {"ef_construction": 32},
    }
    queries = [[rng.gauss(0, 1) for _ in range(DIMS)] for _ in range(QUERIES)]

    def median(search: Callable[[], list[Any]]) -> float:
        times = []
        for query in queries:
            current[0] = query
            start = time.perf_counter()
            found = search()
            times.append(time.perf_counter() - start)
            assert len(found) == 10, len(found)
        return statistics.median(times[5:]) * 1000

    with pgvector_server() as server:
        url = fresh_database(server, "bench")
        create_extension(url)
        load(url, config, rng, args.items)
        if args.profile:
            with SQLAlchemyStore.from_url(url, index=config) as store:
                profile(store, queries, current, where)
            return
        engine = sa.create_engine(url)
        with (
            SQLAlchemyStore.from_url(url, index=config) as fast,
            SQLAlchemyStore(engine, index=config) as given,
            PostgresStore.from_conn_string(libpq_url(url), index=config) as theirs,
        ):
            stores = {"from_url": fast, "caller's engine": given, "official": theirs}
            for store in stores.values():  # warm: versions read, sessions set
                for _ in range(3):
                    store.search(("docs",), query="q", filter=where, limit=10)
            results: dict[str, list[float]] = {name: [] for name in stores}
            for _ in range(ROUNDS):
                for name, store in stores.items():
                    results[name].append(
                        median(
                            lambda s=store: s.search(
                                ("docs",), query="q", filter=where, limit=10
                            )
                        )
                    )
        engine.dispose()
    medians = {name: statistics.median(times) for name, times in results.items()}
    for name, value in medians.items():
        ratio = value / medians["official"]
        print(f"{name:>16}: {value:.2f} ms median  ({ratio:.2f}x official)")


def profile(
    store: SQLAlchemyStore,
    queries: list[list[float]],
    current: list[list[float]],
    where: dict[str, Any] | None,
) -> None:
    """1,000 searches of ``store`` under cProfile, after a warm-up (the
    version read, the session set, the statement compiled)."""

    def searches(count: int) -> None:
        for i in range(count):
            current[0] = queries[i % len(queries)]
            store.search(("docs",), query="q", filter=where, limit=10)

    searches(10)
    profiler = cProfile.Profile()
    profiler.enable()
    searches(1000)
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
