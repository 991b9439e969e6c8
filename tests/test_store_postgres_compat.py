"""Switching in place with the official ``PostgresStore``, both directions.

On PostgreSQL our ``store`` table is the official one, column for column:
what either store wrote, the other reads, searches and overwrites, and each
``setup()`` leaves the other's table as it is. Each test gets a database of
its own (see test_postgres_compat.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from langgraph.store.sqlalchemy import SQLAlchemyStore

from servers.postgres import drop_database, fresh_database

pytestmark = pytest.mark.postgres
PostgresStore = pytest.importorskip("langgraph.store.postgres").PostgresStore


@pytest.fixture
def database(postgres_url: str) -> Iterator[str]:
    name = f"store_{uuid.uuid4().hex[:12]}"
    url = fresh_database(postgres_url, name)
    yield url
    drop_database(postgres_url, name)


def _libpq(url: str) -> str:
    return (
        sa.engine.make_url(url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def _columns(url: str) -> dict[str, tuple[str, bool]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            columns = sa.inspect(conn).get_columns("store")
            return {c["name"]: (str(c["type"]), c["nullable"]) for c in columns}
    finally:
        engine.dispose()


def _indexes(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {ix["name"] for ix in sa.inspect(conn).get_indexes("store")}
    finally:
        engine.dispose()


def _exercise(reader: Any, writer_ns: tuple[str, ...]) -> None:
    """What ``reader`` must see of the items ``_write`` put under ``writer_ns``."""
    item = reader.get(writer_ns, "profile")
    assert item is not None and item.value == {"name": "Ada", "age": 36}
    found = reader.search(writer_ns[:1], filter={"name": "Ada"})
    assert [(i.namespace, i.key) for i in found] == [(writer_ns, "profile")]
    # (Not 100: the official store orders ``value->>key`` as text, "36" > "100".)
    assert reader.search(writer_ns[:1], filter={"age": {"$gt": 50}}) == []
    assert writer_ns in reader.list_namespaces(prefix=writer_ns[:1])


def _write(writer: Any, ns: tuple[str, ...]) -> None:
    writer.put(ns, "profile", {"name": "Ada", "age": 36})
    writer.put(ns, "temp", {"name": "Temp"}, ttl=30)
    writer.put(ns, "doomed", {"x": 1})
    writer.delete(ns, "doomed")


def test_ours_reads_and_writes_what_the_official_store_wrote(database: str) -> None:
    with PostgresStore.from_conn_string(
        _libpq(database), ttl={"default_ttl": None}
    ) as theirs:
        theirs.setup()
        _write(theirs, ("official", "u1"))
        with SQLAlchemyStore.from_url(database) as ours:
            ours.setup()  # adopts the table: nothing to create
            _exercise(ours, ("official", "u1"))
            assert ours.get(("official", "u1"), "doomed") is None
            temp = ours.get(("official", "u1"), "temp", refresh_ttl=False)
            assert temp is not None
            # ...and writes over it, and beside it, for the official to read.
            ours.put(("official", "u1"), "profile", {"name": "Ada", "age": 37})
            _write(ours, ("ours", "u2"))
            ours.sweep_ttl()
        theirs.setup()  # after ours: still fine
        assert theirs.get(("official", "u1"), "profile").value["age"] == 37
        _exercise(theirs, ("ours", "u2"))
        assert theirs.get(("ours", "u2"), "temp") is not None


def test_the_official_store_reads_what_ours_wrote(database: str) -> None:
    with SQLAlchemyStore.from_url(database) as ours:
        ours.setup()
        _write(ours, ("ours", "u1"))
        before = _indexes(database)
        with PostgresStore.from_conn_string(_libpq(database)) as theirs:
            theirs.setup()  # on our table: its migrations find it all there
            _exercise(theirs, ("ours", "u1"))
            theirs.put(("ours", "u1"), "profile", {"name": "Ada", "age": 40})
            _write(theirs, ("official", "u2"))
        assert _indexes(database) == before
        assert ours.get(("ours", "u1"), "profile").value["age"] == 40
        _exercise(ours, ("official", "u2"))


def test_both_setups_make_the_same_columns(postgres_url: str) -> None:
    names = [f"cols_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    theirs_url, ours_url = (fresh_database(postgres_url, n) for n in names)
    try:
        with PostgresStore.from_conn_string(_libpq(theirs_url)) as theirs:
            theirs.setup()
        with SQLAlchemyStore.from_url(ours_url) as ours:
            ours.setup()
        assert _columns(ours_url) == _columns(theirs_url)
        # Theirs, plus the GIN index our equality filters use (lgst0002).
        assert _indexes(theirs_url) == {"store_prefix_idx", "idx_store_expires_at"}
        assert _indexes(ours_url) == _indexes(theirs_url) | {"store_value_path_idx"}
    finally:
        for name in names:
            drop_database(postgres_url, name)


def test_adopts_a_table_from_before_the_official_ttl_columns(database: str) -> None:
    """An official store set up before its TTL migration: ours adds the
    columns and the index, and keeps the rows."""
    engine = sa.create_engine(database)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "CREATE TABLE store (prefix text NOT NULL, key text NOT NULL,"
                    " value jsonb NOT NULL,"
                    " created_at timestamptz DEFAULT CURRENT_TIMESTAMP,"
                    " updated_at timestamptz DEFAULT CURRENT_TIMESTAMP,"
                    " PRIMARY KEY (prefix, key))"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO store (prefix, key, value)"
                    " VALUES ('old.ns', 'k', '{\"v\": 1}')"
                )
            )
    finally:
        engine.dispose()
    with SQLAlchemyStore.from_url(database) as ours:
        ours.setup()
        assert {"expires_at", "ttl_minutes"} <= set(_columns(database))
        assert "idx_store_expires_at" in _indexes(database)
        assert ours.get(("old", "ns"), "k").value == {"v": 1}
        ours.put(("old", "ns"), "t", {"v": 2}, ttl=5)
        assert ours.get(("old", "ns"), "t") is not None
