"""The private SQLAlchemy API our fast paths use, each piece checked once.

A few hot spots go below SQLAlchemy's public surface, because the public
route costs more Python per call than the database does (see
docs/performance.md). Private API can change in any release, so each piece is
checked here, once per process, for being there and behaving as we use it.
Where a check fails, the callers take the public route: slower, never wrong.

- ``Connection._cursor_execute`` / ``Connection._handle_dbapi_exception``:
  run a pre-compiled statement on a DBAPI cursor with SQLAlchemy's events,
  error wrapping and invalidation (:mod:`.compiled`), and send the explicit
  ``BEGIN`` of tuned engines (``dialects``). Public route:
  ``Connection.execute`` / ``Connection.exec_driver_sql``.
- ``Dialect._on_connect_isolation_level``: the ``isolation_level`` an engine
  was created with, to refuse engines that autocommit (:mod:`.engines`). Public
  route: ask the connection handed to the saver, or one connection of a
  sync engine, once at construction (SQLAlchemy 2.1's
  ``Dialect.detect_autocommit_setting``); an ``AsyncEngine`` goes unchecked
  there, since a constructor cannot await a connection.
- SQLAlchemy's await protocol, which the async saver's reused greenlets
  follow (:mod:`.greenlet`). Public route: ``sqlalchemy.util.greenlet_spawn``, a
  new greenlet per call. SQLAlchemy 2.0.30 and older only run ``await_only``
  in their own greenlet class, so there the public route is the only one.

Setting ``LANGGRAPH_SQLALCHEMY_PRIVATE_API=0`` in the environment before the
package is imported takes every public route; the test suite runs through
them that way too.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.default import DefaultDialect

__all__ = [
    "CURSOR_EXECUTE",
    "ON_CONNECT_ISOLATION_LEVEL",
    "PRIVATE_API_ALLOWED",
    "signature_starts_with",
]

ENV_VAR = "LANGGRAPH_SQLALCHEMY_PRIVATE_API"

PRIVATE_API_ALLOWED = os.environ.get(ENV_VAR, "1").strip().lower() not in (
    "0",
    "false",
    "no",
    "off",
)


def signature_starts_with(function: Any, names: tuple[str, ...]) -> bool:
    """Whether ``function`` exists and takes ``names`` as its first
    positional parameters: a rename or reorder makes a private call wrong
    without making it fail, which is worse than missing."""
    if not callable(function):
        return False
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return tuple(positional[: len(names)]) == names


def _cursor_execute_usable() -> bool:
    return signature_starts_with(
        getattr(Connection, "_cursor_execute", None),
        ("self", "cursor", "statement", "parameters"),
    ) and signature_starts_with(
        getattr(Connection, "_handle_dbapi_exception", None),
        ("self", "e", "statement", "parameters", "cursor", "context"),
    )


def _on_connect_isolation_level_usable() -> bool:
    # Set in DefaultDialect.__init__ from create_engine(isolation_level=...).
    dialect = DefaultDialect(isolation_level="AUTOCOMMIT")
    return getattr(dialect, "_on_connect_isolation_level", None) == "AUTOCOMMIT"


#: ``Connection._cursor_execute`` and ``_handle_dbapi_exception`` as we call them.
CURSOR_EXECUTE = PRIVATE_API_ALLOWED and _cursor_execute_usable()
#: ``Dialect._on_connect_isolation_level`` holds ``create_engine``'s level.
ON_CONNECT_ISOLATION_LEVEL = (
    PRIVATE_API_ALLOWED and _on_connect_isolation_level_usable()
)
