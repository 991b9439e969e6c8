"""The official ``SqliteStore`` and ours on one SQLite file the official store
set up: ours adopts it, and each then reads, searches and overwrites what
the other wrote. (A file that ours set up, the official store cannot take:
its migrations add columns with ``ALTER TABLE ADD COLUMN``, which SQLite
cannot make conditional, and they fail on a table that has them.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from langgraph.store.sqlalchemy import SQLAlchemyStore

SqliteStore = pytest.importorskip("langgraph.store.sqlite").SqliteStore


def _official(path: Path) -> object:
    return SqliteStore(
        sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    )


def test_ours_reads_the_official_sqlite_store(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    theirs = _official(path)
    theirs.setup()
    theirs.put(("users", "1"), "profile", {"name": "Ada", "age": 36})
    theirs.put(("users", "1"), "temp", {"name": "T"}, ttl=30)
    with SQLAlchemyStore.from_url(f"sqlite:///{path}") as ours:
        ours.setup()  # adopts their table
        item = ours.get(("users", "1"), "profile")
        assert item is not None and item.value == {"name": "Ada", "age": 36}
        assert item.created_at is not None
        assert ours.get(("users", "1"), "temp") is not None
        found = ours.search(("users",), filter={"age": {"$gte": 30}})
        assert [i.key for i in found] == ["profile"]
        assert ours.list_namespaces() == [("users", "1")]
        ours.put(("users", "1"), "profile", {"name": "Ada", "age": 37})
        ours.put(("users", "2"), "profile", {"name": "Bob", "age": 20}, ttl=30)
    assert theirs.get(("users", "1"), "profile").value["age"] == 37
    bob = theirs.get(("users", "2"), "profile")
    assert bob is not None and bob.value == {"name": "Bob", "age": 20}
    assert {i.key for i in theirs.search(("users",), filter={"name": "Bob"})} == {
        "profile"
    }
    assert sorted(theirs.list_namespaces()) == [("users", "1"), ("users", "2")]
