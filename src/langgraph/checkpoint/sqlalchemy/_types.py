"""Portable column types.

PostgreSQL gets exactly the types of langgraph-checkpoint-postgres (TEXT keys,
JSONB documents, BYTEA blobs) so the two savers can share tables. Every other
dialect gets bounded key columns, because MySQL/MariaDB index a composite key of
at most 3072 bytes and count four bytes a character in utf8mb4, and blobs big
enough for multi-megabyte channel values (``LONGBLOB`` on MySQL, whose plain
``BLOB`` stops at 64 KiB).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, LargeBinary, String, Text
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# Key widths (characters) outside PostgreSQL. The widest primary key,
# checkpoint_blobs', is 255 + 255 + 150 + 64 = 724 characters: 2896 bytes in
# utf8mb4, under InnoDB's 3072. Values longer than these are refused before they
# reach the database (see `_validate.check_length`): some servers truncate
# silently, and a truncated key is a different key.
THREAD_ID_LENGTH = 255
CHECKPOINT_NS_LENGTH = 255
CHECKPOINT_ID_LENGTH = 64
TASK_ID_LENGTH = 128
CHANNEL_LENGTH = 150
VERSION_LENGTH = 64
TYPE_LENGTH = 64
TASK_PATH_LENGTH = 1024
# The store's primary key (prefix, key): 500 + 255 = 755 characters, 3020
# bytes in utf8mb4. ``prefix`` is the namespace's labels joined by ".".
STORE_PREFIX_LENGTH = 500
STORE_KEY_LENGTH = 255


def key_string(length: int) -> TypeEngine[str]:
    """A key column: ``TEXT`` on PostgreSQL, ``VARCHAR(length)`` elsewhere.

    On MySQL/MariaDB the collation is binary: the default ones compare
    case-insensitively, which would make threads "A" and "a" one key.
    """
    return (
        String(length)
        .with_variant(Text(), "postgresql")
        .with_variant(
            mysql.VARCHAR(length, collation="utf8mb4_bin"), "mysql", "mariadb"
        )
    )


def document() -> TypeEngine[Any]:
    """A JSON document column: ``JSONB`` on PostgreSQL, ``JSON`` elsewhere."""
    return JSON().with_variant(postgresql.JSONB(), "postgresql")


def blob() -> TypeEngine[bytes]:
    """A serialized value: ``BYTEA`` on PostgreSQL, ``LONGBLOB`` on MySQL."""
    return LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class UtcTimestamp(TypeDecorator[datetime]):
    """A moment in UTC: ``TIMESTAMPTZ`` on PostgreSQL (the official store's
    type), a naive UTC ``DATETIME`` with microseconds elsewhere (MySQL's
    plain ``DATETIME`` drops them). Always read back as an aware datetime."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
