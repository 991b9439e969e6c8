"""LangGraph's long-term memory store on SQLAlchemy: the ``BaseStore`` for
PostgreSQL, SQLite, MySQL and MariaDB, sync and async, shipped with (and on
the same runtime, dialects and migrations as) the checkpoint saver.

```python
from langgraph.store.sqlalchemy import SQLAlchemyStore

with SQLAlchemyStore.from_url("sqlite:///memory.db") as store:
    store.setup()
    store.put(("users", "42"), "profile", {"name": "Ada"})
```
"""

from langgraph.store.sqlalchemy.aio import AsyncSQLAlchemyStore
from langgraph.store.sqlalchemy.store import SQLAlchemyStore

__all__ = ["AsyncSQLAlchemyStore", "SQLAlchemyStore"]
