"""``demo``: the quick start's weather agent, on a local SQLite file.

A ReAct loop (agent → tools → agent) with a ``get_weather`` tool and a
scripted model, so it needs no account and no network; only LangGraph
(``pip install "langgraph-checkpoint-sqlalchemy[cli,examples]"``). Each run
asks its questions on one thread: run it twice and the agent remembers the
first run's questions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.cli._common import (
    CliError,
    Database,
    Output,
    message_lines,
    to_jsonable,
)
from langgraph.checkpoint.sqlalchemy.dialects import database_file
from sqlalchemy.engine.url import make_url

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

__all__ = ["DEFAULT_URL", "build_weather_agent", "demo"]

DEFAULT_URL = "sqlite:///langgraph-demo.db"
DEFAULT_QUESTIONS = ("what is the weather in sf?", "and in nyc?")
_CITIES = {"sf": "sf", "san francisco": "sf", "nyc": "nyc", "new york": "nyc"}


def _weather(city: str) -> str:
    forecasts = {"sf": "It's always sunny in sf", "nyc": "It might be cloudy in nyc"}
    known = _CITIES.get(city.strip().lower())
    return forecasts[known] if known else f"Sorry, I don't know the weather in {city}."


def _city(question: str) -> str:
    text = question.lower()
    for name in sorted(_CITIES, key=len, reverse=True):
        if re.search(rf"\b{name}\b", text):
            return name
    words = re.findall(r"[a-z]+", text)
    return words[-1] if words else "nowhere"


def build_weather_agent(checkpointer: SQLAlchemySaver) -> CompiledStateGraph[Any]:
    """The ReAct weather agent on ``checkpointer``, with a scripted model: it
    calls ``get_weather`` for the city the latest question names, then answers
    with the tool's result and how many questions the thread has seen."""
    try:
        from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
        from langchain_core.tools import tool
        from langgraph.graph import START, MessagesState, StateGraph
        from langgraph.prebuilt import ToolNode, tools_condition
    except ImportError as exc:
        raise CliError(
            f"the demo needs LangGraph ({exc.name} is missing): "
            "pip install 'langgraph-checkpoint-sqlalchemy[cli,examples]'"
        ) from exc

    @tool
    def get_weather(city: str) -> str:
        """Use this to get weather information for a city."""
        return _weather(city)

    def agent(state: MessagesState) -> dict[str, list[Any]]:
        messages = state["messages"]
        questions = [m for m in messages if isinstance(m, HumanMessage)]
        if isinstance(messages[-1], ToolMessage):
            said = str(messages[-1].content).rstrip(".")
            reply = AIMessage(
                content=f"{said}. (That's question {len(questions)} on this thread.)"
            )
        else:
            city = _city(str(questions[-1].content) if questions else "")
            reply = AIMessage(
                content="",
                tool_calls=[
                    {
                        "name": "get_weather",
                        "args": {"city": city},
                        "id": f"call_{len(messages)}",
                    }
                ],
            )
        return {"messages": [reply]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)


@click.command()
@click.option(
    "--url",
    default=DEFAULT_URL,
    show_default=True,
    metavar="URL",
    help="Where to store the demo's checkpoints. Deliberately not read from "
    "LANGGRAPH_CHECKPOINT_URL, so the demo never writes to your real database "
    "unless asked.",
)
@click.option("--schema", default=None, metavar="NAME", help="Schema for the tables.")
@click.option("--thread", "thread_id", default="demo", show_default=True)
@click.option(
    "--question",
    "questions",
    multiple=True,
    help="What to ask (repeatable). Default: the weather in sf, then in nyc.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def demo(
    url: str,
    schema: str | None,
    thread_id: str,
    questions: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run the quick start's weather agent and show where its state went."""
    db, out = Database(url, schema), Output(as_json)
    asked = questions or DEFAULT_QUESTIONS
    config: Any = {"configurable": {"thread_id": thread_id}}
    with db.saver(require_tables=False) as saver:
        with out.status("Creating the tables…"):
            saver.setup()
        graph = build_weather_agent(saver)
        before = len(graph.get_state(config).values.get("messages", []))
        with out.progress("Asking", len(asked)) as advance:
            for question in asked:
                graph.invoke({"messages": [("user", question)]}, config)
                advance(1)
        messages = graph.get_state(config).values["messages"]
        checkpoints = list(saver.list(config))
    new = messages[before:]
    if out.json:
        out.emit_json(
            {
                "url": db.masked,
                "schema": schema,
                "thread_id": thread_id,
                "messages": [to_jsonable(m) for m in new],
                "total_messages": len(messages),
                "checkpoints": len(checkpoints),
                "latest_checkpoint_id": checkpoints[0].config["configurable"][
                    "checkpoint_id"
                ],
            }
        )
        return
    for line in message_lines(new):
        out.note(line)
    latest = checkpoints[0].config["configurable"]["checkpoint_id"]
    out.note("")
    out.note(
        f"State stored in {db.where}: thread {thread_id!r} holds "
        f"{len(messages)} messages in {len(checkpoints)} checkpoints "
        f"(latest {latest})."
    )
    path = database_file(make_url(url))
    if path is not None:
        out.note(f"SQLite file: {Path(path).resolve()}")
    where = f"--url {db.masked}" + (f" --schema {schema}" if schema else "")
    out.note(f"Look at it: langgraph-sqlalchemy threads {where}")
    out.note(f"            langgraph-sqlalchemy show {thread_id} {where}")
