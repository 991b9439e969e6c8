"""The checkpointer factory for LangGraph's Agent Server and ``langgraph dev``.

Name it in ``langgraph.json``::

    "checkpointer": {"path": "langgraph.checkpoint.sqlalchemy.server.checkpointer"}

and set ``LANGGRAPH_CHECKPOINT_URL`` in the server's environment. The server
imports the module, calls ``checkpointer()`` with no arguments (langgraph-api
0.16 passes none of ``langgraph.json``'s checkpointer section to it), enters
the context manager it returns on first use and exits it when the server
stops.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.migrate import URL_ENV_VAR

__all__ = ["LANGGRAPH_JSON_LINE", "checkpointer"]

#: The line of ``langgraph.json`` that makes the server use this factory.
LANGGRAPH_JSON_LINE = (
    '"checkpointer": {"path": "langgraph.checkpoint.sqlalchemy.server.checkpointer"}'
)


@asynccontextmanager
async def checkpointer(url: str | None = None) -> AsyncIterator[AsyncSQLAlchemySaver]:
    """An async saver for the Agent Server, its schema brought to head.

    Makes an [`AsyncSQLAlchemySaver`][langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver]
    with ``from_url``, runs ``setup()`` (the migrations; cheap at head, and
    safe when several server processes start at once), yields it, and
    disposes of its engine on exit.

    Args:
        url: The database URL. The server passes none, so by default it comes
            from the ``LANGGRAPH_CHECKPOINT_URL`` environment variable, the
            one the migration command and the CLI read too.

    Yields:
        The saver, set up.

    Raises:
        RuntimeError: No URL was given and ``LANGGRAPH_CHECKPOINT_URL`` is
            unset or empty.
    """
    url = url or os.environ.get(URL_ENV_VAR)
    if not url:
        # Raised when the server starts, before it serves a request: say both
        # halves of the configuration, since either may be the one missing.
        raise RuntimeError(
            f"no database URL for the checkpointer: set {URL_ENV_VAR} in the "
            "server's environment (e.g. postgresql://user:pass@host/db or "
            "sqlite:///checkpoints.db), next to this line of langgraph.json: "
            + LANGGRAPH_JSON_LINE
        )
    async with AsyncSQLAlchemySaver.from_url(url) as saver:
        await saver.setup()
        yield saver
