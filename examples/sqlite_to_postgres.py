"""Move a thread from SQLite to PostgreSQL, and carry on there.

A small graph (draft -> review, which waits for a human with ``interrupt``)
runs on a SQLite file with ``SQLAlchemySaver`` and stops at the question. The
thread then moves to PostgreSQL with
:func:`langgraph.checkpoint.sqlalchemy.transfer.transfer`, which copies it,
checks it and returns a report, and the graph resumes there, from the same
checkpoint, with the answer.

    python examples/sqlite_to_postgres.py
    SOURCE_URL=sqlite:///agent.db TARGET_URL=postgresql://user:pass@host/db \\
        python examples/sqlite_to_postgres.py

Defaults: ``SOURCE_URL=sqlite:///sqlite_to_postgres.db`` (a file in the
working directory) and ``TARGET_URL=postgresql://postgres@localhost:5432/postgres``.
The same move from the command line: ``langgraph-sqlalchemy transfer --from
SOURCE_URL --to TARGET_URL --thread ID``.
"""

from __future__ import annotations

import operator
import os
import sys
import uuid
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.transfer import TransferProgress, transfer

SOURCE_URL = os.environ.get("SOURCE_URL", "sqlite:///sqlite_to_postgres.db")
TARGET_URL = os.environ.get(
    "TARGET_URL", "postgresql://postgres@localhost:5432/postgres"
)


class Post(TypedDict):
    log: Annotated[list[str], operator.add]
    text: str


def build(checkpointer: SQLAlchemySaver) -> Any:
    """draft -> review (asks a human) -> END."""

    def draft(state: Post) -> dict[str, Any]:
        return {"text": "Moving threads is easy.", "log": ["drafted"]}

    def review(state: Post) -> dict[str, Any]:
        verdict = interrupt({"question": "Publish this?", "text": state["text"]})
        return {"log": [f"review: {verdict}"]}

    builder = StateGraph(Post)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", END)
    return builder.compile(checkpointer=checkpointer)


def show(event: TransferProgress) -> None:
    print(
        f"  {event.phase}: {event.threads_done}/{event.threads_total} thread(s), "
        f"{event.checkpoints_copied} checkpoint(s) copied"
    )


def main() -> int:
    thread_id = f"post-{uuid.uuid4().hex[:8]}"
    config: Any = {"configurable": {"thread_id": thread_id}}

    with SQLAlchemySaver.from_url(SOURCE_URL) as sqlite_saver:
        sqlite_saver.setup()
        stopped = build(sqlite_saver).invoke({"log": [], "text": ""}, config)
        question = stopped["__interrupt__"][0].value["question"]
        print(f"on SQLite, thread {thread_id} waits: {question!r}")

    print("moving it to PostgreSQL ...")
    report = transfer(SOURCE_URL, TARGET_URL, thread_ids=[thread_id], progress=show)
    moved = report.threads[0]
    print(
        f"{moved.status} {moved.copied} checkpoint(s), "
        f"verified: {moved.verified} (sha256 {moved.target_checksum})"
    )
    if not report.ok:
        return 1

    with SQLAlchemySaver.from_url(TARGET_URL) as postgres_saver:
        graph = build(postgres_saver)
        print(f"on PostgreSQL, next: {graph.get_state(config).next}")
        final = graph.invoke(Command(resume="yes, ship it"), config)
        print(f"resumed on PostgreSQL: {final['log']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
