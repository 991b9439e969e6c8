"""What the memory-store scenarios share: the stores under test, the items
they all hold, and the store's target.

Every store opens on a fresh place of its own: a database on the run's
PostgreSQL server, or a SQLite file. Ours is ``SQLAlchemyStore.from_url`` as
an application makes it (its pool, default options); the official stores
are ``PostgresStore.from_conn_string`` (one connection) and
``SqliteStore.from_conn_string``. Each loads the same items through its own
``batch`` (1,000 puts per call), so every store writes its rows its own way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from langgraph.store.base import PutOp

from bench import report
from bench.servers import BenchEnv, libpq_url

#: Items per ``batch`` call when loading.
LOAD_BATCH = 1000
#: Distinct ``kind`` values: a filter on one kind matches 1 item in KINDS.
KINDS = 1000
#: Namespaces the items spread over, under the root label ``bench``.
USERS = 100

# The target for put, get and filtered search (registered here, not
# in report.py, which the saver scenarios own).
report.TARGETS.setdefault(
    "store_time",
    report.Target("<= 0.8x", lambda r: r.ratio is not None and r.ratio <= 0.8, 0.8),
)


@dataclass(frozen=True)
class StoreVariant:
    key: str
    label: str
    database: str  # "postgres" or "sqlite"
    open: Callable[[BenchEnv, str], contextlib.AbstractContextManager[Any]]


@contextlib.contextmanager
def _ours_pg(env: BenchEnv, tag: str) -> Iterator[Any]:
    from langgraph.store.sqlalchemy import SQLAlchemyStore

    with SQLAlchemyStore.from_url(env.pg(f"{tag}_ours")) as store:
        store.setup()
        yield store


@contextlib.contextmanager
def _official_pg(env: BenchEnv, tag: str) -> Iterator[Any]:
    from langgraph.store.postgres import PostgresStore

    with PostgresStore.from_conn_string(libpq_url(env.pg(f"{tag}_official"))) as store:
        store.setup()
        yield store


@contextlib.contextmanager
def _ours_sqlite(env: BenchEnv, tag: str) -> Iterator[Any]:
    from langgraph.store.sqlalchemy import SQLAlchemyStore

    path = env.sqlite(f"{tag}_ours")
    with SQLAlchemyStore.from_url(f"sqlite:///{path}") as store:
        store.setup()
        yield store


@contextlib.contextmanager
def _official_sqlite(env: BenchEnv, tag: str) -> Iterator[Any]:
    from langgraph.store.sqlite import SqliteStore

    with SqliteStore.from_conn_string(str(env.sqlite(f"{tag}_official"))) as store:
        store.setup()
        yield store


OURS_PG = StoreVariant("ours-pg", "SQLAlchemyStore PG", "postgres", _ours_pg)
OFFICIAL_PG = StoreVariant("official-pg", "PostgresStore", "postgres", _official_pg)
OURS_SQLITE = StoreVariant(
    "ours-sqlite", "SQLAlchemyStore SQLite", "sqlite", _ours_sqlite
)
OFFICIAL_SQLITE = StoreVariant(
    "official-sqlite", "SqliteStore", "sqlite", _official_sqlite
)
#: (ours, official) per database.
PAIRS = ((OURS_PG, OFFICIAL_PG), (OURS_SQLITE, OFFICIAL_SQLITE))


@contextlib.contextmanager
def opened(env: BenchEnv, tag: str, variants: Any) -> Iterator[dict[str, Any]]:
    """The stores of ``variants``, by key, each on a fresh place."""
    with contextlib.ExitStack() as stack:
        yield {v.key: stack.enter_context(v.open(env, tag)) for v in variants}


def namespace(i: int) -> tuple[str, ...]:
    return ("bench", f"user-{i % USERS:03d}")


def item_key(i: int) -> str:
    return f"item-{i:07d}"


def value(i: int) -> dict[str, Any]:
    """A memory-sized value; ``kind`` is what the filtered search looks for."""
    return {
        "kind": f"k{i % KINDS:04d}",
        "i": i,
        "text": f"fact number {i}: the user prefers option {i % 7} "
        "and writes in English",
        "tags": ["bench", f"t{i % 13}"],
    }


def load(store: Any, n: int, *, ttl: float | None = None, start: int = 0) -> None:
    """Items ``start`` to ``start + n`` through the store's own ``batch``."""
    for first in range(start, start + n, LOAD_BATCH):
        last = min(first + LOAD_BATCH, start + n)
        store.batch(
            [
                PutOp(namespace(i), item_key(i), value(i), ttl=ttl)
                for i in range(first, last)
            ]
        )
