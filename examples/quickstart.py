"""Quick start: a ReAct weather agent whose conversation survives the process.

    python examples/quickstart.py                  # SQLite file ./quickstart.db
    python examples/quickstart.py --url postgresql://user:pass@localhost/db

Run it twice: the second run continues the same thread, and the agent counts
the questions of both runs. (``bash scripts/quickstart.sh`` does exactly that.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

from _weather_agent import DEFAULT_QUESTION, build_agent, default_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", default=None, help="database URL (default: a SQLite file)"
    )
    parser.add_argument(
        "--thread", default="weather-demo", help="conversation thread ID"
    )
    parser.add_argument("--question", default=DEFAULT_QUESTION)
    args = parser.parse_args(argv)

    with SQLAlchemySaver.from_url(args.url or default_url(async_=False)) as saver:
        saver.setup()
        agent = build_agent(saver)
        config = {"configurable": {"thread_id": args.thread}}
        result = agent.invoke({"messages": [("user", args.question)]}, config)
        print("agent:", result["messages"][-1].content)
        state = agent.get_state(config)
        print(
            f"thread {args.thread!r} now holds {len(state.values['messages'])} messages"
        )
        print(f"checkpoints stored for it: {len(list(saver.list(config)))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
