"""The agent both quick starts run: LangGraph's ReAct weather agent.

A ``get_weather`` tool, a chat model that decides when to call it, and the
two-node ReAct graph (agent → tools → agent, until the agent answers in text).
``langgraph.prebuilt.create_react_agent`` is deprecated in LangGraph 1.x and its
successor lives in the ``langchain`` package, so the graph is built here from
``StateGraph``, ``ToolNode`` and ``tools_condition``.

With ``OPENAI_API_KEY`` set and ``langchain-openai`` installed, the model is
``gpt-4o-mini``; otherwise it is a scripted stand-in, so the quick start needs
no account and no network.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition

DEFAULT_QUESTION = "what is the weather in sf?"
DEFAULT_SYNC_URL = "sqlite:///quickstart.db"
DEFAULT_ASYNC_URL = "sqlite+aiosqlite:///quickstart.db"


@tool
def get_weather(city: str) -> str:
    """Use this to get weather information for a city."""
    name = city.strip().lower()
    if name in ("sf", "san francisco"):
        return "It's always sunny in sf"
    if name in ("nyc", "new york"):
        return "It might be cloudy in nyc"
    return f"Sorry, I don't know the weather in {city}."


class ScriptedWeatherModel(BaseChatModel):
    """A stand-in chat model with a fixed script.

    Given a question, it calls ``get_weather`` for the city the latest human
    message names. Given the tool's result, it answers with that result and
    the number of human messages in the conversation, so a second run on the
    same thread shows that the first one was remembered.
    """

    @property
    def _llm_type(self) -> str:
        return "scripted-weather"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedWeatherModel:
        return self  # the script knows its one tool

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        questions = [m for m in messages if isinstance(m, HumanMessage)]
        last = messages[-1]
        if isinstance(last, ToolMessage):
            said = str(last.content).rstrip(".")
            reply = AIMessage(
                content=f"{said}. "
                f"(That's question {len(questions)} in this conversation.)"
            )
        else:
            latest = str(questions[-1].content) if questions else ""
            reply = AIMessage(
                content="",
                tool_calls=[
                    {
                        "name": "get_weather",
                        "args": {"city": _city(latest)},
                        "id": f"call_{len(messages)}",
                    }
                ],
            )
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _city(question: str) -> str:
    """The city a question names: a known one, else its last word."""
    text = question.lower()
    for city in ("san francisco", "new york", "sf", "nyc"):
        if re.search(rf"\b{city}\b", text):
            return city
    words = re.findall(r"[a-z]+", text)
    return words[-1] if words else "nowhere"


def chat_model() -> BaseChatModel:
    """OpenAI's model when a key and langchain-openai are there; else the stand-in."""
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain_openai import ChatOpenAI  # type: ignore[import-not-found]
        except ImportError:
            pass
        else:
            return ChatOpenAI(model="gpt-4o-mini")  # type: ignore[no-any-return]
    return ScriptedWeatherModel()


def build_agent(checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any]:
    """The ReAct loop on ``checkpointer``: the model calls tools until it answers."""
    model = chat_model().bind_tools([get_weather])

    def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    async def aagent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", RunnableLambda(agent, afunc=aagent))
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)  # tools, or the end
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)


def resolve_url(url: str | None, default: str) -> str:
    """``--url``, else the ``CHECKPOINT_URL`` environment variable, else ``default``."""
    return url or os.environ.get("CHECKPOINT_URL") or default
