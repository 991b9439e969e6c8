"""``transfer(..., with_store=True)`` / ``transfer --with-store``: the memory
store's items move with the threads, on real databases (ours on SQLite to
PostgreSQL; the official ``PostgresStore`` to MariaDB), in pages, with the
newer ``updated_at`` winning, and a rerun writes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from langgraph.store.base import PutOp

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.cli.transfer import transfer_command
from langgraph.checkpoint.sqlalchemy.models import StoreRecord
from langgraph.checkpoint.sqlalchemy.transfer import TransferError, transfer
from langgraph.store.sqlalchemy import SQLAlchemyStore
from test_transfer import _libpq, maria_db, pg_db  # noqa: F401

Row = tuple[str, str, Any, Any, Any, Any, Any]


def _table(url: str, schema: str | None = None) -> dict[tuple[str, str], Row]:
    """Every row of the store table, as stored (all columns)."""
    engine = sa.create_engine(url)
    options = {"schema_translate_map": {None: schema}} if schema else {}
    try:
        with engine.connect().execution_options(**options) as conn:
            rows = conn.execute(
                sa.select(
                    StoreRecord.prefix,
                    StoreRecord.key,
                    StoreRecord.value,
                    StoreRecord.created_at,
                    StoreRecord.updated_at,
                    StoreRecord.expires_at,
                    StoreRecord.ttl_minutes,
                )
            )
            return {(r.prefix, r.key): tuple(r) for r in rows}  # type: ignore[misc]
    finally:
        engine.dispose()


def _fill_ours(url: str) -> None:
    """Checkpoint tables (a transfer's source needs them) and a store with
    nested values, TTLs, and one expired item."""
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()
    with SQLAlchemyStore.from_url(url) as store:
        store.setup()
        store.batch(
            [
                PutOp(("users", "1"), f"fact{i}", {"text": f"fact {i}", "n": i})
                for i in range(5)
            ]
        )
        store.put(("users", "1", "prefs"), "lang", {"deep": {"a": [1, {"b": None}]}})
        store.put(("users", "2"), "temp", {"v": "ttl"}, ttl=120)
        store.put(("users", "2"), "gone", {"v": "expired"}, ttl=1)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(StoreRecord)
                .where(StoreRecord.key == "gone")
                .values(expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
            )
    finally:
        engine.dispose()


def _live(rows: dict[tuple[str, str], Row]) -> dict[tuple[str, str], Row]:
    return {k: r for k, r in rows.items() if k != ("users.2", "gone")}


def test_sqlite_to_postgres_in_pages_rerun_and_conflicts(
    tmp_path: Path,
    pg_db: str,  # noqa: F811
) -> None:
    source = f"sqlite:///{tmp_path / 'ours.db'}"
    _fill_ours(source)

    report = transfer(source, pg_db, with_store=True, store_batch_size=2)
    assert report.ok, report.to_dict()
    store = report.store
    assert store is not None
    assert (store.items, store.inserted, store.updated, store.kept) == (7, 7, 0, 0)
    assert store.verified is True
    # Every column as it was (times included); the expired item stays behind.
    assert _table(pg_db) == _live(_table(source))
    with SQLAlchemyStore.from_url(pg_db) as target:
        item = target.get(("users", "1", "prefs"), "lang", refresh_ttl=False)
        assert item is not None and item.value == {"deep": {"a": [1, {"b": None}]}}
        assert len(target.search(("users",), limit=50)) == 7

    again = transfer(source, pg_db, with_store=True, store_batch_size=3)
    assert again.store is not None
    assert (again.store.inserted, again.store.updated, again.store.kept) == (0, 0, 7)
    assert len(_table(pg_db)) == 7

    # The source changes fact0; the target changes fact1 later than the source
    # did. The newer side wins each.
    with SQLAlchemyStore.from_url(source) as src:
        src.put(("users", "1"), "fact0", {"text": "changed at the source"})
        src.put(("users", "1"), "fact1", {"text": "changed at the source too"})
    with SQLAlchemyStore.from_url(pg_db) as dst:
        dst.put(("users", "1"), "fact1", {"text": "changed at the target, later"})
    third = transfer(source, pg_db, with_store=True)
    assert third.store is not None
    assert (third.store.updated, third.store.kept) == (1, 6), third.to_dict()
    assert third.ok
    rows = _table(pg_db)
    assert rows[("users.1", "fact0")][2] == {"text": "changed at the source"}
    assert rows[("users.1", "fact1")][2] == {"text": "changed at the target, later"}
    assert rows[("users.1", "fact0")] == _table(source)[("users.1", "fact0")]


def test_official_postgres_store_to_mariadb(
    pg_db: str,  # noqa: F811
    maria_db: str,  # noqa: F811
) -> None:
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.store.postgres import PostgresStore

    with PostgresSaver.from_conn_string(_libpq(pg_db)) as saver:
        saver.setup()
    with PostgresStore.from_conn_string(_libpq(pg_db)) as official:
        official.setup()
        official.put(("docs", "a"), "one", {"title": "One", "tags": ["x", "y"]})
        official.put(("docs", "b"), "two", {"title": "Two"}, ttl=60)
        official.put(("docs",), "root", {"n": 1.5})

    report = transfer(pg_db, maria_db, with_store=True)
    assert report.source_layout == "postgres"
    assert report.ok and report.store is not None, report.to_dict()
    assert (report.store.items, report.store.inserted) == (3, 3)
    assert _table(maria_db) == _table(pg_db)
    with SQLAlchemyStore.from_url(maria_db) as ours:
        found = ours.search(("docs",), filter={"title": "Two"}, refresh_ttl=False)
        assert [(i.namespace, i.key) for i in found] == [(("docs", "b"), "two")]
        assert ours.list_namespaces(prefix=("docs",)) == [
            ("docs",),
            ("docs", "a"),
            ("docs", "b"),
        ]

    rerun = transfer(pg_db, maria_db, with_store=True)
    assert rerun.store is not None and rerun.store.kept == 3
    assert rerun.store.inserted == rerun.store.updated == 0


def test_dry_run_writes_nothing_and_a_source_without_a_store_is_refused(
    tmp_path: Path,
) -> None:
    source = f"sqlite:///{tmp_path / 'ours.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    _fill_ours(source)

    dry = transfer(source, target, with_store=True, dry_run=True)
    assert dry.store is not None
    assert (dry.store.items, dry.store.inserted, dry.store.verified) == (7, 7, None)
    assert not sa.inspect(sa.create_engine(target)).has_table("store")

    bare = f"sqlite:///{tmp_path / 'bare.db'}"
    with SQLAlchemySaver.from_url(bare) as saver:
        saver.setup()
    with pytest.raises(TransferError, match="no store table in the source"):
        transfer(bare, target, with_store=True)
    # Without --with-store the store is none of the transfer's business.
    assert transfer(bare, target).store is None


def test_cli_with_store(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'ours.db'}"
    target = f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"
    _fill_ours(source)
    runner = CliRunner()

    done = runner.invoke(
        transfer_command,
        ["--from", source, "--to", target, "--with-store", "--yes", "--json"],
    )
    assert done.exit_code == 0, done.output
    moved = json.loads(done.output)
    assert moved["ok"] and moved["store"]["inserted"] == 7
    assert moved["store"]["verified"] is True
    assert len(_table(target)) == 7

    text = runner.invoke(
        transfer_command,
        [
            "--from",
            source,
            "--to",
            target,
            "--with-store",
            "--store-batch-size",
            "2",
            "-y",
        ],
    )
    assert text.exit_code == 0, text.output
    assert "store: 7 item(s); copied 0 new, updated 0, kept 7" in text.output

    plain = runner.invoke(
        transfer_command, ["--from", source, "--to", target, "--yes", "--json"]
    )
    assert json.loads(plain.output)["store"] is None
