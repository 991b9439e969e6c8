"""The memory store on every backend, through both faces: the whole
``BaseStore`` API, filters in SQL, namespace matching that never treats a
label as a pattern, and hostile input."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    PutOp,
    SearchOp,
)

from langgraph.store.sqlalchemy import AsyncSQLAlchemyStore, SQLAlchemyStore

from conftest import Backend


class Face:
    """One store through one face: ``await face.put(...)`` calls ``put`` on
    the sync store, ``aput`` on the async one (``setup`` is ``setup`` on
    both, awaited on the async one)."""

    def __init__(self, store: SQLAlchemyStore | AsyncSQLAlchemyStore) -> None:
        self.store = store
        self.is_async = isinstance(store, AsyncSQLAlchemyStore)

    def __getattr__(self, name: str) -> Any:
        if not self.is_async:
            method = getattr(self.store, name)

            async def call(*args: Any, **kwargs: Any) -> Any:
                return method(*args, **kwargs)

            return call
        if name in ("setup",):
            return getattr(self.store, name)
        return getattr(self.store, "a" + name)


@pytest.fixture(params=["sync", "async"])
async def face(request: pytest.FixtureRequest, backend: Backend) -> AsyncIterator[Face]:
    if request.param == "sync":
        sync = backend.store()
        try:
            yield Face(sync)
        finally:
            sync.close()
    else:
        store = await backend.astore()
        try:
            yield Face(store)
        finally:
            await store.aclose()


# -- the basics ----------------------------------------------------------------


async def test_put_get_update_delete(face: Face) -> None:
    assert await face.get(("users", "1"), "profile") is None
    await face.put(("users", "1"), "profile", {"name": "Ada", "n": 1})
    first = await face.get(("users", "1"), "profile")
    assert first is not None
    assert first.value == {"name": "Ada", "n": 1}
    assert first.namespace == ("users", "1") and first.key == "profile"
    await face.put(("users", "1"), "profile", {"name": "Ada", "n": 2})
    second = await face.get(("users", "1"), "profile")
    assert second.value == {"name": "Ada", "n": 2}
    assert second.created_at == first.created_at  # an update keeps its birth
    assert second.updated_at >= first.updated_at
    await face.delete(("users", "1"), "profile")
    assert await face.get(("users", "1"), "profile") is None
    await face.delete(("users", "1"), "never-there")  # no error


async def test_batch_reads_first_then_writes_last_one_wins(face: Face) -> None:
    ns = ("b",)
    await face.put(ns, "k", {"v": 0})
    results = await face.batch(
        [
            PutOp(ns, "k", {"v": 1}),
            GetOp(ns, "k"),
            PutOp(ns, "k", {"v": 2}),
            SearchOp(ns),
            PutOp(ns, "gone", None),
            ListNamespacesOp(),
        ]
    )
    assert results[0] is None and results[2] is None and results[4] is None
    assert results[1].value == {"v": 0}  # the batch's reads see the store before it
    assert [i.value for i in results[3]] == [{"v": 0}]
    assert results[5] == [("b",)]
    assert (await face.get(ns, "k")).value == {"v": 2}


async def test_values_round_trip(face: Face) -> None:
    value = {
        "text": "héllo ✓ 'quoted' \"double\"",
        "n": 3,
        "f": 2.5,
        "flag": True,
        "none": None,
        "list": [1, "two", {"three": 3}],
        "nested": {"a": {"b": {"c": [True, False]}}},
    }
    await face.put(("v",), "k", value)
    assert (await face.get(("v",), "k")).value == value


# -- search --------------------------------------------------------------------


async def _fill(face: Face) -> None:
    items = {
        ("docs", "a"): {"n": 1, "s": "apple", "tag": "x", "obj": {"k": [1, 2]}},
        ("docs", "b"): {"n": 5, "s": "banana", "tag": "y"},
        ("docs", "c"): {"n": 10.5, "s": "cherry", "tag": "x"},
        ("docs", "d"): {"n": "7", "s": 7, "tag": "z"},  # types swapped
        ("other", "e"): {"n": 3, "s": "date"},
    }
    for (top, key), value in items.items():
        await face.put((top, "sub"), key, value)


async def _keys(face: Face, prefix: tuple[str, ...], **kwargs: Any) -> set[str]:
    return {i.key for i in await face.search(prefix, limit=100, **kwargs)}


async def test_search_filters_run_in_sql(face: Face) -> None:
    await _fill(face)
    docs = ("docs",)
    assert await _keys(face, docs) == {"a", "b", "c", "d"}
    assert await _keys(face, ()) == {"a", "b", "c", "d", "e"}
    assert await _keys(face, docs, filter={"tag": "x"}) == {"a", "c"}
    assert await _keys(face, docs, filter={"tag": {"$eq": "x"}}) == {"a", "c"}
    # $ne also matches an item without the key (as LangGraph's InMemoryStore)
    assert await _keys(face, (), filter={"tag": {"$ne": "x"}}) == {"b", "d", "e"}
    # numbers order as numbers (10.5 > 5), never a string "7"
    assert await _keys(face, docs, filter={"n": {"$gt": 4}}) == {"b", "c"}
    assert await _keys(face, docs, filter={"n": {"$gte": 5}}) == {"b", "c"}
    assert await _keys(face, docs, filter={"n": {"$lt": 5}}) == {"a"}
    assert await _keys(face, docs, filter={"n": {"$lte": 5}}) == {"a", "b"}
    assert await _keys(face, docs, filter={"n": {"$gt": 1, "$lt": 10}}) == {"b"}
    # strings order as strings, never the number 7
    assert await _keys(face, docs, filter={"s": {"$gt": "banana"}}) == {"c"}
    assert await _keys(face, docs, filter={"s": {"$lte": "banana"}}) == {"a", "b"}
    # 1 equals 1.0, as in JSON; objects and arrays by equality
    assert await _keys(face, docs, filter={"n": 1.0}) == {"a"}
    assert await _keys(face, docs, filter={"obj": {"k": [1, 2]}}) == {"a"}
    assert await _keys(face, docs, filter={"obj": {"k": [1]}}) == set()
    await face.put(("docs", "sub"), "z", {"pair": {"b": 1, "a": {"y": 2, "x": 1}}})
    for pair in ({"b": 1, "a": {"y": 2, "x": 1}}, {"a": {"x": 1, "y": 2}, "b": 1}):
        assert await _keys(face, docs, filter={"pair": pair}) == {"z"}
        assert "z" not in await _keys(face, docs, filter={"pair": {"$ne": pair}})
    assert await _keys(face, docs, filter={"tag": "x", "n": {"$gt": 2}}) == {"c"}
    assert await _keys(face, docs, filter={"missing": "x"}) == set()


async def test_search_pages_are_ordered_and_never_overlap(face: Face) -> None:
    await face.batch([PutOp(("p",), f"k{i}", {"i": i}) for i in range(7)])
    pages = []
    for offset in range(0, 8, 3):
        page = await face.search(("p",), limit=3, offset=offset)
        pages.append([i.key for i in page])
    flat = [k for page in pages for k in page]
    assert len(flat) == 7 and set(flat) == {f"k{i}" for i in range(7)}
    assert [len(p) for p in pages] == [3, 3, 1]
    # newest first
    await face.put(("p",), "k3", {"i": 33})
    assert [i.key for i in await face.search(("p",), limit=1)] == ["k3"]


async def test_hostile_filter_keys_are_just_keys(face: Face) -> None:
    nasty = "a'); DROP TABLE store; --"
    await face.put(("h",), "k", {nasty: 1, 'q"uote\\': "v", "$dollar": 2})
    assert await _keys(face, ("h",), filter={nasty: 1}) == {"k"}
    assert await _keys(face, ("h",), filter={'q"uote\\': "v"}) == {"k"}
    assert await _keys(face, ("h",), filter={nasty: {"$gte": 1}}) == {"k"}
    assert await face.get(("h",), "k") is not None  # the table is still there
    with pytest.raises(ValueError, match="unsupported operator"):
        await face.search(("h",), filter={"x": {"$regex": "."}})
    with pytest.raises(TypeError, match="compares with a number or a str"):
        await face.search(("h",), filter={"x": {"$gt": [1]}})


# -- namespaces: labels are never patterns --------------------------------------


LABELS = ["a%", "a_", "a\\", "a\\%", "ab", "a"]


async def test_wildcard_characters_in_labels_match_only_themselves(face: Face) -> None:
    for label in LABELS:
        await face.put((label, "x"), "k", {"label": label})
    for label in LABELS:
        found = await face.search((label,), limit=100)
        assert [i.value["label"] for i in found] == [label], label
        listed = await face.list_namespaces(prefix=(label,))
        assert listed == [(label, "x")], label
    assert await face.list_namespaces(suffix=("x",), limit=100) == sorted(
        (label, "x") for label in LABELS
    )
    # a prefix is a whole label: ("a",) is not ("ab",)'s prefix
    assert await _keys(face, ("a",)) == {"k"}
    assert [i.value["label"] for i in await face.search(("a",))] == ["a"]


async def test_list_namespaces_conditions(face: Face) -> None:
    for ns in [
        ("users", "1", "prefs"),
        ("users", "2", "prefs"),
        ("users", "2", "notes"),
        ("docs", "v1"),
        ("docs", "draft", "v1"),
    ]:
        await face.put(ns, "k", {})
    everything = await face.list_namespaces()
    assert everything == sorted(everything) and len(everything) == 5
    assert await face.list_namespaces(prefix=("users",)) == [
        ("users", "1", "prefs"),
        ("users", "2", "notes"),
        ("users", "2", "prefs"),
    ]
    assert await face.list_namespaces(prefix=("users", "*", "prefs")) == [
        ("users", "1", "prefs"),
        ("users", "2", "prefs"),
    ]
    assert await face.list_namespaces(suffix=("v1",)) == [
        ("docs", "draft", "v1"),
        ("docs", "v1"),
    ]
    assert await face.list_namespaces(suffix=("*", "v1")) == [
        ("docs", "draft", "v1"),
        ("docs", "v1"),
    ]
    assert await face.list_namespaces(prefix=("docs",), suffix=("draft", "*")) == [
        ("docs", "draft", "v1")
    ]
    assert await face.list_namespaces(max_depth=1) == [("docs",), ("users",)]
    assert await face.list_namespaces(prefix=("users",), max_depth=2) == [
        ("users", "1"),
        ("users", "2"),
    ]
    assert await face.list_namespaces(limit=2, offset=1) == everything[1:3]
    assert await face.list_namespaces(prefix=("nobody",)) == []


# -- hostile input: clear errors, nothing lost -----------------------------------


async def test_hostile_namespaces_and_keys(face: Face, backend: Backend) -> None:
    await face.put(("safe",), "keep", {"v": 1})
    bad_namespaces: list[Any] = [
        (),
        ("",),
        ("a", ""),
        ("a.b",),
        ("nul\x00",),
        ("ok", 3),
    ]
    for ns in bad_namespaces:
        with pytest.raises(InvalidNamespaceError):
            await face.batch([PutOp(ns, "k", {"v": 1})])
    with pytest.raises(TypeError, match="tuple of str labels"):
        await face.batch([PutOp("users", "k", {"v": 1})])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NUL"):
        await face.batch([PutOp(("a",), "k\x00", {"v": 1})])
    with pytest.raises(TypeError, match="key must be a str"):
        await face.batch([PutOp(("a",), 5, {"v": 1})])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="value must be a dict"):
        await face.batch([PutOp(("a",), "k", "text")])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="can't represent"):
        await face.put(("a",), "k", {"x": float("nan")})
    with pytest.raises(TypeError, match="JSON keys are str"):
        await face.put(("a",), "k", {1: "x"})
    with pytest.raises(InvalidNamespaceError, match="reserved"):
        await face.batch([PutOp(("langgraph", "x"), "k", {})])
    with pytest.raises(ValueError, match="ttl"):
        await face.batch([PutOp(("a",), "k", {}, ttl=-1)])
    with pytest.raises(TypeError, match="ops must be an iterable"):
        await face.batch("not ops")
    # A batch with one bad op writes nothing of it.
    with pytest.raises(InvalidNamespaceError):
        await face.batch([PutOp(("a",), "good", {"v": 1}), PutOp(("",), "k", {})])
    assert await face.get(("a",), "good") is None
    # 10k characters: stored where keys are TEXT, a clear error where bounded.
    huge = "k" * 10_000
    if backend.database == "postgres":
        await face.put(("a",), huge, {"v": 1})
        assert (await face.get(("a",), huge)).key == huge
        await face.put(("x" * 10_000,), "k", {"v": 1})
    else:
        with pytest.raises(ValueError, match="at most 255"):
            await face.put(("a",), huge, {"v": 1})
        with pytest.raises(ValueError, match="at most 500"):
            await face.put(("x" * 10_000,), "k", {"v": 1})
    # Deep JSON: too deep for Python's JSON walk is a clear error.
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(100_000):
        cursor["d"] = {}
        cursor = cursor["d"]
    with pytest.raises(ValueError, match="nested too deeply"):
        await face.put(("a",), "deep", deep)
    assert (await face.get(("safe",), "keep")).value == {"v": 1}


async def test_moderately_deep_json(face: Face, backend: Backend) -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(30):
        deep = {"d": deep}
    await face.put(("deep",), "k", deep)
    assert (await face.get(("deep",), "k")).value == deep
    deeper = {"d": {"d": {"d": deep}}}
    if backend.database == "mariadb":
        with pytest.raises(ValueError, match="more than 32 levels"):
            await face.put(("deep",), "k", deeper)
        assert (await face.get(("deep",), "k")).value == deep
    else:
        await face.put(("deep",), "k", deeper)
        assert (await face.get(("deep",), "k")).value == deeper


async def test_a_large_value(face: Face) -> None:
    big = {"blob": "x" * 2_000_000, "list": list(range(10_000))}
    await face.put(("big",), "k", big)
    assert (await face.get(("big",), "k")).value == big


# -- the async store's batching and threads --------------------------------------


async def test_concurrent_async_calls_are_batched(astore: AsyncSQLAlchemyStore) -> None:
    await asyncio.gather(*(astore.aput(("c",), f"k{i}", {"i": i}) for i in range(30)))
    items = await asyncio.gather(*(astore.aget(("c",), f"k{i}") for i in range(30)))
    assert [item.value["i"] for item in items] == list(range(30))


async def test_async_store_sync_methods_from_worker_threads(
    astore: AsyncSQLAlchemyStore,
) -> None:
    def in_thread() -> Any:
        astore.put(("t",), "k", {"v": 1})
        return astore.get(("t",), "k")

    item = await asyncio.to_thread(in_thread)
    assert item.value == {"v": 1}
    assert await asyncio.to_thread(astore.search, ("t",)) != []
    with pytest.raises(asyncio.InvalidStateError):
        astore.get(("t",), "k")
    with pytest.raises(asyncio.InvalidStateError):
        astore.sweep_ttl()


# -- binds ---------------------------------------------------------------------


def test_a_connection_in_a_transaction_takes_part(backend: Backend) -> None:
    if backend.name == "sqlite-memory":
        pytest.skip("one in-memory database per connection")
    backend.store().close()  # the table
    with SQLAlchemyStore.from_url(backend.sync_url) as owner:
        engine = owner.bind
        with engine.connect() as conn:  # type: ignore[union-attr]
            with conn.begin() as tx:
                store = SQLAlchemyStore(conn)
                store.put(("tx",), "k", {"v": 1})
                assert store.get(("tx",), "k") is not None
                tx.rollback()
            assert SQLAlchemyStore(conn).get(("tx",), "k") is None
        assert owner.get(("tx",), "k") is None


def test_reads_do_not_wait_for_a_writer_on_sqlite(tmp_path: Any) -> None:
    """A get or search takes no writer's lock (SQLite's ``BEGIN IMMEDIATE``)
    when nothing it read carries a TTL: it answers while another connection
    holds the write lock."""
    url = f"sqlite:///{tmp_path / 'reads.db'}"
    with SQLAlchemyStore.from_url(url) as store:
        store.setup()
        store.put(("r",), "k", {"v": 1})
        blocker = sqlite3.connect(tmp_path / "reads.db", isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            blocker.execute("UPDATE store SET value = value")
            item = store.get(("r",), "k")
            assert item is not None and item.value == {"v": 1}
            assert [i.key for i in store.search(("r",))] == ["k"]
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


def test_constructor_errors() -> None:
    with pytest.raises(TypeError, match="Engine or Connection"):
        SQLAlchemyStore("sqlite://")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="default_ttl"):
        SQLAlchemyStore.from_url("sqlite://", ttl={"default_ttl": -1})
    with pytest.raises(ValueError, match="unknown keys"):
        SQLAlchemyStore.from_url("sqlite://", ttl={"ttl": 1})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(ValueError, match="schema"):
        SQLAlchemyStore.from_url("sqlite://", schema="")


def test_schema_keeps_the_table_apart(postgres_url: str) -> None:
    import uuid

    schema = f"mem_{uuid.uuid4().hex[:8]}"
    with (
        SQLAlchemyStore.from_url(postgres_url, schema=schema) as inside,
        SQLAlchemyStore.from_url(postgres_url) as outside,
    ):
        inside.setup()
        outside.setup()
        inside.put(("s",), "k", {"v": 1})
        assert inside.get(("s",), "k") is not None
        assert outside.get(("s",), "k") is None


def test_equality_filters_use_the_value_index(postgres_url: str) -> None:
    """On PostgreSQL a scalar equality filter is also JSONB containment,
    which the GIN index (``store_value_path_idx``) answers; the results stay
    those of equality (``{"tags": ["a"]}`` contains but is not ``["a", "b"]``)."""
    import uuid

    from sqlalchemy import event

    from servers.postgres import drop_database, fresh_database

    name = f"gin_{uuid.uuid4().hex[:10]}"
    url = fresh_database(postgres_url, name)
    try:
        with SQLAlchemyStore.from_url(url) as store:
            store.setup()
            store.batch(
                [
                    PutOp(("f", str(i % 10)), f"k{i}", {"kind": f"k{i % 50}", "n": i})
                    for i in range(500)
                ]
            )
            store.put(("f",), "tags", {"kind": "t", "tags": ["a", "b"]})
            sent: list[tuple[str, Any]] = []

            @event.listens_for(store.bind, "before_cursor_execute")
            def capture(*args: Any) -> None:
                sent.append((args[2], args[3]))

            found = store.search(("f",), filter={"kind": "k7", "n": 57}, limit=50)
            assert [item.key for item in found] == ["k57"]
            assert store.search(("f",), filter={"tags": ["a"]}) == []
            assert [
                i.key for i in store.search(("f",), filter={"tags": ["a", "b"]})
            ] == ["tags"]
            statement, params = next(s for s in sent if "@>" in s[0])
            with store.bind.connect() as conn:  # type: ignore[union-attr]
                cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                # Whether the index *can* serve the filter, at any table size.
                cursor.execute("SET enable_seqscan = off")
                cursor.execute("EXPLAIN " + statement, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "store_value_path_idx" in plan, plan
    finally:
        drop_database(postgres_url, name)
