"""How big each scenario is, for a full run and for ``--quick``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bench.servers import BenchEnv


@dataclass(frozen=True)
class Settings:
    rounds: int = 15
    warmup: int = 2
    pool_size: int = 10
    # 1. superstep: supersteps per round, spread over this many threads
    superstep_threads: int = 50
    superstep_steps: int = 200
    # 2. agent turn
    agent_threads: int = 10
    agent_turns: int = 20
    # 3. list(filter=...)
    list_checkpoints: int = 100_000
    list_queries: int = 20
    # 4. get_tuple on a deep thread vs a shallow one
    deep_depth: int = 10_000
    shallow_depth: int = 10
    deep_gets: int = 300
    # 5. concurrent async supersteps
    concurrent_tasks: int = 32
    concurrent_steps: int = 10
    # 5b. peak RSS of that run: one child process per saver and round, which
    # seeds concurrent_tasks threads and runs rss_passes times concurrent_steps
    # supersteps on each (no warmup: every child starts cold anyway; --rounds
    # sets rss_rounds too)
    rss_rounds: int = 5
    rss_passes: int = 3
    # 6. bytes per checkpoint
    storage_threads: int = 20
    storage_turns: int = 10
    # 7. statements and round trips
    trip_supersteps: int = 50
    # 8. memory store: items loaded (put/get/search) and swept
    store_items: int = 100_000


FULL = Settings()
QUICK = Settings(
    rounds=7,
    warmup=1,
    superstep_threads=20,
    superstep_steps=80,
    agent_threads=5,
    agent_turns=8,
    list_checkpoints=10_000,
    list_queries=10,
    deep_gets=150,
    concurrent_steps=10,
    rss_rounds=3,
    storage_threads=10,
    storage_turns=5,
    trip_supersteps=20,
    store_items=10_000,
)


def settings(quick: bool, rounds: int | None) -> Settings:
    chosen = QUICK if quick else FULL
    if rounds is not None:
        chosen = dataclasses.replace(chosen, rounds=rounds, rss_rounds=rounds)
    return chosen


@dataclass(frozen=True)
class Context:
    """What every scenario gets: where to put databases, and how big to be."""

    env: BenchEnv
    settings: Settings
