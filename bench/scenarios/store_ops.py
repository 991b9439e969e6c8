"""Memory store: ``put``, ``get`` and a filtered ``search`` over many items,
ours against the official ``PostgresStore`` and ``SqliteStore``.

Each store first loads the same ``store_items`` items (100k; see
``store_common``) through its own ``batch``. A round then times, per call:

* ``put``: new items, one ``put`` (one transaction) each;
* ``get``: items of the loaded set, one ``get`` each, spread over it;
* ``search``: ``search(("bench",), filter={"kind": ...}, limit=10)``, where a
  kind matches 1 item in 1,000 of the whole set.

Every store runs the same calls with the same arguments and defaults (TTL
refresh on read included: no item here has a TTL). The stores must return the
same number of items for each search, or the run fails.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from typing import Any

from bench.harness import Arm, alternate, compare
from bench.report import Row
from bench.scenarios.store_common import (
    KINDS,
    PAIRS,
    item_key,
    load,
    namespace,
    opened,
    value,
)
from bench.settings import Context

NAME = "store_ops"
TITLE = "memory store: put, get, filtered search over many items (PG and SQLite)"
PUTS = 200
GETS = 200
SEARCHES = 20
OPS = ("put", "get", "search")


def store_round(store: Any, items: int, arm: int) -> Callable[[], Mapping[str, float]]:
    # Puts go to keys above the loaded set, distinct for every round.
    fresh = itertools.count(items + arm * 10_000_000)
    gets = itertools.cycle(range(17, items, max(1, items // GETS) + 1))
    kinds = itertools.cycle(range(3, KINDS, 37))

    def round_() -> Mapping[str, float]:
        start = time.perf_counter()
        for _ in range(PUTS):
            i = next(fresh)
            store.put(namespace(i), item_key(i), value(i))
        put = (time.perf_counter() - start) / PUTS

        missing = 0
        start = time.perf_counter()
        for _ in range(GETS):
            i = next(gets)
            if store.get(namespace(i), item_key(i)) is None:
                missing += 1
        get = (time.perf_counter() - start) / GETS
        if missing:
            raise AssertionError(f"{missing} loaded items not found by get")

        found = 0
        start = time.perf_counter()
        for _ in range(SEARCHES):
            kind = f"k{next(kinds):04d}"
            found += len(store.search(("bench",), filter={"kind": kind}, limit=10))
        search = (time.perf_counter() - start) / SEARCHES
        return {"put": put, "get": get, "search": search, "found": found}

    return round_


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    items = s.store_items
    rows: list[Row] = []
    for ours, official in PAIRS:
        db = ours.database
        with opened(ctx.env, f"store_ops_{db}", (ours, official)) as stores:
            for variant in (ours, official):
                load(stores[variant.key], items)
            arms = [
                Arm(v.key, store_round(stores[v.key], items, n))
                for n, v in enumerate((ours, official))
            ]
            samples = alternate(arms, s.rounds, s.warmup, f"store ops {db}")
        a, b = samples[ours.key], samples[official.key]
        if a["found"] != b["found"]:
            raise AssertionError(
                f"the stores found different items: {a['found']} vs {b['found']}"
            )
        for op in OPS:
            rows.append(
                Row.compared(
                    NAME,
                    f"{op} ({items:,} items): {ours.label} vs {official.label}",
                    "s",
                    compare(a[op], b[op]),
                    "store_time",
                    note="per call; ours on its default pool (from_url), the "
                    "official store on its one connection (from_conn_string)",
                )
            )
    return rows
