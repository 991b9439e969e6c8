"""Switching in place: langgraph-checkpoint-postgres and this saver share
tables on PostgreSQL, in both directions, with real graphs."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated, Any

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

from servers.postgres import fresh_database


@pytest.fixture
def database(postgres_url: str) -> str:
    """A database of its own for one test (SQLAlchemy URL)."""
    server = postgres_url.rsplit("/", 1)[0] + "/postgres"
    return fresh_database(server, f"compat_{uuid.uuid4().hex[:10]}")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class Chat(TypedDict):
    messages: Annotated[list[dict[str, str]], operator.add]
    turns: int
    mood: str


def _chat_graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    def greet(state: Chat) -> dict[str, Any]:
        return {
            "messages": [{"role": "ai", "content": "hello " * 20}],
            "turns": state["turns"] + 1,
            "mood": "curious",
        }

    def ask(state: Chat) -> dict[str, Any]:
        reply = interrupt({"turns": state["turns"]})
        return {
            "messages": [{"role": "user", "content": reply}],
            "turns": state["turns"] + 1,
        }

    def close(state: Chat) -> dict[str, Any]:
        return {"messages": [{"role": "ai", "content": "bye"}], "mood": "done"}

    builder = StateGraph(Chat)
    builder.add_node("greet", greet)
    builder.add_node("ask", ask)
    builder.add_node("close", close)
    builder.add_edge(START, "greet")
    builder.add_edge("greet", "ask")
    builder.add_edge("ask", "close")
    builder.add_edge("close", END)
    return builder.compile(checkpointer=checkpointer)


START_STATE = {
    "messages": [{"role": "user", "content": "hi"}],
    "turns": 0,
    "mood": "new",
}
CONFIG = {"configurable": {"thread_id": "shared-thread"}}


def _snapshot(graph: Any) -> tuple[Any, ...]:
    state = graph.get_state(CONFIG)
    history = [
        (s.config, s.values, s.next, s.metadata)
        for s in graph.get_state_history(CONFIG)
    ]
    return state.values, state.next, [i.value for i in state.interrupts], history


def _finish(graph: Any) -> None:
    final = graph.invoke(Command(resume="fine, thanks"), CONFIG)
    assert final["messages"][-2:] == [
        {"role": "user", "content": "fine, thanks"},
        {"role": "ai", "content": "bye"},
    ]
    assert final["turns"] == 2
    assert final["mood"] == "done"
    assert graph.get_state(CONFIG).next == ()


def test_official_then_ours(database: str) -> None:
    with PostgresSaver.from_conn_string(_libpq(database)) as official:
        official.setup()
        graph = _chat_graph(official)
        graph.invoke(START_STATE, CONFIG)
        before = _snapshot(graph)
    engine = sa.create_engine(database)
    try:
        ours = SQLAlchemySaver(engine)
        ours.setup()  # adopts the official tables
        graph = _chat_graph(ours)
        assert _snapshot(graph) == before
        assert before[1] == ("ask",)
        filtered = list(ours.list(CONFIG, filter={"source": "loop", "step": 1}))
        assert [t.metadata["step"] for t in filtered] == [1]
        _finish(graph)
    finally:
        engine.dispose()


def test_ours_then_official(database: str) -> None:
    with SQLAlchemySaver.from_url(database) as ours:
        ours.setup()
        graph = _chat_graph(ours)
        graph.invoke(START_STATE, CONFIG)
        before = _snapshot(graph)
    with PostgresSaver.from_conn_string(_libpq(database)) as official:
        official.setup()  # its migrations run over our tables
        graph = _chat_graph(official)
        assert _snapshot(graph) == before
        _finish(graph)
    # And back again: ours reads what the official saver wrote last.
    with SQLAlchemySaver.from_url(database) as ours:
        assert _chat_graph(ours).get_state(CONFIG).values["mood"] == "done"


def test_same_columns_as_the_official_schema(postgres_url: str) -> None:
    server = postgres_url.rsplit("/", 1)[0] + "/postgres"
    theirs_url = fresh_database(server, f"theirs_{uuid.uuid4().hex[:8]}")
    ours_url = fresh_database(server, f"ours_{uuid.uuid4().hex[:8]}")
    with PostgresSaver.from_conn_string(_libpq(theirs_url)) as official:
        official.setup()
    with SQLAlchemySaver.from_url(ours_url) as ours:
        ours.setup()

    def describe(url: str) -> dict[str, Any]:
        engine = sa.create_engine(url)
        try:
            inspector = sa.inspect(engine)
            return {
                table: (
                    [
                        (c["name"], str(c["type"]), c["nullable"])
                        for c in inspector.get_columns(table)
                    ],
                    inspector.get_pk_constraint(table)["constrained_columns"],
                    {i["name"] for i in inspector.get_indexes(table)},
                )
                for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
            }
        finally:
            engine.dispose()

    theirs, ours_ = describe(theirs_url), describe(ours_url)
    for table, (columns, pk, indexes) in theirs.items():
        assert ours_[table][0] == columns, table
        assert ours_[table][1] == pk, table
        assert indexes <= ours_[table][2], table  # ours may add indexes


async def test_async_round_trip(database: str) -> None:
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row
    from sqlalchemy.ext.asyncio import create_async_engine

    async with await AsyncConnection.connect(
        _libpq(database), autocommit=True, prepare_threshold=0, row_factory=dict_row
    ) as conn:
        official = AsyncPostgresSaver(conn)  # type: ignore[arg-type]
        await official.setup()
        graph = _chat_graph(official)
        await graph.ainvoke(START_STATE, CONFIG)
        expected = (await graph.aget_state(CONFIG)).values

    engine = create_async_engine(database)
    try:
        ours = AsyncSQLAlchemySaver(engine)
        await ours.setup()
        graph = _chat_graph(ours)
        assert (await graph.aget_state(CONFIG)).values == expected
        final = await graph.ainvoke(Command(resume="async!"), CONFIG)
        assert final["mood"] == "done"
    finally:
        await engine.dispose()
