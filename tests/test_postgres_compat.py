"""Switching in place with langgraph-checkpoint-postgres, and back.

On PostgreSQL our tables are the official saver's, column for column, so a team
can move a running deployment from ``PostgresSaver`` to ``SQLAlchemySaver`` (or
back) without migrating data. These tests prove it with real compiled graphs
that stop at an ``interrupt()`` under one saver and are resumed under the other:

* the graph API (``get_state``, ``get_state_history``) shows the same thing
  through either saver, and so does the saver API (``get_tuple``, ``list`` with
  ``filter``/``before``/``limit``);
* each saver's ``setup()`` leaves the other's tables as they are;
* both write the same rows: primitive channel values inline in the checkpoint
  document, the rest in ``checkpoint_blobs``, pending writes alike;
* the two ``setup()``s make the same columns, keys and indexes.

Each test gets a database of its own on the session's PostgreSQL server (see
``servers/postgres.py``); without a server they skip, and fail under CI=true,
as conftest's ``postgres_url`` does.
"""

from __future__ import annotations

import dataclasses
import operator
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Set
from typing import Annotated, Any

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from sqlalchemy.ext.asyncio import create_async_engine
from typing_extensions import NotRequired, TypedDict

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.migrate import VERSION_TABLE

from servers.postgres import drop_database, fresh_database

pytestmark = pytest.mark.postgres

# Ours beside the official tables: the version record, and the checkpoint TTL
# side table (expiries and pins; revision lgcp0003).
OUR_OWN_TABLES = {VERSION_TABLE, "checkpoint_ttl"}

TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
OFFICIAL_BOOKKEEPING = "checkpoint_migrations"
OUR_EXTRA_INDEXES = {"checkpoints_metadata_gin_idx"}
# The official saver's, which ours drops (revision lgcp0002): every primary key
# starts with thread_id, so they only cost writes.
OFFICIAL_THREAD_ID_INDEXES = {
    "checkpoints_thread_id_idx",
    "checkpoint_blobs_thread_id_idx",
    "checkpoint_writes_thread_id_idx",
}


# -- databases -----------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server(postgres_url: str) -> str:
    """A URL to create databases through, on the server behind ``postgres_url``.

    Taken from conftest's fixture, so a missing server skips here too, and fails
    under CI=true. The session's own database serves as the maintenance
    database: CREATE DATABASE works from any of them, and a server from
    TEST_POSTGRES_URL need not have one called ``postgres``.
    """
    return postgres_url


def _new_database(server: str, prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    return name, fresh_database(server, name)


@pytest.fixture
def database(pg_server: str) -> Iterator[str]:
    """A database of its own for one test (a SQLAlchemy URL)."""
    name, url = _new_database(pg_server, "compat")
    yield url
    drop_database(pg_server, name)


@pytest.fixture
def two_databases(pg_server: str) -> Iterator[tuple[str, str]]:
    """Two databases: one for the official saver, one for ours."""
    theirs_name, theirs = _new_database(pg_server, "theirs")
    ours_name, ours = _new_database(pg_server, "ours")
    yield theirs, ours
    drop_database(pg_server, theirs_name)
    drop_database(pg_server, ours_name)


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as psycopg's own connection string (for the official
    savers): the same server and database, no ``+psycopg``."""
    return (
        sa.engine.make_url(url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


# -- the graph -----------------------------------------------------------------


class Chat(TypedDict):
    # A list of dicts: serialized into checkpoint_blobs.
    messages: Annotated[list[dict[str, Any]], operator.add]
    # Primitives: inlined in the checkpoint document.
    turns: int
    mood: str
    score: float
    reply: NotRequired[str]


class Ask(TypedDict):
    """The subgraph's state: what it shares with the parent, and notes of its
    own that the parent never sees."""

    turns: int
    reply: str
    notes: Annotated[list[dict[str, Any]], operator.add]


def _graph(
    checkpointer: BaseCheckpointSaver[Any], *, nested: bool, calls: Counter[str]
) -> Any:
    """greet, then ask (interrupts) and research in parallel, then close.

    research finishes in the step where ask interrupts, so its writes wait as
    pending writes beside the interrupt, and resuming must not run it again.
    With ``nested`` ask is a subgraph, whose checkpoints live in a namespace
    of their own (``ask:<task id>``).
    """

    def greet(state: Chat) -> dict[str, Any]:
        calls["greet"] += 1
        return {
            "messages": [{"role": "ai", "content": "hello", "meta": {"n": [1, 2]}}],
            "turns": state["turns"] + 1,
            "mood": "curious",
            "score": 0.5,
        }

    def research(state: Chat) -> dict[str, Any]:
        calls["research"] += 1
        return {"messages": [{"role": "tool", "content": "facts"}]}

    def ask(state: Chat) -> dict[str, Any]:
        calls["ask"] += 1
        reply = interrupt({"question": "how are you?", "turns": state["turns"]})
        return {"reply": reply, "turns": state["turns"] + 1}

    def ask_inside(state: Ask) -> dict[str, Any]:
        return {**ask(state), "notes": [{"n": 1}]}  # type: ignore[arg-type]

    def close(state: Chat) -> dict[str, Any]:
        calls["close"] += 1
        return {
            "messages": [
                {"role": "user", "content": state["reply"]},
                {"role": "ai", "content": "bye"},
            ],
            "mood": "done",
        }

    builder = StateGraph(Chat)
    builder.add_node("greet", greet)
    builder.add_node("research", research)
    if nested:
        inner = StateGraph(Ask)
        inner.add_node("ask", ask_inside)
        inner.add_edge(START, "ask")
        inner.add_edge("ask", END)
        builder.add_node("ask", inner.compile())
    else:
        builder.add_node("ask", ask)
    builder.add_node("close", close)
    builder.add_edge(START, "greet")
    builder.add_edge("greet", "ask")
    builder.add_edge("greet", "research")
    builder.add_edge(["ask", "research"], "close")
    builder.add_edge("close", END)
    return builder.compile(checkpointer=checkpointer)


THREAD = "switching-thread"
CONFIG: dict[str, Any] = {"configurable": {"thread_id": THREAD}}
# Runs also carry metadata of their own, which lands in every checkpoint's.
RUN_CONFIG: dict[str, Any] = {**CONFIG, "metadata": {"team": "blue"}}
ROOT: dict[str, Any] = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}
START_STATE = {
    "messages": [{"role": "user", "content": "hi"}],
    "turns": 0,
    "mood": "new",
    "score": 0.0,
}
ANSWER = "fine, thanks"
INTERRUPTED_VALUES = {
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "ai", "content": "hello", "meta": {"n": [1, 2]}},
        {"role": "tool", "content": "facts"},
    ],
    "turns": 1,
    "mood": "curious",
    "score": 0.5,
}
FINAL_VALUES = {
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "ai", "content": "hello", "meta": {"n": [1, 2]}},
        {"role": "tool", "content": "facts"},
        {"role": "user", "content": ANSWER},
        {"role": "ai", "content": "bye"},
    ],
    "turns": 2,
    "mood": "done",
    "score": 0.5,
    "reply": ANSWER,
}
# ask runs again on resume; nothing else does.
FINAL_CALLS = {"greet": 1, "research": 1, "ask": 2, "close": 1}
FILTERS: list[dict[str, Any]] = [
    {"source": "loop"},
    {"step": 1},
    {"source": "input", "step": -1},
    {"team": "blue"},
    {"parents": {}},
    {"source": "loop", "team": "red"},
]


# -- what a user sees ----------------------------------------------------------


def _observe(graph: Any) -> dict[str, Any]:
    """The thread through the graph API: the state (subgraphs included) and the
    history, newest first."""
    return {
        "state": graph.get_state(CONFIG, subgraphs=True),
        "history": list(graph.get_state_history(CONFIG)),
    }


async def _aobserve(graph: Any) -> dict[str, Any]:
    return {
        "state": await graph.aget_state(CONFIG, subgraphs=True),
        "history": [s async for s in graph.aget_state_history(CONFIG)],
    }


def _saver_view(saver: BaseCheckpointSaver[Any]) -> dict[str, Any]:
    """The thread through the saver API: every checkpoint of every namespace,
    each looked up on its own, and listings by namespace, filter, before and
    limit."""
    everything = list(saver.list(None))
    middle = everything[len(everything) // 2].config
    view: dict[str, Any] = {
        "all": everything,
        "latest": saver.get_tuple(CONFIG),
        "each": [saver.get_tuple(t.config) for t in everything],
        "thread": list(saver.list(CONFIG)),
        "root": list(saver.list(ROOT)),
        "before": list(saver.list(CONFIG, before=middle)),
        "limit": list(saver.list(ROOT, limit=2)),
    }
    for f in FILTERS:
        view[f"filter {f}"] = list(saver.list(CONFIG, filter=f))
    return view


async def _asaver_view(saver: BaseCheckpointSaver[Any]) -> dict[str, Any]:
    everything = [t async for t in saver.alist(None)]
    middle = everything[len(everything) // 2].config
    view: dict[str, Any] = {
        "all": everything,
        "latest": await saver.aget_tuple(CONFIG),
        "each": [await saver.aget_tuple(t.config) for t in everything],
        "thread": [t async for t in saver.alist(CONFIG)],
        "root": [t async for t in saver.alist(ROOT)],
        "before": [t async for t in saver.alist(CONFIG, before=middle)],
        "limit": [t async for t in saver.alist(ROOT, limit=2)],
    }
    for f in FILTERS:
        view[f"filter {f}"] = [t async for t in saver.alist(CONFIG, filter=f)]
    return view


def _check_interrupted(seen: dict[str, Any], view: dict[str, Any]) -> None:
    """What the thread looks like stopped at the interrupt, whoever reads it."""
    state = seen["state"]
    assert state.values == INTERRUPTED_VALUES
    assert state.next == ("ask",)
    assert [i.value for i in state.interrupts] == [
        {"question": "how are you?", "turns": 1}
    ]
    # input, greet's step, the step that stopped (the root namespace only)
    assert [s.metadata["step"] for s in seen["history"]] == [1, 0, -1]
    assert all(s.metadata["team"] == "blue" for s in seen["history"])
    # research's writes wait beside ask's interrupt
    latest: CheckpointTuple = view["latest"]
    waiting = {(w[1], str(w[2])) for w in latest.pending_writes or []}
    assert ("messages", str([{"role": "tool", "content": "facts"}])) in waiting
    assert "__interrupt__" in {channel for channel, _ in waiting}
    # metadata filters select something, and the right things
    assert [t.metadata["step"] for t in view["filter {'step': 1}"]] == [1]
    assert view["filter {'team': 'blue'}"] == view["thread"]
    assert view["filter {'source': 'loop', 'team': 'red'}"] == []


def _check_finished(final: dict[str, Any], calls: Counter[str]) -> None:
    assert {k: v for k, v in final.items() if k != "__interrupt__"} == FINAL_VALUES
    assert "__interrupt__" not in final
    assert dict(calls) == FINAL_CALLS


# -- what is in the database ---------------------------------------------------


def _engine_query(url: str, sql: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _check_storage(url: str) -> None:
    """Primitive channel values sit inline in the checkpoint document, the
    messages in checkpoint_blobs, and there are pending writes."""
    [latest] = _engine_query(
        url,
        "SELECT checkpoint -> 'channel_values' AS inline FROM checkpoints "
        f"WHERE thread_id = '{THREAD}' AND checkpoint_ns = '' "
        "ORDER BY checkpoint_id DESC LIMIT 1",
    )
    assert {"turns": 1, "mood": "curious", "score": 0.5}.items() <= latest[
        "inline"
    ].items()
    assert "messages" not in latest["inline"]
    blobs = _engine_query(url, "SELECT channel, type FROM checkpoint_blobs")
    assert {"channel": "messages", "type": "msgpack"} in blobs
    writes = _engine_query(url, "SELECT channel FROM checkpoint_writes")
    assert {"channel": "__interrupt__"} in writes


def _schema(url: str) -> dict[str, Any]:
    """Tables, columns (in order: name, type, nullable, default), primary keys,
    indexes and constraints, as PostgreSQL reports them."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            described: dict[str, Any] = {}
            for table in sorted(inspector.get_table_names()):
                pk = inspector.get_pk_constraint(table)
                described[table] = {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"], c["default"])
                        for c in inspector.get_columns(table)
                    ],
                    "pk": (pk["name"], pk["constrained_columns"]),
                    "indexes": {
                        ix["name"]: (
                            ix["column_names"],
                            ix["unique"],
                            ix.get("dialect_options", {}).get("postgresql_using"),
                        )
                        for ix in inspector.get_indexes(table)
                    },
                    "unique": inspector.get_unique_constraints(table),
                    "foreign_keys": inspector.get_foreign_keys(table),
                    "checks": inspector.get_check_constraints(table),
                }
            return described
    finally:
        engine.dispose()


def _contents(url: str) -> dict[str, Any]:
    """Every row of the checkpoint tables, and the official saver's migration
    versions if it has set up here."""
    tables = {
        t: _engine_query(url, f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4") for t in TABLES
    }
    if _engine_query(url, f"SELECT to_regclass('{OFFICIAL_BOOKKEEPING}') AS t")[0]["t"]:
        tables[OFFICIAL_BOOKKEEPING] = _engine_query(
            url, f"SELECT v FROM {OFFICIAL_BOOKKEEPING} ORDER BY v"
        )
    return tables


def _assert_changed(
    before: dict[str, Any],
    after: dict[str, Any],
    tables: set[str],
    added: Set[str] = frozenset(),
    dropped: Set[str] = frozenset(),
) -> None:
    """``after`` is ``before`` plus ``tables``, with exactly the indexes
    ``added`` and ``dropped``: no column, key or other index changed."""
    assert set(after) == set(before) | tables
    were_added: set[str] = set()
    were_dropped: set[str] = set()
    for table, was in before.items():
        now = after[table]
        assert {**now, "indexes": None} == {**was, "indexes": None}, table
        kept = set(was["indexes"]) & set(now["indexes"])
        assert {k: now["indexes"][k] for k in kept} == {
            k: was["indexes"][k] for k in kept
        }, table
        were_added |= set(now["indexes"]) - set(was["indexes"])
        were_dropped |= set(was["indexes"]) - set(now["indexes"])
    assert (were_added, were_dropped) == (added, dropped)


# UUIDs (checkpoint and task IDs), 128-bit hex hashes (interrupt IDs), channel
# versions and timestamps differ from run to run; everything else must not.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HASH = re.compile(r"\b[0-9a-f]{32}\b")
_VERSION = re.compile(r"^(\d{32})\..+$")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


class _Normalizer:
    """Replaces run-specific strings by tokens in order of first appearance, so
    two runs of one graph compare equal exactly when their rows have the same
    shape and the same references between them."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def _token(self, match: re.Match[str]) -> str:
        return self.tokens.setdefault(match.group(0), f"<id{len(self.tokens)}>")

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            if m := _VERSION.match(value):
                return f"<v{int(m.group(1))}>"
            if _TIMESTAMP.match(value):
                return "<ts>"
            return _HASH.sub(self._token, _UUID.sub(self._token, value))
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self(v) for v in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {
                f.name: self(getattr(value, f.name)) for f in dataclasses.fields(value)
            }
            return (type(value).__name__, fields)
        return value


def _rows(url: str) -> dict[str, Any]:
    """The checkpoint tables' rows, normalized (see ``_Normalizer``), with the
    serialized values decoded."""
    serde = JsonPlusSerializer()
    norm = _Normalizer()

    def load(row: dict[str, Any]) -> Any:
        return norm(serde.loads_typed((row["type"], row["blob"] or b"")))

    def decoded(row: dict[str, Any]) -> dict[str, Any]:
        return {
            **norm({k: v for k, v in row.items() if k != "blob"}),
            "value": load(row),
        }

    # Checkpoint IDs are time-ordered: this is the order the run made them in,
    # and the order tokens are handed out in.
    raw = _engine_query(url, "SELECT * FROM checkpoints ORDER BY checkpoint_id")
    order = {row["checkpoint_id"]: i for i, row in enumerate(raw)}
    checkpoints = [norm(row) for row in raw]
    # Task IDs are hashes: order a checkpoint's writes by task path instead.
    raw = _engine_query(url, "SELECT * FROM checkpoint_writes")
    raw.sort(key=lambda w: (order[w["checkpoint_id"]], w["task_path"], w["idx"]))
    writes = [decoded(row) for row in raw]
    raw = _engine_query(url, "SELECT * FROM checkpoint_blobs")
    blobs = sorted((decoded(row) for row in raw), key=repr)
    return {"checkpoints": checkpoints, "blobs": blobs, "writes": writes}


NESTED = pytest.mark.parametrize("nested", [False, True], ids=["flat", "subgraph"])


# -- official -> ours -> official ----------------------------------------------


@NESTED
def test_official_then_ours(database: str, nested: bool) -> None:
    calls: Counter[str] = Counter()
    with PostgresSaver.from_conn_string(_libpq(database)) as official:
        official.setup()
        graph = _graph(official, nested=nested, calls=calls)
        stopped = graph.invoke(START_STATE, RUN_CONFIG)
        assert [i.value for i in stopped["__interrupt__"]] == [
            {"question": "how are you?", "turns": 1}
        ]
        seen, view = _observe(graph), _saver_view(official)
    _check_interrupted(seen, view)
    _check_storage(database)
    schema, contents = _schema(database), _contents(database)

    engine = sa.create_engine(database)
    try:
        ours = SQLAlchemySaver(engine)
        ours.setup()  # adopts the official tables: no column or row changes
        _assert_changed(
            schema,
            _schema(database),
            OUR_OWN_TABLES,
            added=OUR_EXTRA_INDEXES,
            dropped=OFFICIAL_THREAD_ID_INDEXES,
        )
        assert _contents(database) == contents
        adopted = _schema(database)
        ours.setup()  # and again: nothing to do
        assert _schema(database) == adopted

        graph = _graph(ours, nested=nested, calls=calls)
        assert _observe(graph) == seen
        assert _saver_view(ours) == view
        final = graph.invoke(Command(resume=ANSWER), RUN_CONFIG)
        _check_finished(final, calls)
        assert graph.get_state(CONFIG).next == ()
        seen, view = _observe(graph), _saver_view(ours)
    finally:
        engine.dispose()

    # And back: the official saver reads what ours wrote, after its own setup()
    # found nothing to do.
    with PostgresSaver.from_conn_string(_libpq(database)) as official:
        official.setup()
        assert _schema(database) == adopted
        graph = _graph(official, nested=nested, calls=calls)
        assert _observe(graph) == seen
        assert _saver_view(official) == view


# -- ours -> official -> ours --------------------------------------------------


@NESTED
def test_ours_then_official(database: str, nested: bool) -> None:
    calls: Counter[str] = Counter()
    with SQLAlchemySaver.from_url(database) as ours:
        ours.setup()
        graph = _graph(ours, nested=nested, calls=calls)
        graph.invoke(START_STATE, RUN_CONFIG)
        seen, view = _observe(graph), _saver_view(ours)
    _check_interrupted(seen, view)
    _check_storage(database)
    schema, contents = _schema(database), _contents(database)

    with PostgresSaver.from_conn_string(_libpq(database)) as official:
        official.setup()  # its migrations run over our tables
        # They add their thread_id indexes back (which ours leaves alone
        # from then on: its own revisions are done).
        _assert_changed(
            schema,
            _schema(database),
            {OFFICIAL_BOOKKEEPING},
            added=OFFICIAL_THREAD_ID_INDEXES,
        )
        assert {k: v for k, v in _contents(database).items() if k in TABLES} == contents
        adopted = _schema(database)
        official.setup()  # and again
        assert _schema(database) == adopted

        graph = _graph(official, nested=nested, calls=calls)
        assert _observe(graph) == seen
        assert _saver_view(official) == view
        final = graph.invoke(Command(resume=ANSWER), RUN_CONFIG)
        _check_finished(final, calls)
        seen, view = _observe(graph), _saver_view(official)

    # And back: ours reads what the official saver wrote.
    with SQLAlchemySaver.from_url(database) as ours:
        ours.setup()
        assert _schema(database) == adopted
        graph = _graph(ours, nested=nested, calls=calls)
        assert _observe(graph) == seen
        assert _saver_view(ours) == view


# -- the same rows -------------------------------------------------------------


@NESTED
def test_both_write_the_same_rows(two_databases: tuple[str, str], nested: bool) -> None:
    """One graph, run to its interrupt and resumed, once under each saver in a
    database of its own: the rows match but for IDs, versions and times."""
    theirs, ours_url = two_databases
    calls: Counter[str] = Counter()
    with PostgresSaver.from_conn_string(_libpq(theirs)) as official:
        official.setup()
        graph = _graph(official, nested=nested, calls=calls)
        graph.invoke(START_STATE, RUN_CONFIG)
        stopped_theirs = _rows(theirs)
        _check_finished(graph.invoke(Command(resume=ANSWER), RUN_CONFIG), calls)
    calls.clear()
    with SQLAlchemySaver.from_url(ours_url) as ours:
        ours.setup()
        graph = _graph(ours, nested=nested, calls=calls)
        graph.invoke(START_STATE, RUN_CONFIG)
        stopped_ours = _rows(ours_url)
        _check_finished(graph.invoke(Command(resume=ANSWER), RUN_CONFIG), calls)

    assert stopped_ours == stopped_theirs
    assert _rows(ours_url) == _rows(theirs)


# -- the schema ----------------------------------------------------------------

KNOWN_TYPES = {"TEXT", "JSONB", "BYTEA", "INTEGER"}


def _set_up_both(
    two_databases: tuple[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    theirs, ours_url = two_databases
    with PostgresSaver.from_conn_string(_libpq(theirs)) as official:
        official.setup()
    with SQLAlchemySaver.from_url(ours_url) as ours:
        ours.setup()
    return _schema(theirs), _schema(ours_url)


def test_same_tables_columns_and_keys(two_databases: tuple[str, str]) -> None:
    theirs, ours = _set_up_both(two_databases)
    # Each keeps its own record of what it has set up, nothing else.
    assert set(theirs) == {*TABLES, OFFICIAL_BOOKKEEPING}
    assert set(ours) == {*TABLES, *OUR_OWN_TABLES}
    for table in TABLES:
        want, got = theirs[table], ours[table]
        # Same columns in the same order (positional INSERTs and SELECT * see
        # the same thing), same types and nullability.
        assert [c[:3] for c in got["columns"]] == [c[:3] for c in want["columns"]], (
            table
        )
        assert {c[1] for c in got["columns"]} <= KNOWN_TYPES, table
        assert got["pk"] == want["pk"], table
        # Indexes: the official ones but thread_id's, plus ours.
        assert set(want["indexes"]) - set(got["indexes"]) <= OFFICIAL_THREAD_ID_INDEXES
        assert set(got["indexes"]) - set(want["indexes"]) <= OUR_EXTRA_INDEXES
        assert set(want["indexes"]) & OFFICIAL_THREAD_ID_INDEXES, table
        for kind in ("unique", "foreign_keys", "checks"):
            assert got[kind] == want[kind] == [], (table, kind)


# -- async ---------------------------------------------------------------------


@pytest.mark.async_interrupts
@NESTED
@pytest.mark.parametrize("first", ["official", "ours"])
async def test_async_round_trip(database: str, nested: bool, first: str) -> None:
    """AsyncPostgresSaver and AsyncSQLAlchemySaver, each way: one runs to the
    interrupt, the other reads it the same way and resumes, the first reads the
    end the same way."""
    calls: Counter[str] = Counter()
    engine = create_async_engine(database)
    try:
        ours = AsyncSQLAlchemySaver(engine)
        async with AsyncPostgresSaver.from_conn_string(_libpq(database)) as official:
            savers: list[BaseCheckpointSaver[Any]] = [official, ours]
            if first == "ours":
                savers.reverse()
            starter, finisher = savers
            for saver in savers:
                await saver.setup()  # type: ignore[attr-defined]

            graph = _graph(starter, nested=nested, calls=calls)
            await graph.ainvoke(START_STATE, RUN_CONFIG)
            seen, view = await _aobserve(graph), await _asaver_view(starter)
            _check_interrupted(seen, view)
            _check_storage(database)

            graph = _graph(finisher, nested=nested, calls=calls)
            assert await _aobserve(graph) == seen
            assert await _asaver_view(finisher) == view
            final = await graph.ainvoke(Command(resume=ANSWER), RUN_CONFIG)
            _check_finished(final, calls)
            seen, view = await _aobserve(graph), await _asaver_view(finisher)

            graph = _graph(starter, nested=nested, calls=calls)
            assert await _aobserve(graph) == seen
            assert await _asaver_view(starter) == view
    finally:
        await engine.dispose()


# -- column defaults -----------------------------------------------------------


def test_same_column_defaults(two_databases: tuple[str, str]) -> None:
    """Server defaults match too, so a statement that leaves a column out (a
    hand-written INSERT, another client, an Alembic autogenerate comparing
    server defaults) gets the same row from either schema."""
    theirs, ours = _set_up_both(two_databases)
    for table in TABLES:
        want = {c[0]: c[3] for c in theirs[table]["columns"]}
        got = {c[0]: c[3] for c in ours[table]["columns"]}
        assert got == want, table

    def insert_without_metadata(url: str) -> Any:
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO checkpoints (thread_id, checkpoint_id, checkpoint)"
                        " VALUES ('t', 'c', '{}')"
                    )
                )
                return conn.execute(sa.text("SELECT metadata FROM checkpoints")).one()
        finally:
            engine.dispose()

    assert insert_without_metadata(two_databases[1]) == insert_without_metadata(
        two_databases[0]
    )
