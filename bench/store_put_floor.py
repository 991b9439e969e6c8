"""The floor under a store ``put`` on PostgreSQL: our store's own upsert,
replayed on a raw psycopg connection, beside our ``put`` and the official
``PostgresStore``'s, each store holding 100k items.

The statement and parameters are the ones our store sends (taken from
SQLAlchemy's ``before_cursor_execute`` event); the replay changes only the
namespace and key, as the stores' arms change them. Rounds alternate the three arms; medians and per-round ratios to the
official store are printed. Needs PostgreSQL 15 binaries (as ``bench/run.py``).
Run: ``python bench/store_put_floor.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from langgraph.store.base import PutOp
from langgraph.store.postgres import PostgresStore
from sqlalchemy import event

from langgraph.store.sqlalchemy import SQLAlchemyStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.servers import bench_env, libpq_url

ITEMS, PUTS, ROUNDS = 100_000, 300, 9


def value() -> dict[str, Any]:
    return {"kind": "k0001", "text": "y" * 80}


def load(store: Any) -> None:
    for start in range(0, ITEMS, 5000):
        store.batch(
            [
                PutOp(("bench", str(i % 100)), f"k{i}", {"kind": f"k{i % 1000:04d}"})
                for i in range(start, start + 5000)
            ]
        )


def per_put(put: Callable[[int], object], base: int) -> float:
    start = time.perf_counter()
    for i in range(PUTS):
        put(base + i)
    return (time.perf_counter() - start) / PUTS * 1e6


def main() -> None:
    with bench_env(True) as env:
        ours_url, theirs_url = env.pg("put_floor_ours"), env.pg("put_floor_theirs")
        with (
            SQLAlchemyStore.from_url(ours_url) as ours,
            PostgresStore.from_conn_string(libpq_url(theirs_url)) as theirs,
            psycopg.connect(libpq_url(ours_url), autocommit=True) as raw,
        ):
            ours.setup()
            theirs.setup()
            load(ours)
            load(theirs)
            sent: list[tuple[str, dict[str, Any]]] = []
            event.listen(
                ours.bind, "before_cursor_execute", lambda *a: sent.append((a[2], a[3]))
            )
            ours.put(("bench", "1"), "probe", value())
            sql, params = sent[-1]
            cursor = raw.cursor()

            def replay(i: int) -> None:
                # The same namespaces and keys as the stores' arms: where a
                # row lands in the key's index is part of the statement's cost.
                row = {**params, "prefix": f"bench.{i % 100}", "key": f"r{i}"}
                cursor.execute(sql, row)  # type: ignore[arg-type]

            arms: dict[str, Callable[[int], object]] = {
                "ours": lambda i: ours.put(("bench", str(i % 100)), f"n{i}", value()),
                "our statement on raw psycopg": replay,
                "PostgresStore": lambda i: theirs.put(
                    ("bench", str(i % 100)), f"n{i}", value()
                ),
            }
            times: dict[str, list[float]] = {name: [] for name in arms}
            for r in range(ROUNDS):
                for name, put in arms.items():
                    times[name].append(per_put(put, (r + 1) * 1_000_000))
    official = times["PostgresStore"]
    for name, values in times.items():
        ratio = statistics.median(v / o for v, o in zip(values, official, strict=True))
        print(
            f"{name:>30}: {statistics.median(values):6.1f} us  ({ratio:.2f}x PostgresStore)"
        )


if __name__ == "__main__":
    main()
