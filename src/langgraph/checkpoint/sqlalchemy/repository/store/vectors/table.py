"""The ``store_vectors`` table, built for one index configuration.

Not in the declarative ``MetaData`` and not an Alembic revision: its
``embedding`` column's type holds the dimension (``vector(1536)`` on
PostgreSQL) and its index the distance, both of which come from the store's
``index`` configuration, not from the package's history. A revision would
have to read them from somewhere at ``alembic upgrade`` time, where there is
no store; so the store's ``setup()`` creates the table when ``index`` is
configured, and checks an existing one against the configuration
(``dialects/vectors.py``: a clear error, never a silent mismatch).

On PostgreSQL the columns, key and foreign key are the official
``PostgresStore``'s, so either store reads the other's vectors.
"""

from __future__ import annotations

from langgraph.checkpoint.sqlalchemy._types import UtcTimestamp, key_string
from langgraph.checkpoint.sqlalchemy.dialects.vectors import VectorOps
from sqlalchemy import (
    Column,
    ForeignKeyConstraint,
    MetaData,
    Table,
)

TABLE_NAME = "store_vectors"
#: A field name is an index path, with ``.N`` for each of several texts.
FIELD_NAME_LENGTH = 255


def vectors_table(store: Table, ops: VectorOps) -> Table:
    """``store_vectors`` for ``store`` (the items' table), with ``ops``'
    embedding type and key."""
    now = ops.now_default()
    return Table(
        TABLE_NAME,
        MetaData(),
        Column("prefix", store.c.prefix.type, nullable=False),
        Column("key", store.c.key.type, nullable=False),
        Column("field_name", key_string(FIELD_NAME_LENGTH), nullable=False),
        Column("embedding", ops.embedding_type()),
        Column("created_at", UtcTimestamp(), server_default=now),
        Column("updated_at", UtcTimestamp(), server_default=now),
        ForeignKeyConstraint(
            ["prefix", "key"], [store.c.prefix, store.c.key], ondelete="CASCADE"
        ),
        *ops.key(TABLE_NAME),
    )
