"""5. Many asyncio tasks at once, each on its own thread, doing supersteps:
ours ``AsyncSQLAlchemySaver`` against the official ``AsyncPostgresSaver`` on
an ``AsyncConnectionPool``, both with the same number of connections.
Throughput (supersteps per second) per round; the ratio is ours/official,
so above 1 means ours does more. Beside it, the same savers with one task
(an async server answering one request at a time): time per superstep."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bench.adapters import DEFAULT_POOL, official_pg_async_pool, ours_async
from bench.harness import Arm, SaverSet, alternate, compare
from bench.plans import adrive
from bench.report import Row
from bench.settings import Context
from bench.workload import seed_thread, superstep

# psycopg_pool's documented default size (min_size=4, max_size=min_size).
PSYCOPG_POOL_DEFAULT = 4
NAME = "concurrent"
TITLE = "32 asyncio tasks doing supersteps at once (async savers, same pool size)"


async def _task(saver: Any, thread: str, steps: int) -> None:
    for _ in range(steps):
        await adrive(superstep(thread, saver.get_next_version), saver)


def concurrent_round(
    savers: SaverSet, saver: Any, threads: list[str], steps: int
) -> Callable[[], Mapping[str, float]]:
    async def once() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(_task(saver, t, steps) for t in threads))
        return time.perf_counter() - start

    def round_() -> Mapping[str, float]:
        elapsed = savers.run(once())
        return {"throughput": len(threads) * steps / elapsed}

    return round_


def sequential_round(
    savers: SaverSet, saver: Any, threads: Sequence[str], steps: int
) -> Callable[[], Mapping[str, float]]:
    """A round: ``steps`` async supersteps, one at a time, each on the next
    thread in turn."""
    turn = itertools.cycle(threads)

    async def once() -> float:
        start = time.perf_counter()
        for _ in range(steps):
            await adrive(superstep(next(turn), saver.get_next_version), saver)
        return (time.perf_counter() - start) / steps

    return lambda: {"superstep": savers.run(once())}


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    mine, theirs = ours_async(s.pool_size), official_pg_async_pool(s.pool_size)
    mine_default = ours_async(DEFAULT_POOL)
    theirs_default = official_pg_async_pool(PSYCOPG_POOL_DEFAULT)
    variants = [mine, theirs, mine_default, theirs_default]
    threads = [f"task-{i:03d}" for i in range(s.concurrent_tasks)]
    with SaverSet(ctx.env, "concurrent", variants) as savers:
        arms, alone = [], []
        for o in savers.opened.values():
            for thread in threads:
                savers.run(
                    adrive(seed_thread(thread, o.saver.get_next_version), o.saver)
                )
            arms.append(
                Arm(
                    o.variant.key,
                    concurrent_round(savers, o.saver, threads, s.concurrent_steps),
                )
            )
            alone.append(
                Arm(
                    o.variant.key,
                    sequential_round(savers, o.saver, threads, s.superstep_steps),
                )
            )
        samples = alternate(arms, s.rounds, s.warmup, "concurrent")
        one = alternate(alone, s.rounds, s.warmup, "concurrent, one task")
    return [
        Row.compared(
            NAME,
            f"one task: ours vs {theirs.label}",
            "s",
            compare(one[mine.key]["superstep"], one[theirs.key]["superstep"]),
            note="async supersteps one at a time over the same threads",
        ),
        Row.compared(
            NAME,
            f"one task: ours (default pool) vs {theirs_default.label}",
            "s",
            compare(
                one[mine_default.key]["superstep"], one[theirs_default.key]["superstep"]
            ),
            note="each package's default pool",
        ),
        Row.compared(
            NAME,
            f"{s.concurrent_tasks} tasks: ours vs {theirs.label}",
            "ops/s",
            compare(samples[mine.key]["throughput"], samples[theirs.key]["throughput"]),
            "async_throughput",
            note=f"supersteps per second, {s.concurrent_steps} per task per round; "
            "above 1x means ours does more",
        ),
        Row.compared(
            NAME,
            f"{s.concurrent_tasks} tasks: ours (default pool) vs {theirs_default.label}",
            "ops/s",
            compare(
                samples[mine_default.key]["throughput"],
                samples[theirs_default.key]["throughput"],
            ),
            "async_throughput",
            note="each package's default: from_url's pool against psycopg_pool's "
            "documented default size",
        ),
    ]
