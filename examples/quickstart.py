"""Quick start: a ReAct weather agent whose conversation survives the process.

LangGraph's weather agent (a model that calls a ``get_weather`` tool) with its
checkpoints in a database through ``SQLAlchemySaver``. Each run asks one
question on one thread, prints the answer, and prints how many messages and
checkpoints the thread now holds. Run it twice: the second process picks the
thread up where the first left it, and the agent counts the questions of both.

    python examples/quickstart.py                  # SQLite file ./quickstart.db
    python examples/quickstart.py --question "and in nyc?"
    python examples/quickstart.py --url postgresql://user:pass@localhost/db
    CHECKPOINT_URL=sqlite:///other.db python examples/quickstart.py

``bash scripts/quickstart.sh`` installs the project and runs it twice. With
``OPENAI_API_KEY`` set and ``langchain-openai`` installed the agent runs on
``gpt-4o-mini``; otherwise on a scripted stand-in model (no network needed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from langchain_core.runnables import RunnableConfig

# Python puts this folder on sys.path for `python examples/quickstart.py`,
# unless told not to (-P, PYTHONSAFEPATH); the shared agent module lives here.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

from _weather_agent import DEFAULT_QUESTION, DEFAULT_SYNC_URL, build_agent, resolve_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="A ReAct weather agent whose conversation survives the process."
    )
    parser.add_argument(
        "--url",
        help=f"database URL (default: $CHECKPOINT_URL, else {DEFAULT_SYNC_URL})",
    )
    parser.add_argument(
        "--thread", default="weather-demo", help="conversation thread ID"
    )
    parser.add_argument(
        "--question", default=DEFAULT_QUESTION, help="what to ask the agent"
    )
    args = parser.parse_args(argv)
    url = resolve_url(args.url, DEFAULT_SYNC_URL)
    config: RunnableConfig = {"configurable": {"thread_id": args.thread}}

    with SQLAlchemySaver.from_url(url) as saver:
        saver.setup()  # creates the tables on first use; cheap afterwards
        graph = build_agent(saver)
        result = graph.invoke({"messages": [("user", args.question)]}, config)
        print("agent:", result["messages"][-1].content)

        state = graph.get_state(config)
        print(
            f"thread {args.thread!r} now holds {len(state.values['messages'])} messages"
        )
        print(f"checkpoints stored for it: {len(list(saver.list(config)))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
