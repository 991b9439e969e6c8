"""Real compiled LangGraph graphs on every backend, sync and async: the proof
that the savers carry what LangGraph needs.

Wherever the expected state is not obvious, the same graph runs on
``InMemorySaver`` with the same inputs, and everything a user can observe
(values, next nodes, tasks, interrupts, history) must agree. Checkpoint and
task IDs differ between two runs, so the comparisons leave them out.
"""

from __future__ import annotations

import asyncio
import operator
import threading
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, StateSnapshot, interrupt
from typing_extensions import TypedDict

from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import jobs, reads

from conftest import Backend, needs_delta_channels, needs_writes_sort_key

try:
    from langgraph.channels.delta import DeltaChannel
    from langgraph.checkpoint.serde.types import _DeltaSnapshot
except ImportError:  # langgraph 1.1 beside langgraph-checkpoint 4.0 (floor run)
    DeltaChannel = _DeltaSnapshot = None

Saver = BaseCheckpointSaver[Any]
Graph = Any  # a CompiledStateGraph


def _config(thread: str, **configurable: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **configurable}}


# -- one backend, driven sync or async ---------------------------------------------


class Run:
    """A backend driven one way: ``sync`` runs graphs with ``invoke`` & co. on
    a :class:`SQLAlchemySaver`; ``async`` with ``ainvoke`` & co. on an
    :class:`AsyncSQLAlchemySaver`. The same calls drive the ``InMemorySaver``
    oracle, so both sides of a comparison take the same path through
    LangGraph."""

    def __init__(self, backend: Backend, mode: str) -> None:
        self.backend = backend
        self.is_async = mode == "async"
        self._opened: list[Any] = []

    async def saver(self) -> Saver:
        """A new saver on the backend's database."""
        saver: Saver
        if self.is_async:
            saver = await self.backend.asaver()
        else:
            saver = self.backend.saver()
        self._opened.append(saver)
        return saver

    async def reopen(self, saver: Saver) -> Saver:
        """A new saver instance on the same database as ``saver``; the same
        one for a memory database, which dies with its engine."""
        if self.backend.name == "sqlite-memory":
            return saver
        return await self.saver()

    async def close(self) -> None:
        for saver in reversed(self._opened):
            if isinstance(saver, AsyncSQLAlchemySaver):
                await saver.aclose()
            else:
                saver.close()

    # graphs

    async def invoke(self, graph: Graph, value: Any, config: Any, **kw: Any) -> Any:
        if self.is_async:
            return await graph.ainvoke(value, config, **kw)
        return graph.invoke(value, config, **kw)

    async def state(
        self, graph: Graph, config: Any, *, subgraphs: bool = False
    ) -> StateSnapshot:
        if self.is_async:
            return await graph.aget_state(config, subgraphs=subgraphs)
        return graph.get_state(config, subgraphs=subgraphs)

    async def history(self, graph: Graph, config: Any) -> list[StateSnapshot]:
        if self.is_async:
            return [s async for s in graph.aget_state_history(config)]
        return list(graph.get_state_history(config))

    async def update(
        self, graph: Graph, config: Any, values: Any, as_node: str | None = None
    ) -> Any:
        if self.is_async:
            return await graph.aupdate_state(config, values, as_node=as_node)
        return graph.update_state(config, values, as_node=as_node)

    # savers

    async def list(self, saver: Saver, config: Any) -> list[CheckpointTuple]:
        if self.is_async:
            return [t async for t in saver.alist(config)]
        return list(saver.list(config))

    async def get_tuple(self, saver: Saver, config: Any) -> CheckpointTuple | None:
        if self.is_async:
            return await saver.aget_tuple(config)
        return saver.get_tuple(config)

    async def prune(self, saver: Any, threads: Sequence[str], **kw: Any) -> None:
        if self.is_async:
            await saver.aprune(threads, **kw)
        else:
            saver.prune(threads, **kw)

    async def copy_thread(self, saver: Any, source: str, target: str) -> None:
        if self.is_async:
            await saver.acopy_thread(source, target)
        else:
            saver.copy_thread(source, target)


@pytest.fixture(params=["sync", "async"])
async def run(backend: Backend, request: pytest.FixtureRequest) -> AsyncIterator[Run]:
    harness = Run(backend, request.param)
    try:
        yield harness
    finally:
        await harness.close()


# -- what a user observes ----------------------------------------------------------


def _task_view(task: Any) -> tuple[Any, ...]:
    nested = task.state if isinstance(task.state, StateSnapshot) else None
    return (
        task.name,
        repr(task.error) if task.error is not None else None,
        tuple(i.value for i in task.interrupts),
        task.result,
        _view(nested) if nested is not None else None,
    )


def _view(snapshot: StateSnapshot) -> tuple[Any, ...]:
    """A snapshot without IDs and timestamps (they differ between two runs)."""
    meta = snapshot.metadata or {}
    return (
        snapshot.values,
        snapshot.next,
        meta.get("source"),
        meta.get("step"),
        tuple(_task_view(t) for t in snapshot.tasks),
        tuple(i.value for i in snapshot.interrupts),
    )


def _ns(t: CheckpointTuple) -> str:
    return str(t.config["configurable"]["checkpoint_ns"])


def _ids(history: Sequence[StateSnapshot]) -> list[str]:
    return [s.config["configurable"]["checkpoint_id"] for s in history]


async def _lineage(run: Run, graph: Graph, config: Any) -> list[StateSnapshot]:
    """The checkpoint ``config`` names and its ancestors, by parent links."""
    chain: list[StateSnapshot] = []
    current: Any = config
    while current is not None:
        snapshot = await run.state(graph, current)
        chain.append(snapshot)
        current = snapshot.parent_config
    return chain


# -- 1. interrupt and resume ------------------------------------------------------


class Steps(TypedDict):
    steps: Annotated[list[str], operator.add]


def _interview(checkpointer: Saver) -> Graph:
    """start -> ask (two interrupts in one node) -> finish."""

    def start(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["start"]}

    def ask(state: Steps) -> dict[str, list[str]]:
        name = interrupt({"question": "name?", "so_far": state["steps"]})
        age = interrupt({"question": "age?", "name": name})
        return {"steps": [f"{name} is {age}"]}

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


@pytest.mark.async_interrupts
async def test_interrupt_and_resume_from_new_savers(run: Run) -> None:
    config = _config("interview")
    saver = await run.saver()
    graph = _interview(saver)

    first = await run.invoke(graph, {"steps": []}, config)
    assert [i.value for i in first["__interrupt__"]] == [
        {"question": "name?", "so_far": ["start"]}
    ]
    assert first["steps"] == ["start"]

    # A new saver on the same database sees the interrupt and resumes it.
    second_saver = await run.reopen(saver)
    graph = _interview(second_saver)
    waiting = await run.state(graph, config)
    assert waiting.next == ("ask",)
    assert [i.value["question"] for i in waiting.interrupts] == ["name?"]
    second = await run.invoke(graph, Command(resume="Ada"), config)
    assert [i.value for i in second["__interrupt__"]] == [
        {"question": "age?", "name": "Ada"}
    ]

    # And a third: the first answer survived in the resume writes.
    graph = _interview(await run.reopen(second_saver))
    assert [
        i.value["question"] for i in (await run.state(graph, config)).interrupts
    ] == ["age?"]
    final = await run.invoke(graph, Command(resume=36), config)
    assert final == {"steps": ["start", "Ada is 36", "finish"]}
    done = await run.state(graph, config)
    assert done.next == ()
    assert done.interrupts == ()

    oracle = _interview(InMemorySaver())
    await run.invoke(oracle, {"steps": []}, config)
    await run.invoke(oracle, Command(resume="Ada"), config)
    await run.invoke(oracle, Command(resume=36), config)
    ours = [_view(s) for s in await run.history(graph, config)]
    assert ours == [_view(s) for s in await run.history(oracle, config)]


def _two_questions(checkpointer: Saver) -> Graph:
    """Two nodes that interrupt in the same superstep."""

    def left(state: Steps) -> dict[str, list[str]]:
        return {"steps": [f"left:{interrupt('left?')}"]}

    def right(state: Steps) -> dict[str, list[str]]:
        return {"steps": [f"right:{interrupt('right?')}"]}

    builder = StateGraph(Steps)
    builder.add_node("left", left)
    builder.add_node("right", right)
    builder.add_edge(START, "left")
    builder.add_edge(START, "right")
    return builder.compile(checkpointer=checkpointer)


@pytest.mark.async_interrupts
async def test_parallel_interrupts_resume_by_id(run: Run) -> None:
    config = _config("parallel-interrupts")
    saver = await run.saver()
    first = await run.invoke(_two_questions(saver), {"steps": []}, config)
    assert sorted(i.value for i in first["__interrupt__"]) == ["left?", "right?"]

    graph = _two_questions(await run.reopen(saver))
    waiting = await run.state(graph, config)
    assert set(waiting.next) == {"left", "right"}
    answers = {i.id: i.value.rstrip("?").upper() for i in waiting.interrupts}
    assert len(answers) == 2
    final = await run.invoke(graph, Command(resume=answers), config)
    assert sorted(final["steps"]) == ["left:LEFT", "right:RIGHT"]

    oracle = _two_questions(InMemorySaver())
    await run.invoke(oracle, {"steps": []}, config)
    pending = (await run.state(oracle, config)).interrupts
    oracle_final = await run.invoke(
        oracle,
        Command(resume={i.id: i.value.rstrip("?").upper() for i in pending}),
        config,
    )
    assert final == oracle_final
    assert [_view(s) for s in await run.history(graph, config)] == [
        _view(s) for s in await run.history(oracle, config)
    ]


def _reviewed(checkpointer: Saver) -> Graph:
    """``_interview`` without interrupts, stopped before ``finish`` by a
    static breakpoint instead."""

    def start(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["start"]}

    def finish(state: Steps) -> dict[str, list[str]]:
        return {"steps": [f"finish after {len(state['steps'])}"]}

    builder = StateGraph(Steps)
    builder.add_node("start", start)
    builder.add_node("finish", finish)
    builder.add_edge(START, "start")
    builder.add_edge("start", "finish")
    return builder.compile(checkpointer=checkpointer, interrupt_before=["finish"])


async def test_breakpoint_update_while_paused_then_continue(run: Run) -> None:
    config = _config("breakpoint")
    saver = await run.saver()
    paused = await run.invoke(_reviewed(saver), {"steps": []}, config)
    assert paused == {"steps": ["start"]}

    graph = _reviewed(saver := await run.reopen(saver))
    assert (await run.state(graph, config)).next == ("finish",)
    await run.update(graph, config, {"steps": ["edited"]})
    assert (await run.state(graph, config)).next == ("finish",)
    graph = _reviewed(await run.reopen(saver))
    final = await run.invoke(graph, None, config)
    assert final == {"steps": ["start", "edited", "finish after 2"]}

    oracle = _reviewed(InMemorySaver())
    await run.invoke(oracle, {"steps": []}, config)
    await run.update(oracle, config, {"steps": ["edited"]})
    await run.invoke(oracle, None, config)
    assert [_view(s) for s in await run.history(graph, config)] == [
        _view(s) for s in await run.history(oracle, config)
    ]


# -- 2. subgraphs ------------------------------------------------------------------


def _nested(checkpointer: Saver) -> Graph:
    """parent: before -> child -> after; child: work -> grandchild;
    grandchild: ask (interrupts) -> done. Three namespaces."""

    def ask(state: Steps) -> dict[str, list[str]]:
        return {"steps": [f"answer:{interrupt({'depth': 2, 'seen': state['steps']})}"]}

    def done(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["grand-done"]}

    grand = StateGraph(Steps)
    grand.add_node("ask", ask)
    grand.add_node("done", done)
    grand.add_edge(START, "ask")
    grand.add_edge("ask", "done")

    def work(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["work"]}

    child = StateGraph(Steps)
    child.add_node("work", work)
    child.add_node("grandchild", grand.compile())
    child.add_edge(START, "work")
    child.add_edge("work", "grandchild")

    def before(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["before"]}

    def after(state: Steps) -> dict[str, list[str]]:
        return {"steps": ["after"]}

    parent = StateGraph(Steps)
    parent.add_node("before", before)
    parent.add_node("child", child.compile())
    parent.add_node("after", after)
    parent.add_edge(START, "before")
    parent.add_edge("before", "child")
    parent.add_edge("child", "after")
    return parent.compile(checkpointer=checkpointer)


@pytest.mark.async_interrupts
async def test_subgraph_namespaces_state_and_resume(run: Run) -> None:
    config = _config("nested")
    saver = await run.saver()
    graph = _nested(saver)
    first = await run.invoke(graph, {"steps": []}, config)
    assert [i.value for i in first["__interrupt__"]] == [
        {"depth": 2, "seen": ["before", "work"]}
    ]

    graph = _nested(saver := await run.reopen(saver))
    state = await run.state(graph, config, subgraphs=True)
    assert state.next == ("child",)
    (child_task,) = state.tasks
    child = child_task.state
    assert isinstance(child, StateSnapshot)
    assert child.values == {"steps": ["before", "work"]}
    assert child.next == ("grandchild",)
    (grand_task,) = child.tasks
    grand = grand_task.state
    assert isinstance(grand, StateSnapshot)
    assert grand.next == ("ask",)
    assert [i.value["depth"] for i in grand.tasks[0].interrupts] == [2]
    child_ns = child.config["configurable"]["checkpoint_ns"]
    grand_ns = grand.config["configurable"]["checkpoint_ns"]
    assert child_ns.startswith("child:")
    assert grand_ns.startswith(child_ns + "|grandchild:")

    # The saver keeps every namespace apart, and lists them all by thread.
    everything = await run.list(saver, config)
    by_ns = Counter(_ns(t) for t in everything)
    assert set(by_ns) == {"", child_ns, grand_ns}
    only_grand = await run.list(saver, _config("nested", checkpoint_ns=grand_ns))
    assert only_grand and {_ns(t) for t in only_grand} == {grand_ns}
    assert len(only_grand) == by_ns[grand_ns]

    oracle = _nested(InMemorySaver())
    await run.invoke(oracle, {"steps": []}, config)
    oracle_state = await run.state(oracle, config, subgraphs=True)
    assert _view(state) == _view(oracle_state)
    oracle_by_ns = Counter(_ns(t) for t in oracle.checkpointer.list(config))
    assert [by_ns[ns] for ns in ("", child_ns, grand_ns)] == [
        oracle_by_ns[_sub_ns(oracle_state, depth)] for depth in (0, 1, 2)
    ]

    graph = _nested(await run.reopen(saver))
    final = await run.invoke(graph, Command(resume="yes"), config)
    oracle_final = await run.invoke(oracle, Command(resume="yes"), config)
    assert final == oracle_final
    assert final["steps"][-3:] == ["answer:yes", "grand-done", "after"]
    end = await run.state(graph, config, subgraphs=True)
    assert end.next == () and end.tasks == ()
    assert [_view(s) for s in await run.history(graph, config)] == [
        _view(s) for s in await run.history(oracle, config)
    ]


@pytest.mark.async_interrupts
async def test_copy_and_prune_a_thread_waiting_in_a_subgraph(run: Run) -> None:
    """A thread stopped inside a grandchild graph, copied and then pruned to
    its latest checkpoints: both the copy and the pruned original resume."""
    config = _config("waiting")
    saver = await run.saver()
    await run.invoke(_nested(saver), {"steps": []}, config)
    before = Counter(_ns(t) for t in await run.list(saver, config))
    await run.copy_thread(saver, "waiting", "waiting-copy")
    copied = Counter(_ns(t) for t in await run.list(saver, _config("waiting-copy")))
    assert copied == before
    await run.prune(saver, ["waiting"], strategy="keep_latest")
    after = Counter(_ns(t) for t in await run.list(saver, config))
    assert set(after) == set(before) and all(n == 1 for n in after.values())

    oracle = _nested(InMemorySaver())
    await run.invoke(oracle, {"steps": []}, config)
    waiting = _view(await run.state(oracle, config, subgraphs=True))
    expected = await run.invoke(oracle, Command(resume="go"), config)

    graph = _nested(await run.reopen(saver))
    for thread in ("waiting", "waiting-copy"):
        assert _view(await run.state(graph, _config(thread), subgraphs=True)) == (
            waiting
        ), thread
        assert (
            await run.invoke(graph, Command(resume="go"), _config(thread)) == expected
        ), thread


def _sub_ns(state: StateSnapshot, depth: int) -> str:
    """The namespace ``depth`` subgraphs down the first tasks."""
    for _ in range(depth):
        state = state.tasks[0].state  # type: ignore[assignment]
    return str(state.config["configurable"].get("checkpoint_ns", ""))


# -- 3. Send fan-out ---------------------------------------------------------------


class MapState(TypedDict):
    items: list[int]
    results: Annotated[list[int], operator.add]


class Item(TypedDict):
    item: int


def _map_reduce(
    checkpointer: Saver, calls: Counter[int], ask_about: int | None = None
) -> Graph:
    """Fan out one ``square`` task per item; ``ask_about`` interrupts."""

    def fan_out(state: MapState) -> list[Send]:
        return [Send("square", {"item": i}) for i in state["items"]]

    def square(job: Item) -> dict[str, list[int]]:
        calls[job["item"]] += 1
        if job["item"] == ask_about:
            return {"results": [interrupt({"item": job["item"]})]}
        return {"results": [job["item"] ** 2]}

    def total(state: MapState) -> dict[str, list[int]]:
        return {"results": [sum(state["results"])]}

    builder = StateGraph(MapState)
    builder.add_node("square", square)
    builder.add_node("total", total)
    builder.add_conditional_edges(START, fan_out, ["square"])
    builder.add_edge("square", "total")
    return builder.compile(checkpointer=checkpointer)


async def test_send_fan_out_matches_memory(run: Run) -> None:
    config = _config("fan")
    items = list(range(1, 8))
    saver = await run.saver()
    ours = await run.invoke(
        _map_reduce(saver, Counter()), {"items": items, "results": []}, config
    )
    assert sorted(ours["results"][:-1]) == [i * i for i in items]
    assert ours["results"][-1] == sum(i * i for i in items)

    oracle = _map_reduce(InMemorySaver(), Counter())
    expected = await run.invoke(oracle, {"items": items, "results": []}, config)
    assert ours == expected  # the same order, too

    graph = _map_reduce(await run.reopen(saver), Counter())
    assert (await run.state(graph, config)).values == expected
    assert [_view(s) for s in await run.history(graph, config)] == [
        _view(s) for s in await run.history(oracle, config)
    ]


@pytest.mark.async_interrupts
async def test_send_fan_out_keeps_finished_tasks_pending_writes(run: Run) -> None:
    """One of five sent tasks interrupts: the other four's writes are kept as
    pending writes, and resuming runs only the interrupted task again."""
    config = _config("fan-interrupt")
    items = [1, 2, 3, 4, 5]
    calls: Counter[int] = Counter()
    saver = await run.saver()
    first = await run.invoke(
        _map_reduce(saver, calls, ask_about=3), {"items": items, "results": []}, config
    )
    assert [i.value for i in first["__interrupt__"]] == [{"item": 3}]
    assert calls == Counter(items)

    saver = await run.reopen(saver)
    latest = await run.get_tuple(saver, config)
    assert latest is not None
    kept = sorted(v[0] for _, ch, v in latest.pending_writes if ch == "results")
    assert kept == [1, 4, 16, 25]
    assert any(ch == "__interrupt__" for _, ch, _ in latest.pending_writes)

    graph = _map_reduce(saver, calls, ask_about=3)
    waiting = await run.state(graph, config)
    assert waiting.next == ("square",)
    assert len(waiting.tasks) == 5
    assert sorted(t.result["results"][0] for t in waiting.tasks if t.result) == kept
    final = await run.invoke(graph, Command(resume=9), config)
    assert calls == Counter({1: 1, 2: 1, 3: 2, 4: 1, 5: 1})  # only 3 ran again
    assert sorted(final["results"][:-1]) == [1, 4, 9, 16, 25]
    assert final["results"][-1] == 55

    oracle_calls: Counter[int] = Counter()
    oracle = _map_reduce(InMemorySaver(), oracle_calls, ask_about=3)
    await run.invoke(oracle, {"items": items, "results": []}, config)
    assert final == await run.invoke(oracle, Command(resume=9), config)
    assert oracle_calls == calls
    assert [_view(s) for s in await run.history(graph, config)] == [
        _view(s) for s in await run.history(oracle, config)
    ]


def _flaky_map(
    checkpointer: Saver, calls: Counter[int], flaky: set[int], healthy_done: Any
) -> Graph:
    """Like ``_map_reduce``; an item in ``flaky`` fails once, after the
    healthy tasks are done (so the failure cancels none of them)."""

    def fan_out(state: MapState) -> list[Send]:
        return [Send("square", {"item": i}) for i in state["items"]]

    def square(job: Item) -> dict[str, list[int]]:
        calls[job["item"]] += 1
        if job["item"] in flaky:
            flaky.discard(job["item"])
            assert healthy_done.wait(10)
            raise ValueError(f"flaky {job['item']}")
        healthy_done.arrive()
        return {"results": [job["item"] ** 2]}

    builder = StateGraph(MapState)
    builder.add_node("square", square)
    builder.add_conditional_edges(START, fan_out, ["square"])
    return builder.compile(checkpointer=checkpointer)


class _Countdown:
    """Set once ``n`` tasks arrived, and a little after, so that their writes
    have reached the checkpointer."""

    def __init__(self, n: int) -> None:
        self._left = n
        self._lock = threading.Lock()
        self._event = threading.Event()

    def arrive(self) -> None:
        with self._lock:
            self._left -= 1
            if self._left == 0:
                threading.Timer(0.05, self._event.set).start()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


async def test_send_fan_out_error_then_retry(run: Run) -> None:
    """A sent task fails after its siblings finished: their writes are saved
    next to the error, and a retry runs only the failed task."""
    config = _config("fan-error")
    items = [1, 2, 3, 4]
    calls: Counter[int] = Counter()
    saver = await run.saver()
    graph = _flaky_map(saver, calls, {2}, _Countdown(3))
    with pytest.raises(ValueError, match="flaky 2"):
        await run.invoke(graph, {"items": items, "results": []}, config)

    saver = await run.reopen(saver)
    latest = await run.get_tuple(saver, config)
    assert latest is not None
    channels = Counter(ch for _, ch, _ in latest.pending_writes)
    assert channels["results"] == 3 and channels["__error__"] == 1
    graph = _flaky_map(saver, calls, set(), _Countdown(0))
    state = await run.state(graph, config)
    errors = [t for t in state.tasks if t.error is not None]
    assert len(errors) == 1 and "flaky 2" in str(errors[0].error)
    assert sum(1 for t in state.tasks if t.result) == 3

    final = await run.invoke(graph, None, config)
    assert sorted(final["results"]) == [1, 4, 9, 16]
    assert calls == Counter({1: 1, 2: 2, 3: 1, 4: 1})

    oracle_calls: Counter[int] = Counter()
    oracle = _flaky_map(InMemorySaver(), oracle_calls, {2}, _Countdown(3))
    with pytest.raises(ValueError, match="flaky 2"):
        await run.invoke(oracle, {"items": items, "results": []}, config)
    assert _view(await run.state(oracle, config)) == _view(state)
    assert await run.invoke(oracle, None, config) == final
    assert oracle_calls == calls


# -- 4. time travel ------------------------------------------------------------------


class Count(TypedDict):
    count: int
    log: Annotated[list[str], operator.add]


def _counter(checkpointer: Saver, until: int = 4) -> Graph:
    def bump(state: Count) -> dict[str, Any]:
        return {"count": state["count"] + 1, "log": [f"bump{state['count'] + 1}"]}

    def route(state: Count) -> str:
        return END if state["count"] >= until else "bump"

    builder = StateGraph(Count)
    builder.add_node("bump", bump)
    builder.add_edge(START, "bump")
    builder.add_conditional_edges("bump", route, ["bump", END])
    return builder.compile(checkpointer=checkpointer)


async def test_history_fork_and_both_branches(run: Run) -> None:
    config = _config("travel")
    saver = await run.saver()
    ours, oracle = _counter(saver), _counter(InMemorySaver())
    for graph in (ours, oracle):
        await run.invoke(graph, {"count": 0, "log": []}, config)

    ours = _counter(saver := await run.reopen(saver))
    history = await run.history(ours, config)
    oracle_history = await run.history(oracle, config)
    assert len(history) == len(oracle_history) == 6  # input, start, 4 bumps
    assert [_view(s) for s in history] == [_view(s) for s in oracle_history]
    # Newest first: IDs and steps fall, each parent is the next entry.
    assert _ids(history) == sorted(_ids(history), reverse=True)
    assert [s.metadata["step"] for s in history] == [4, 3, 2, 1, 0, -1]  # type: ignore[index]
    assert [s.parent_config for s in history[:-1]] == [s.config for s in history[1:]]
    head = history[0].config

    # Fork from the checkpoint where count was 1: set it to -1 and run on.
    def past(h: list[StateSnapshot]) -> StateSnapshot:
        return next(s for s in h if s.values.get("count") == 1)

    forks, ends = [], []
    for graph, h in ((ours, history), (oracle, oracle_history)):
        fork = await run.update(graph, past(h).config, {"count": -1})
        forks.append(fork)
        ends.append(await run.invoke(graph, None, fork))
    assert ends[0] == ends[1]
    assert ends[0] == {
        "count": 4,
        "log": ["bump1", "bump0", "bump1", "bump2", "bump3", "bump4"],
    }

    ours = _counter(await run.reopen(saver))
    # The new branch is the thread's latest; the old one is intact.
    latest = await run.state(ours, config)
    assert latest.values == ends[0]
    assert latest.config != head
    assert (await run.state(ours, head)).values == {
        "count": 4,
        "log": ["bump1", "bump2", "bump3", "bump4"],
    }
    assert (await run.state(ours, past(history).config)).values["count"] == 1

    # Each branch, walked by parent links, matches the oracle's.
    new_branch = await _lineage(run, ours, config)
    assert [_view(s) for s in new_branch] == [
        _view(s) for s in await _lineage(run, oracle, _config("travel"))
    ]
    old_branch = await _lineage(run, ours, head)
    assert [_view(s) for s in old_branch] == [_view(s) for s in oracle_history]
    fork_point = past(history).config["configurable"]["checkpoint_id"]
    assert fork_point in _ids(new_branch) and fork_point in _ids(old_branch)
    assert (await run.state(ours, forks[0])).metadata["source"] == "update"  # type: ignore[index]

    # Replaying a past checkpoint as it is forks too, and reruns from there.
    replays = []
    for graph, h in ((ours, history), (oracle, oracle_history)):
        at_two = next(s for s in h if s.values.get("count") == 2)
        replays.append(await run.invoke(graph, None, at_two.config))
    assert replays[0] == replays[1]
    assert replays[0]["log"] == ["bump1", "bump2", "bump3", "bump4"]

    # The whole thread: all branches, newest first, as the oracle has it.
    everything = await run.history(ours, config)
    oracle_everything = await run.history(oracle, config)
    # The update and its run, at least; how many checkpoints a replay adds
    # (a fork of the past checkpoint, or not) is LangGraph's to say and has
    # changed between releases: the oracle has the same LangGraph.
    assert len(everything) >= len(history) + (1 + 5)
    assert [_view(s) for s in everything] == [_view(s) for s in oracle_everything]
    assert _ids(everything) == sorted(_ids(everything), reverse=True)


# -- 5. DeltaChannel -------------------------------------------------------------------


def _extend(state: list[int], writes: Sequence[list[int]]) -> list[int]:
    """Order-sensitive (the list keeps write order) and batching-invariant."""
    return [*state, *(x for w in writes for x in w)]


SNAPSHOT_EVERY = 4


class DeltaState(TypedDict):
    n: int
    items: Annotated[
        list[int], DeltaChannel(_extend, snapshot_frequency=SNAPSHOT_EVERY)
    ]


def _delta_graph(checkpointer: Saver, steps: int = 11) -> Graph:
    """``add`` appends ``n`` to ``items`` and loops until ``n`` reaches
    ``steps``; every third step also fans out two ``extra`` tasks writing in
    the same superstep."""

    def add(state: DeltaState) -> dict[str, Any]:
        return {"n": state["n"] + 1, "items": [state["n"]]}

    def route(state: DeltaState) -> Any:
        if state["n"] >= steps:
            return END
        if state["n"] % 3 == 0:
            return [
                Send("extra", {"n": 100 * state["n"] + k, "items": []})
                for k in (1, 2, 3, 4)
            ]
        return "add"

    def extra(state: DeltaState) -> dict[str, Any]:
        return {"items": [state["n"]]}

    builder = StateGraph(DeltaState)
    builder.add_node("add", add)
    builder.add_node("extra", extra)
    builder.add_edge(START, "add")
    builder.add_conditional_edges("add", route, ["add", "extra", END])
    builder.add_edge("extra", "add")
    return builder.compile(checkpointer=checkpointer)


async def _snapshot_kinds(run: Run, saver: Saver, config: Any) -> Counter[str]:
    """How many checkpoints hold ``items`` as a snapshot, and how many leave
    it to be rebuilt from their ancestors' writes."""
    kinds: Counter[str] = Counter()
    for t in await run.list(saver, config):
        value = t.checkpoint["channel_values"].get("items")
        kinds["snapshot" if isinstance(value, _DeltaSnapshot) else "delta"] += 1
    return kinds


@needs_delta_channels
@needs_writes_sort_key
async def test_delta_channel_reload_prune_and_copy(run: Run) -> None:
    config = _config("delta")
    saver = await run.saver()
    start = {"n": 0, "items": []}
    oracle = _delta_graph(InMemorySaver())
    expected = await run.invoke(oracle, start, config)
    assert await run.invoke(_delta_graph(saver), start, config) == expected
    assert len(expected["items"]) > 2 * SNAPSHOT_EVERY
    assert 301 in expected["items"] and 602 in expected["items"]

    saver = await run.reopen(saver)
    kinds = await _snapshot_kinds(run, saver, config)
    assert kinds["snapshot"] >= 2 and kinds["delta"] >= 2 * SNAPSHOT_EVERY

    # A new saver rebuilds every checkpoint's value as the oracle has it.
    graph = _delta_graph(saver)
    assert (await run.state(graph, config)).values == expected
    history = await run.history(graph, config)
    oracle_history = await run.history(oracle, config)
    assert [_view(s) for s in history] == [_view(s) for s in oracle_history]

    # Copy before pruning (the whole history), and after (what is left).
    await run.copy_thread(saver, "delta", "delta-full-copy")
    full_copy = await run.history(graph, _config("delta-full-copy"))
    assert [_view(s) for s in full_copy] == [_view(s) for s in history]

    await run.prune(saver, ["delta"], strategy="keep_latest")
    graph = _delta_graph(saver := await run.reopen(saver))
    assert (await run.state(graph, config)).values == expected
    pruned = await run.history(graph, config)
    assert 1 <= len(pruned) < len(history)
    # What is left reads back exactly as before: the delta chain was kept.
    by_id = {s.config["configurable"]["checkpoint_id"]: _view(s) for s in history}
    assert [_view(s) for s in pruned] == [by_id[i] for i in _ids(pruned)]
    assert (await run.state(graph, _config("delta-full-copy"))).values == expected

    await run.copy_thread(saver, "delta", "delta-copy")
    copied = await run.history(graph, _config("delta-copy"))
    assert [_view(s) for s in copied] == [_view(s) for s in pruned]

    # Every thread runs on from where it is, as the oracle's does.
    more = {"n": 20, "items": [-1]}
    oracle_more = await run.invoke(_delta_graph(oracle.checkpointer, 23), more, config)
    for thread in ("delta", "delta-copy", "delta-full-copy"):
        result = await run.invoke(_delta_graph(saver, 23), more, _config(thread))
        assert result == oracle_more, thread


@needs_delta_channels
async def test_delta_channel_fork_matches_memory(run: Run) -> None:
    """Forking a DeltaChannel thread from an old checkpoint: the fork's value
    is rebuilt from the old checkpoint's chain, not from the newer branch."""
    config = _config("delta-fork")
    saver = await run.saver()
    oracle = _delta_graph(InMemorySaver())
    start = {"n": 0, "items": []}
    views = []
    for graph in (_delta_graph(saver), oracle):
        await run.invoke(graph, start, config)
        history = await run.history(graph, config)
        past = next(s for s in history if s.values.get("n") == 6 and s.next == ("add",))
        fork = await run.update(graph, past.config, {"items": [-6]}, as_node="add")
        await run.invoke(graph, None, fork)
        views.append(
            (
                _view(await run.state(graph, fork)),
                [_view(s) for s in await run.history(graph, config)],
            )
        )
    graph = _delta_graph(await run.reopen(saver))
    final = (await run.state(graph, config)).values
    assert final == (await run.state(oracle, config)).values
    assert -6 in final["items"]
    assert views[0] == views[1]


@needs_delta_channels
async def test_delta_channel_exit_durability_matches_memory(run: Run) -> None:
    """In ``exit`` mode the writes of every superstep are stored against the
    one checkpoint saved at the end; the rebuilt value must not depend on
    how they sort."""
    config = _config("delta-exit")
    saver = await run.saver()
    start = {"n": 0, "items": []}
    oracle = _delta_graph(InMemorySaver())
    expected = await run.invoke(oracle, start, config, durability="exit")
    assert await run.invoke(_delta_graph(saver), start, config, durability="exit") == (
        expected
    )
    graph = _delta_graph(saver := await run.reopen(saver))
    assert (await run.state(graph, config)).values == expected
    # A second run on the thread in exit mode rebuilds the channel first.
    more = {"n": 20, "items": [-1]}
    oracle = _delta_graph(oracle.checkpointer, 23)
    expected = await run.invoke(oracle, more, config, durability="exit")
    result = await run.invoke(_delta_graph(saver, 23), more, config, durability="exit")
    assert result == expected
    graph = _delta_graph(await run.reopen(saver), 23)
    assert [_view(s) for s in await run.history(graph, config)] == [
        _view(s) for s in await run.history(oracle, config)
    ]


def _delta_parent(checkpointer: Saver) -> Graph:
    """A parent whose ``child`` node is the DeltaChannel graph, so the
    channel's chain lives in the child's namespace."""

    def before(state: DeltaState) -> dict[str, Any]:
        return {"n": 0, "items": [-1]}

    builder = StateGraph(DeltaState)
    builder.add_node("before", before)
    builder.add_node("child", _delta_graph(None, 9))
    builder.add_edge(START, "before")
    builder.add_edge("before", "child")
    return builder.compile(checkpointer=checkpointer)


@needs_delta_channels
async def test_delta_channel_in_a_subgraph(run: Run) -> None:
    config = _config("delta-nested")
    saver = await run.saver()
    start = {"n": 0, "items": []}
    oracle = _delta_parent(InMemorySaver())
    expected = await run.invoke(oracle, start, config)
    assert await run.invoke(_delta_parent(saver), start, config) == expected

    graph = _delta_parent(saver := await run.reopen(saver))
    namespaces = {_ns(t) for t in await run.list(saver, config)}
    assert len(namespaces) == 2 and "" in namespaces
    assert [_view(s) for s in await run.history(graph, config)] == [
        _view(s) for s in await run.history(oracle, config)
    ]
    await run.prune(saver, ["delta-nested"], strategy="keep_latest")
    assert (await run.state(graph, config)).values == expected
    more = {"n": 0, "items": [7]}
    expected = await run.invoke(oracle, more, config)
    graph = _delta_parent(await run.reopen(saver))
    assert await run.invoke(graph, more, config) == expected


@needs_delta_channels
@needs_writes_sort_key
async def test_delta_channel_across_pages(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With tiny pages, chain walks and ``list`` cross many page boundaries,
    on a thread with two branches."""
    monkeypatch.setattr(reads, "CHAIN_PAGE_SIZE", 2)
    monkeypatch.setattr(jobs, "LIST_PAGE_SIZE", 3)
    config = _config("delta-pages")
    saver = await run.saver()
    start = {"n": 0, "items": []}
    views, ends = [], []
    for graph in (_delta_graph(saver), _delta_graph(InMemorySaver())):
        await run.invoke(graph, start, config)
        history = await run.history(graph, config)
        past = next(s for s in history if s.values.get("n") == 4 and s.next)
        fork = await run.update(graph, past.config, {"items": [-4]}, as_node="add")
        ends.append(await run.invoke(graph, None, fork))
        views.append([_view(s) for s in await run.history(graph, config)])
    assert ends[0] == ends[1]
    assert views[0] == views[1]

    await run.prune(saver, ["delta-pages"], strategy="keep_last", keep=3)
    graph = _delta_graph(await run.reopen(saver))
    assert (await run.state(graph, config)).values == ends[1]
    kept = [_view(s) for s in await run.history(graph, config)]
    assert 3 <= len(kept) < len(views[0])
    assert kept[:3] == views[1][:3]


# -- 6. durability -------------------------------------------------------------------


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
@pytest.mark.async_interrupts
async def test_durability_modes(run: Run, durability: str) -> None:
    config = _config(f"durable-{durability}")
    saver = await run.saver()
    result = await run.invoke(
        _counter(saver), {"count": 0, "log": []}, config, durability=durability
    )
    assert result == {"count": 4, "log": ["bump1", "bump2", "bump3", "bump4"]}

    oracle = _counter(InMemorySaver())
    await run.invoke(oracle, {"count": 0, "log": []}, config, durability=durability)
    graph = _counter(saver := await run.reopen(saver))
    assert (await run.state(graph, config)).values == result
    history = await run.history(graph, config)
    assert [_view(s) for s in history] == [
        _view(s) for s in await run.history(oracle, config)
    ]
    assert len(history) == (1 if durability == "exit" else 6)

    # An interrupt is saved in every mode, and resumes from a new saver.
    ask = _config(f"durable-ask-{durability}")
    await run.invoke(_interview(saver), {"steps": []}, ask, durability=durability)
    graph = _interview(saver := await run.reopen(saver))
    assert (await run.state(graph, ask)).next == ("ask",)
    await run.invoke(graph, Command(resume="Bo"), ask, durability=durability)
    graph = _interview(await run.reopen(saver))
    final = await run.invoke(graph, Command(resume=7), ask, durability=durability)
    assert final == {"steps": ["start", "Bo is 7", "finish"]}
    assert (await run.state(graph, ask)).values == final


# -- 7. the async saver from other threads ------------------------------------------


async def test_async_saver_sync_methods_off_the_loop_only(
    asaver: AsyncSQLAlchemySaver,
) -> None:
    config = _config("threads")
    await _counter(asaver).ainvoke({"count": 0, "log": []}, config)
    expected = await asaver.aget_tuple(config)
    assert expected is not None

    # From a worker thread, the sync methods run on the saver's loop.
    assert await asyncio.to_thread(asaver.get_tuple, config) == expected
    listed = await asyncio.to_thread(lambda: list(asaver.list(config)))
    assert listed == [t async for t in asaver.alist(config)]
    assert len(listed) == 6

    # On the loop's own thread they would deadlock, so they refuse.
    with pytest.raises(asyncio.InvalidStateError):
        asaver.get_tuple(config)
    with pytest.raises(asyncio.InvalidStateError):
        list(asaver.list(config))
    with pytest.raises(asyncio.InvalidStateError):
        _counter(asaver).get_state(config)
    # Nothing was left half-done: the async methods still work.
    assert await asaver.aget_tuple(config) == expected


def _sync_child_in_async_parent(checkpointer: Saver) -> Graph:
    """An async graph whose node runs a sync subgraph with ``invoke``, so the
    subgraph calls the async saver's sync methods from a worker thread."""

    def inner(state: Steps) -> dict[str, list[str]]:
        return {"steps": [f"inner:{interrupt('inner?')}"]}

    sub = StateGraph(Steps)
    sub.add_node("inner", inner)
    sub.add_edge(START, "inner")
    child = sub.compile()

    def call_child(state: Steps) -> dict[str, list[str]]:
        out = child.invoke({"steps": ["child-start"]})
        return {"steps": out["steps"]}

    builder = StateGraph(Steps)
    builder.add_node("call_child", call_child)
    builder.add_edge(START, "call_child")
    return builder.compile(checkpointer=checkpointer)


@pytest.mark.async_interrupts
async def test_sync_subgraph_inside_async_graph(
    backend: Backend, asaver: AsyncSQLAlchemySaver
) -> None:
    config = _config("sync-child")
    graph = _sync_child_in_async_parent(asaver)
    first = await graph.ainvoke({"steps": []}, config)
    assert [i.value for i in first["__interrupt__"]] == ["inner?"]
    namespaces = {_ns(t) async for t in asaver.alist(config)}
    assert any(ns.startswith("call_child:") for ns in namespaces)

    final = await graph.ainvoke(Command(resume="ok"), config)
    oracle = _sync_child_in_async_parent(InMemorySaver())
    await oracle.ainvoke({"steps": []}, config)
    assert final == await oracle.ainvoke(Command(resume="ok"), config)
    assert final == {"steps": ["child-start", "inner:ok"]}
