"""Quick start, async: the same agent on ``AsyncSQLAlchemySaver``.

python examples/quickstart_async.py            # SQLite file via aiosqlite
python examples/quickstart_async.py --url postgresql://user:pass@localhost/db
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

from _weather_agent import DEFAULT_QUESTION, build_agent, default_url


async def run(url: str, thread: str, question: str) -> None:
    async with AsyncSQLAlchemySaver.from_url(url) as saver:
        await saver.setup()
        agent = build_agent(saver)
        config = {"configurable": {"thread_id": thread}}
        result = await agent.ainvoke({"messages": [("user", question)]}, config)
        print("agent:", result["messages"][-1].content)
        state = await agent.aget_state(config)
        print(f"thread {thread!r} now holds {len(state.values['messages'])} messages")
        print(
            f"checkpoints stored for it: {len([c async for c in saver.alist(config)])}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=None, help="database URL (default: a SQLite file)"
    )
    parser.add_argument(
        "--thread", default="weather-demo-async", help="conversation thread ID"
    )
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    args = parser.parse_args(argv)
    asyncio.run(run(args.url or default_url(async_=True), args.thread, args.question))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
