"""The store factory for LangGraph's Agent Server and ``langgraph dev``.

Name it in ``langgraph.json``, beside the checkpointer's line::

    "store": {"path": "langgraph.store.sqlalchemy.server.store"}

and set ``LANGGRAPH_STORE_URL`` in the server's environment, or nothing more
when ``LANGGRAPH_CHECKPOINT_URL`` (the checkpointer's) names the database the
store shares. The server imports the module, calls ``store()`` with no
arguments, enters the context manager it returns on first use and exits it
when the server stops. The rest of ``langgraph.json``'s ``store`` section
reaches the server's environment as JSON (``LANGGRAPH_STORE``); the factory
reads its ``ttl`` and ``index`` from there. The index's ``embed`` is what
``langgraph.json`` allows: a ``provider:model`` string (LangChain's
``init_embeddings``, which needs ``langchain`` and the provider's package),
or a ``path/to/file.py:name`` naming an ``Embeddings`` object or an
embedding function in that file (relative to the server's working
directory).
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.store.base import IndexConfig, TTLConfig

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
    url: str | None = None,
    *,
    ttl: TTLConfig | None = None,
    index: IndexConfig | None = None,
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
        index: The vector index config (``dims``, ``embed``, ``fields``).
            By default the ``index`` of that section, its ``embed`` resolved
            as the module docstring says.

    Yields:
        The store, set up.

    Raises:
        RuntimeError: No URL was given and neither variable is set.
        ValueError: ``langgraph.json``'s ``store`` section is not a JSON
            object, or its index's ``embed`` names nothing that can be
            loaded.
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
    if ttl is None:
        ttl = section.get("ttl")
    if index is None and section.get("index"):
        index = _index_of(section["index"])
    async with AsyncSQLAlchemyStore.from_url(url, ttl=ttl, index=index) as made:
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


def _index_of(raw: Any) -> IndexConfig:
    """langgraph.json's ``index``, its ``embed`` named by a string resolved."""
    if not isinstance(raw, dict):
        raise ValueError(
            "langgraph.json's store index must be an object with dims, embed "
            f"and fields, not {type(raw).__name__}"
        )
    embed = raw.get("embed")
    if isinstance(embed, str):
        where, _, name = embed.rpartition(":")
        # Anything but a file ("openai:text-embedding-3-small") is a provider
        # string, which the store hands to LangChain's init_embeddings.
        if where.endswith(".py"):
            embed = _load(Path(where), name)
    return {**raw, "embed": embed}  # type: ignore[typeddict-item]


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if not path.is_file() or spec is None or spec.loader is None:
        raise ValueError(
            f"langgraph.json's store index names {str(path)!r} for its embed, "
            "which is not a file (paths are relative to the server's working "
            "directory)"
        )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ValueError(
            f"langgraph.json's store index embed: {path} has no {name!r}"
        ) from None
