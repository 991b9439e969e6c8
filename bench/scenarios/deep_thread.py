"""4. ``get_tuple`` of the latest checkpoint on a thread with 10k checkpoints
against one with 10, for each saver (the ratio deep/shallow; ~1 means the
lookup does not grow with a thread's history).

Both threads end in the same ten real checkpoints (messages-sized, written by
the saver's own supersteps); the deep one has ~10k older checkpoints below
them, copied by SQL from the saver's own template row (``bulk.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from bench.adapters import (
    POSTGRES,
    SQLITE,
    official_pg_conn,
    official_sqlite,
    ours,
)
from bench.bulk import clone_checkpoints, count_checkpoints, template
from bench.harness import Arm, SaverSet, alternate, compare
from bench.plans import drive
from bench.report import Row
from bench.settings import Context
from bench.workload import config, seed_thread, superstep

NAME = "deep_thread"
TITLE = "get_tuple(latest) on a 10k-checkpoint thread vs a 10-checkpoint one"
REAL = 10  # real checkpoints on top of each thread


def build(place: str, saver: Any, depth: int, shallow: int) -> None:
    drive(template("template", saver.get_next_version), saver)
    clone_checkpoints(place, "template", depth - REAL, thread_sql="'deep'")
    clone_checkpoints(place, "template", shallow - REAL, thread_sql="'shallow'")
    for thread in ("deep", "shallow"):
        drive(seed_thread(thread, saver.get_next_version), saver)
        for _ in range(REAL - 1):
            drive(superstep(thread, saver.get_next_version), saver)
    depths = {
        t: count_checkpoints(place, "WHERE thread_id = :t", t=t)
        for t in ("deep", "shallow")
    }
    if depths != {"deep": depth, "shallow": shallow}:
        raise AssertionError(f"unexpected thread depths {depths}")


def get_round(saver: Any, thread: str, gets: int) -> Callable[[], Mapping[str, float]]:
    latest = config(thread)

    def round_() -> Mapping[str, float]:
        start = time.perf_counter()
        for _ in range(gets):
            saver.get_tuple(latest)
        return {"get": (time.perf_counter() - start) / gets}

    return round_


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    variants = [ours(POSTGRES), official_pg_conn(), ours(SQLITE), official_sqlite()]
    with SaverSet(ctx.env, "deep", variants) as savers:
        arms = []
        for o in savers.opened.values():
            build(o.place, o.saver, s.deep_depth, s.shallow_depth)
            arms += [
                Arm(
                    f"{o.variant.key}:{thread}", get_round(o.saver, thread, s.deep_gets)
                )
                for thread in ("deep", "shallow")
            ]
        samples = alternate(arms, s.rounds, s.warmup, "deep thread")
    rows = []
    for v in variants:
        where = "PG" if v.backend == POSTGRES else "SQLite"
        rows.append(
            Row.compared(
                NAME,
                f"{v.label}: {s.deep_depth:,}-deep vs {s.shallow_depth}-deep",
                "s",
                compare(
                    samples[f"{v.key}:deep"]["get"], samples[f"{v.key}:shallow"]["get"]
                ),
                "deep_thread" if v.side == "ours" else None,
                note="" if v.side == "ours" else f"the official saver on {where}",
            )
        )
    return rows
