"""Vector search in the memory store, on real databases: PostgreSQL with
pgvector (``servers/pgvector.py``), SQLite with sqlite-vec (loaded through
pysqlite3 where this Python's sqlite3 can't load extensions) and without it
(exact search in Python), and MariaDB (exact search in Python), through both
faces. Rankings and scores are checked against an exact computation here."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp, SearchOp

from langgraph.checkpoint.sqlalchemy.dialects.pgvector import PgVectorOps
from langgraph.checkpoint.sqlalchemy.dialects.sqlite_vec import (
    SqliteVecOps,
    can_load_extensions,
)
from langgraph.checkpoint.sqlalchemy.dialects.vectors import (
    VectorOps,
    VectorSchemaMismatch,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors import (
    texts_to_embed,
    vector_config,
)
from langgraph.store.sqlalchemy import AsyncSQLAlchemyStore, SQLAlchemyStore

DIMS = 8
SRC = Path(__file__).resolve().parents[1] / "src"


def fake_vector(text: str, dims: int = DIMS) -> list[float]:
    """A deterministic vector per text (hash-based), never all zero."""
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 127.5) / 127.5 for b in digest[:dims]]


def fake_embed(texts: Sequence[str]) -> list[list[float]]:
    return [fake_vector(t) for t in texts]


async def afake_embed(texts: Sequence[str]) -> list[list[float]]:
    return fake_embed(texts)


def similarity(a: Sequence[float], b: Sequence[float], distance: str) -> float:
    """The score each store returns: higher is closer."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    if distance == "inner_product":
        return dot
    if distance == "l2":
        return -math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def expected(
    docs: dict[str, list[str]], query: str, distance: str = "cosine"
) -> list[tuple[str, float]]:
    """(key, score) best first: each item scores its best text, ties by key."""
    q = fake_vector(query)
    scored = [
        (key, max(similarity(q, fake_vector(t), distance) for t in texts))
        for key, texts in docs.items()
        if texts
    ]
    return sorted(scored, key=lambda e: (-e[1], e[0]))


# -- the databases ---------------------------------------------------------------

VECTOR_BACKENDS = ["pgvector", "sqlite-vec", "sqlite-exact", "mariadb"]


@dataclass
class VectorBackend:
    name: str
    sync_url: str
    async_url: str
    force_exact: bool = False

    def store(self, **kwargs: Any) -> SQLAlchemyStore:
        if self.force_exact:
            engine = sa.create_engine(self.sync_url)
            store = SQLAlchemyStore(engine, force_exact=True, **kwargs)
            store._owned_engine = engine
        else:
            store = SQLAlchemyStore.from_url(self.sync_url, **kwargs)
        store.setup()
        return store

    async def astore(self, **kwargs: Any) -> AsyncSQLAlchemyStore:
        if self.force_exact:
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(self.async_url)
            store = AsyncSQLAlchemyStore(engine, force_exact=True, **kwargs)
            store._owned_engine = engine
        else:
            store = AsyncSQLAlchemyStore.from_url(self.async_url, **kwargs)
        await store.setup()
        return store


@pytest.fixture(params=VECTOR_BACKENDS)
def vbackend(request: pytest.FixtureRequest, tmp_path: Path) -> VectorBackend:
    """One empty database per test: a dimension is part of the schema."""
    if request.param == "pgvector":
        from servers.pgvector import create_extension
        from servers.postgres import fresh_database

        url = fresh_database(request.getfixturevalue("pgvector_url"), "lgsa_vt")
        create_extension(url)
        return VectorBackend("pgvector", url, url)
    if request.param == "mariadb":
        from servers.mariadb import fresh_database as fresh_mariadb

        url = fresh_mariadb(request.getfixturevalue("mariadb_url"), "lgsa_vt")
        return VectorBackend("mariadb", url, url.replace("+pymysql", "+asyncmy"))
    path = tmp_path / "store.db"
    return VectorBackend(
        request.param,
        f"sqlite:///{path}",
        f"sqlite+aiosqlite:///{path}",
        force_exact=request.param == "sqlite-exact",
    )


class Face:
    """One store through one face (``await face.put(...)`` on both)."""

    def __init__(self, store: SQLAlchemyStore | AsyncSQLAlchemyStore) -> None:
        self.store = store
        self.is_async = isinstance(store, AsyncSQLAlchemyStore)

    def __getattr__(self, name: str) -> Any:
        if not self.is_async:
            method = getattr(self.store, name)

            async def call(*args: Any, **kwargs: Any) -> Any:
                return method(*args, **kwargs)

            return call
        return getattr(self.store, "a" + name)


Opener = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
async def open_face(
    request: pytest.FixtureRequest, vbackend: VectorBackend
) -> AsyncIterator[Opener]:
    """``await open_face(index=...)``: a set-up store through one face,
    closed after the test."""
    opened: list[Any] = []

    async def open_(**kwargs: Any) -> Face:
        if request.param == "sync":
            store: Any = vbackend.store(**kwargs)
        else:
            kwargs["index"] = {**kwargs["index"], "embed": afake_embed}
            store = await vbackend.astore(**kwargs)
        opened.append(store)
        return Face(store)

    try:
        yield open_
    finally:
        for store in opened:
            if isinstance(store, AsyncSQLAlchemyStore):
                await store.aclose()
            else:
                store.close()


def index(**extra: Any) -> dict[str, Any]:
    return {"dims": DIMS, "embed": fake_embed, "fields": ["text"], **extra}


def method_of(store: SQLAlchemyStore | AsyncSQLAlchemyStore) -> type[VectorOps]:
    assert store._vectors is not None
    return type(store._vectors.ops)


# -- search on every backend, both faces ------------------------------------------

DOCS = {
    "apple": "apples are red fruit",
    "pear": "pears grow on trees",
    "car": "cars need fuel",
    "boat": "boats float on water",
    "plane": "planes fly high",
    "tree": "trees grow slowly",
    "fish": "fish swim in water",
}


async def test_search_ranks_as_exact_search(
    open_face: Opener, vbackend: VectorBackend
) -> None:
    face = await open_face(index=index())
    wanted_method = {
        "pgvector": PgVectorOps,
        "sqlite-vec": SqliteVecOps,
        "sqlite-exact": VectorOps,
        "mariadb": VectorOps,
    }[vbackend.name]
    if (
        vbackend.name == "sqlite-vec"
        and face.is_async
        and not can_load_extensions(sqlite3)
    ):
        wanted_method = VectorOps  # aiosqlite has no sqlite3 that loads it
    assert issubclass(method_of(face.store), wanted_method)
    for i, (key, text) in enumerate(DOCS.items()):
        await face.put(("docs", "a" if i % 2 else "b"), key, {"text": text, "i": i})
    query = "red fruit on trees"
    want = expected({k: [t] for k, t in DOCS.items()}, query)

    found = await face.search(("docs",), query=query, limit=4)
    assert [item.key for item in found] == [k for k, _ in want[:4]]
    for item, (_, score) in zip(found, want, strict=False):
        assert item.score == pytest.approx(score, abs=1e-5)

    page = await face.search(("docs",), query=query, limit=3, offset=2)
    assert [item.key for item in page] == [k for k, _ in want[2:5]]

    # Filters and the namespace prefix in the same search as the ranking.
    in_a = {k for i, k in enumerate(DOCS) if i % 2}
    found = await face.search(("docs", "a"), query=query, limit=10)
    assert [i.key for i in found] == [k for k, _ in want if k in in_a]
    found = await face.search(("docs",), query=query, filter={"i": {"$gte": 3}})
    assert [i.key for i in found] == [k for k, _ in want if DOCS_INDEX[k] >= 3]
    assert await face.search(("other",), query=query) == []

    # Without a query: the plain search, no scores.
    plain = await face.search(("docs",), limit=20)
    assert len(plain) == len(DOCS) and all(i.score is None for i in plain)


DOCS_INDEX = {k: i for i, k in enumerate(DOCS)}


async def test_items_follow_their_latest_put(open_face: Opener) -> None:
    face = await open_face(index=index(fields=["text", "tags[*]"]))
    ns = ("m",)
    await face.put(ns, "multi", {"text": "alpha", "tags": ["beta", "gamma"]})
    await face.put(ns, "single", {"text": "delta"})
    # The best of an item's vectors (tags[*] gives one per tag) is its score.
    found = await face.search(ns, query="gamma")
    assert found[0].key == "multi"
    assert found[0].score == pytest.approx(1.0, abs=1e-5)
    assert {i.key for i in found} == {"multi", "single"}  # each item once

    # A put replaces the item's vectors: "gamma" is no longer one of them.
    await face.put(ns, "multi", {"text": "alpha", "tags": ["beta"]})
    found = await face.search(ns, query="gamma")
    scores = {i.key: i.score for i in found}
    want = dict(expected({"multi": ["alpha", "beta"], "single": ["delta"]}, "gamma"))
    assert scores == pytest.approx(want, abs=1e-5)

    # index=False takes an item out of semantic search (but not of the store).
    await face.put(ns, "multi", {"text": "gamma"}, index=False)
    assert [i.key for i in await face.search(ns, query="gamma")] == ["single"]
    assert (await face.get(ns, "multi")).value == {"text": "gamma"}

    # A list of fields embeds those for this put only.
    await face.put(ns, "other", {"text": "zeta", "title": "gamma"}, index=["title"])
    found = await face.search(ns, query="gamma")
    assert found[0].key == "other"
    assert found[0].score == pytest.approx(1.0, abs=1e-5)

    # A deleted item is gone from the ranking too.
    await face.delete(ns, "other")
    assert [i.key for i in await face.search(ns, query="gamma")] == ["single"]


async def test_batch_embeds_the_last_put_and_answers_each_query(
    open_face: Opener,
) -> None:
    face = await open_face(index=index())
    ns = ("b",)
    results = await face.batch(
        [
            PutOp(ns, "k", {"text": "first"}),
            PutOp(ns, "k", {"text": "second"}),
            PutOp(ns, "j", {"text": "third"}),
        ]
    )
    assert results == [None, None, None]
    results = await face.batch(
        [SearchOp(ns, query="second", limit=1), SearchOp(ns, query="third", limit=1)]
    )
    assert [[i.key for i in r] for r in results] == [["k"], ["j"]]
    assert results[0][0].score == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("distance", ["l2", "inner_product"])
async def test_other_distances_score_as_postgres_store_does(
    vbackend: VectorBackend, distance: str
) -> None:
    with vbackend.store(index=index(distance_type=distance)) as store:
        for key, text in DOCS.items():
            store.put(("d",), key, {"text": text})
        query = "water and trees"
        want = expected({k: [t] for k, t in DOCS.items()}, query, distance)
        found = store.search(("d",), query=query, limit=len(DOCS))
        assert [i.key for i in found] == [k for k, _ in want]
        assert [i.score for i in found] == pytest.approx([s for _, s in want], abs=1e-4)


class LetterCounts(Embeddings):
    """A small real ``Embeddings``: how often each of DIMS letters occurs."""

    letters = "aeiourst"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [float(text.count(c)) + 0.01 for c in self.letters]


async def test_a_langchain_embeddings_class(vbackend: VectorBackend) -> None:
    with vbackend.store(index={"dims": DIMS, "embed": LetterCounts()}) as store:
        store.put(("d",), "vowels", {"text": "aeiou aeiou"})
        store.put(("d",), "rest", {"text": "rst rst rst"})
        # fields defaults to "$": the whole value, as JSON, is embedded.
        assert store._vectors is not None
        assert store._vectors.config.fields == ("$",)
        found = store.search(("d",), query="street rats")
        assert [i.key for i in found] == ["rest", "vowels"]


async def test_changing_dims_is_a_clear_error(vbackend: VectorBackend) -> None:
    with vbackend.store(index=index()) as store:
        store.put(("d",), "k", {"text": "x"})
    other = {
        "dims": DIMS * 2,
        "embed": lambda texts: [fake_vector(t, DIMS * 2) for t in texts],
    }
    with pytest.raises(VectorSchemaMismatch, match=r"dims.*16.*8") as raised:
        vbackend.store(index=other)
    assert "DROP TABLE store_vectors" in str(raised.value)
    # The old configuration still works; nothing was changed.
    with vbackend.store(index=index()) as store:
        assert store.search(("d",), query="x")[0].key == "k"


async def test_a_model_of_the_wrong_length_is_refused(vbackend: VectorBackend) -> None:
    short = {"dims": DIMS, "embed": lambda texts: [[1.0, 2.0] for _ in texts]}
    with vbackend.store(index=short) as store:
        with pytest.raises(ValueError, match="2 dimensions but the index has dims=8"):
            store.put(("d",), "k", {"x": "y"})
        assert store.get(("d",), "k") is None  # nothing written
    broken = {"dims": DIMS, "embed": lambda texts: [None for _ in texts]}
    with (
        vbackend.store(index=broken) as store,
        pytest.raises(TypeError, match=r"list of numbers.*embed"),
    ):
        store.search(("d",), query="anything")


def test_swept_items_leave_no_vectors(vbackend: VectorBackend) -> None:
    with vbackend.store(index=index()) as store:
        store.put(("d",), "short", {"text": "x"}, ttl=1)
        store.put(("d",), "long", {"text": "y"})
        later = store._now() + timedelta(minutes=2)
        store._now = lambda: later  # type: ignore[method-assign]
        assert store.sweep_ttl() == 1
        assert store._vectors is not None
        table = store._vectors.table
        with store.bind.connect() as conn:  # type: ignore[union-attr]
            keys = conn.execute(sa.select(table.c.key)).scalars().all()
        assert keys == ["long"]


# -- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"dims": 0, "embed": fake_embed}, "positive int"),
        ({"dims": "8", "embed": fake_embed}, "positive int"),
        ({"dims": 8}, "embed'] is required"),
        ({"dims": 8, "embed": fake_embed, "fields": "text"}, "list of JSON paths"),
        ({"dims": 8, "embed": fake_embed, "distance_type": "dot"}, "distance_type"),
        ({"dims": 8, "embed": fake_embed, "dimensions": 8}, "unknown keys"),
        (
            {"dims": 8, "embed": fake_embed, "ann_index_config": {"kind": "lsh"}},
            "kind",
        ),
        (
            {
                "dims": 8,
                "embed": fake_embed,
                "ann_index_config": {"vector_type": "bit"},
            },
            "vector_type",
        ),
        (
            {"dims": 8, "embed": fake_embed, "ann_index_config": {"nlist": 4}},
            "does not take",
        ),
        (
            {"dims": 8, "embed": fake_embed, "ann_index_config": {"m": -1}},
            "positive int",
        ),
    ],
)
def test_bad_index_configs_are_refused(config: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        vector_config(config)


def test_postgres_store_index_configs_are_read() -> None:
    config = vector_config(
        {
            "dims": 8,
            "embed": fake_embed,
            "fields": ["text", "tags[*]"],
            "distance_type": "inner_product",
            "ann_index_config": {
                "kind": "ivfflat",
                "vector_type": "halfvec",
                "nlist": 4,
            },
        }
    )
    assert config is not None
    assert config.fields == ("text", "tags[*]")
    assert (config.index_kind, config.vector_type) == ("ivfflat", "halfvec")
    assert config.index_params == (("lists", 4),)


def test_texts_follow_paths_and_put_options() -> None:
    puts = [
        PutOp(("n",), "a", {"text": "t", "tags": ["x", "y"], "n": 1}),
        PutOp(("n",), "b", {"text": "u"}, index=["missing", "text"]),
        PutOp(("n",), "c", {"text": "v"}, index=False),
        PutOp(("n",), "d", None),
    ]
    found = [
        (r.key, r.field_name, r.text) for r in texts_to_embed(puts, ("text", "tags[*]"))
    ]
    assert found == [
        ("a", "text", "t"),
        ("a", "tags[*].0", "x"),
        ("a", "tags[*].1", "y"),
        ("b", "text", "u"),
    ]


# -- SQLite: which route, and why -------------------------------------------------


@pytest.mark.skipif(
    can_load_extensions(sqlite3), reason="this Python's sqlite3 loads extensions"
)
def test_an_engine_that_cannot_load_sqlite_vec_names_the_fix(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(ValueError, match=r"module=pysqlite3\.dbapi2"):
        SQLAlchemyStore(engine, index=index())
    engine.dispose()
    # The engine the message names works, with sqlite-vec.
    import pysqlite3.dbapi2 as pysqlite3  # type: ignore[import-untyped]

    engine = sa.create_engine(f"sqlite:///{tmp_path / 's.db'}", module=pysqlite3)
    store = SQLAlchemyStore(engine, index=index())
    store.setup()
    assert method_of(store) is SqliteVecOps
    store.put(("d",), "k", {"text": "hello"})
    assert store.search(("d",), query="hello")[0].score == pytest.approx(1.0)
    engine.dispose()


@pytest.mark.skipif(
    can_load_extensions(sqlite3), reason="this Python's sqlite3 loads extensions"
)
async def test_aiosqlite_without_extensions_searches_exactly_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from langgraph.checkpoint.sqlalchemy.dialects import sqlite_vec

    sqlite_vec._warned.clear()
    with caplog.at_level(logging.WARNING, "langgraph.store.sqlalchemy"):
        store = AsyncSQLAlchemyStore.from_url(
            f"sqlite:///{tmp_path / 's.db'}", index=index(embed=afake_embed)
        )
    try:
        assert method_of(store) is VectorOps
        assert "without sqlite-vec" in caplog.text
        assert "enable_load_extension" in caplog.text
        await store.setup()
        await store.aput(("d",), "k", {"text": "hello"})
        await store.aput(("d",), "j", {"text": "world"})
        found = await store.asearch(("d",), query="hello")
        assert [i.key for i in found] == ["k", "j"]
    finally:
        await store.aclose()


def test_without_sqlite_vec_the_store_searches_exactly_and_names_the_extra(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As if the ``sqlite-vec`` package were not installed."""
    from langgraph.checkpoint.sqlalchemy.dialects import sqlite_vec

    installed = sqlite_vec._installed
    monkeypatch.setattr(
        sqlite_vec, "_installed", lambda name: name != "sqlite_vec" and installed(name)
    )
    monkeypatch.setattr(sqlite_vec, "_warned", set())
    with caplog.at_level(logging.WARNING, "langgraph.store.sqlalchemy"):
        store = SQLAlchemyStore.from_url(
            f"sqlite:///{tmp_path / 's.db'}", index=index()
        )
    with store:
        assert method_of(store) is VectorOps
        assert "sqlite-vec is not installed" in caplog.text
        assert "[sqlite-vec]" in caplog.text
        store.setup()
        for key, text in DOCS.items():
            store.put(("d",), key, {"text": text})
        want = expected({k: [t] for k, t in DOCS.items()}, "trees")
        found = store.search(("d",), query="trees", limit=3)
        assert [i.key for i in found] == [k for k, _ in want[:3]]


def _debian_python() -> str | None:
    """A python3 of this minor version whose sqlite3 can load extensions
    (Debian's /usr/bin/python3 can; pyenv's builds can't)."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None or os.path.realpath(python) == os.path.realpath(sys.executable):
        return None
    probe = subprocess.run(
        [
            python,
            "-c",
            "import sqlite3, sys; print(sys.version_info[:2] == "
            f"{tuple(sys.version_info[:2])!r} and "
            "hasattr(sqlite3.Connection, 'enable_load_extension'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return python if probe.stdout.strip() == "True" else None


_IN_DEBIAN_PYTHON = """
import sys
from langgraph.store.sqlalchemy import SQLAlchemyStore
from langgraph.checkpoint.sqlalchemy.dialects.sqlite_vec import SqliteVecOps

def embed(texts):
    return [[float(len(t)), 1.0, float(t.count("a"))] for t in texts]

with SQLAlchemyStore.from_url(sys.argv[1], index={"dims": 3, "embed": embed}) as s:
    s.setup()
    assert type(s._vectors.ops) is SqliteVecOps, type(s._vectors.ops)
    assert s.bind.dialect.dbapi.__name__.startswith("sqlite3"), s.bind.dialect.dbapi
    s.put(("d",), "a", {"text": "aaaa"})
    s.put(("d",), "b", {"text": "bbbbbbbbbbbb"})
    print([i.key for i in s.search(("d",), query="aaab")])


async def through_aiosqlite():
    from langgraph.store.sqlalchemy import AsyncSQLAlchemyStore

    url = sys.argv[1].replace("sqlite:", "sqlite+aiosqlite:")
    async with AsyncSQLAlchemyStore.from_url(url, index={"dims": 3, "embed": embed}) as s:
        await s.setup()
        assert type(s._vectors.ops) is SqliteVecOps, type(s._vectors.ops)
        found = await s.asearch(("d",), query="bbbbbbbbbbba")
        print([i.key for i in found])

import asyncio
asyncio.run(through_aiosqlite())
"""


def test_sqlite_vec_through_the_standard_sqlite3(tmp_path: Path) -> None:
    """On a Python whose own sqlite3 loads extensions (Debian's), the store
    loads sqlite-vec into it, with no pysqlite3, sync and through aiosqlite.
    Run in that interpreter, on this run's packages (same minor version, so
    the same wheels)."""
    python = _debian_python()
    if python is None:
        pytest.skip("no other python3 of this version that loads extensions")
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        "PYTHONPATH": os.pathsep.join([str(SRC), *site]),
    }
    out = subprocess.run(
        [python, "-c", _IN_DEBIAN_PYTHON, f"sqlite:///{tmp_path / 'd.db'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['a',", "'b']", "['b',", "'a']"]


def test_the_official_sqlite_store_and_ours_share_vectors(tmp_path: Path) -> None:
    """One SQLite file: ours ranks the official ``SqliteStore``'s vectors
    exactly as it does, and it finds what ours embedded."""
    official = pytest.importorskip("langgraph.store.sqlite")
    if can_load_extensions(sqlite3):
        connect: Any = sqlite3.connect
    else:
        import pysqlite3.dbapi2 as pysqlite3  # type: ignore[import-untyped]

        connect = pysqlite3.connect
    path = tmp_path / "shared.db"
    conn = connect(str(path), check_same_thread=False, isolation_level=None)
    theirs = official.SqliteStore(conn, index=index())
    theirs.setup()
    for key, text in DOCS.items():
        theirs.put(("o",), key, {"text": text})
    query = "fish and boats"
    with SQLAlchemyStore.from_url(f"sqlite:///{path}", index=index()) as ours:
        ours.setup()  # adopts their tables
        mine = ours.search(("o",), query=query, limit=4)
        expected_order = theirs.search(("o",), query=query, limit=4)
        assert [i.key for i in mine] == [i.key for i in expected_order]
        assert [i.score for i in mine] == pytest.approx(
            [i.score for i in expected_order], abs=1e-5
        )
        ours.put(("o",), "ours", {"text": "written by ours"})
    found = theirs.search(("o",), query="written by ours", limit=1)
    assert found[0].key == "ours"
    assert found[0].score == pytest.approx(1.0, abs=1e-5)
    conn.close()
