"""``transfer(..., with_store=True)`` / ``transfer --with-store``: the memory
store's items move with the threads, on real databases (ours on SQLite to
PostgreSQL; the official ``PostgresStore`` to MariaDB), in pages, with the
newer ``updated_at`` winning, and a rerun writes nothing."""

from __future__ import annotations

import json
import os
import struct
import uuid
from collections.abc import Sequence
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
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.copying import (
    VectorSide,
    read_vectors,
)
from langgraph.checkpoint.sqlalchemy.runtime.driver import run
from langgraph.checkpoint.sqlalchemy.transfer import TransferError, transfer
from langgraph.store.sqlalchemy import SQLAlchemyStore
from test_store_vectors import DIMS, fake_vector
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


# -- vectors ---------------------------------------------------------------------

DOCS = {
    "a": "the cat sat on the mat",
    "b": "dogs chase cats in the park",
    "c": "a stock market report",
    "d": "weather tomorrow: rain",
    "e": "python packaging and wheels",
}
#: Vector rows of _fill_vectors: one per doc, none for "f", three for "g".
N_VECTORS = len(DOCS) + 3


def _counting_index(texts: list[str], dims: int = DIMS) -> dict[str, Any]:
    """An index whose (deterministic) model records every text it embeds."""

    def embed(batch: Sequence[str]) -> list[list[float]]:
        texts.extend(batch)
        return [fake_vector(t, dims) for t in batch]

    return {"dims": dims, "embed": embed, "fields": ["text"]}


def _vector_db(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of ``kind``: sqlite (sqlite-vec where loadable, else
    exact search), pgvector or mariadb."""
    if kind == "pgvector":
        from servers.pgvector import create_extension
        from servers.postgres import fresh_database

        name = f"xfer_{uuid.uuid4().hex[:10]}"
        url = fresh_database(request.getfixturevalue("pgvector_url"), name)
        create_extension(url)
        return url
    if kind == "mariadb":
        return str(request.getfixturevalue("maria_db"))
    return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"


def _fill_vectors(url: str, index: dict[str, Any]) -> None:
    """Checkpoint tables and a store with an index: DOCS, an item put with
    index=False, and one with three texts."""
    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()
    with SQLAlchemyStore.from_url(url, index=index) as store:
        store.setup()
        for key, text in DOCS.items():
            store.put(("docs",), key, {"text": text})
        store.put(("docs",), "f", {"text": "not searchable"}, index=False)
        store.put(
            ("docs",),
            "g",
            {"text": "cats and tags", "tags": ["kitten", "market"]},
            index=["text", "tags[*]"],
        )


def _vectors(url: str) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    """Every vector row as stored: (prefix, key, field) -> (float32 values,
    created_at, updated_at)."""
    engine = sa.create_engine(url)
    table = VectorSide.of(engine.dialect).table
    pg = engine.dialect.name == "postgresql"
    embedding = sa.cast(table.c.embedding, sa.Text) if pg else table.c.embedding
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    table.c.prefix,
                    table.c.key,
                    table.c.field_name,
                    embedding,
                    table.c.created_at,
                    table.c.updated_at,
                )
            ).all()
    finally:
        engine.dispose()
    found = {}
    for prefix, key, field, value, created, updated in rows:
        if pg:
            floats = [float(v) for v in value.strip("[]").split(",")]
        else:
            floats = list(struct.unpack(f"<{len(value) // 4}f", value))
        found[(prefix, key, field)] = (_f32(floats), created, updated)
    return found


def _f32(values: Sequence[float]) -> tuple[float, ...]:
    return struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values))


@pytest.mark.parametrize(
    ("source_kind", "target_kind"),
    [
        ("sqlite", "sqlite"),
        ("sqlite", "mariadb"),
        ("pgvector", "sqlite"),
        ("sqlite", "pgvector"),
    ],
)
def test_vectors_come_along_and_search_without_embedding(
    source_kind: str,
    target_kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    source = _vector_db(source_kind, request, tmp_path)
    target = _vector_db(target_kind, request, tmp_path)
    embedded: list[str] = []
    _fill_vectors(source, _counting_index(embedded))
    # The target's index is set up by a store with the same configuration.
    with SQLAlchemyStore.from_url(target, index=_counting_index([])) as store:
        store.setup()

    report = transfer(source, target, with_store=True, store_batch_size=2)
    assert report.ok and report.store is not None, report.to_dict()
    assert report.store.inserted == len(DOCS) + 2
    assert (report.store.vectors_copied, report.store.vectors_skipped) == (
        N_VECTORS,
        0,
    )
    assert report.store.vectors_note is None
    copied = _vectors(source)
    assert len(copied) == N_VECTORS
    assert _vectors(target) == copied

    # The target ranks by the copied vectors: only the query is embedded.
    query = "cats and dogs"
    with SQLAlchemyStore.from_url(source, index=_counting_index([])) as src:
        expected = src.search(("docs",), query=query, limit=5)
    seen: list[str] = []
    with SQLAlchemyStore.from_url(target, index=_counting_index(seen)) as dst:
        found = dst.search(("docs",), query=query, limit=5)
    assert seen == [query]
    assert [i.key for i in found] == [i.key for i in expected]
    # float32 sums in sqlite-vec/pgvector, doubles in exact search: close.
    scores = [i.score for i in expected]
    assert [i.score for i in found] == pytest.approx(scores, abs=1e-5)
    assert len(found) == 5 and "f" not in {i.key for i in found}

    again = transfer(source, target, with_store=True)
    assert again.store is not None
    assert (again.store.kept, again.store.vectors_copied) == (len(DOCS) + 2, 0)
    assert _vectors(target) == copied

    # The source changes "a"; the target changes "b" later than the source
    # does. "a" comes with its new vector, "b" keeps the target's own.
    with SQLAlchemyStore.from_url(source, index=_counting_index([])) as src:
        src.put(("docs",), "a", {"text": "a new text for a"})
        src.put(("docs",), "b", {"text": "changed at the source"})
    with SQLAlchemyStore.from_url(target, index=_counting_index([])) as dst:
        dst.put(("docs",), "b", {"text": "changed at the target, later"})
    third = transfer(source, target, with_store=True)
    assert third.store is not None
    assert (third.store.updated, third.store.vectors_copied) == (1, 1)
    rows = _vectors(target)
    assert rows[("docs", "a", "text")] == _vectors(source)[("docs", "a", "text")]
    assert rows[("docs", "a", "text")][0] == _f32(fake_vector("a new text for a"))
    assert rows[("docs", "b", "text")][0] == _f32(
        fake_vector("changed at the target, later")
    )


def test_vectors_skipped_without_a_target_index_then_a_rerun_brings_them(
    tmp_path: Path,
) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    _fill_vectors(source, _counting_index([]))

    first = transfer(source, target, with_store=True)
    assert first.ok and first.store is not None
    assert first.store.inserted == len(DOCS) + 2
    assert (first.store.vectors_copied, first.store.vectors_skipped) == (0, N_VECTORS)
    note = first.store.vectors_note
    assert note is not None
    assert note.startswith(f"vectors skipped: {N_VECTORS}, because the target has no")
    assert f"index={{'dims': {DIMS}" in note and "run the transfer again" in note

    with SQLAlchemyStore.from_url(target, index=_counting_index([])) as store:
        store.setup()
    dry = transfer(source, target, with_store=True, dry_run=True)
    assert dry.store is not None and dry.store.vectors_copied == N_VECTORS
    assert _vectors(target) == {}

    # The items are there at the same version: the rerun adds their vectors.
    second = transfer(source, target, with_store=True)
    assert second.store is not None
    assert second.store.kept == len(DOCS) + 2
    assert (second.store.vectors_copied, second.store.vectors_skipped) == (
        N_VECTORS,
        0,
    )
    assert _vectors(target) == _vectors(source)
    seen: list[str] = []
    with SQLAlchemyStore.from_url(target, index=_counting_index(seen)) as dst:
        found = dst.search(("docs",), query=DOCS["c"], limit=1)
    assert [i.key for i in found] == ["c"] and seen == [DOCS["c"]]

    third = transfer(source, target, with_store=True)
    assert third.store is not None and third.store.vectors_copied == 0


@pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="reads the process's open files"
)
def test_a_transfer_leaves_no_connection_open(tmp_path: Path) -> None:
    """Every connection a transfer opened is closed when it returns: one left
    open on a SQLite file (the savers and stores a transfer builds on its
    engines used to keep one aside) breaks the next program in the process
    that opens the file with another SQLite library (pysqlite3, for
    sqlite-vec): "disk I/O error"."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    _fill_vectors(source, _counting_index([]))

    def open_files() -> list[str]:
        found = []
        for fd in Path("/proc/self/fd").iterdir():
            try:
                path = os.readlink(fd)
            except OSError:
                continue
            if path.startswith(str(tmp_path)):
                found.append(path)
        return found

    assert open_files() == []
    assert transfer(source, target, with_store=True).ok
    assert open_files() == []


def test_cli_reports_vectors_of_another_dimension_skipped(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    _fill_vectors(source, _counting_index([]))
    with SQLAlchemyStore.from_url(target, index=_counting_index([], dims=4)) as dst:
        dst.setup()
        dst.put(("other",), "x", {"text": "the target's own model"})
    before = _vectors(target)
    runner = CliRunner()

    done = runner.invoke(
        transfer_command,
        ["--from", source, "--to", target, "--with-store", "--yes", "--json"],
    )
    assert done.exit_code == 0, done.output
    moved = json.loads(done.output)["store"]
    assert moved["inserted"] == len(DOCS) + 2
    assert (moved["vectors_copied"], moved["vectors_skipped"]) == (0, N_VECTORS)
    assert "holds 4-dimensional vectors" in moved["vectors_note"]
    assert f"the source's are {DIMS}-dimensional" in moved["vectors_note"]
    assert _vectors(target) == before

    text = runner.invoke(
        transfer_command, ["--from", source, "--to", target, "--with-store", "-y"]
    )
    assert text.exit_code == 0, text.output
    assert "copied 0 vector(s)" in text.output
    assert f"vectors skipped: {N_VECTORS}, because the target's store_vectors" in (
        " ".join(text.output.split())
    )


def test_vectors_of_another_version_of_an_item_stay_behind(tmp_path: Path) -> None:
    """An item put again between the read of its page and the read of its
    vectors: those vectors belong to the newer version, which the next run
    copies, not to the one this page carries."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    _fill_vectors(url, _counting_index([]))
    engine = sa.create_engine(url)
    side = VectorSide.of(engine.dialect)
    try:
        with engine.connect() as conn:
            times = dict(
                conn.execute(
                    sa.select(StoreRecord.key, StoreRecord.updated_at).where(
                        StoreRecord.key.in_(["a", "g"])
                    )
                ).all()
            )
            versions = {
                ("docs", "a"): times["a"],
                ("docs", "g"): times["g"] - timedelta(seconds=1),
            }
            found = run(read_vectors(side, versions), conn)
    finally:
        engine.dispose()
    assert list(found) == [("docs", "a")]
    assert [row["field_name"] for row in found[("docs", "a")]] == ["text"]
    assert found[("docs", "a")][0]["embedding"] == struct.pack(
        f"<{DIMS}f", *fake_vector(DOCS["a"])
    )


def test_verification_finds_an_item_whose_vectors_went_missing(
    tmp_path: Path,
) -> None:
    """An item the target holds at the source's version, with vectors for
    only some of its fields, fails the verification; a rerun does not refill
    it (it has vectors), so only the report says so."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    target = f"sqlite:///{tmp_path / 'target.db'}"
    _fill_vectors(source, _counting_index([]))
    with SQLAlchemyStore.from_url(target, index=_counting_index([])) as store:
        store.setup()
    first = transfer(source, target, with_store=True)
    assert first.ok and first.store is not None and first.store.verified

    engine = sa.create_engine(target)
    table = VectorSide.of(engine.dialect).table
    try:
        with engine.begin() as conn:
            gone = conn.execute(
                sa.delete(table).where(
                    table.c.key == "g", table.c.field_name == "tags[*].0"
                )
            )
            assert gone.rowcount == 1
    finally:
        engine.dispose()

    second = transfer(source, target, with_store=True)
    assert second.store is not None and second.store.vectors_copied == 0
    assert second.store.verified is False and not second.ok
    assert second.store.mismatched == [("docs", "g")]
