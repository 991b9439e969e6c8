"""The data every scenario writes: messages-sized checkpoints, the superstep
plan, and a ReAct-shaped graph with a scripted model.

Everything here is deterministic (a message's text depends only on its
number), so every saver stores and reads exactly the same values.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from langgraph.checkpoint.base import Checkpoint
from langgraph.checkpoint.base.id import uuid6

from bench.plans import Op, Plan

# The checkpoint format LangGraph 1.x writes (langgraph.pregel._checkpoint).
# langgraph.checkpoint.base.empty_checkpoint() still says 2, and a format
# below 4 makes the official savers run an extra query for pending sends.
CHECKPOINT_FORMAT = 4
CONTENT_CHARS = 200
INITIAL_MESSAGES = 20
_VOCABULARY = (
    "checkpoint thread saver agent tool call result weather city sunny cloudy "
    "message state graph node edge channel version write blob value history "
    "turn answer question search query retrieve document summary context"
)
WORDS = _VOCABULARY.split()

NextVersion = Callable[[Any, Any], Any]  # saver.get_next_version


def text(seed: int, chars: int = CONTENT_CHARS) -> str:
    """About ``chars`` characters of words, the same for the same seed."""
    rng = random.Random(seed)
    words: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:chars]


def message(n: int) -> dict[str, Any]:
    """Message number ``n`` of a conversation, as a plain dict."""
    return {
        "id": f"msg-{n:06d}",
        "type": "human" if n % 2 == 0 else "ai",
        "content": text(n),
    }


def config(thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
    configurable = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def next_checkpoint(
    previous: Checkpoint | None,
    values: dict[str, Any],
    step: int,
    next_version: NextVersion,
) -> tuple[Checkpoint, dict[str, Any]]:
    """The checkpoint after ``previous`` where every channel in ``values``
    changed, and the new versions of those channels."""
    old = dict(previous["channel_versions"]) if previous else {}
    new_versions = {ch: next_version(old.get(ch), None) for ch in values}
    checkpoint = Checkpoint(
        v=CHECKPOINT_FORMAT,
        id=str(uuid6(clock_seq=step)),
        ts=datetime.now(timezone.utc).isoformat(),
        channel_values=dict(values),
        channel_versions={**old, **new_versions},
        versions_seen={"agent": old},
        updated_channels=sorted(values),
    )
    return checkpoint, new_versions


def metadata(step: int, **extra: Any) -> dict[str, Any]:
    return {"source": "loop", "step": step, "parents": {}, **extra}


# -- the superstep ---------------------------------------------------------


def seed_thread(
    thread_id: str, next_version: NextVersion, messages: int = INITIAL_MESSAGES
) -> Plan[None]:
    """A thread's first checkpoint: ``messages`` messages and a counter at 0."""
    values = {"messages": [message(n) for n in range(messages)], "counter": 0}
    checkpoint, versions = next_checkpoint(None, values, -1, next_version)
    yield Op("put", (config(thread_id), checkpoint, metadata(-1), versions))


def superstep(thread_id: str, next_version: NextVersion) -> Plan[int]:
    """What one LangGraph superstep asks of its saver: read the latest
    checkpoint, store a task's two writes, store the next checkpoint with the
    two channels that changed (the message list, one longer, and the counter).
    Returns the new counter."""
    latest = yield Op("get_tuple", (config(thread_id),))
    values = latest.checkpoint["channel_values"]
    counter, messages = values["counter"], values["messages"]
    if len(messages) != INITIAL_MESSAGES + counter:  # a saver returned stale state
        raise AssertionError(f"{thread_id}: {len(messages)} messages at {counter}")
    new = message(INITIAL_MESSAGES + counter)
    task_id = str(uuid.uuid4())
    writes = [("messages", [new]), ("counter", counter + 1)]
    yield Op("put_writes", (latest.config, writes, task_id))
    checkpoint, versions = next_checkpoint(
        latest.checkpoint,
        {"messages": [*messages, new], "counter": counter + 1},
        counter,
        next_version,
    )
    yield Op("put", (latest.config, checkpoint, metadata(counter), versions))
    return counter + 1


# -- the agent -------------------------------------------------------------


def agent_graph(checkpointer: Any) -> Any:
    """agent → tools → agent, compiled with ``checkpointer``. The "model" is a
    script: a human message gets a tool call, a tool result gets an answer."""
    from langchain_core.messages import AIMessage, ToolMessage
    from langchain_core.tools import tool
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    @tool
    def search(query: str) -> str:
        """Look something up."""
        return text(len(query) * 7919 + ord(query[0]))

    def agent(state: MessagesState) -> dict[str, Any]:
        history = state["messages"]
        last = history[-1]
        if isinstance(last, ToolMessage):
            return {"messages": [AIMessage(content=text(len(history)))]}
        call = {
            "name": "search",
            "args": {"query": str(last.content)[:60]},
            "id": f"call_{len(history)}",
            "type": "tool_call",
        }
        return {"messages": [AIMessage(content="", tool_calls=[call])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([search]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)


def human_turn(n: int) -> dict[str, Any]:
    from langchain_core.messages import HumanMessage

    return {"messages": [HumanMessage(content=text(100_000 + n))]}
