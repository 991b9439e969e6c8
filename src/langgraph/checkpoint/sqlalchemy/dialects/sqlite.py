"""What differs on SQLite.

Native upserts (``INSERT … ON CONFLICT``, as on PostgreSQL); metadata filters
and ``get_tuple``'s join through ``json_each`` (the portable path of
``base.py`` is SQLite's). No schemas, one writer at a time, tables altered in
Alembic's batch mode. An in-memory database lives on one connection; a file
gets WAL, a busy timeout, autocommit at the driver and ``BEGIN IMMEDIATE``
for writers.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any, ClassVar

from langgraph.checkpoint.sqlalchemy.dialects.base import (
    DialectOps,
    begin_listener,
    on_conflict,
    register,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Step
from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    Table,
    delete,
    event,
    literal_column,
    tuple_,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine.url import URL
from sqlalchemy.pool import AsyncAdaptedQueuePool, StaticPool

# How long a connection waits for another's lock, unless the caller's
# connect_args say otherwise.
BUSY_TIMEOUT_S = 30.0


# Writers take the write lock up front: a deferred transaction that reads and
# then writes cannot wait for another writer and fails at once with
# "database is locked"; an immediate one takes the write lock first and waits
# its turn (the busy timeout). Readers keep a deferred BEGIN.
_begin = begin_listener("BEGIN IMMEDIATE")
# Every SQLite table the package creates has one.
_ROWID: ColumnElement[int] = literal_column("rowid")


@register("sqlite")
class SQLiteOps(DialectOps):
    has_native_upsert = True
    has_json_tables = True
    has_schemas = False
    single_writer = True
    example_isolation_level = "SERIALIZABLE"
    batch_alter = True
    default_drivers = ("pysqlite", "aiosqlite")
    async_twins: ClassVar[Mapping[str, str]] = {"pysqlite": "aiosqlite"}
    sync_twins: ClassVar[Mapping[str, str]] = {"aiosqlite": "pysqlite"}
    # The one join SQLite's planner never reorders: as an inner join, SQLite
    # read every blob of the thread before the channel versions.
    outer_join_keeps_order = True

    insert_into = staticmethod(sqlite.insert)
    on_key_exists = staticmethod(on_conflict)

    def delete_oldest(
        self,
        table: Table,
        oldest: Select[Any],
        still_due: ColumnElement[bool],
        dependents: Sequence[Table] = (),
    ) -> Generator[Step, Any, tuple[int, int]]:
        """The picked rows are a subquery of each delete, the dependents'
        first: one writer at a time, so nothing changes between the two,
        and ordering by ``rowid`` after the given order makes both pick the
        same rows among equal expiries (an index ends with the rowid, so
        this costs no sort). Deleting by a list of keys instead cost five
        times as much (docs/performance.md)."""
        if self.forced_portable:
            return (
                yield from super().delete_oldest(table, oldest, still_due, dependents)
            )
        oldest = oldest.order_by(_ROWID)
        keys = oldest.selected_columns
        for dependent in dependents:
            mine = tuple_(*(dependent.c[c.name] for c in keys))
            yield Execute(delete(dependent).where(mine.in_(oldest)))
        rows = oldest.with_only_columns(_ROWID, maintain_column_froms=True)
        deleted = yield Execute(delete(table).where(_ROWID.in_(rows), still_due))
        count = max(deleted.rowcount, 0)
        return count, count

    # -- engines -------------------------------------------------------------

    @classmethod
    def is_memory(cls, url: URL) -> bool:
        database = url.database or ""
        return database in ("", ":memory:") or "mode=memory" in str(url.query)

    @classmethod
    def database_file(cls, url: URL) -> str | None:
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        return database

    @classmethod
    def engine_options(
        cls, url: URL, poolclass: type
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if cls.is_memory(url):
            # One connection for the saver's life: an in-memory database lives
            # and dies with its connection. The saver serializes access to it.
            return {"poolclass": StaticPool}, {"check_same_thread": False}
        # Writers from other processes wait instead of failing.
        connect_args: dict[str, Any] = {"timeout": BUSY_TIMEOUT_S}
        options: dict[str, Any] = {}
        if issubclass(poolclass, StaticPool):
            # One connection that LangGraph's threads take turns on.
            connect_args["check_same_thread"] = False
        elif url.get_driver_name() == "aiosqlite":
            # A pool, as SQLAlchemy 2.0.38 and later give an aiosqlite file by
            # default; before, a NullPool opened a connection (and a thread)
            # per call and refused pool_size. A caller's poolclass still wins.
            options["poolclass"] = AsyncAdaptedQueuePool
        return options, connect_args

    @classmethod
    def checks_in_by_status(cls, url: URL, options: Mapping[str, Any]) -> bool:
        # A file connection, which tune_engine puts in autocommit.
        return not cls.is_memory(url)

    @classmethod
    def tune_engine(cls, engine: Engine, url: URL, options: Mapping[str, Any]) -> None:
        """A file gets WAL (readers never wait for the writer, across
        processes) and write transactions that start with ``BEGIN
        IMMEDIATE``; its connections autocommit at the driver, and one checked
        in rolls back only when sqlite3 says a transaction is open."""
        super().tune_engine(engine, url, options)
        if cls.is_memory(url):
            return
        event.listen(engine, "connect", _connect)
        event.listen(engine, "begin", _begin)

    @staticmethod
    def in_transaction(driver_connection: Any) -> bool:
        return bool(driver_connection.in_transaction)  # sqlite3, aiosqlite


def _connect(dbapi_connection: Any, _record: Any) -> None:
    # Transactions begin when SQLAlchemy says, not when sqlite3 guesses.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, waiting its turn like any writer.

    Switching a file's journal takes an exclusive lock without SQLite's busy
    handler, so connections that open a new file at the same moment (several
    processes starting on it, or threads) may be told "database is locked"
    at once rather than after the busy timeout. Retry, backing off, until
    the connection's own busy timeout has passed.
    """
    cursor.execute("PRAGMA busy_timeout")
    deadline = time.monotonic() + cursor.fetchone()[0] / 1000
    pause = 0.001
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # sqlite3's, pysqlite3's or aiosqlite's own
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
