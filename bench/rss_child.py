"""One saver's 32-task run in a process of its own, for ``peak_rss``.

Two savers in one process share one peak resident set, so the ``peak_rss``
scenario starts this script once per saver and round. It imports only what
that saver needs (``bench.adapters`` imports savers lazily, and
``bench.servers`` does not import SQLAlchemy), opens the saver, notes the
peak resident set so far (the *baseline*: the interpreter, the imports, the
connected saver), seeds the threads and runs the same concurrent supersteps
as the ``concurrent`` scenario, then prints one JSON line: the baseline, the
peak, and which of the two packages it loaded (the parent checks that an
official saver's process never imported SQLAlchemy, and ours never
``psycopg_pool``).

    python bench/rss_child.py '{"saver": "ours:10", "place": URL, ...}'
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.adapters import (  # noqa: E402
    DEFAULT_POOL,
    Variant,
    official_pg_async_pool,
    ours_async,
)
from bench.plans import adrive  # noqa: E402
from bench.workload import seed_thread, superstep  # noqa: E402


def variant(spec: str) -> Variant:
    """``ours:10``, ``ours:default`` or ``official:4``: a side and a pool size."""
    side, _, size = spec.partition(":")
    if side == "ours":
        return ours_async(DEFAULT_POOL if size == "default" else int(size))
    if side == "official":
        return official_pg_async_pool(int(size))
    raise ValueError(
        f"saver spec {spec!r}: expected ours:N, ours:default or official:N"
    )


def peak_rss() -> int:
    """The process's peak resident set so far, in bytes: ``VmHWM`` where
    there is a /proc, else ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


async def _task(saver: Any, thread: str, steps: int) -> None:
    for _ in range(steps):
        await adrive(superstep(thread, saver.get_next_version), saver)


async def run_tasks(saver: Any, threads: list[str], steps: int, passes: int) -> None:
    """``passes`` times: one task per thread, all at once, each doing
    ``steps`` supersteps (a round of the ``concurrent`` scenario)."""
    for _ in range(passes):
        await asyncio.gather(*(_task(saver, t, steps) for t in threads))


async def measure(job: dict[str, Any]) -> dict[str, Any]:
    threads = [f"{job['prefix']}-task-{i:03d}" for i in range(job["tasks"])]
    async with variant(job["saver"]).open(job["place"]) as saver:
        baseline = peak_rss()
        for thread in threads:
            await adrive(seed_thread(thread, saver.get_next_version), saver)
        start = time.perf_counter()
        await run_tasks(saver, threads, job["steps"], job["passes"])
        elapsed = time.perf_counter() - start
        peak = peak_rss()
    return {
        "baseline": baseline,
        "peak": peak,
        "supersteps": job["tasks"] * job["steps"] * job["passes"],
        "seconds": elapsed,
        "loaded": {
            name: name in sys.modules
            for name in ("sqlalchemy", "psycopg_pool", "langgraph.checkpoint.postgres")
        },
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(measure(json.loads(sys.argv[1])))))
