"""``langgraph-sqlalchemy store``: the memory store's operator commands, on
real SQLite, PostgreSQL and MariaDB databases, in-process (``CliRunner``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph.store.base import PutOp

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.models import StoreRecord
from langgraph.store.sqlalchemy import SQLAlchemyStore
from test_cli import assert_one_line_error, ok, ok_json, run

from conftest import Backend, make_backend


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request.param, request, tmp_path)


@pytest.fixture
def store(backend: Backend) -> Iterator[SQLAlchemyStore]:
    with SQLAlchemyStore.from_url(backend.sync_url) as opened:
        opened.setup()
        yield opened


def _expires_at(store: SQLAlchemyStore, prefix: str, key: str) -> Any:
    with store.bind.connect() as conn:  # type: ignore[union-attr]
        return conn.execute(
            sa.select(StoreRecord.expires_at).where(
                StoreRecord.prefix == prefix, StoreRecord.key == key
            )
        ).scalar_one()


def _expire(store: SQLAlchemyStore, prefix: str, key: str) -> None:
    """Move an item's expiry into the past (no waiting in tests)."""
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    with store.bind.begin() as conn:  # type: ignore[union-attr]
        conn.execute(
            sa.update(StoreRecord)
            .where(StoreRecord.prefix == prefix, StoreRecord.key == key)
            .values(expires_at=past)
        )


def _keys(store: SQLAlchemyStore, prefix: tuple[str, ...] = ()) -> set[str]:
    return {
        f"{'.'.join(i.namespace)}/{i.key}"
        for i in store.search(prefix, limit=1000, refresh_ttl=False)
    }


def test_namespaces_prefix_suffix_depth_limit(
    backend: Backend, store: SQLAlchemyStore
) -> None:
    for ns in [
        ("users", "1", "memories"),
        ("users", "2", "memories"),
        ("users", "2", "prefs"),
        ("users2", "x"),
        ("docs", "a_b"),
        ("docs", "axb"),
    ]:
        store.put(ns, "k", {"v": 1})
    url = backend.sync_url

    everything = ok_json("store", "namespaces", "--url", url)
    assert everything == sorted(
        [
            ["users", "1", "memories"],
            ["users", "2", "memories"],
            ["users", "2", "prefs"],
            ["users2", "x"],
            ["docs", "a_b"],
            ["docs", "axb"],
        ]
    )
    # A prefix is whole labels: "users" is not "users2".
    users = ok_json("store", "namespaces", "--url", url, "--prefix", "users")
    assert [ns[0] for ns in users] == ["users"] * 3
    # "_" is a character, never a LIKE wildcard.
    assert ok_json("store", "namespaces", "--url", url, "--prefix", "docs.a_b") == [
        ["docs", "a_b"]
    ]
    assert ok_json("store", "namespaces", "--url", url, "--suffix", "memories") == [
        ["users", "1", "memories"],
        ["users", "2", "memories"],
    ]
    assert ok_json(
        "store", "namespaces", "--url", url, "--prefix", "users.*", "--max-depth", "2"
    ) == [["users", "1"], ["users", "2"]]
    assert ok_json(
        "store", "namespaces", "--url", url, "--limit", "2", "--offset", "1"
    ) == [["docs", "axb"], ["users", "1", "memories"]]

    table = ok("store", "namespaces", "--url", url, "--prefix", "docs").stdout
    assert "docs.a_b" in table and "users" not in table.split("namespace(s)")[0]
    assert "2 namespace(s)" in table


def test_items_filter_limit_offset(backend: Backend, store: SQLAlchemyStore) -> None:
    for i in range(5):
        store.put(("users", "1"), f"fact{i}", {"kind": "fact", "n": i})
    store.put(("users", "1", "prefs"), "lang", {"kind": "pref", "n": 9})
    store.put(("users", "2"), "other", {"kind": "fact", "n": 0})
    url = backend.sync_url

    under = ok_json("store", "items", "users.1", "--url", url, "--limit", "50")
    assert {(tuple(i["namespace"]), i["key"]) for i in under} == {
        *((("users", "1"), f"fact{i}") for i in range(5)),
        (("users", "1", "prefs"), "lang"),
    }
    first = under[0]
    assert set(first) == {"namespace", "key", "value", "created_at", "updated_at"}
    datetime.fromisoformat(first["updated_at"])

    # Values read as JSON: n=3 is the number 3.
    three = ok_json("store", "items", "users", "--url", url, "--filter", "n=3")
    assert [(i["key"], i["value"]) for i in three] == [
        ("fact3", {"kind": "fact", "n": 3})
    ]
    prefs = ok_json("store", "items", "users", "--url", url, "--filter", "kind=pref")
    assert [i["key"] for i in prefs] == ["lang"]

    page1 = ok_json("store", "items", "users.1", "--url", url, "--limit", "4")
    page2 = ok_json(
        "store", "items", "users.1", "--url", url, "--limit", "4", "--offset", "4"
    )
    assert len(page1) == 4 and len(page2) == 2
    assert {i["key"] for i in page1}.isdisjoint({i["key"] for i in page2})

    table = ok("store", "items", "users.2", "--url", url).stdout
    assert "other" in table and "fact0" not in table
    assert "1 item(s) under users.2" in table


def test_get_shows_an_item_without_refreshing_its_ttl(
    backend: Backend, store: SQLAlchemyStore
) -> None:
    store.put(("users", "1"), "profile", {"name": "Ada", "langs": ["en"]}, ttl=60)
    before = _expires_at(store, "users.1", "profile")
    url = backend.sync_url

    shown = ok_json("store", "get", "users.1", "profile", "--url", url)
    assert shown["namespace"] == ["users", "1"]
    assert shown["value"] == {"name": "Ada", "langs": ["en"]}
    assert _expires_at(store, "users.1", "profile") == before

    text = ok("store", "get", "users.1", "profile", "--url", url).stdout
    assert '"name": "Ada"' in text

    missing = run("store", "get", "users.1", "nope", "--url", url)
    assert_one_line_error(missing, "no item 'nope'", "users.1")
    bad = run("store", "get", "users..1", "profile", "--url", url)
    assert_one_line_error(bad, "not a namespace")


def test_delete_one_item_asks_first(backend: Backend, store: SQLAlchemyStore) -> None:
    store.put(("users", "1"), "a", {"v": 1})
    store.put(("users", "1"), "b", {"v": 2})
    url = backend.sync_url

    refused = run("store", "delete", "users.1", "a", "--url", url, input="n\n")
    assert refused.exit_code != 0
    assert _keys(store) == {"users.1/a", "users.1/b"}

    dry = ok_json("store", "delete", "users.1", "a", "--url", url, "--dry-run")
    assert dry["dry_run"] is True and dry["deleted"] == 0
    assert _keys(store) == {"users.1/a", "users.1/b"}

    ok("store", "delete", "users.1", "a", "--url", url, input="y\n")
    assert _keys(store) == {"users.1/b"}

    gone = run("store", "delete", "users.1", "a", "--url", url, "--yes")
    assert_one_line_error(gone, "no item 'a'")


def test_delete_a_namespace_needs_yes(backend: Backend, store: SQLAlchemyStore) -> None:
    for i in range(7):
        store.put(("team", "red"), f"k{i}", {"i": i})
    store.put(("team", "red", "sub"), "deep", {"i": 0})
    store.put(("team", "redder"), "keep", {"i": 0})
    store.put(("team", "blue"), "keep", {"i": 0})
    url = backend.sync_url

    refused = run("store", "delete", "team.red", "--url", url)
    assert_one_line_error(refused, "needs --yes")
    assert len(_keys(store)) == 10

    dry = ok_json("store", "delete", "team.red", "--url", url, "--dry-run")
    assert len(dry["items"]) == 8 and dry["deleted"] == 0
    assert len(_keys(store)) == 10

    done = ok_json("store", "delete", "team.red", "--url", url, "--yes")
    assert done["deleted"] == 8
    assert _keys(store) == {"team.redder/keep", "team.blue/keep"}


def test_delete_a_namespace_in_pages(
    backend: Backend, store: SQLAlchemyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The module, not the click group of the same name the package exports.
    cli_store = sys.modules["langgraph.checkpoint.sqlalchemy.cli.store"]
    monkeypatch.setattr(cli_store, "PAGE", 3)
    store.batch([PutOp(("bulk",), f"k{i:02}", {"i": i}) for i in range(10)])
    done = ok_json("store", "delete", "bulk", "--url", backend.sync_url, "--yes")
    assert sorted(i["key"] for i in done["items"]) == [f"k{i:02}" for i in range(10)]
    assert _keys(store) == set()


def test_sweep_deletes_expired_items_only(
    backend: Backend, store: SQLAlchemyStore
) -> None:
    store.put(("s",), "old1", {"v": 1}, ttl=10)
    store.put(("s",), "old2", {"v": 2}, ttl=10)
    store.put(("s",), "fresh", {"v": 3}, ttl=10)
    store.put(("s",), "forever", {"v": 4})
    _expire(store, "s", "old1")
    _expire(store, "s", "old2")
    url = backend.sync_url

    # Expired items are invisible before the sweep too.
    assert {i["key"] for i in ok_json("store", "items", "s", "--url", url)} == {
        "fresh",
        "forever",
    }
    assert ok_json("store", "sweep", "--url", url, "--batch-size", "1") == {
        "deleted": 2
    }
    with store.bind.connect() as conn:  # type: ignore[union-attr]
        left = set(conn.execute(sa.select(StoreRecord.key)).scalars())
    assert left == {"fresh", "forever"}
    assert "swept 0 expired item(s)" in ok("store", "sweep", "--url", url).stdout


def test_without_a_store_table(tmp_path: Path) -> None:
    missing = run("store", "namespaces", "--url", f"sqlite:///{tmp_path / 'nope.db'}")
    assert_one_line_error(missing, "no such SQLite database file")
    assert not (tmp_path / "nope.db").exists()

    # Checkpoint tables only: the store was never set up here.
    url = f"sqlite:///{tmp_path / 'saver.db'}"
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()
    result = run("store", "items", "users", "--url", url)
    assert_one_line_error(result, "no store table", "db upgrade", "setup()")
