"""Leaner indexes: no thread_id indexes (the primary keys serve), no GIN pending list.

Revision ID: lgcp0002
Revises: lgcp0001
Create Date: 2026-11-25

``checkpoints_thread_id_idx``, ``checkpoint_blobs_thread_id_idx`` and
``checkpoint_writes_thread_id_idx`` (the official PostgreSQL saver's, which
lgcp0001 copied) serve no query the primary keys cannot: every key leads with
``thread_id``, and every statement either saver runs filters on it first. Each
still had to be written on every insert, so ``put`` and ``put_writes`` get
cheaper without them and the stored bytes shrink by the three indexes
(measured: docs/performance.md).

The official saver keeps working on these tables (its queries use the same
keys); its ``setup()`` recreates the indexes only on a database it never set
up. Dropping an index is a catalog change, no row is read or rewritten, but on
PostgreSQL it waits for the running statements on the table to finish.

On PostgreSQL, the metadata GIN index stops using a pending list
(``fastupdate = off``). With the list, every insert appended its entries there
and every metadata filter scanned it until a vacuum merged it: the index came
out more than twice the size, and ``put`` was no faster with it (measured:
docs/performance.md). The entries already pending are merged now.

Self-contained, as lgcp0001: the index names are spelled out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lgcp0002"
down_revision: str | Sequence[str] | None = "lgcp0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GIN_INDEX = "checkpoints_metadata_gin_idx"
INDEXES = {
    "checkpoints": "checkpoints_thread_id_idx",
    "checkpoint_blobs": "checkpoint_blobs_thread_id_idx",
    "checkpoint_writes": "checkpoint_writes_thread_id_idx",
}


def upgrade() -> None:
    context = op.get_context()
    schema = context.version_table_schema
    present: set[str] | None = None  # offline: drop them all
    if not context.as_sql:
        inspector = sa.inspect(op.get_bind())
        present = {
            ix["name"]
            for table in INDEXES
            for ix in inspector.get_indexes(table, schema=schema)
            if ix["name"]
        }
    for table, index in INDEXES.items():
        if present is None or index in present:
            op.drop_index(index, table_name=table, schema=schema)
    if context.dialect.name == "postgresql":
        gin = _qualified(GIN_INDEX, schema)
        op.execute(f"ALTER INDEX {gin} SET (fastupdate = off)")
        if not context.as_sql:
            op.execute(
                sa.text(
                    "SELECT gin_clean_pending_list(CAST(:gin AS regclass))"
                ).bindparams(gin=gin)
            )


def downgrade() -> None:
    context = op.get_context()
    schema = context.version_table_schema
    if context.dialect.name == "postgresql":
        op.execute(f"ALTER INDEX {_qualified(GIN_INDEX, schema)} RESET (fastupdate)")
    for table, index in INDEXES.items():
        op.create_index(index, table, ["thread_id"], schema=schema)


def _qualified(name: str, schema: str | None) -> str:
    quote = op.get_context().dialect.identifier_preparer.quote
    return ".".join(quote(part) for part in (schema, name) if part)
