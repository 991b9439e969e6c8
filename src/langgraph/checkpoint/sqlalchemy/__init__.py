"""LangGraph checkpoint savers for every database SQLAlchemy 2 reaches.

```python
from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

with SQLAlchemySaver.from_url("postgresql://user:pass@host/db") as saver:
    saver.setup()
    graph = builder.compile(checkpointer=saver)
```

:class:`SQLAlchemySaver` runs on an ``Engine`` or ``Connection``;
:class:`~langgraph.checkpoint.sqlalchemy.aio.AsyncSQLAlchemySaver` on an
``AsyncEngine`` or ``AsyncConnection``. Both share one implementation: every
operation is a plan of statements (``repository``) that a small driver runs.
"""

from __future__ import annotations

# First of all: a dependency older than we support is named, with the version
# needed, instead of an ImportError from deep inside the package.
from langgraph.checkpoint.sqlalchemy import _floors

_floors.require_core()

from typing import Any

from langgraph.checkpoint.sqlalchemy._validate import (
    InvalidConfigError,
    PayloadTooLargeError,
    PoolerWarning,
    PreparedStatementsBehindAPoolerError,
)
from langgraph.checkpoint.sqlalchemy.models import (
    Base,
    CheckpointBlobRecord,
    CheckpointRecord,
    CheckpointWriteRecord,
    metadata,
)
from langgraph.checkpoint.sqlalchemy.saver import SQLAlchemySaver

__all__ = [
    "AsyncSQLAlchemySaver",
    "Base",
    "CheckpointBlobRecord",
    "CheckpointRecord",
    "CheckpointWriteRecord",
    "InvalidConfigError",
    "PayloadTooLargeError",
    "PoolerWarning",
    "PreparedStatementsBehindAPoolerError",
    "SQLAlchemySaver",
    "metadata",
]


def __getattr__(name: str) -> Any:
    # The async saver imports the async extras of SQLAlchemy; load it on use.
    if name == "AsyncSQLAlchemySaver":
        from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver

        return AsyncSQLAlchemySaver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
