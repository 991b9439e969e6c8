"""1. One superstep — get_tuple(latest), put_writes(2 writes), put(2 changed
channels) — with messages-sized payloads, across many threads.

PostgreSQL: ours (sync) against the official PostgresSaver like for like: each
on one dedicated connection (ours: a ``StaticPool`` engine, whose connection
the saver keeps), and each on a pool; and ours on its default pool against
the official one-connection form. SQLite: ours on a file (on one kept
connection, as SqliteSaver has, and on its default pool) against SqliteSaver
on a file, as it comes (synchronous=FULL, the sqlite3 default)
and with synchronous=NORMAL, which is what ours sets.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

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
from bench.statements import EMPTY_LABEL as FLOOR_EMPTY_LABEL
from bench.statements import KEY as FLOOR_KEY
from bench.statements import LABEL as FLOOR_LABEL
from bench.statements import OFFICIAL_KEY as OFFICIAL_FLOOR_KEY
from bench.statements import OFFICIAL_LABEL as OFFICIAL_FLOOR_LABEL
from bench.statements import official_statement_floor, statement_floor
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
        cpu, start = time.process_time(), time.perf_counter()
        for _ in range(steps):
            drive(superstep(next(turn), next_version), saver, timer)
        elapsed = time.perf_counter() - start
        # The client's own CPU (this process: the servers are others), the
        # part of a superstep that is Python and the driver, not the wait.
        cpu = time.process_time() - cpu
        return {"superstep": elapsed / steps, "cpu": cpu / steps} | {
            op: timer.per_call(op) for op in OPS
        }

    return round_


@dataclass(frozen=True)
class Match:
    """Ours against one anchor, with the target the ratio is held to."""

    ours: Variant
    theirs: Variant
    target: str | None = None
    note: str = ""
    cpu_target: str | None = None


def compare_savers(
    ctx: Context,
    tag: str,
    matches: Sequence[Match],
    floor_against: Variant | None = None,
) -> list[Row]:
    """Every saver of ``matches`` in one alternating run; a row per match,
    and the per-call rows of the first. With ``floor_against`` (one of the
    anchors), the statement floor (``bench/statements.py``) runs as one more arm
    and is compared with it."""
    s = ctx.settings
    threads = [f"thread-{i:04d}" for i in range(s.superstep_threads)]
    variants = {v.key: v for m in matches for v in (m.ours, m.theirs)}
    with contextlib.ExitStack() as stack:
        savers = stack.enter_context(
            SaverSet(ctx.env, f"superstep_{tag}", list(variants.values()))
        )
        arms = []
        if floor_against is not None:
            floor_round = stack.enter_context(
                statement_floor(ctx.env, f"superstep_{tag}", threads, s.superstep_steps)
            )
            arms.append(Arm(FLOOR_KEY, floor_round))
            official_floor = stack.enter_context(
                official_statement_floor(
                    ctx.env, f"superstep_{tag}", threads, s.superstep_steps
                )
            )
            arms.append(Arm(OFFICIAL_FLOOR_KEY, official_floor))
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
    rows = [
        Row.compared(
            NAME,
            f"{tag} superstep: {_side(m.ours)} vs {m.theirs.label}",
            "s",
            compare(
                samples[m.ours.key]["superstep"], samples[m.theirs.key]["superstep"]
            ),
            m.target,
            m.note,
        )
        for m in matches
    ]
    rows += [
        Row.compared(
            NAME,
            f"{tag} client CPU per superstep: {_side(m.ours)} vs {m.theirs.label}",
            "s",
            compare(samples[m.ours.key]["cpu"], samples[m.theirs.key]["cpu"]),
            m.cpu_target,
            "process time of the client alone (the servers run elsewhere): "
            "Python, the driver, the serializer, and the workload's own",
        )
        for m in matches
    ]
    if floor_against is not None:
        official = samples[floor_against.key]["superstep"]
        rows += [
            Row.compared(
                NAME,
                f"{tag} superstep: {label} vs {floor_against.label}",
                "s",
                compare(
                    samples[OFFICIAL_FLOOR_KEY]["superstep"]
                    if metric == "official"
                    else samples[FLOOR_KEY][metric],
                    official,
                ),
                note=note,
            )
            for metric, label, note in (
                (
                    "superstep",
                    FLOOR_LABEL,
                    "the same statements as ours, replayed prepared on raw psycopg "
                    "with nothing around them: no saver sending them does better",
                ),
                (
                    "official",
                    OFFICIAL_FLOOR_LABEL,
                    "the official saver's statements, caught as they went to psycopg "
                    "and replayed the same way: beside the row above, each saver's "
                    "statements with no Python around them",
                ),
                (
                    "round_trips",
                    FLOOR_EMPTY_LABEL,
                    "what three round trips cost on this machine with no work in "
                    "them: the floor of any saver whose three calls wait for the "
                    "server",
                ),
            )
        ]
        rows.append(
            Row.compared(
                NAME,
                f"{tag} client CPU of the floors: {FLOOR_LABEL} vs "
                f"{OFFICIAL_FLOOR_LABEL}",
                "s",
                compare(samples[FLOOR_KEY]["cpu"], samples[OFFICIAL_FLOOR_KEY]["cpu"]),
                note="what psycopg alone spends sending each saver's statements",
            )
        )
    first = matches[0]
    rows += [
        Row.compared(
            NAME,
            f"{tag} {op}: {_side(first.ours)} vs {first.theirs.label}",
            "s",
            compare(samples[first.ours.key][op], samples[first.theirs.key][op]),
        )
        for op in OPS
    ]
    return rows


def _side(variant: Variant) -> str:
    """ "ours", or "ours (1 connection)": the rest of the label is the tag's."""
    return "ours (1 connection)" if variant.key.endswith("_conn") else "ours"


def run(ctx: Context) -> list[Row]:
    pg = compare_savers(
        ctx,
        "PG",
        [
            Match(
                ours(POSTGRES),
                official_pg_conn(),
                "pg_superstep_defaults",
                "defaults against defaults: from_url(url) against "
                "PostgresSaver.from_conn_string(url), each package's one line",
                "client_cpu",
            ),
            Match(
                ours(POSTGRES, one_connection=True),
                official_pg_conn(),
                "pg_superstep_conn",
                "like for like: each saver on one dedicated connection",
                "client_cpu",
            ),
            Match(
                ours(POSTGRES),
                official_pg_pool(ctx.settings.pool_size),
                note="pools: each saver on a pool of the same size",
            ),
        ],
        floor_against=official_pg_conn(),
    )
    sqlite = compare_savers(
        ctx,
        "SQLite",
        [
            Match(
                ours(SQLITE),
                official_sqlite(),
                "sqlite_superstep",
                "defaults: ours from_url on a file against SqliteSaver as shipped "
                "(WAL with sqlite3's default synchronous=FULL, an fsync per commit; "
                "ours sets synchronous=NORMAL)",
            ),
            Match(
                ours(SQLITE, one_connection=True),
                official_sqlite(),
                note="ours on one kept connection, as SqliteSaver has",
            ),
            Match(
                ours(SQLITE, one_connection=True),
                official_sqlite("NORMAL"),
                note="same durability setting as ours: the difference left is the code",
            ),
        ],
    )
    return pg + sqlite
