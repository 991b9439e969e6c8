"""The declarative schema: four tables on one ``MetaData``.

Host applications can add ``metadata`` to their own Alembic
``target_metadata``. On PostgreSQL the tables, columns and keys are those of
langgraph-checkpoint-postgres, so either saver can read what the other wrote.
The indexes differ: the official saver's ``thread_id`` indexes are left out
(every primary key starts with ``thread_id``, so they only cost writes; see
revision lgcp0002), and a GIN index on ``checkpoints.metadata`` serves metadata
filters.

* ``checkpoints``: one row per checkpoint. ``checkpoint`` holds the checkpoint
  document with its small primitive channel values inlined; larger values live
  in ``checkpoint_blobs``.
* ``checkpoint_blobs``: serialized channel values keyed by channel *version*, so
  a channel that did not change between checkpoints is stored once.
* ``checkpoint_writes``: pending writes of tasks, keyed by the checkpoint they
  follow.
* ``store``: the long-term memory store's items (``langgraph.store.sqlalchemy``),
  one row per (namespace, key), column-compatible on PostgreSQL with the
  official ``PostgresStore``'s table of the same name. Created by its own
  migration branch (``langgraph_store``), not by the saver's ``setup()``.
* ``checkpoint_ttl``: per thread, when it expires (checkpoint TTL) and whether
  it is pinned (kept forever). A side table (revision lgcp0003), so the three
  tables above stay those of the official saver.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langgraph.checkpoint.sqlalchemy._types import (
    CHANNEL_LENGTH,
    CHECKPOINT_ID_LENGTH,
    CHECKPOINT_NS_LENGTH,
    STORE_KEY_LENGTH,
    STORE_PREFIX_LENGTH,
    TASK_ID_LENGTH,
    TASK_PATH_LENGTH,
    THREAD_ID_LENGTH,
    TYPE_LENGTH,
    VERSION_LENGTH,
    UtcTimestamp,
    blob,
    document,
    key_string,
    moment,
)
from sqlalchemy import Boolean, Index, Integer, MetaData, false, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "CheckpointBlobRecord",
    "CheckpointRecord",
    "CheckpointTTLRecord",
    "CheckpointWriteRecord",
    "StoreRecord",
    "metadata",
]

#: ``Index.info`` key: the dialects an index exists on, where not all.
ONLY_ON_DIALECTS = "langgraph_checkpoint_only_on"

# Names match what PostgreSQL (and the official saver) give these objects, so
# Alembic's autogenerate sees no difference on an adopted database.
NAMING_CONVENTION = {
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """Declarative base of the checkpoint tables."""

    metadata = metadata


class CheckpointRecord(Base):
    """One checkpoint of one namespace of one thread."""

    __tablename__ = "checkpoints"

    thread_id: Mapped[str] = mapped_column(
        key_string(THREAD_ID_LENGTH), primary_key=True
    )
    checkpoint_ns: Mapped[str] = mapped_column(
        key_string(CHECKPOINT_NS_LENGTH), primary_key=True, server_default=text("''")
    )
    checkpoint_id: Mapped[str] = mapped_column(
        key_string(CHECKPOINT_ID_LENGTH), primary_key=True
    )
    parent_checkpoint_id: Mapped[str | None] = mapped_column(
        key_string(CHECKPOINT_ID_LENGTH)
    )
    type: Mapped[str | None] = mapped_column(key_string(TYPE_LENGTH))
    checkpoint: Mapped[dict[str, Any]] = mapped_column(document())
    # ``metadata`` is taken by the declarative base; the column keeps its name.
    # The default is the official saver's ('{}'), parenthesized: MySQL takes
    # a default for a JSON column only as an expression.
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", document(), server_default=text("('{}')")
    )

    __table_args__ = (
        # Metadata filters are JSONB containment (@>) only: jsonb_path_ops.
        Index(
            "checkpoints_metadata_gin_idx",
            "metadata",
            postgresql_using="gin",
            postgresql_ops={"metadata": "jsonb_path_ops"},
            # No pending list: a smaller index, and filters never scan one.
            postgresql_with={"fastupdate": "off"},
            # Read by migrate.include_object, in public API (ddl_if's own
            # record of the dialect is private).
            info={ONLY_ON_DIALECTS: ("postgresql",)},
        ).ddl_if(dialect="postgresql"),
    )


class CheckpointBlobRecord(Base):
    """A channel value at one version; ``blob`` is NULL for an empty channel."""

    __tablename__ = "checkpoint_blobs"

    thread_id: Mapped[str] = mapped_column(
        key_string(THREAD_ID_LENGTH), primary_key=True
    )
    checkpoint_ns: Mapped[str] = mapped_column(
        key_string(CHECKPOINT_NS_LENGTH), primary_key=True, server_default=text("''")
    )
    channel: Mapped[str] = mapped_column(key_string(CHANNEL_LENGTH), primary_key=True)
    version: Mapped[str] = mapped_column(key_string(VERSION_LENGTH), primary_key=True)
    type: Mapped[str] = mapped_column(key_string(TYPE_LENGTH))
    blob: Mapped[bytes | None] = mapped_column(blob())


class CheckpointWriteRecord(Base):
    """One pending write of one task, following one checkpoint."""

    __tablename__ = "checkpoint_writes"

    thread_id: Mapped[str] = mapped_column(
        key_string(THREAD_ID_LENGTH), primary_key=True
    )
    checkpoint_ns: Mapped[str] = mapped_column(
        key_string(CHECKPOINT_NS_LENGTH), primary_key=True, server_default=text("''")
    )
    checkpoint_id: Mapped[str] = mapped_column(
        key_string(CHECKPOINT_ID_LENGTH), primary_key=True
    )
    task_id: Mapped[str] = mapped_column(key_string(TASK_ID_LENGTH), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(key_string(CHANNEL_LENGTH))
    type: Mapped[str | None] = mapped_column(key_string(TYPE_LENGTH))
    blob: Mapped[bytes] = mapped_column(blob())
    task_path: Mapped[str] = mapped_column(
        key_string(TASK_PATH_LENGTH), server_default=text("''")
    )


class StoreRecord(Base):
    """One item of the memory store: a JSON ``value`` under a namespace and key.

    ``prefix`` is the namespace's labels joined by ``"."`` (labels may not
    hold one), as the official store writes it. ``expires_at`` is set for an
    item with a TTL, ``ttl_minutes`` (whole minutes, rounded up) is how far a
    read that refreshes moves it on.
    """

    __tablename__ = "store"

    prefix: Mapped[str] = mapped_column(
        key_string(STORE_PREFIX_LENGTH), primary_key=True
    )
    key: Mapped[str] = mapped_column(key_string(STORE_KEY_LENGTH), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(document())
    # The store always writes both; the migration gives them the official
    # store's default (the current time) for other writers.
    created_at: Mapped[datetime | None] = mapped_column(UtcTimestamp())
    updated_at: Mapped[datetime | None] = mapped_column(UtcTimestamp())
    expires_at: Mapped[datetime | None] = mapped_column(UtcTimestamp())
    ttl_minutes: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        # The official store's: namespace-prefix LIKE searches on PostgreSQL,
        # whose primary key index (collation-ordered) can't serve them. The
        # other databases' primary keys compare bytes and serve them already.
        Index(
            "store_prefix_idx",
            "prefix",
            postgresql_using="btree",
            postgresql_ops={"prefix": "text_pattern_ops"},
            info={ONLY_ON_DIALECTS: ("postgresql",)},
        ).ddl_if(dialect="postgresql"),
        # Equality filters as JSONB containment (@>) on PostgreSQL (lgst0002).
        Index(
            "store_value_path_idx",
            "value",
            postgresql_using="gin",
            postgresql_ops={"value": "jsonb_path_ops"},
            postgresql_with={"fastupdate": "off"},
            info={ONLY_ON_DIALECTS: ("postgresql",)},
        ).ddl_if(dialect="postgresql"),
        # Expired items are found by the sweeper through this index; only
        # items with a TTL are in it where the database has partial indexes.
        Index(
            "idx_store_expires_at",
            "expires_at",
            postgresql_where=text("expires_at IS NOT NULL"),
            sqlite_where=text("expires_at IS NOT NULL"),
        ),
    )


class CheckpointTTLRecord(Base):
    """When a thread expires, and whether it is pinned.

    ``expires_at`` is a naive UTC moment, NULL for a thread that does not
    expire until it is written again (a ``keep_latest`` sweep clears it). A
    pinned thread is never served as expired nor swept, whatever
    ``expires_at`` says. A thread without a row never expires.
    """

    __tablename__ = "checkpoint_ttl"

    thread_id: Mapped[str] = mapped_column(
        key_string(THREAD_ID_LENGTH), primary_key=True
    )
    expires_at: Mapped[datetime | None] = mapped_column(moment(), index=True)
    pinned: Mapped[bool] = mapped_column(Boolean(), server_default=false())
