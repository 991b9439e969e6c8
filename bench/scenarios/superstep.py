"""1. One superstep — get_tuple(latest), put_writes(2 writes), put(2 changed
channels) — with messages-sized payloads, across many threads.

PostgreSQL: ours (sync) against the official PostgresSaver on one dedicated
connection and on a ConnectionPool. SQLite: ours on a file against
SqliteSaver on a file, as it comes (synchronous=FULL, the sqlite3 default)
and with synchronous=NORMAL, which is what ours sets.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence

from bench.adapters import (
    POSTGRES,
    SQLITE,
    Variant,
    official_pg_conn,
    official_pg_pool,
    official_sqlite,
    ours,
)
from bench.harness import Arm, SaverSet, alternate, compare
from bench.plans import OpTimer, drive
from bench.report import Row
from bench.settings import Context
from bench.workload import seed_thread, superstep

NAME = "superstep"
TITLE = "get_tuple + put_writes + put per superstep, sync, many threads"
OPS = ("get_tuple", "put_writes", "put")


def superstep_round(
    saver: object, threads: Sequence[str], steps: int
) -> Callable[[], Mapping[str, float]]:
    """A round: ``steps`` supersteps, each on the next thread in turn."""
    turn = itertools.cycle(threads)
    next_version = saver.get_next_version  # type: ignore[attr-defined]

    def round_() -> Mapping[str, float]:
        timer = OpTimer()
        start = time.perf_counter()
        for _ in range(steps):
            drive(superstep(next(turn), next_version), saver, timer)
        elapsed = time.perf_counter() - start
        return {"superstep": elapsed / steps} | {op: timer.per_call(op) for op in OPS}

    return round_


def compare_savers(
    ctx: Context,
    tag: str,
    contender: Variant,
    anchors: Sequence[Variant],
    targets: Sequence[str | None],
    notes: Sequence[str],
) -> list[Row]:
    s = ctx.settings
    threads = [f"thread-{i:04d}" for i in range(s.superstep_threads)]
    with SaverSet(ctx.env, f"superstep_{tag}", [contender, *anchors]) as savers:
        arms = []
        for opened in savers.opened.values():
            saver = opened.saver
            for thread in threads:
                drive(seed_thread(thread, saver.get_next_version), saver)
            arms.append(
                Arm(
                    opened.variant.key,
                    superstep_round(saver, threads, s.superstep_steps),
                )
            )
        samples = alternate(arms, s.rounds, s.warmup, f"superstep {tag}")
    ours_s = samples[contender.key]
    rows = []
    for anchor, target, note in zip(anchors, targets, notes, strict=True):
        theirs = samples[anchor.key]
        rows.append(
            Row.compared(
                NAME,
                f"{tag} superstep: ours vs {anchor.label}",
                "s",
                compare(ours_s["superstep"], theirs["superstep"]),
                target,
                note,
            )
        )
    first = samples[anchors[0].key]
    rows += [
        Row.compared(
            NAME,
            f"{tag} {op}: ours vs {anchors[0].label}",
            "s",
            compare(ours_s[op], first[op]),
        )
        for op in OPS
    ]
    return rows


def run(ctx: Context) -> list[Row]:
    pg = compare_savers(
        ctx,
        "PG",
        ours(POSTGRES),
        [official_pg_conn(), official_pg_pool(ctx.settings.pool_size)],
        ["pg_superstep", "pg_superstep"],
        ["", ""],
    )
    sqlite = compare_savers(
        ctx,
        "SQLite",
        ours(SQLITE),
        [official_sqlite(), official_sqlite("NORMAL")],
        ["sqlite_superstep", None],
        [
            "SqliteSaver as shipped: WAL with sqlite3's default synchronous=FULL "
            "(an fsync per commit); ours sets synchronous=NORMAL",
            "same durability setting as ours: the difference left is the code",
        ],
    )
    return pg + sqlite
