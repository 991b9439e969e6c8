"""A GIN index on the store's values, so equality filters are index-backed.

Revision ID: lgst0002
Revises: lgst0001
Create Date: 2026-12-05

PostgreSQL only. A search's ``filter={"field": scalar}`` becomes JSONB
containment (``value @> '{"field": scalar}'``) beside its exact equality,
and this ``jsonb_path_ops`` index answers the containment: a filtered search
of 100k items reads the few that match instead of every row
(docs/performance.md, "Memory store"). No pending list (``fastupdate =
off``), as the checkpoint metadata index: filters never scan one.

Building it reads the whole table and, like any ``CREATE INDEX``, holds off
writes to ``store`` meanwhile. On a large table adopted from the official
store, build it first without blocking writers, under the same name,
``CREATE INDEX CONCURRENTLY store_value_path_idx ON store USING gin (value
jsonb_path_ops) WITH (fastupdate = off)``: this revision leaves an index of
that name alone. The other databases have no such index; their filters read
the rows under the namespace prefix, as before.

Self-contained, as lgcp0001: the names are spelled out here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lgst0002"
down_revision: str | Sequence[str] | None = "lgst0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "store_value_path_idx"


def upgrade() -> None:
    context = op.get_context()
    if context.dialect.name != "postgresql":
        return
    schema = context.version_table_schema
    if not context.as_sql:
        present = {
            ix["name"]
            for ix in sa.inspect(op.get_bind()).get_indexes("store", schema=schema)
        }
        if INDEX in present:
            return
    op.create_index(
        INDEX,
        "store",
        ["value"],
        schema=schema,
        postgresql_using="gin",
        postgresql_ops={"value": "jsonb_path_ops"},
        postgresql_with={"fastupdate": "off"},
    )


def downgrade() -> None:
    context = op.get_context()
    if context.dialect.name == "postgresql":
        op.drop_index(INDEX, table_name="store", schema=context.version_table_schema)
