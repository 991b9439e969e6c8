"""6. Bytes stored per checkpoint on the agent workload: the same turns on
the same threads through each saver, each in its own PostgreSQL database,
then ``VACUUM ANALYZE`` and ``pg_total_relation_size`` (heap, TOAST and
indexes) of the three tables over the number of checkpoints."""

from __future__ import annotations

import random
from typing import Any

import sqlalchemy as sa

from bench.adapters import POSTGRES, official_pg_conn, ours
from bench.bulk import analyze
from bench.harness import SaverSet
from bench.report import Row
from bench.settings import Context
from bench.workload import agent_graph, config, human_turn

NAME = "storage"
TITLE = "bytes per checkpoint after the agent workload (PostgreSQL)"
TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
STORAGE_SEED = 20261125


def measure(place: str) -> dict[str, int]:
    engine = sa.create_engine(place)
    try:
        analyze(engine)
        with engine.connect() as conn:
            sizes = {}
            for t in TABLES:
                total, indexes = conn.execute(
                    sa.text(
                        "SELECT pg_total_relation_size(CAST(:t AS regclass)), "
                        "pg_indexes_size(CAST(:t AS regclass))"
                    ),
                    {"t": t},
                ).one()
                sizes[t], sizes[f"{t} indexes"] = int(total), int(indexes)
            sizes["count"] = int(
                conn.execute(sa.text("SELECT count(*) FROM checkpoints")).scalar_one()
            )
        return sizes
    finally:
        engine.dispose()


def workload(saver: Any, threads: int, turns: int) -> None:
    graph = agent_graph(saver)
    n = 0
    for _ in range(turns):
        for t in range(threads):
            graph.invoke(human_turn(n), config(f"store-{t:03d}"))
            n += 1


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    mine, theirs = ours(POSTGRES), official_pg_conn()
    with SaverSet(ctx.env, "storage", [mine, theirs]) as savers:
        sizes = {}
        for o in savers.opened.values():
            # Channel versions end in random.random() digits (16 to 19 of
            # them), repeated in every checkpoint document: the same seed
            # gives both savers the same versions, so the byte counts differ
            # by the storage layout only, not by how the digits fell (that
            # alone moved the totals by ~0.5% from run to run).
            random.seed(STORAGE_SEED)
            workload(o.saver, s.storage_threads, s.storage_turns)
            sizes[o.variant.key] = measure(o.place)
    a, b = sizes[mine.key], sizes[theirs.key]
    if a["count"] != b["count"]:
        raise AssertionError(f"different checkpoint counts: {a} vs {b}")

    def per(size: dict[str, int], *tables: str) -> float:
        return sum(size[t] for t in tables) / size["count"]

    def breakdown(size: dict[str, int]) -> str:
        return ", ".join(
            f"{t} {size[t] / 1024:.0f} KiB ({size[f'{t} indexes'] / 1024:.0f} "
            "KiB of it indexes)"
            for t in TABLES
        )

    total_a, total_b = per(a, *TABLES), per(b, *TABLES)
    rows = [
        Row(
            NAME,
            "bytes per checkpoint, 3 tables: ours vs PostgresSaver",
            "bytes",
            total_a,
            total_b,
            total_a / total_b,
            target="bytes",
            note=f"{a['count']} checkpoints each ({s.storage_threads} threads x "
            f"{s.storage_turns} turns); ours: {breakdown(a)}; official: {breakdown(b)}",
            extra={"ours": a, "official": b},
        )
    ]
    for label, tables in [(t, (t,)) for t in TABLES] + [
        ("indexes (all three)", tuple(f"{t} indexes" for t in TABLES))
    ]:
        x, y = per(a, *tables), per(b, *tables)
        rows.append(
            Row(NAME, f"  of which {label}", "bytes", x, y, x / y if y else None)
        )
    return rows
