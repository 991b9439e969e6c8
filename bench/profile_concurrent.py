"""Where the ``concurrent`` scenario's time goes, per saver.

Runs the same 32-task supersteps as ``concurrent`` (and ``peak_rss``), each
saver in a fresh child process per round, alternating, and prints for each
one: supersteps per second, the client's CPU and wall time per superstep,
context switches per superstep (voluntary: the process waited; involuntary:
it was runnable and another process took the CPU), and how long the libpq
sends outside a pipeline took, in CPU and in wall time. With ``--profile``
(needs ``pip install pyinstrument``) it also samples the run and sums each
frame's own time by layer (psycopg, asyncio, SQLAlchemy, our runtime...).

    .venv/bin/python bench/profile_concurrent.py
    .venv/bin/python bench/profile_concurrent.py --profile --passes 5

The profiler slows the client down about twofold: its shares say where the
time goes, not how much there is; the first form, without it, says that.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO, REPO / "tests"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from bench.plans import adrive  # noqa: E402
from bench.rss_child import run_tasks, variant  # noqa: E402
from bench.workload import seed_thread  # noqa: E402

# Where a frame's own time goes, by the first match in its file's path; a
# built-in function counts for the layer that called it.
LAYERS = (
    ("/checkpoint/sqlalchemy/runtime/", "runtime (driver, greenlet, compiled)"),
    ("/checkpoint/sqlalchemy/", "saver (faces, validation, plans, codec)"),
    ("langgraph/checkpoint/postgres", "saver (faces, validation, plans, codec)"),
    ("langgraph/checkpoint/base", "saver (faces, validation, plans, codec)"),
    ("langgraph/checkpoint/serde", "serde (msgpack, json)"),
    ("/json/", "serde (msgpack, json)"),
    ("sqlalchemy/", "SQLAlchemy (pool, Connection, events)"),
    ("psycopg_pool", "psycopg_pool"),
    ("psycopg/", "psycopg (execute, wait)"),
    ("asyncio/", "asyncio loop, selectors"),
    ("selectors", "asyncio loop, selectors"),
    ("bench/", "bench plan (messages, checkpoints)"),
    ("random", "bench plan (messages, checkpoints)"),
    ("uuid", "bench plan (messages, checkpoints)"),
)
SEND = "libpq send (its CPU, and waits for a CPU)"
IDLE = "idle (epoll wait)"


def _layer(path: str | None, caller: str) -> str:
    if not path or path.startswith("<built-in>"):
        return caller
    for key, name in LAYERS:
        if key in path:
            return name
    return "other"


def layers(root: Any) -> dict[str, float]:
    """Each pyinstrument frame's own time, summed by layer."""
    found: collections.Counter[str] = collections.Counter()

    def walk(frame: Any, caller: str) -> None:
        children = [c for c in frame.children if not c.identifier.startswith("[self]")]
        if frame.identifier.startswith("["):  # pyinstrument's synthetic frames
            for child in children:
                walk(child, caller)
            return
        mine = _layer(frame.file_path, caller)
        own = frame.time - sum(c.time for c in children)
        if frame.function in ("_send_query_prepared", "_communicate_gen"):
            found[SEND] += own
        elif frame.function.rpartition(".")[2] == "poll":
            found[IDLE] += own
        else:
            found[mine] += own
        for child in children:
            walk(child, mine)

    walk(root, "other")
    return dict(found)


def _switches() -> dict[str, int]:
    counts = {}
    with open("/proc/self/status") as status:
        for line in status:
            if "ctxt_switches" in line:
                name, value = line.split(":")
                counts[name.split("_")[0]] = int(value)
    return counts


def _time_sends() -> list[float]:
    """Wrap psycopg's send of a prepared query (outside a pipeline: there
    the pipeline's flush sends it) to add up its CPU and wall time."""
    from psycopg import _cursor_base

    spent = [0.0, 0.0]
    send = _cursor_base.BaseCursor._send_query_prepared

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.thread_time(), time.perf_counter()
        try:
            return send(self, *args, **kwargs)
        finally:
            spent[0] += time.thread_time() - cpu
            spent[1] += time.perf_counter() - wall

    _cursor_base.BaseCursor._send_query_prepared = timed  # type: ignore[method-assign]
    return spent


async def child(job: dict[str, Any]) -> dict[str, Any]:
    threads = [f"{job['prefix']}-task-{i:03d}" for i in range(job["tasks"])]
    async with variant(job["saver"]).open(job["place"]) as saver:
        for thread in threads:
            await adrive(seed_thread(thread, saver.get_next_version), saver)
        await run_tasks(saver, threads, job["steps"], 1)  # warm: prepared, pooled
        profiler = None
        if job["profile"]:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
        sends = None if profiler else _time_sends()
        before, cpu, wall = _switches(), time.process_time(), time.perf_counter()
        if profiler:
            profiler.start()
        await run_tasks(saver, threads, job["steps"], job["passes"])
        if profiler:
            profiler.stop()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = _switches()
    n = job["tasks"] * job["steps"] * job["passes"]
    out: dict[str, Any] = {
        "supersteps/s": n / wall,
        "CPU ms/step": cpu / n * 1e3,
        "wall ms/step": wall / n * 1e3,
        **{f"{k} switches/step": (after[k] - before[k]) / n for k in before},
    }
    if sends is not None:
        out["send CPU us/step"] = sends[0] / n * 1e6
        out["send wall us/step"] = sends[1] / n * 1e6
    if profiler is not None:
        session = profiler.last_session
        assert session is not None
        spent = layers(session.root_frame())
        total = sum(spent.values())
        out["layers"] = {k: v / total for k, v in spent.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--saver",
        action="append",
        help="ours:N, ours:default or official:N (default: ours:10 and official:10)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs of each saver")
    parser.add_argument("--passes", type=int, default=5, help="10 supersteps per task")
    parser.add_argument(
        "--profile", action="store_true", help="sample with pyinstrument"
    )
    args = parser.parse_args()
    specs = args.saver or ["ours:10", "official:10"]
    from bench.servers import bench_env

    results: dict[str, list[dict[str, Any]]] = {s: [] for s in specs}
    with bench_env(need_postgres=True) as env:
        places = {s: variant(s).provision(env, "profile") for s in specs}
        for r in range(args.rounds):
            for spec in specs if r % 2 == 0 else specs[::-1]:
                job = {
                    "saver": spec,
                    "place": places[spec],
                    "prefix": f"r{r}",
                    "tasks": 32,
                    "steps": 10,
                    "passes": args.passes,
                    "profile": args.profile,
                }
                done = subprocess.run(
                    [sys.executable, __file__, "--child", json.dumps(job)],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise SystemExit(done.stderr)
                results[spec].append(json.loads(done.stdout.splitlines()[-1]))
    for spec, runs in results.items():
        print(f"\n{variant(spec).label}, {len(runs)} runs (each: value per run)")
        for key in runs[0]:
            if key != "layers":
                print(f"  {key:24} " + "  ".join(f"{run[key]:9.3f}" for run in runs))
        if "layers" in runs[0]:
            names = sorted(runs[0]["layers"], key=lambda k: -runs[0]["layers"][k])
            print("  share of samples, by layer:")
            for name in names:
                shares = "  ".join(f"{run['layers'].get(name, 0):6.1%}" for run in runs)
                print(f"    {shares}  {name}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(asyncio.run(child(json.loads(sys.argv[2])))))
    else:
        main()
