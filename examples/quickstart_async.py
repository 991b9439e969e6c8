"""Quick start, async: the weather agent of quickstart.py on AsyncSQLAlchemySaver.

The same agent, the same output, with ``graph.ainvoke`` and the async saver.
Run it twice: the second process continues the first one's thread.

    python examples/quickstart_async.py            # SQLite file via aiosqlite
    python examples/quickstart_async.py --question "and in nyc?"
    python examples/quickstart_async.py --url postgresql://user:pass@localhost/db

The SQLite default needs aiosqlite (``pip install -e ".[sqlite-async]"``); a
URL without a driver gets the async default (``postgresql://`` → psycopg 3).
Its default thread is not quickstart.py's, so the two keep separate counts in
the shared ``quickstart.db``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from langchain_core.runnables import RunnableConfig

# Python puts this folder on sys.path for `python examples/quickstart_async.py`,
# unless told not to (-P, PYTHONSAFEPATH); the shared agent module lives here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

from _weather_agent import (
    DEFAULT_ASYNC_URL,
    DEFAULT_QUESTION,
    build_agent,
    resolve_url,
)


async def run(url: str, thread: str, question: str) -> None:
    """Ask one question on ``thread``, then report what the thread holds."""
    config: RunnableConfig = {"configurable": {"thread_id": thread}}

    async with AsyncSQLAlchemySaver.from_url(url) as saver:
        await saver.setup()  # creates the tables on first use; cheap afterwards
        graph = build_agent(saver)
        result = await graph.ainvoke({"messages": [("user", question)]}, config)
        print("agent:", result["messages"][-1].content)

        state = await graph.aget_state(config)
        print(f"thread {thread!r} now holds {len(state.values['messages'])} messages")
        checkpoints = [c async for c in saver.alist(config)]
        print(f"checkpoints stored for it: {len(checkpoints)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="The weather agent on AsyncSQLAlchemySaver, run once."
    )
    parser.add_argument(
        "--url",
        help=f"database URL (default: $CHECKPOINT_URL, else {DEFAULT_ASYNC_URL})",
    )
    parser.add_argument(
        "--thread", default="weather-demo-async", help="conversation thread ID"
    )
    parser.add_argument(
        "--question", default=DEFAULT_QUESTION, help="what to ask the agent"
    )
    args = parser.parse_args(argv)
    url = resolve_url(args.url, DEFAULT_ASYNC_URL)
    asyncio.run(run(url, args.thread, args.question))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
