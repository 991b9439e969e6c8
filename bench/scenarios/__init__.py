"""The scenarios, in the order they run. Each module has ``NAME``, a one-line
``TITLE`` and ``run(ctx) -> list[Row]``."""

from __future__ import annotations

from types import ModuleType

from bench.scenarios import (
    agent_turn,
    async_sqlite,
    concurrent,
    deep_thread,
    durability,
    list_filter,
    peak_rss,
    round_trips,
    storage,
    store_ops,
    store_sweep,
    store_vectors,
    superstep,
)

SCENARIOS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (
        superstep,
        agent_turn,
        durability,
        list_filter,
        deep_thread,
        concurrent,
        peak_rss,
        async_sqlite,
        storage,
        round_trips,
        store_ops,
        store_sweep,
        store_vectors,
    )
}
