"""Real compiled LangGraph graphs on every backend: the proof that the savers
carry what LangGraph needs. ``InMemorySaver`` runs the same graphs as the
oracle wherever the expected state is not obvious."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any

import pytest
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt
from typing_extensions import TypedDict

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

from conftest import Backend


def _config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


def _reopen(backend: Backend, saver: SQLAlchemySaver) -> SQLAlchemySaver:
    """A new saver on the same database (the same one for a memory database,
    which dies with its connection)."""
    if backend.name == "sqlite-memory":
        return saver
    return backend.saver()


# -- interrupt and resume ------------------------------------------------------


class Steps(TypedDict):
    steps: Annotated[list[str], operator.add]


def _interrupting_graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    def start(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["start"]}

    def ask(state: Steps) -> dict[str, list[str]]:
        answer = interrupt({"question": "approve?", "so_far": state["steps"]})
        return {"steps": [f"answer:{answer}"]}

    def finish(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["finish"]}

    builder = StateGraph(Steps)
    builder.add_node("start", start)
    builder.add_node("ask", ask)
    builder.add_node("finish", finish)
    builder.add_edge(START, "start")
    builder.add_edge("start", "ask")
    builder.add_edge("ask", "finish")
    builder.add_edge("finish", END)
    return builder.compile(checkpointer=checkpointer)


def test_interrupt_then_resume_from_a_new_saver(
    backend: Backend, saver: SQLAlchemySaver
) -> None:
    graph = _interrupting_graph(saver)
    config = _config("approval")
    first = graph.invoke({"steps": []}, config)
    assert first["__interrupt__"][0].value == {
        "question": "approve?",
        "so_far": ["start"],
    }
    assert graph.get_state(config).next == ("ask",)

    other = _reopen(backend, saver)
    try:
        resumed = _interrupting_graph(other)
        assert resumed.get_state(config).next == ("ask",)
        final = resumed.invoke(Command(resume="yes"), config)
        assert final == {"steps": ["start", "answer:yes", "finish"]}
        assert resumed.get_state(config).next == ()
    finally:
        if other is not saver:
            other.close()


async def test_interrupt_then_resume_async(asaver: AsyncSQLAlchemySaver) -> None:
    graph = _interrupting_graph(asaver)
    config = _config("approval-async")
    first = await graph.ainvoke({"steps": []}, config)
    assert first["__interrupt__"][0].value["question"] == "approve?"
    final = await graph.ainvoke(Command(resume="no"), config)
    assert final == {"steps": ["start", "answer:no", "finish"]}
    assert (await graph.aget_state(config)).next == ()


# -- subgraphs -----------------------------------------------------------------


def _parent_with_subgraph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    def inner_work(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["inner"]}

    def inner_ask(state: Steps) -> dict[str, list[str]]:
        return {"steps": [f"inner-answer:{interrupt('inner?')}"]}

    sub = StateGraph(Steps)
    sub.add_node("work", inner_work)
    sub.add_node("ask", inner_ask)
    sub.add_edge(START, "work")
    sub.add_edge("work", "ask")
    child = sub.compile()

    def before(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["before"]}

    parent = StateGraph(Steps)
    parent.add_node("before", before)
    parent.add_node("child", child)
    parent.add_edge(START, "before")
    parent.add_edge("before", "child")
    parent.add_edge("child", END)
    return parent.compile(checkpointer=checkpointer)


def test_subgraph_namespaces_and_resume(saver: SQLAlchemySaver) -> None:
    graph = _parent_with_subgraph(saver)
    config = _config("nested")
    graph.invoke({"steps": []}, config)
    state = graph.get_state(config, subgraphs=True)
    assert state.next == ("child",)
    (task,) = state.tasks
    assert task.state is not None
    assert task.state.values["steps"] == ["before", "inner"]  # type: ignore[union-attr]
    namespaces = {t.config["configurable"]["checkpoint_ns"] for t in saver.list(config)}
    assert "" in namespaces
    assert any(ns.startswith("child:") for ns in namespaces)
    final = graph.invoke(Command(resume="ok"), config)
    assert final["steps"] == ["before", "before", "inner", "inner-answer:ok"]


# -- Send fan-out --------------------------------------------------------------


class MapState(TypedDict):
    items: list[int]
    results: Annotated[list[int], operator.add]


def _map_reduce(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    def fan_out(state: MapState) -> list[Send]:
        return [Send("square", {"items": [i], "results": []}) for i in state["items"]]

    def square(state: MapState) -> dict[str, list[int]]:
        return {"results": [state["items"][0] ** 2]}

    builder = StateGraph(MapState)
    builder.add_node("square", square)
    builder.add_conditional_edges(START, fan_out, ["square"])
    builder.add_edge("square", END)
    return builder.compile(checkpointer=checkpointer)


def test_send_fan_out_matches_memory(saver: SQLAlchemySaver) -> None:
    config = _config("fan")
    memory = InMemorySaver()
    ours = _map_reduce(saver).invoke({"items": [1, 2, 3, 4], "results": []}, config)
    oracle = _map_reduce(memory).invoke({"items": [1, 2, 3, 4], "results": []}, config)
    assert sorted(ours["results"]) == [1, 4, 9, 16]
    assert ours == oracle
    assert len(list(saver.list(config))) == len(list(memory.list(config)))


async def test_send_fan_out_async(asaver: AsyncSQLAlchemySaver) -> None:
    graph = _map_reduce(asaver)
    result = await graph.ainvoke({"items": [5, 6], "results": []}, _config("fan-a"))
    assert sorted(result["results"]) == [25, 36]


# -- time travel -----------------------------------------------------------------


class Counter(TypedDict):
    count: int
    log: Annotated[list[str], operator.add]


def _counter(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    def bump(state: Counter) -> dict[str, Any]:
        return {"count": state["count"] + 1, "log": [f"bump{state['count'] + 1}"]}

    def route(state: Counter) -> str:
        return END if state["count"] >= 3 else "bump"

    builder = StateGraph(Counter)
    builder.add_node("bump", bump)
    builder.add_edge(START, "bump")
    builder.add_conditional_edges("bump", route, ["bump", END])
    return builder.compile(checkpointer=checkpointer)


def _history(graph: Any, config: dict[str, Any]) -> list[tuple[int, tuple[str, ...]]]:
    return [
        (s.values.get("count", -1), s.next) for s in graph.get_state_history(config)
    ]


def test_history_and_fork_match_memory(saver: SQLAlchemySaver) -> None:
    config = _config("travel")
    ours, oracle = _counter(saver), _counter(InMemorySaver())
    for graph in (ours, oracle):
        graph.invoke({"count": 0, "log": []}, config)
    assert _history(ours, config) == _history(oracle, config)
    history = list(ours.get_state_history(config))
    assert [s.values.get("count") for s in history][:4] == [3, 2, 1, 0]

    # Fork from the checkpoint where count was 1: set it back to -1, and the
    # loop runs on from there. The same on the oracle.
    results = []
    for graph in (ours, oracle):
        past = next(
            s for s in graph.get_state_history(config) if s.values.get("count") == 1
        )
        forked = graph.update_state(past.config, {"count": -1})
        results.append(graph.invoke(None, forked))
        assert graph.get_state(past.config).values["count"] == 1  # the past is intact
    assert results[0] == results[1]
    assert results[0]["count"] == 3
    assert results[0]["log"] == ["bump1", "bump0", "bump1", "bump2", "bump3"]
    assert _history(ours, config) == _history(oracle, config)
    original = ours.get_state(history[0].config)
    assert original.values["count"] == 3
    assert original.values["log"] == ["bump1", "bump2", "bump3"]


# -- DeltaChannel ---------------------------------------------------------------


def _extend(state: list[int], writes: Sequence[list[int]]) -> list[int]:
    return [*state, *(x for w in writes for x in w)]


class DeltaState(TypedDict):
    n: int
    items: Annotated[list[int], DeltaChannel(_extend, snapshot_frequency=3)]


def _delta_graph(checkpointer: BaseCheckpointSaver[Any]) -> Any:
    def add(state: DeltaState) -> dict[str, Any]:
        return {"n": state["n"] + 1, "items": [state["n"]]}

    def route(state: DeltaState) -> str:
        return END if state["n"] >= 10 else "add"

    builder = StateGraph(DeltaState)
    builder.add_node("add", add)
    builder.add_edge(START, "add")
    builder.add_conditional_edges("add", route, ["add", END])
    return builder.compile(checkpointer=checkpointer)


def test_delta_channel_survives_reload_prune_and_copy(
    backend: Backend, saver: SQLAlchemySaver
) -> None:
    config = _config("delta")
    expected = _delta_graph(InMemorySaver()).invoke({"n": 0, "items": []}, config)
    assert expected["items"] == list(range(10))
    assert _delta_graph(saver).invoke({"n": 0, "items": []}, config) == expected
    # A second run on the thread rebuilds the channel from its history first.
    again_oracle = InMemorySaver()
    g = _delta_graph(again_oracle)
    g.invoke({"n": 0, "items": []}, config)
    twice = g.invoke({"n": 5, "items": [100]}, config)

    reopened = _reopen(backend, saver)
    try:
        graph = _delta_graph(reopened)
        assert graph.get_state(config).values == expected
        before = len(list(reopened.list(config)))
        reopened.prune(["delta"], strategy="keep_latest")
        assert graph.get_state(config).values == expected
        assert len(list(reopened.list(config))) < before

        reopened.copy_thread("delta", "delta-copy")
        assert graph.get_state(_config("delta-copy")).values == expected

        # The pruned thread keeps running correctly.
        assert graph.invoke({"n": 5, "items": [100]}, config) == twice
    finally:
        if reopened is not saver:
            reopened.close()


async def test_delta_channel_async(asaver: AsyncSQLAlchemySaver) -> None:
    config = _config("delta-async")
    expected = await _delta_graph(InMemorySaver()).ainvoke(
        {"n": 0, "items": []}, config
    )
    graph = _delta_graph(asaver)
    assert await graph.ainvoke({"n": 0, "items": []}, config) == expected
    await asaver.aprune(["delta-async"], strategy="keep_latest")
    assert (await graph.aget_state(config)).values == expected


# -- durability ------------------------------------------------------------------


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_durability_modes(saver: SQLAlchemySaver, durability: str) -> None:
    config = _config(f"durable-{durability}")
    graph = _counter(saver)
    result = graph.invoke({"count": 0, "log": []}, config, durability=durability)
    assert result["count"] == 3
    assert graph.get_state(config).values == result
    saved = len(list(saver.list(config)))
    assert saved >= 1
    if durability == "exit":
        assert saved < 5  # only the end of the run is persisted
    else:
        assert saved == 5  # input + one per step
