"""One engine for everything: the app's own tables, the checkpointer and the
memory store.

An app makes a single SQLAlchemy ``Engine`` and hands it to all three:
``SQLAlchemySaver(engine)`` keeps each conversation's state (short-term,
per thread), ``SQLAlchemyStore(engine)`` keeps what the assistant learned
about a user (long-term, across threads), and the app's own ORM model
(``Visit``, below) sits in the same database, under the same connection pool
and settings. Neither the saver nor the store disposes of an engine it was
given.

The graph has one node, a deterministic stand-in for an LLM (no network, no
API key): a message ``remember: <fact>`` stores the fact under the user's
namespace in the store; any other message is answered with every fact the
store holds for that user, whichever thread they were told on.

    python examples/store_app.py --thread t1 --say "remember: I drink tea"
    python examples/store_app.py --thread t2 --say "what do you know about me?"
    python examples/store_app.py --url postgresql://user:pass@localhost/db ...

Default database: the SQLite file ./store_app.db (or $CHECKPOINT_URL).
"""

from __future__ import annotations

import argparse
import operator
import os
import uuid
from datetime import datetime, timezone
from typing import Annotated

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from sqlalchemy import DateTime, String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from typing_extensions import TypedDict

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.store.sqlalchemy import SQLAlchemyStore

DEFAULT_URL = "sqlite:///store_app.db"


# -- the app's own table -------------------------------------------------------


class Base(DeclarativeBase):
    """The app's models: their own metadata, apart from the package's tables."""


class Visit(Base):
    """One message a user sent, as the app logs it."""

    __tablename__ = "app_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    thread_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# -- the graph -----------------------------------------------------------------


class State(TypedDict):
    message: str
    reply: str
    turns: Annotated[int, operator.add]  # this thread's turns (the checkpointer)


class Context(TypedDict):
    user_id: str


def assistant(state: State, runtime: Runtime[Context]) -> dict[str, object]:
    """Remember a fact, or recall every fact: a deterministic stand-in for an
    LLM with memory tools."""
    store = runtime.store
    assert store is not None, "compile the graph with store=..."
    namespace = ("users", runtime.context["user_id"], "facts")
    message = state["message"].strip()
    if message.lower().startswith("remember:"):
        fact = message.split(":", 1)[1].strip()
        # The same fact told twice is one item: its key is derived from it.
        store.put(namespace, str(uuid.uuid5(uuid.NAMESPACE_URL, fact)), {"fact": fact})
        return {"reply": f"noted: {fact}", "turns": 1}
    facts = sorted(item.value["fact"] for item in store.search(namespace, limit=100))
    known = "; ".join(facts) if facts else "nothing yet"
    return {"reply": f"what I know about you: {known}", "turns": 1}


def build_graph(saver: SQLAlchemySaver, store: SQLAlchemyStore) -> object:
    builder = StateGraph(State, context_schema=Context)
    builder.add_node("assistant", assistant)
    builder.add_edge(START, "assistant")
    builder.add_edge("assistant", END)
    return builder.compile(checkpointer=saver, store=store)


# -- the app -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help=f"database URL (default: {DEFAULT_URL})")
    parser.add_argument("--user", default="ada", help="who is talking")
    parser.add_argument("--thread", default="t1", help="conversation thread ID")
    parser.add_argument("--say", default="what do you know about me?")
    args = parser.parse_args(argv)
    url = args.url or os.environ.get("CHECKPOINT_URL") or DEFAULT_URL

    engine = create_engine(url)  # the one engine
    try:
        saver = SQLAlchemySaver(engine)
        store = SQLAlchemyStore(engine)
        saver.setup()  # the checkpoint tables
        store.setup()  # the store's table
        Base.metadata.create_all(engine)  # the app's own

        graph = build_graph(saver, store)
        config: RunnableConfig = {"configurable": {"thread_id": args.thread}}
        result = graph.invoke(  # type: ignore[attr-defined]
            {"message": args.say, "turns": 0}, config, context={"user_id": args.user}
        )
        print("assistant:", result["reply"])
        print(f"thread {args.thread!r}: turn {result['turns']}")

        with Session(engine) as session, session.begin():
            session.add(
                Visit(
                    user_id=args.user,
                    thread_id=args.thread,
                    at=datetime.now(timezone.utc),
                )
            )
        with Session(engine) as session:
            visits = session.scalar(
                select(func.count())
                .select_from(Visit)
                .where(Visit.user_id == args.user)
            )
        print(f"app table: {visits} visit(s) by {args.user}")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
