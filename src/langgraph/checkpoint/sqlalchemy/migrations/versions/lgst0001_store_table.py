"""The memory store's table: store (items by namespace prefix and key, with TTL).

Revision ID: lgst0001
Revises:
Create Date: 2026-12-04

The root of the ``langgraph_store`` branch, a second root beside the
checkpoint tables' ``langgraph_checkpoint``: the store's ``setup()`` upgrades
this branch only, the saver's its own, and ``alembic upgrade heads`` both.

Creates what is missing, so the same revision serves an empty database and a
PostgreSQL database where the official ``PostgresStore`` already created
``store`` (with its own ``store_migrations``, left alone): that table is
adopted as it is, with the TTL columns and indexes of the official store's
later migrations added if an older version left them out. No row is read or
rewritten. ``store_vectors`` is not this revision's.

Self-contained, as lgcp0001: types and names are spelled out here. Key widths
outside PostgreSQL keep the primary key (500 + 255 characters) under InnoDB's
3072 bytes in utf8mb4.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "lgst0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("langgraph_store",)
depends_on: str | Sequence[str] | None = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    return (
        sa.String(length)
        .with_variant(sa.Text(), "postgresql")
        .with_variant(
            mysql.VARCHAR(length, collation="utf8mb4_bin"), "mysql", "mariadb"
        )
    )


def _moment() -> sa.types.TypeEngine[Any]:
    return (
        sa.DateTime()
        .with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")
        .with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    )


def _now(dialect: str) -> sa.TextClause:
    # MySQL wants the default's precision to match the column's.
    if dialect in ("mysql", "mariadb"):
        return sa.text("CURRENT_TIMESTAMP(6)")
    return sa.text("CURRENT_TIMESTAMP")


def _ttl_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("expires_at", _moment(), nullable=True),
        sa.Column("ttl_minutes", sa.Integer(), nullable=True),
    ]


def _table(dialect: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("prefix", _key(500), nullable=False),
        sa.Column("key", _key(255), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", _moment(), server_default=_now(dialect)),
        sa.Column("updated_at", _moment(), server_default=_now(dialect)),
        *_ttl_columns(),
        sa.PrimaryKeyConstraint("prefix", "key", name="store_pkey"),
    ]


def _indexes(dialect: str) -> list[tuple[str, list[str], dict[str, Any]]]:
    partial = sa.text("expires_at IS NOT NULL")
    indexes: list[tuple[str, list[str], dict[str, Any]]] = [
        (
            "idx_store_expires_at",
            ["expires_at"],
            {"postgresql_where": partial, "sqlite_where": partial},
        )
    ]
    if dialect == "postgresql":
        indexes.insert(
            0,
            (
                "store_prefix_idx",
                ["prefix"],
                {
                    "postgresql_using": "btree",
                    "postgresql_ops": {"prefix": "text_pattern_ops"},
                },
            ),
        )
    return indexes


def upgrade() -> None:
    context = op.get_context()
    schema = context.version_table_schema
    dialect = context.dialect.name
    columns: set[str] | None = None
    indexes: set[str] = set()
    if not context.as_sql:
        inspector = sa.inspect(op.get_bind())
        if inspector.has_table("store", schema=schema):
            columns = {c["name"] for c in inspector.get_columns("store", schema=schema)}
            indexes = {
                ix["name"]
                for ix in inspector.get_indexes("store", schema=schema)
                if ix["name"]
            }
    if columns is None:
        op.create_table("store", *_table(dialect), schema=schema)
    else:
        # An official store from before its TTL migration.
        for column in _ttl_columns():
            if column.name not in columns:
                op.add_column("store", column, schema=schema)
    for name, indexed, options in _indexes(dialect):
        if name not in indexes:
            op.create_index(name, "store", indexed, schema=schema, **options)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    dialect = op.get_context().dialect.name
    for name, _, _ in reversed(_indexes(dialect)):
        op.drop_index(name, table_name="store", schema=schema)
    op.drop_table("store", schema=schema)
