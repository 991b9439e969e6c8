"""Making engines for ``from_url``, and sizing up a bind handed to a saver.

What a bind is found to be here (whether it autocommits, must take turns,
keeps its connection) is gathered, with the database's own answers, into the
bind's :class:`~.policy.TransactionPolicy`."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any

from langgraph.checkpoint.sqlalchemy._floors import require_driver
from langgraph.checkpoint.sqlalchemy.dialects import (
    autocommits_at_driver,
    engine_defaults,
    example_isolation_level,
    is_memory_database,
    normalize_url,
    tune_engine,
)
from langgraph.checkpoint.sqlalchemy.runtime.private_api import (
    ON_CONNECT_ISOLATION_LEVEL,
)
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine.url import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool, SingletonThreadPool, StaticPool

__all__ = [
    "check_transactions",
    "claim_spare",
    "engine_of",
    "keeps_a_connection",
    "make_async_engine",
    "make_engine",
    "needs_serializing",
    "printable_url",
]


def make_engine(
    url: str | URL,
    engine_kwargs: Mapping[str, Any] | None = None,
    *,
    one_owner: bool = True,
) -> Engine:
    """A sync engine for ``url`` with the defaults described in ``from_url``.

    Args:
        one_owner: the engine serves one saver or store, which closes it,
            and so may keep one of its connections aside (:func:`claim_spare`).
            False for an engine that short-lived savers and stores share
            (a transfer's): a connection one of them kept would stay checked
            out after it, past the engine's ``dispose()``.
    """
    parsed, options = _defaults(url, engine_kwargs, is_async=False)
    engine = create_engine(parsed, **options)
    tune_engine(engine, parsed, options)
    if one_owner:
        _UNCLAIMED.add(engine)
    return engine


# The sync engines make_engine made for one owner, and the sync faces of those
# make_async_engine made, until their owner (the saver or store from_url
# builds on them first) claims the spare (claim_spare). An engine a host
# application hands over is left to the application's pool.
_UNCLAIMED: weakref.WeakSet[Engine] = weakref.WeakSet()


def make_async_engine(
    url: str | URL, engine_kwargs: Mapping[str, Any] | None = None
) -> AsyncEngine:
    """An async engine for ``url`` with the defaults described in ``from_url``."""
    parsed, options = _defaults(url, engine_kwargs, is_async=True)
    engine = create_async_engine(parsed, **options)
    tune_engine(engine.sync_engine, parsed, options)
    # The async runner runs each job on this sync face, in one greenlet
    # (runtime.driver.AsyncRunner), so it may keep a connection aside too.
    _UNCLAIMED.add(engine.sync_engine)
    return engine


def _defaults(
    url: str | URL, engine_kwargs: Mapping[str, Any] | None, *, is_async: bool
) -> tuple[URL, dict[str, Any]]:
    """``url`` with its default driver (which must be installed), and the
    ``create_engine`` options ``from_url`` gives it."""
    parsed = normalize_url(url, is_async=is_async)
    require_driver(parsed.get_driver_name())
    return parsed, engine_defaults(parsed, engine_kwargs)


def engine_of(bind: Engine | Connection | AsyncEngine | AsyncConnection) -> Engine:
    """The sync ``Engine`` behind ``bind``."""
    if isinstance(bind, (AsyncEngine, AsyncConnection)):
        return bind.sync_engine
    return bind.engine if isinstance(bind, Connection) else bind


def check_transactions(
    bind: Engine | Connection | AsyncEngine | AsyncConnection,
) -> None:
    """Refuse a bind that autocommits every statement (``isolation_level=
    "AUTOCOMMIT"`` on the engine or connection): there, ``begin()`` starts no
    transaction, so calls of several statements (``copy_thread``, ``prune``,
    ``delete_thread``…) would commit statement by statement, and one that
    failed halfway would leave half its work. Engines ``from_url`` makes
    autocommit too, but send BEGIN themselves (see ``dialects.tune_engine``)."""
    engine = engine_of(bind)
    connection: Connection | None = None
    if isinstance(bind, AsyncConnection):
        connection = bind.sync_connection
    elif isinstance(bind, Connection):
        connection = bind
    if autocommits_at_driver(engine):
        return
    options = (connection or engine).get_execution_options()
    level = options.get("isolation_level")
    if level is None and ON_CONNECT_ISOLATION_LEVEL:
        # create_engine(isolation_level=...) is kept by the dialect, not in
        # options.
        level = engine.dialect._on_connect_isolation_level
    elif level is None and connection is not None:
        level = _autocommit_level(connection)
    elif level is None and isinstance(bind, Engine):
        level = _engine_autocommit_level(bind)
    if level == "AUTOCOMMIT":
        raise ValueError(
            "this engine (or connection) autocommits every statement "
            "(isolation_level='AUTOCOMMIT'), so the saver's calls of several "
            "statements could not run in one transaction. Give the saver the "
            "same engine with a transactional level, "
            f"engine.execution_options(isolation_level={example_isolation_level(engine.dialect)!r}) "
            "(it shares the pool), or use from_url; the saver autocommits "
            "its one-statement calls by itself."
        )


def _engine_autocommit_level(engine: Engine) -> str | None:
    """:func:`_autocommit_level` of one of ``engine``'s connections: the
    public route's one checkout, at construction. A database not up yet is
    no reason to refuse the saver: the check is then skipped."""
    try:
        with engine.connect() as probe:
            return _autocommit_level(probe)
    except DBAPIError:
        return None


def _autocommit_level(connection: Connection) -> str | None:
    """ "AUTOCOMMIT" where ``connection``'s DBAPI connection autocommits, by
    the public route (SQLAlchemy 2.1's ``detect_autocommit_setting``); None
    where it does not or cannot be told. Only a connection is asked: asking
    an engine would check one out."""
    detect = getattr(connection.dialect, "detect_autocommit_setting", None)
    dbapi_connection = connection.connection.dbapi_connection
    if detect is None or dbapi_connection is None:
        return None
    try:
        return "AUTOCOMMIT" if detect(dbapi_connection) else None
    except NotImplementedError:
        return None


def needs_serializing(
    bind: Engine | Connection | AsyncEngine | AsyncConnection,
) -> bool:
    """Whether calls must take turns: one shared connection can run one
    transaction at a time, whatever the number of threads or tasks."""
    if isinstance(bind, (Connection, AsyncConnection)):
        return True
    engine = engine_of(bind)
    if isinstance(engine.pool, SingletonThreadPool) and is_memory_database(engine.url):
        raise ValueError(
            "this in-memory SQLite engine gives each thread its own empty database "
            "(SingletonThreadPool), and LangGraph saves from background threads. "
            "Create it with poolclass=StaticPool and "
            "connect_args={'check_same_thread': False}, or use "
            "SQLAlchemySaver.from_url('sqlite:///:memory:')."
        )
    return isinstance(engine.pool, StaticPool)


def keeps_a_connection(
    bind: Engine | Connection | AsyncEngine | AsyncConnection,
) -> bool:
    """Whether the saver keeps its connections to ``bind`` open between calls.

    A one-connection engine (``StaticPool``) shares its one DBAPI connection
    with every checkout anyway, so checking it out and in again for every
    call (pool and ``Connection`` bookkeeping, docs/performance.md) buys nothing. Kept
    only where that is invisible: an engine ``from_url`` made, whose
    connections autocommit at the driver, so that no connection setting is
    switched per call and a kept connection is idle between calls, in no
    transaction, as a checked-in one would be.
    """
    if isinstance(bind, (Connection, AsyncConnection)):
        return False
    engine = engine_of(bind)
    return isinstance(engine.pool, StaticPool) and autocommits_at_driver(engine)


def printable_url(bind: str | URL | Engine) -> str:
    """The URL of ``bind`` as it may be shown to a person: the password
    replaced by ``***`` (a string that is no URL at all, by a placeholder)."""
    if isinstance(bind, Engine):
        bind = bind.url
    try:
        url = make_url(bind) if isinstance(bind, str) else bind
    except ArgumentError:
        return "<unparsable URL>"
    return url.render_as_string(hide_password=True)


def claim_spare(engine: Engine) -> bool:
    """Whether the saver or store asking, on ``engine``'s pool, keeps one
    connection aside for the calls that find it free, the others checking
    out of the pool; true once per engine at most.

    A call on a kept connection skips the pool's checkout and check-in and
    a new ``Connection`` (a fifth of a superstep's client CPU on the pool,
    docs/performance.md); a call that finds it taken, by another thread,
    takes the pool's way. Where the saver's writers take turns (SQLite), a
    writer takes it in its turn. Only the first to ask on an engine
    ``from_url`` made for one owner (:func:`make_engine`) gets it: that is
    the saver or store ``from_url`` returns, whose ``close()`` gives it
    back; another one the application builds on the same engine, and may
    never close, keeps nothing. Only where a kept connection is what a
    checked-in one would be (see :func:`keeps_a_connection`), and where the
    pool does nothing at checkout that a kept connection would skip: no
    ``pool_pre_ping``, no ``pool_recycle``. And only where the pool can open
    a second connection: the kept one never goes back, so in a pool of one
    a call that found it taken would wait for a check-in that never comes.
    """
    if engine not in _UNCLAIMED:
        return False
    _UNCLAIMED.discard(engine)
    if isinstance(engine.pool, StaticPool):
        return False
    pool = engine.pool
    # Private attributes, read defensively: where a release renames them,
    # no spare is kept.
    if getattr(pool, "_pre_ping", True) or getattr(pool, "_recycle", 0) != -1:
        return False
    if isinstance(pool, QueuePool):
        overflow = getattr(pool, "_max_overflow", 0)
        if overflow != -1 and pool.size() + overflow < 2:
            return False
    return autocommits_at_driver(engine)
