"""6. Peak memory (resident set) of the ``concurrent`` scenario's 32-task run:
ours ``AsyncSQLAlchemySaver`` against the official ``AsyncPostgresSaver``, at
the same pool size and at each package's default.

One process has one peak, so each saver runs in a fresh child process of its
own (``bench/rss_child.py``) per round: the same tasks, supersteps and
payloads, on threads new to that round. The rounds alternate ours and the
official saver like every scenario's. Each child reports the peak resident
set after it imported and connected its saver (the baseline: the interpreter
and the imports, most of it) and the peak after the run; the rows give both,
and the growth between them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from bench.harness import Arm, Samples, alternate, compare
from bench.report import Row
from bench.rss_child import variant
from bench.scenarios.concurrent import PSYCOPG_POOL_DEFAULT
from bench.settings import Context

NAME = "peak_rss"
TITLE = "peak memory of the 32-task run, each saver in a fresh process"
CHILD = Path(__file__).resolve().parents[1] / "rss_child.py"
# What a side's process must not have imported: the other side's package.
FOREIGN = {"ours": "psycopg_pool", "official": "sqlalchemy"}


def child_round(
    spec: str, place: str, ctx: Context, counter: list[int]
) -> Callable[[], Mapping[str, float]]:
    s = ctx.settings
    side = spec.partition(":")[0]

    def round_() -> Mapping[str, float]:
        counter[0] += 1
        job = {
            "saver": spec,
            "place": place,
            "prefix": f"r{counter[0]:03d}",
            "tasks": s.concurrent_tasks,
            "steps": s.concurrent_steps,
            "passes": s.rss_passes,
        }
        done = subprocess.run(
            [sys.executable, str(CHILD), json.dumps(job)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{CHILD.name} {spec} failed:\n{done.stderr}")
        out = json.loads(done.stdout.strip().splitlines()[-1])
        if out["loaded"][FOREIGN[side]]:
            raise RuntimeError(f"{spec}'s process imported {FOREIGN[side]}")
        return {
            "baseline": out["baseline"],
            "peak": out["peak"],
            "growth": out["peak"] - out["baseline"],
        }

    return round_


def _rows(
    samples: Samples, mine: str, theirs: str, what: str, target: bool
) -> list[Row]:
    a, b = samples[mine], samples[theirs]
    return [
        Row.compared(
            NAME,
            f"{what}: peak RSS",
            "bytes",
            compare(a["peak"], b["peak"]),
            "peak_rss" if target else None,
            note="the child's VmHWM (ru_maxrss) after seeding the threads and "
            "the run; interpreter and imports included",
        ),
        Row.compared(
            NAME,
            f"{what}: baseline",
            "bytes",
            compare(a["baseline"], b["baseline"]),
            note="the same child's peak before the run: imported, connected, "
            "setup() done (at head, which ours checks without Alembic); ours opens pool "
            "connections as tasks need them, the official pool all at once",
        ),
        Row.compared(
            NAME,
            f"{what}: growth",
            "bytes",
            compare(a["growth"], b["growth"]),
            note="peak minus baseline: what the run itself added",
        ),
    ]


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    pairs = [
        (f"ours:{s.pool_size}", f"official:{s.pool_size}", True),
        ("ours:default", f"official:{PSYCOPG_POOL_DEFAULT}", True),
    ]
    counter = [0]
    arms: list[Arm] = []
    for pair in pairs:
        for spec in pair[:2]:
            place = variant(spec).provision(ctx.env, NAME)
            arms.append(Arm(spec, child_round(spec, place, ctx, counter)))
    samples = alternate(arms, s.rss_rounds, 0, NAME)
    rows: list[Row] = []
    for mine, theirs, target in pairs:
        form = variant(mine).label.rpartition("(")[2].rstrip(")")
        what = f"{s.concurrent_tasks} tasks, ours ({form}) vs {variant(theirs).label}"
        rows += _rows(samples, mine, theirs, what, target)
    return rows
