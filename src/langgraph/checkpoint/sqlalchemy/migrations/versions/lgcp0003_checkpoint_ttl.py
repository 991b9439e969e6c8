"""Checkpoint TTL: the checkpoint_ttl side table (expiry and pins per thread).

Revision ID: lgcp0003
Revises: lgcp0002
Create Date: 2026-12-04

One row per thread that has a TTL or a pin: ``expires_at`` (naive UTC,
nullable, indexed for the sweep's "expired first" scan) and ``pinned``. A side
table rather than columns on ``checkpoints``, so the official-compatible
tables stay exactly the official saver's and either saver keeps working on
them. Creating an empty table reads no row of the others; a table already
there is left as it is.

Self-contained, as lgcp0001: the types are spelled out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "lgcp0003"
down_revision: str | Sequence[str] | None = "lgcp0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "checkpoint_ttl"
INDEX = "checkpoint_ttl_expires_at_idx"


def upgrade() -> None:
    context = op.get_context()
    schema = context.version_table_schema
    if not context.as_sql:
        # Already there (a second version table on the same tables, say):
        # adopted as it is, as lgcp0001 adopts.
        inspector = sa.inspect(op.get_bind())
        if inspector.has_table(TABLE, schema=schema):
            return
    key = (
        sa.String(255)
        .with_variant(sa.Text(), "postgresql")
        .with_variant(mysql.VARCHAR(255, collation="utf8mb4_bin"), "mysql", "mariadb")
    )
    moment = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    op.create_table(
        TABLE,
        sa.Column("thread_id", key, nullable=False),
        sa.Column("expires_at", moment, nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("thread_id", name=f"{TABLE}_pkey"),
        schema=schema,
    )
    op.create_index(INDEX, TABLE, ["expires_at"], schema=schema)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    op.drop_index(INDEX, table_name=TABLE, schema=schema)
    op.drop_table(TABLE, schema=schema)
