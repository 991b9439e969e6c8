"""Memory store: one TTL sweep of many expired items, ours against the
official ``PostgresStore`` and ``SqliteStore``.

A round loads ``store_items`` items (100k) with a TTL of a few milliseconds
through each store's own ``batch``, waits until they have all expired (over a
second: the official SQLite store compares with ``CURRENT_TIMESTAMP``, whole
seconds), and times one ``sweep_ttl()``, which must delete every one of them.
Ours deletes in batches of 1,000, a transaction each (no lock is held longer
than a batch): on PostgreSQL one statement per batch, on SQLite one delete
per transaction; the official stores delete all in one statement. The load
is not timed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from typing import Any

from bench.harness import Arm, alternate, compare
from bench.report import Row
from bench.scenarios.store_common import PAIRS, load, opened
from bench.settings import Context

NAME = "store_sweep"
TITLE = "memory store: sweep_ttl() of many expired items (PG and SQLite)"
#: Minutes: 6 ms, so the items expire as soon as they are written.
TTL = 0.0001
#: Rounds: each one loads the whole set again.
ROUNDS = 3


def sweep_round(store: Any, items: int) -> Callable[[], Mapping[str, float]]:
    starts = itertools.count(0, items)

    def round_() -> Mapping[str, float]:
        load(store, items, ttl=TTL, start=next(starts))
        time.sleep(1.5)
        start = time.perf_counter()
        deleted = store.sweep_ttl()
        elapsed = time.perf_counter() - start
        if deleted != items:
            raise AssertionError(f"sweep_ttl() deleted {deleted} of {items} items")
        return {"sweep": elapsed}

    return round_


def run(ctx: Context) -> list[Row]:
    items = ctx.settings.store_items
    rows: list[Row] = []
    for ours, official in PAIRS:
        db = ours.database
        with opened(ctx.env, f"store_sweep_{db}", (ours, official)) as stores:
            arms = [
                Arm(v.key, sweep_round(stores[v.key], items)) for v in (ours, official)
            ]
            samples = alternate(arms, ROUNDS, 0, f"store sweep {db}")
        rows.append(
            Row.compared(
                NAME,
                f"sweep_ttl() of {items:,} expired items: {ours.label} vs "
                f"{official.label}",
                "s",
                compare(samples[ours.key]["sweep"], samples[official.key]["sweep"]),
                note="whole sweep; ours in 1,000-item transactions, theirs in one",
            )
        )
    return rows
