"""A real compiled graph with memory on every backend, sync and async: the
saver keeps each thread's state, the store what the graph learned across
threads (``builder.compile(checkpointer=..., store=...)``)."""

from __future__ import annotations

import operator
from typing import Annotated, Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from typing_extensions import TypedDict

from conftest import Backend


class State(TypedDict):
    fact: str
    recalled: Annotated[list[str], operator.add]


def _remember(
    state: State, config: RunnableConfig, *, store: BaseStore
) -> dict[str, Any]:
    user = config["configurable"]["user"]
    namespace = ("memories", user)
    known = len(store.search(namespace, limit=100))
    store.put(namespace, f"fact-{known}", {"text": state["fact"], "n": known})
    return {}


def _recall(
    state: State, config: RunnableConfig, *, store: BaseStore
) -> dict[str, Any]:
    user = config["configurable"]["user"]
    found = store.search(("memories", user), filter={"n": {"$gte": 0}}, limit=100)
    return {"recalled": sorted(item.value["text"] for item in found)}


async def _aremember(
    state: State, config: RunnableConfig, *, store: BaseStore
) -> dict[str, Any]:
    user = config["configurable"]["user"]
    namespace = ("memories", user)
    known = len(await store.asearch(namespace, limit=100))
    await store.aput(namespace, f"fact-{known}", {"text": state["fact"], "n": known})
    return {}


async def _arecall(
    state: State, config: RunnableConfig, *, store: BaseStore
) -> dict[str, Any]:
    user = config["configurable"]["user"]
    found = await store.asearch(
        ("memories", user), filter={"n": {"$gte": 0}}, limit=100
    )
    return {"recalled": sorted(item.value["text"] for item in found)}


def _builder(remember: Any, recall: Any) -> StateGraph:
    builder = StateGraph(State)
    builder.add_node("remember", remember)
    builder.add_node("recall", recall)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    builder.add_edge("recall", END)
    return builder


def _config(thread: str, user: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, "user": user}}


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_graph_remembers_across_threads(backend: Backend, mode: str) -> None:
    if mode == "sync":
        saver, store = backend.saver(), backend.store()
        try:
            graph = _builder(_remember, _recall).compile(
                checkpointer=saver, store=store
            )
            first = graph.invoke(
                {"fact": "likes tea", "recalled": []}, _config("t1", "ada")
            )
            second = graph.invoke(
                {"fact": "owns a cat", "recalled": []}, _config("t2", "ada")
            )
            other = graph.invoke(
                {"fact": "likes chess", "recalled": []}, _config("t3", "bob")
            )
            state = graph.get_state(_config("t2", "ada"))
        finally:
            store.close()
            saver.close()
    else:
        asaver, astore = await backend.asaver(), await backend.astore()
        try:
            graph = _builder(_aremember, _arecall).compile(
                checkpointer=asaver, store=astore
            )
            first = await graph.ainvoke(
                {"fact": "likes tea", "recalled": []}, _config("t1", "ada")
            )
            second = await graph.ainvoke(
                {"fact": "owns a cat", "recalled": []}, _config("t2", "ada")
            )
            other = await graph.ainvoke(
                {"fact": "likes chess", "recalled": []}, _config("t3", "bob")
            )
            state = await graph.aget_state(_config("t2", "ada"))
        finally:
            await astore.aclose()
            await asaver.aclose()
    assert first["recalled"] == ["likes tea"]
    # A new thread of the same user recalls what the first thread stored.
    assert second["recalled"] == ["likes tea", "owns a cat"]
    assert other["recalled"] == ["likes chess"]  # users stay apart
    assert state.values["recalled"] == ["likes tea", "owns a cat"]  # the saver's part
