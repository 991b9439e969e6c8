"""The checkpoint tables: checkpoints, checkpoint_blobs, checkpoint_writes.

Revision ID: lgcp0001
Revises:
Create Date: 2026-11-24

Creates what is missing, so the same revision serves an empty database and one
that langgraph-checkpoint-postgres already set up (its tables, full of data,
plus its ``checkpoint_migrations``): those tables are adopted as they are, with
the columns and indexes of the official saver's later migrations added if an
older version left them out. No row is read or rewritten.

Self-contained on purpose: the column types are spelled out here, not imported
from the live models, so this revision keeps meaning what it meant when it
shipped. Key widths outside PostgreSQL keep every primary key under InnoDB's
3072 bytes in utf8mb4; blobs are LONGBLOB on MySQL (BLOB stops at 64 KiB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql, postgresql

revision: str = "lgcp0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("langgraph_checkpoint",)
depends_on: str | Sequence[str] | None = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    # Binary collation on MySQL/MariaDB: keys are case-sensitive everywhere.
    return (
        sa.String(length)
        .with_variant(sa.Text(), "postgresql")
        .with_variant(
            mysql.VARCHAR(length, collation="utf8mb4_bin"), "mysql", "mariadb"
        )
    )


def _document() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _blob() -> sa.types.TypeEngine[bytes]:
    return sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def _tables() -> dict[str, list[sa.schema.SchemaItem]]:
    empty = sa.text("''")
    return {
        "checkpoints": [
            sa.Column("thread_id", _key(255), nullable=False),
            sa.Column("checkpoint_ns", _key(255), nullable=False, server_default=empty),
            sa.Column("checkpoint_id", _key(64), nullable=False),
            sa.Column("parent_checkpoint_id", _key(64), nullable=True),
            sa.Column("type", _key(64), nullable=True),
            sa.Column("checkpoint", _document(), nullable=False),
            # As the official saver's; parenthesized, as MySQL wants for JSON.
            sa.Column(
                "metadata",
                _document(),
                nullable=False,
                server_default=sa.text("('{}')"),
            ),
            sa.PrimaryKeyConstraint(
                "thread_id", "checkpoint_ns", "checkpoint_id", name="checkpoints_pkey"
            ),
        ],
        "checkpoint_blobs": [
            sa.Column("thread_id", _key(255), nullable=False),
            sa.Column("checkpoint_ns", _key(255), nullable=False, server_default=empty),
            sa.Column("channel", _key(150), nullable=False),
            sa.Column("version", _key(64), nullable=False),
            sa.Column("type", _key(64), nullable=False),
            sa.Column("blob", _blob(), nullable=True),
            sa.PrimaryKeyConstraint(
                "thread_id",
                "checkpoint_ns",
                "channel",
                "version",
                name="checkpoint_blobs_pkey",
            ),
        ],
        "checkpoint_writes": [
            sa.Column("thread_id", _key(255), nullable=False),
            sa.Column("checkpoint_ns", _key(255), nullable=False, server_default=empty),
            sa.Column("checkpoint_id", _key(64), nullable=False),
            sa.Column("task_id", _key(128), nullable=False),
            sa.Column("idx", sa.Integer(), nullable=False, autoincrement=False),
            sa.Column("channel", _key(150), nullable=False),
            sa.Column("type", _key(64), nullable=True),
            sa.Column("blob", _blob(), nullable=False),
            sa.Column("task_path", _key(1024), nullable=False, server_default=empty),
            sa.PrimaryKeyConstraint(
                "thread_id",
                "checkpoint_ns",
                "checkpoint_id",
                "task_id",
                "idx",
                name="checkpoint_writes_pkey",
            ),
        ],
    }


def _indexes(dialect: str) -> list[tuple[str, str, list[str], dict[str, Any]]]:
    indexes: list[tuple[str, str, list[str], dict[str, Any]]] = [
        ("checkpoints_thread_id_idx", "checkpoints", ["thread_id"], {}),
        ("checkpoint_blobs_thread_id_idx", "checkpoint_blobs", ["thread_id"], {}),
        ("checkpoint_writes_thread_id_idx", "checkpoint_writes", ["thread_id"], {}),
    ]
    if dialect == "postgresql":
        # Serves metadata filters (JSONB containment, `@>`, the only operator
        # they use): jsonb_path_ops indexes values only, not every key too, so
        # the index is smaller (measured: ~25% on the benchmark's metadata).
        indexes.append(
            (
                "checkpoints_metadata_gin_idx",
                "checkpoints",
                ["metadata"],
                {
                    "postgresql_using": "gin",
                    "postgresql_ops": {"metadata": "jsonb_path_ops"},
                },
            )
        )
    return indexes


def upgrade() -> None:
    context = op.get_context()
    schema = context.version_table_schema
    dialect = context.dialect.name
    if context.as_sql:
        # Offline: nothing to inspect, so render the DDL of an empty database.
        existing_tables: set[str] = set()
        existing_columns: dict[str, set[str]] = {}
        existing_indexes: set[str] = set()
    else:
        inspector = sa.inspect(op.get_bind())
        # Only our own tables are looked into: a host application's schema
        # may hold hundreds of others, with types SQLAlchemy does not know
        # (pgvector's, PostGIS's), each read for nothing and warned about.
        existing_tables = set(inspector.get_table_names(schema=schema)) & set(_tables())
        existing_columns = {
            t: {c["name"] for c in inspector.get_columns(t, schema=schema)}
            for t in existing_tables
        }
        existing_indexes = {
            ix["name"]
            for t in existing_tables
            for ix in inspector.get_indexes(t, schema=schema)
            if ix["name"]
        }
    for name, columns in _tables().items():
        if name not in existing_tables:
            op.create_table(name, *columns, schema=schema)
    # Tables an older langgraph-checkpoint-postgres created lack what its later
    # migrations added: a nullable blob and the task_path column.
    if "checkpoint_blobs" in existing_tables and dialect == "postgresql":
        op.alter_column("checkpoint_blobs", "blob", nullable=True, schema=schema)
    writes_columns = existing_columns.get("checkpoint_writes")
    if writes_columns is not None and "task_path" not in writes_columns:
        op.add_column(
            "checkpoint_writes",
            sa.Column(
                "task_path", _key(1024), nullable=False, server_default=sa.text("''")
            ),
            schema=schema,
        )
    for index, table, indexed, options in _indexes(dialect):
        if index not in existing_indexes:
            op.create_index(index, table, indexed, schema=schema, **options)


def downgrade() -> None:
    schema = op.get_context().version_table_schema
    dialect = op.get_context().dialect.name
    for index, table, _, _ in reversed(_indexes(dialect)):
        op.drop_index(index, table_name=table, schema=schema)
    for name in reversed(list(_tables())):
        op.drop_table(name, schema=schema)
