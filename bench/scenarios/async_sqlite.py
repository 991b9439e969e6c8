"""8. The async savers on a SQLite file: ours ``AsyncSQLAlchemySaver``
(aiosqlite, from ``from_url``) against the official ``AsyncSqliteSaver`` as it
comes (one aiosqlite connection, WAL, sqlite3's default synchronous=FULL).

Two rows, no target (the issue names ``AsyncSqliteSaver`` as an anchor, not
a ratio): one task's supersteps in turn over many threads, per superstep as in
``superstep``; and the same 32 concurrent tasks as ``concurrent``, as
throughput. SQLite takes one writer at a time, so the second row measures how
each saver queues its writers more than it measures parallelism.
"""

from __future__ import annotations

from bench.adapters import SQLITE, official_sqlite_async, ours_async
from bench.harness import Arm, SaverSet, alternate, compare
from bench.plans import adrive
from bench.report import Row
from bench.scenarios.concurrent import concurrent_round, sequential_round
from bench.settings import Context
from bench.workload import seed_thread

NAME = "async_sqlite"
TITLE = "async savers on a SQLite file: one task's supersteps, and 32 tasks at once"


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    # Like for like: AsyncSqliteSaver has one connection, and so has ours on
    # a StaticPool engine; ours on its pool beside them.
    kept, pooled = ours_async(None, SQLITE), ours_async(s.pool_size, SQLITE)
    theirs = official_sqlite_async()
    threads = [f"thread-{i:04d}" for i in range(s.superstep_threads)]
    tasks = [f"task-{i:03d}" for i in range(s.concurrent_tasks)]
    with SaverSet(ctx.env, "async_sqlite", [kept, pooled, theirs]) as savers:
        sequential, concurrent = [], []
        for o in savers.opened.values():
            for thread in [*threads, *tasks]:
                savers.run(
                    adrive(seed_thread(thread, o.saver.get_next_version), o.saver)
                )
            key = o.variant.key
            sequential.append(
                Arm(key, sequential_round(savers, o.saver, threads, s.superstep_steps))
            )
            concurrent.append(
                Arm(key, concurrent_round(savers, o.saver, tasks, s.concurrent_steps))
            )
        one = alternate(sequential, s.rounds, s.warmup, "async_sqlite one task")
        many = alternate(concurrent, s.rounds, s.warmup, "async_sqlite 32 tasks")
    durability = (
        "AsyncSqliteSaver as shipped (synchronous=FULL), ours synchronous=NORMAL"
    )
    rows = []
    for mine in (kept, pooled):
        form = "1 connection" if mine is kept else f"pool {s.pool_size}"
        rows += [
            Row.compared(
                NAME,
                f"SQLite async superstep, one task: ours ({form}) vs {theirs.label}",
                "s",
                compare(one[mine.key]["superstep"], one[theirs.key]["superstep"]),
                note="aget_tuple + aput_writes + aput in turn over "
                f"{s.superstep_threads} threads; {durability}",
            ),
            Row.compared(
                NAME,
                f"SQLite {s.concurrent_tasks} async tasks: ours ({form}) vs "
                f"{theirs.label}",
                "ops/s",
                compare(many[mine.key]["throughput"], many[theirs.key]["throughput"]),
                note="supersteps per second; above 1x means ours does more; "
                "SQLite has one writer at a time",
            ),
        ]
    return rows
