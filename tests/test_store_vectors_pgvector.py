"""pgvector specifics: the search statement is served by the HNSW index at
100k items (EXPLAIN) with recall@10 >= 0.95 against exact search, filtered
searches read on through the index (iterative scans), the other index kinds
and types, configuration changes refused, and the official
``PostgresStore`` reading our vectors and we reading its."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from langgraph.checkpoint.sqlalchemy.dialects.vectors import VectorSchemaMismatch
from langgraph.store.sqlalchemy import SQLAlchemyStore

pytestmark = pytest.mark.postgres

DIMS = 8


def fake_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 127.5) / 127.5 for b in digest[:DIMS]]


def fake_embed(texts: Sequence[str]) -> list[list[float]]:
    return [fake_vector(t) for t in texts]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


@pytest.fixture
def db(pgvector_url: str) -> str:
    from servers.pgvector import create_extension
    from servers.postgres import fresh_database

    url = fresh_database(pgvector_url, "lgsa_pgv")
    create_extension(url)
    return url


def index(**extra: Any) -> dict[str, Any]:
    return {"dims": DIMS, "embed": fake_embed, "fields": ["text"], **extra}


def indexes(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'store_vectors'"
        ).all()
    engine.dispose()
    return dict(rows)  # type: ignore[arg-type]


# -- 100k items: the index serves the search -----------------------------------------

N = 100_000
BIG_DIMS = 16


@pytest.fixture(scope="module")
def big(pgvector_url: str) -> tuple[str, list[list[float]]]:
    """100k items with random 16-dimensional vectors, loaded with COPY (the
    index built after the load, as one would), analyzed."""
    import psycopg

    from servers.pgvector import create_extension
    from servers.postgres import _libpq_url, fresh_database

    url = fresh_database(pgvector_url, "lgsa_pgv_big")
    create_extension(url)
    rng = random.Random(20261204)
    vectors = [[rng.gauss(0, 1) for _ in range(BIG_DIMS)] for _ in range(N)]
    config = {
        "dims": BIG_DIMS,
        "embed": lambda texts: [[1.0] * BIG_DIMS for _ in texts],
        "fields": ["text"],
        "ann_index_config": {"ef_search": 100, "ef_construction": 32},
    }
    with SQLAlchemyStore.from_url(url, index=config) as store:
        store.setup()
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        conn.execute("DROP INDEX store_vectors_embedding_idx")
        # The graph in memory while it is built: a much faster build.
        conn.execute("ALTER DATABASE lgsa_pgv_big SET maintenance_work_mem = '512MB'")
        with conn.cursor().copy("COPY store (prefix, key, value) FROM STDIN") as copy:
            for i in range(N):
                value = json.dumps({"n": i, "rare": i % 100 == 0})
                copy.write_row((f"docs.{i % 10}", f"k{i}", value))
        with conn.cursor().copy(
            "COPY store_vectors (prefix, key, field_name, embedding) FROM STDIN"
        ) as copy:
            for i, v in enumerate(vectors):
                text = "[" + ",".join(f"{x:.7f}" for x in v) + "]"
                copy.write_row((f"docs.{i % 10}", f"k{i}", "text", text))
    with SQLAlchemyStore.from_url(url, index=config) as store:
        store.setup()  # builds the configured index again, on the loaded rows
    with psycopg.connect(_libpq_url(url), autocommit=True) as conn:
        conn.execute("ANALYZE store")
        conn.execute("ANALYZE store_vectors")
    return url, vectors


def _store(url: str, query: list[float]) -> SQLAlchemyStore:
    config = {
        "dims": BIG_DIMS,
        "embed": lambda texts: [query for _ in texts],
        "fields": ["text"],
        "ann_index_config": {"ef_search": 100, "ef_construction": 32},
    }
    return SQLAlchemyStore.from_url(url, index=config)


def _exact(
    vectors: list[list[float]], query: list[float], k: int, keep: Any = None
) -> list[int]:
    candidates = range(len(vectors)) if keep is None else filter(keep, range(N))
    return sorted(candidates, key=lambda i: -cosine(query, vectors[i]))[:k]


def test_the_search_statement_scans_the_hnsw_index(
    big: tuple[str, list[list[float]]],
) -> None:
    url, _ = big
    query = [random.Random(1).gauss(0, 1) for _ in range(BIG_DIMS)]
    with _store(url, query) as store:
        seen: list[tuple[str, Any]] = []

        def capture(
            conn: Any, cursor: Any, statement: str, params: Any, *_: Any
        ) -> None:
            if "store_vectors.embedding <=>" in statement:
                seen.append((statement, params))

        engine = store.bind
        sa.event.listen(engine, "before_cursor_execute", capture)
        found = store.search(("docs",), query="q", limit=10)
        assert len(found) == 10
        ((statement, params),) = seen
        with engine.begin() as conn:  # type: ignore[union-attr]
            plan = conn.exec_driver_sql("EXPLAIN " + statement, params).scalars().all()
    text = "\n".join(plan)
    assert "Index Scan using store_vectors_embedding_idx on store_vectors" in text, text


def test_recall_at_10_against_exact_search(big: tuple[str, list[list[float]]]) -> None:
    url, vectors = big
    rng = random.Random(2)
    hits = total = 0
    for _ in range(10):
        query = [rng.gauss(0, 1) for _ in range(BIG_DIMS)]
        with _store(url, query) as store:
            found = store.search(("docs",), query="q", limit=10)
        got = {int(item.key[1:]) for item in found}
        hits += len(got & set(_exact(vectors, query, 10)))
        total += 10
        # Scores are the cosine similarity, as PostgresStore's.
        best = max(found, key=lambda item: item.score or 0)
        assert best.score == pytest.approx(
            cosine(query, vectors[int(best.key[1:])]), abs=1e-5
        )
    assert hits / total >= 0.95


def test_a_filter_that_rejects_most_neighbours_still_fills_the_page(
    big: tuple[str, list[list[float]]],
) -> None:
    """1 item in 100 passes the filter: an index scan that stopped at
    ef_search candidates would return about one; pgvector 0.8's iterative
    scan (which the store turns on) reads on until the page is full."""
    url, vectors = big
    query = [random.Random(3).gauss(0, 1) for _ in range(BIG_DIMS)]
    with _store(url, query) as store:
        found = store.search(("docs",), query="q", filter={"rare": True}, limit=10)
    assert len(found) == 10
    assert all(item.value["rare"] is True for item in found)
    want = set(_exact(vectors, query, 10, keep=lambda i: i % 100 == 0))
    got = {int(item.key[1:]) for item in found}
    assert len(got & want) >= 9


def test_searches_after_the_first_are_one_statement_and_still_fill_the_page(
    big: tuple[str, list[list[float]]],
) -> None:
    """On its own engine the store sets the iterative scan and ef_search in
    each connection's session, once, so a search is its one statement,
    autocommitted; the filter that passes 1 item in 100 still fills the
    page, so the settings are in force."""
    url, vectors = big
    query = [random.Random(4).gauss(0, 1) for _ in range(BIG_DIMS)]
    want = set(_exact(vectors, query, 10, keep=lambda i: i % 100 == 0))
    with _store(url, query) as store:
        seen: list[str] = []
        sa.event.listen(
            store.bind,
            "before_cursor_execute",
            lambda conn, cursor, statement, *_: seen.append(statement),
        )
        for round in range(5):
            seen.clear()
            found = store.search(("docs",), query="q", filter={"rare": True}, limit=10)
            assert len(found) == 10
            assert len({int(item.key[1:]) for item in found} & want) >= 9
            if round >= 2:  # the first read the version, the second set the session
                assert len(seen) == 1, seen
                assert "store_vectors.embedding <=>" in seen[0]


def test_a_callers_engine_keeps_its_session_settings(db: str) -> None:
    """The sessions of an engine the caller made are theirs: there the
    store sets pgvector's settings in each search's transaction, for it
    alone; only on the engine from_url made does it set them in the session,
    once, and then search in one statement."""
    items = [(("docs",), f"k{i}", {"text": f"item {i}"}) for i in range(20)]

    def statements_per_search(store: SQLAlchemyStore) -> list[list[str]]:
        seen: list[str] = []
        sa.event.listen(
            store.bind,
            "before_cursor_execute",
            lambda conn, cursor, statement, *_: seen.append(statement),
        )
        per_search = []
        for _ in range(4):
            seen.clear()
            assert len(store.search(("docs",), query="item 3", limit=5)) == 5
            per_search.append(list(seen))
        return per_search

    engine = sa.create_engine(db, pool_size=1, max_overflow=0)
    try:
        with SQLAlchemyStore(engine, index=index()) as theirs:
            theirs.setup()
            for namespace, key, value in items:
                theirs.put(namespace, key, value)
            for statements in statements_per_search(theirs)[1:]:
                assert len(statements) == 2, statements
                assert "set_config" in statements[0]
        with engine.connect() as conn:
            # NULL: pgvector's library was not loaded in this session since
            # its last transaction, which set the parameter for itself only.
            setting = "SELECT current_setting('hnsw.iterative_scan', true)"
            assert conn.exec_driver_sql(setting).scalar() in (None, "", "off")
    finally:
        engine.dispose()
    with SQLAlchemyStore.from_url(db, index=index()) as ours:
        for statements in statements_per_search(ours)[2:]:
            assert len(statements) == 1, statements
            assert "store_vectors.embedding <=>" in statements[0]


def test_a_one_statement_search_still_refreshes_ttls(db: str) -> None:
    """A store without a TTL configuration searches in one autocommitted
    statement, and an item put with a ttl it finds still gets its expiry
    pushed back (a second statement, run only then)."""
    with SQLAlchemyStore.from_url(db, index=index()) as store:
        store.setup()
        for i in range(5):
            store.put(("docs",), f"k{i}", {"text": f"item {i}"}, ttl=10)
        for _ in range(3):  # the version read, then the session set
            store.search(("docs",), query="item 3", limit=5, refresh_ttl=False)
        with store.bind.begin() as conn:  # type: ignore[union-attr]
            conn.exec_driver_sql(
                "UPDATE store SET expires_at = now() + interval '1 minute'"
            )
        found = store.search(("docs",), query="item 3", limit=5)
        assert len(found) == 5
        with store.bind.connect() as conn:  # type: ignore[union-attr]
            left = conn.exec_driver_sql(
                "SELECT min(expires_at - now()) FROM store"
            ).scalar()
        assert left is not None and left.total_seconds() > 9 * 60


# -- one statement per shape ----------------------------------------------------------


@pytest.mark.fast_path
@pytest.mark.parametrize("kind", ["hnsw", "flat"])
def test_searches_of_one_shape_run_compiled_with_their_own_values(
    db: str, kind: str
) -> None:
    """The statement of a ranked search is built once per shape (prefix or
    not, the filter's operators and kinds of value) and run on the cursor,
    compiled (no execution context); each search still finds exactly what
    its own prefix, filter values, limit and offset say. Labels holding
    LIKE's wildcards and its escape character match only themselves."""
    labels = ["a%", "ab", "a_", "a/", "a//"]
    items: dict[tuple[tuple[str, ...], str], dict[str, Any]] = {}
    for i in range(30):
        namespace = (labels[i % len(labels)],) + (("sub",) if i % 3 == 0 else ())
        value = {"text": f"item {i}", "n": i, "tag": "even" if i % 2 == 0 else "odd"}
        value["meta"] = {"group": i % 4}
        items[(namespace, f"k{i}")] = value
    query = "item 7"
    wanted = fake_vector(query)

    def expected(
        prefix: tuple[str, ...], keep: Any, limit: int, offset: int
    ) -> list[str]:
        found = [
            (key, cosine(wanted, fake_vector(value["text"])))
            for (namespace, key), value in items.items()
            if namespace[: len(prefix)] == prefix and keep(value)
        ]
        found.sort(key=lambda entry: -entry[1])
        return [key for key, _ in found[offset : offset + limit]]

    # (prefix, filter, what it keeps): the searches of each group share a shape.
    groups: list[list[tuple[tuple[str, ...], dict[str, Any] | None, Any]]] = [
        [((label,), None, lambda v: True) for label in labels],
        [
            (
                (),
                {"n": {"$gte": n}, "tag": tag},
                lambda v, n=n, t=tag: v["n"] >= n and v["tag"] == t,
            )
            for n, tag in [(3, "odd"), (10, "even"), (25, "odd")]
        ],
        [
            (
                (label,),
                {"meta": {"group": g}, "tag": {"$ne": "odd"}},
                lambda v, g=g: v["meta"]["group"] == g and v["tag"] != "odd",
            )
            for label, g in [("a%", 0), ("a_", 2), ("ab", 0)]
        ],
        [
            ((), {"tag": {"$lt": t}}, lambda v, t=t: v["tag"] < t)
            for t in ["even", "odd", "zzz"]
        ],
    ]
    contexts: list[Any] = []
    with SQLAlchemyStore.from_url(
        db, index=index(ann_index_config={"kind": kind})
    ) as store:
        store.setup()
        for (namespace, key), value in items.items():
            store.put(namespace, key, value)
        sa.event.listen(
            store.bind,
            "before_cursor_execute",
            lambda conn, cursor, statement, params, context, many: (
                contexts.append(context)
                if "store_vectors.embedding <=>" in statement
                else None
            ),
        )
        for group in groups:
            for limit, offset in [(4, 0), (3, 1), (10, 2)]:
                for prefix, filter, keep in group:
                    contexts.clear()
                    found = store.search(
                        prefix, query=query, filter=filter, limit=limit, offset=offset
                    )
                    assert [item.key for item in found] == expected(
                        prefix, keep, limit, offset
                    ), (prefix, filter, limit, offset)
                    assert len(contexts) == 1
                    # Compiled by the store (once per shape), run on the
                    # cursor: no execution context.
                    assert contexts[0] is None


# -- index kinds and types ---------------------------------------------------------


@pytest.mark.parametrize(
    ("ann", "indexdef"),
    [
        ({}, "USING hnsw (embedding vector_cosine_ops)"),
        ({"m": 8, "ef_construction": 32}, "WITH (m='8', ef_construction='32')"),
        ({"vector_type": "halfvec"}, "USING hnsw (embedding halfvec_cosine_ops)"),
        (
            {"kind": "ivfflat", "nlist": 2, "probes": 2},
            "USING ivfflat (embedding vector_cosine_ops) WITH (lists='2')",
        ),
        ({"kind": "flat"}, None),
    ],
)
def test_index_kinds_and_types(
    db: str, ann: dict[str, Any], indexdef: str | None
) -> None:
    with SQLAlchemyStore.from_url(db, index=index(ann_index_config=ann)) as store:
        store.setup()
        texts = [f"text number {i}" for i in range(30)]
        for i, text in enumerate(texts):
            store.put(("d",), f"k{i}", {"text": text})
        found = store.search(("d",), query=texts[7], limit=3)
        assert found[0].key == "k7"
        assert found[0].score == pytest.approx(1.0, abs=2e-3)  # halfvec rounds
    made = indexes(db).get("store_vectors_embedding_idx")
    if indexdef is None:
        assert made is None
    else:
        assert made is not None and indexdef in made


def test_dims_above_pgvectors_index_limit_name_the_way_out(db: str) -> None:
    wide = {"dims": 3072, "embed": lambda t: [[1.0] * 3072 for _ in t]}
    with (
        SQLAlchemyStore.from_url(db, index=wide) as store,
        pytest.raises(ValueError, match="halfvec"),
    ):
        store.setup()
    halved = {**wide, "ann_index_config": {"vector_type": "halfvec"}}
    with SQLAlchemyStore.from_url(db, index=halved) as store:
        store.setup()
        store.put(("d",), "k", {"x": "y"})
        assert store.search(("d",), query="y")[0].key == "k"


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"distance_type": "l2"}, "DROP INDEX store_vectors_embedding_idx"),
        ({"ann_index_config": {"kind": "ivfflat"}}, "DROP INDEX"),
        ({"ann_index_config": {"vector_type": "halfvec"}}, "halfvec"),
    ],
)
def test_a_changed_index_configuration_is_refused(
    db: str, changed: dict[str, Any], message: str
) -> None:
    with SQLAlchemyStore.from_url(db, index=index()) as store:
        store.setup()
        store.put(("d",), "k", {"text": "x"})
    with (
        SQLAlchemyStore.from_url(db, index=index(**changed)) as store,
        pytest.raises(VectorSchemaMismatch, match=message),
    ):
        store.setup()
    with SQLAlchemyStore.from_url(db, index=index()) as store:
        store.setup()
        assert store.search(("d",), query="x")[0].key == "k"


def test_changed_dims_on_an_empty_table_are_refused_too(db: str) -> None:
    with SQLAlchemyStore.from_url(db, index=index()) as store:
        store.setup()
    wider = {"dims": 12, "embed": lambda t: [[1.0] * 12 for _ in t]}
    with (
        SQLAlchemyStore.from_url(db, index=wider) as store,
        pytest.raises(VectorSchemaMismatch, match=r"vector\(8\)"),
    ):
        store.setup()


# -- the official PostgresStore ------------------------------------------------------


@pytest.fixture
def official(db: str) -> Iterator[Any]:
    postgres_store = pytest.importorskip("langgraph.store.postgres")
    from servers.postgres import _libpq_url

    with postgres_store.PostgresStore.from_conn_string(
        _libpq_url(db), index=index()
    ) as store:
        yield store


def test_we_search_what_the_official_store_embedded(db: str, official: Any) -> None:
    official.setup()
    texts = {f"k{i}": f"official text {i}" for i in range(12)}
    for key, text in texts.items():
        official.put(("o", "x"), key, {"text": text, "i": int(key[1:])})
    with SQLAlchemyStore.from_url(db, index=index()) as ours:
        ours.setup()  # adopts the official tables as they are
        found = ours.search(("o",), query=texts["k5"], limit=3)
        theirs = official.search(("o",), query=texts["k5"], limit=3)
        assert [i.key for i in found] == [i.key for i in theirs]
        assert [i.score for i in found] == pytest.approx(
            [i.score for i in theirs], abs=1e-5
        )
        filtered = ours.search(("o",), query=texts["k5"], filter={"i": {"$gt": 5}})
        assert "k5" not in {i.key for i in filtered}


def test_the_official_store_searches_what_we_embedded(db: str, official: Any) -> None:
    with SQLAlchemyStore.from_url(db, index=index()) as ours:
        ours.setup()
        texts = {f"k{i}": f"our text {i}" for i in range(12)}
        for key, text in texts.items():
            ours.put(("o",), key, {"text": text})
        mine = ours.search(("o",), query=texts["k3"], limit=4)
    official.setup()  # finds the tables and index it would have made
    theirs = official.search(("o",), query=texts["k3"], limit=4)
    assert [i.key for i in theirs] == [i.key for i in mine]
    assert theirs[0].key == "k3"
    assert theirs[0].score == pytest.approx(1.0, abs=1e-5)


def test_vectors_live_in_the_stores_schema(db: str) -> None:
    with SQLAlchemyStore.from_url(db, schema="agents", index=index()) as store:
        store.setup()
        store.put(("d",), "k", {"text": "in a schema"})
        assert store.search(("d",), query="in a schema")[0].key == "k"
        store.setup()  # checks the existing table in that schema: it matches
    wider = {"dims": 12, "embed": lambda t: [[1.0] * 12 for _ in t]}
    with (
        SQLAlchemyStore.from_url(db, schema="agents", index=wider) as store,
        pytest.raises(VectorSchemaMismatch, match=r"agents\.store_vectors"),
    ):
        store.setup()
    engine = sa.create_engine(db)
    with engine.connect() as conn:
        where = (
            conn.exec_driver_sql(
                "SELECT schemaname FROM pg_tables WHERE tablename = 'store_vectors'"
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert where == ["agents"]


def test_setup_creates_the_extension(pgvector_url: str) -> None:
    from servers.postgres import fresh_database

    url = fresh_database(pgvector_url, "lgsa_pgv_bare")  # no CREATE EXTENSION
    with SQLAlchemyStore.from_url(url, index=index()) as store:
        store.setup()
        store.put(("d",), "k", {"text": "x"})
        assert store.search(("d",), query="x")[0].key == "k"
