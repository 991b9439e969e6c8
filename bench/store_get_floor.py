"""The floor under a store ``get`` on SQLite: what a pooled SQLAlchemy
connection costs before any statement, beside ours and the official
``SqliteStore`` reading the same item.

Three arms, alternating, in client process time per call (the server is in
the process, so process time is all of it): a checkout and close of a
connection from our ``from_url`` engine with nothing run on it; our
``get``; the official store's ``get`` on its one connection. Prints each
round and the medians. Run: ``python bench/store_get_floor.py``.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable

from langgraph.store.sqlite import SqliteStore

from langgraph.store.sqlalchemy import SQLAlchemyStore

CALLS = 3000
ROUNDS = 5


def per_call(action: Callable[[], object]) -> float:
    start = time.process_time()
    for _ in range(CALLS):
        action()
    return (time.process_time() - start) / CALLS * 1e6


def main() -> None:
    scratch = tempfile.mkdtemp(prefix="lgsa-floor-")
    raw = sqlite3.connect(
        f"{scratch}/official.db", check_same_thread=False, isolation_level=None
    )
    raw.row_factory = sqlite3.Row
    official = SqliteStore(raw)
    official.setup()
    official.put(("a",), "k", {"v": 1})
    with SQLAlchemyStore.from_url(f"sqlite:///{scratch}/ours.db") as ours:
        ours.setup()
        ours.put(("a",), "k", {"v": 1})
        bare = ours.bind.engine.execution_options(isolation_level="AUTOCOMMIT")

        def checkout() -> None:
            with bare.connect():
                pass

        arms = {
            "connection checkout + close": checkout,
            "ours get": lambda: ours.get(("a",), "k"),
            "SqliteStore get": lambda: official.get(("a",), "k"),
        }
        for action in arms.values():  # warm-up
            per_call(action)
        rounds: dict[str, list[float]] = {name: [] for name in arms}
        for r in range(ROUNDS):
            for name, action in arms.items():
                rounds[name].append(per_call(action))
            print(
                f"round {r + 1}: "
                + ", ".join(f"{n} {v[-1]:.1f} us" for n, v in rounds.items())
            )
    raw.close()
    theirs = statistics.median(rounds["SqliteStore get"])
    for name, values in rounds.items():
        value = statistics.median(values)
        print(f"{name:>28}: {value:6.1f} us  ({value / theirs:.2f}x SqliteStore get)")


if __name__ == "__main__":
    main()
