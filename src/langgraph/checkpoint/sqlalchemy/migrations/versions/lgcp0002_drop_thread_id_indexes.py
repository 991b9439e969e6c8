"""Drop the thread_id indexes: each primary key already starts with thread_id.

Revision ID: lgcp0002
Revises: lgcp0001
Create Date: 2026-11-25

``checkpoints_thread_id_idx``, ``checkpoint_blobs_thread_id_idx`` and
``checkpoint_writes_thread_id_idx`` (the official PostgreSQL saver's, which
lgcp0001 copied) serve no query the primary keys cannot: every key leads with
``thread_id``, and every statement either saver runs filters on it first. Each
still had to be written on every insert. Measured on PostgreSQL, our
``put_writes`` statement went from 255 to 206 µs and ``put`` from 442 to 380 µs
without them, and the stored bytes shrink by the three indexes.

The official saver keeps working on these tables (its queries use the same
keys), and does not recreate the indexes: its own migrations are recorded as
done. Dropping an index is a catalog change, no row is read or rewritten, but
on PostgreSQL it waits for the running statements on the table to finish.
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


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    for table, index in INDEXES.items():
        op.create_index(index, table, ["thread_id"], schema=schema)
