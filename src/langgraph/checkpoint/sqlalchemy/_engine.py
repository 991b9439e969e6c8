"""Making engines for ``from_url``, and sizing up engines handed to the savers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.checkpoint.sqlalchemy._dialects import is_memory_sqlite, normalize_url
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import SingletonThreadPool, StaticPool

__all__ = ["make_async_engine", "make_engine", "needs_serializing"]


def _options(url: URL, engine_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if is_memory_sqlite(url):
        # One connection for the saver's life: an in-memory database lives and
        # dies with its connection. The saver serializes access to it.
        options["poolclass"] = StaticPool
        options["connect_args"] = {"check_same_thread": False}
    elif url.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": 30}
    # No pool_pre_ping: it costs a round trip on every checkout. A restarted
    # server instead fails the first statement on a dead connection, which
    # invalidates the pool, and the saver runs that (idempotent) call again
    # on a fresh one (see `_run.Job.retry`).
    options.update(engine_kwargs or {})
    return options


def _tune_sqlite_file(engine: Engine, url: URL) -> None:
    """WAL lets readers and one writer share a file across processes."""
    if url.get_backend_name() != "sqlite" or is_memory_sqlite(url):
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()


def make_engine(
    url: str | URL, engine_kwargs: Mapping[str, Any] | None = None
) -> Engine:
    """A sync engine for ``url`` with the defaults described in ``from_url``."""
    parsed = normalize_url(url, is_async=False)
    engine = create_engine(parsed, **_options(parsed, engine_kwargs))
    _tune_sqlite_file(engine, parsed)
    return engine


def make_async_engine(
    url: str | URL, engine_kwargs: Mapping[str, Any] | None = None
) -> AsyncEngine:
    """An async engine for ``url`` with the defaults described in ``from_url``."""
    parsed = normalize_url(url, is_async=True)
    engine = create_async_engine(parsed, **_options(parsed, engine_kwargs))
    _tune_sqlite_file(engine.sync_engine, parsed)
    return engine


def needs_serializing(
    bind: Engine | Connection | AsyncEngine | AsyncConnection,
) -> bool:
    """Whether calls must take turns: one shared connection can run one
    transaction at a time, whatever the number of threads or tasks."""
    if isinstance(bind, (Connection, AsyncConnection)):
        return True
    engine = bind.sync_engine if isinstance(bind, AsyncEngine) else bind
    if isinstance(engine.pool, SingletonThreadPool) and is_memory_sqlite(engine.url):
        raise ValueError(
            "this in-memory SQLite engine gives each thread its own empty database "
            "(SingletonThreadPool), and LangGraph saves from background threads. "
            "Create it with poolclass=StaticPool and "
            "connect_args={'check_same_thread': False}, or use "
            "SQLAlchemySaver.from_url('sqlite:///:memory:')."
        )
    return isinstance(engine.pool, StaticPool)
