"""A FastAPI app whose one AsyncEngine serves its own tables and the checkpointer.

The app makes a single SQLAlchemy ``AsyncEngine`` at startup and hands it to
both: ``AsyncSQLAlchemySaver(engine)``, which keeps the weather agent's
conversations (quickstart_async.py's agent), and the app's own ``conversations``
table, declared below with the app's own ``DeclarativeBase``. One pool, one
set of database settings; the saver never disposes of an engine it was given,
so the app disposes of it at shutdown.

    uvicorn examples.fastapi_app:app                # from the repository root
    python examples/fastapi_app.py                  # the same, on 127.0.0.1:8000
    DATABASE_URL=postgresql+psycopg://user:pass@localhost/app python examples/fastapi_app.py

    curl -X POST localhost:8000/threads/t1/messages -H 'content-type: application/json' \\
         -d '{"text": "what is the weather in sf?"}'
    curl localhost:8000/threads/t1                  # the conversation, from the checkpointer
    curl 'localhost:8000/threads/t1?tools=true'     # with the tool calls and results
    curl localhost:8000/threads                     # the app's own table

``DATABASE_URL`` is an async SQLAlchemy URL (default
``sqlite+aiosqlite:///./fastapi-demo.db``, a file in the working directory).
Needs ``pip install -e ".[examples,sqlite-async]"`` (``[postgres]`` for
PostgreSQL).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field
from sqlalchemy import DateTime, String, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# `python examples/fastapi_app.py` puts this folder on sys.path and
# `uvicorn examples.fastapi_app:app` does not; the shared agent module lives here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

from _weather_agent import build_agent

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./fastapi-demo.db"


# -- the app's own table: its own DeclarativeBase, next to the checkpoint tables --


class AppBase(DeclarativeBase):
    pass


class Conversation(AppBase):
    """One row per thread the app has served: what the app itself keeps."""

    __tablename__ = "conversations"

    thread_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    turns: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


# -- request and response bodies ------------------------------------------------


class MessageIn(BaseModel):
    text: str = Field(min_length=1)


class Reply(BaseModel):
    thread_id: str
    reply: str
    turns: int


class MessageOut(BaseModel):
    type: str  # "human", "ai" or "tool"
    content: Any
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)


class ThreadOut(BaseModel):
    thread_id: str
    turns: int
    messages: list[MessageOut]


class ConversationOut(BaseModel):
    thread_id: str
    turns: int


# -- the app -----------------------------------------------------------------------


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def _is_transcript(message: BaseMessage) -> bool:
    """The user's messages and the agent's answers; not the tool traffic."""
    if isinstance(message, HumanMessage):
        return True
    return isinstance(message, AIMessage) and not message.tool_calls


def create_app(database_url: str | None = None) -> FastAPI:
    """The app on ``database_url``, else ``$DATABASE_URL``, else a SQLite file.

    The URL is read when the app starts, so ``app`` below follows the
    environment of the process that serves it.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        engine = create_async_engine(url)
        try:
            saver = AsyncSQLAlchemySaver(engine)  # borrows the engine
            await saver.setup()  # the checkpoint tables, by our Alembic migrations
            async with engine.begin() as conn:
                # The app's table. A real app would run its own Alembic history
                # instead; examples/host_app_migrations/ shows one that includes ours.
                await conn.run_sync(AppBase.metadata.create_all)
            app.state.engine = engine
            app.state.saver = saver
            app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
            app.state.graph = build_agent(saver)
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Weather agent on langgraph-checkpoint-sqlalchemy", lifespan=lifespan
    )

    @app.post("/threads/{thread_id}/messages")
    async def post_message(
        thread_id: str, message: MessageIn, request: Request
    ) -> Reply:
        """Run the agent on the thread with one more user message."""
        graph: CompiledStateGraph[Any] = request.app.state.graph
        result = await graph.ainvoke(
            {"messages": [("user", message.text)]}, _config(thread_id)
        )
        sessions: async_sessionmaker[Any] = request.app.state.sessions
        async with sessions.begin() as session:
            conversation = await session.get(Conversation, thread_id)
            if conversation is None:
                conversation = Conversation(thread_id=thread_id, turns=0)
                session.add(conversation)
            conversation.turns += 1
        return Reply(
            thread_id=thread_id,
            reply=str(result["messages"][-1].content),
            turns=conversation.turns,
        )

    @app.get("/threads/{thread_id}")
    async def get_thread(
        thread_id: str, request: Request, tools: bool = False
    ) -> ThreadOut:
        """The thread's messages, as the checkpointer stored them."""
        graph: CompiledStateGraph[Any] = request.app.state.graph
        state = await graph.aget_state(_config(thread_id))
        messages: list[BaseMessage] = state.values.get("messages", [])
        if not messages:
            raise HTTPException(status_code=404, detail=f"no thread {thread_id!r}")
        async with request.app.state.sessions() as session:
            conversation = await session.get(Conversation, thread_id)
        return ThreadOut(
            thread_id=thread_id,
            turns=conversation.turns if conversation is not None else 0,
            messages=[
                MessageOut(
                    type=m.type,
                    content=m.content,
                    tool_calls=list(getattr(m, "tool_calls", None) or []),
                )
                for m in messages
                if tools or _is_transcript(m)
            ],
        )

    @app.get("/threads")
    async def list_threads(request: Request) -> list[ConversationOut]:
        """The app's own table, on the same engine as the checkpoints."""
        async with request.app.state.sessions() as session:
            rows = await session.scalars(
                select(Conversation).order_by(
                    Conversation.created_at, Conversation.thread_id
                )
            )
            return [ConversationOut(thread_id=c.thread_id, turns=c.turns) for c in rows]

    return app


app = create_app()


if __name__ == "__main__":
    import uvicorn  # only needed to serve; the tests drive the app in-process

    uvicorn.run(
        app,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
    )
