"""The agent both quick starts run: LangGraph's ReAct weather agent.

A `get_weather` tool, a chat model that decides to call it, and a two-node
graph (model → tools → model). Without ``OPENAI_API_KEY`` (or without
``langchain-openai`` installed) the model is a scripted stand-in, so the quick
start needs no account and no network.
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


@tool
def get_weather(city: str) -> str:
    """Use this to get weather information for a city."""
    name = city.strip().lower()
    if name in ("sf", "san francisco"):
        return "It's always sunny in sf"
    if name in ("nyc", "new york"):
        return "It might be cloudy in nyc"
    return f"I don't know the weather in {city}"


class ScriptedWeatherModel(BaseChatModel):
    """A stand-in chat model: it asks for the weather of the city in the latest
    question, then answers with what the tool said and how many questions the
    conversation holds — so a second run shows that it remembers the first."""

    @property
    def _llm_type(self) -> str:
        return "scripted-weather"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedWeatherModel:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            asked = sum(isinstance(m, HumanMessage) for m in messages)
            reply = AIMessage(
                content=f"{last.content}. (That's question {asked} in this conversation.)"
            )
        else:
            reply = AIMessage(
                content="",
                tool_calls=[
                    {
                        "name": "get_weather",
                        "args": {"city": _city(str(last.content))},
                        "id": f"call_{len(messages)}",
                    }
                ],
            )
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _city(question: str) -> str:
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
    """The ReAct loop: the model calls tools until it can answer."""
    model = chat_model().bind_tools([get_weather])

    def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    async def aagent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", RunnableLambda(agent, afunc=aagent))
    builder.add_node("tools", ToolNode([get_weather]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)


def default_url(async_: bool) -> str:
    """``--url``, else ``CHECKPOINT_URL``, else a SQLite file in this folder."""
    return os.environ.get("CHECKPOINT_URL") or (
        "sqlite+aiosqlite:///quickstart.db" if async_ else "sqlite:///quickstart.db"
    )
