"""The store factory for LangGraph's Agent Server and ``langgraph dev``.

Name it in ``langgraph.json``, beside the checkpointer's line::

    "store": {"path": "langgraph.store.sqlalchemy.server.store"}

and set ``LANGGRAPH_STORE_URL`` in the server's environment, or nothing more
when ``LANGGRAPH_CHECKPOINT_URL`` (the checkpointer's) names the database the
store shares. The server imports the module, calls ``store()`` with no
arguments, enters the context manager it returns on first use and exits it
when the server stops. The rest of ``langgraph.json``'s ``store`` section
reaches the server's environment as JSON (``LANGGRAPH_STORE``); the factory
reads its ``ttl`` from there.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from langgraph.store.base import TTLConfig

from langgraph.checkpoint.sqlalchemy.migrate import URL_ENV_VAR
from langgraph.store.sqlalchemy.aio import AsyncSQLAlchemyStore

__all__ = ["LANGGRAPH_JSON_LINE", "STORE_URL_ENV_VAR", "store"]

#: The line of ``langgraph.json`` that makes the server use this factory.
LANGGRAPH_JSON_LINE = '"store": {"path": "langgraph.store.sqlalchemy.server.store"}'
#: The store's own database URL; ``LANGGRAPH_CHECKPOINT_URL`` when unset.
STORE_URL_ENV_VAR = "LANGGRAPH_STORE_URL"
# Where langgraph-api (0.16) puts langgraph.json's "store" section, as JSON.
_SERVER_SECTION_ENV_VAR = "LANGGRAPH_STORE"


@asynccontextmanager
async def store(
    url: str | None = None, *, ttl: TTLConfig | None = None
) -> AsyncIterator[AsyncSQLAlchemyStore]:
    """An async store for the Agent Server, its table set up.

    Makes an ``AsyncSQLAlchemyStore`` with ``from_url``, runs ``setup()``, starts its TTL sweeper when the TTL
    config has a ``sweep_interval_minutes`` (the server runs none for a
    store of one's own), yields it, and on exit stops the sweeper and
    disposes of the engine.

    Args:
        url: The database URL. By default ``LANGGRAPH_STORE_URL``, else
            ``LANGGRAPH_CHECKPOINT_URL``: one database for both is the
            common case.
        ttl: The TTL config (``default_ttl``, ``refresh_on_read``,
            ``sweep_interval_minutes``). By default the ``ttl`` of
            ``langgraph.json``'s ``store`` section.

    Yields:
        The store, set up.

    Raises:
        RuntimeError: No URL was given and neither variable is set.
        ValueError: ``langgraph.json``'s ``store`` section asks for what
            this store cannot do (an ``index``), or is not a JSON object.
    """
    url = url or os.environ.get(STORE_URL_ENV_VAR) or os.environ.get(URL_ENV_VAR)
    if not url:
        raise RuntimeError(
            f"no database URL for the store: set {STORE_URL_ENV_VAR} (or "
            f"{URL_ENV_VAR}, the checkpointer's, to share its database) in the "
            "server's environment, next to this line of langgraph.json: "
            + LANGGRAPH_JSON_LINE
        )
    section = _server_section()
    if section.get("index"):
        # Served without it, search would ignore its query and embed nothing:
        # say so at start-up rather than answer differently from the config.
        raise ValueError(
            "langgraph.json's store section has an index (vector search), "
            "which this store does not support; remove the index"
        )
    if ttl is None:
        ttl = section.get("ttl")
    async with AsyncSQLAlchemyStore.from_url(url, ttl=ttl) as made:
        await made.setup()
        if ttl and ttl.get("sweep_interval_minutes"):
            await made.start_ttl_sweeper()
        yield made


def _server_section() -> Mapping[str, Any]:
    """``langgraph.json``'s ``store`` section, as the server passed it on."""
    raw = os.environ.get(_SERVER_SECTION_ENV_VAR)
    if not raw:
        return {}
    try:
        section = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{_SERVER_SECTION_ENV_VAR} is not JSON ({exc}); the server sets it "
            "from langgraph.json's store section"
        ) from None
    if not isinstance(section, dict):
        raise ValueError(
            f"{_SERVER_SECTION_ENV_VAR} must be a JSON object (langgraph.json's "
            f"store section), not {type(section).__name__}"
        )
    return section
