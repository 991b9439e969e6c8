"""Everything that differs between databases, decided once per engine.

``base.py`` holds the portable path and a registry by dialect name;
``postgresql.py``, ``sqlite.py`` and ``mysql.py`` (MySQL and MariaDB) each
hold what differs for that database. This package is the only code of the
saver that branches on a dialect's or URL backend's name: the rest asks a
:class:`DialectOps`, or one of the functions below, for what it needs.
Three things outside it still carry names, none of them a branch of ours:
the schema's declarations (``_types``' column-type variants and ``models``'
PostgreSQL-only index, which SQLAlchemy applies per dialect), the hook
``migrate.include_object`` that filters that index by the name Alembic's
environment passes it, and the Alembic revision scripts (history, kept as
written).

Statement builders here return *sub-plans* (generators of steps, see
``repository.plan``), because the portable fallback for a missing native upsert takes
more than one statement.
"""

from langgraph.checkpoint.sqlalchemy.dialects import (  # vector search, registered
    mysql,
    pgvector,
    postgresql,
    sqlite,
    sqlite_vec,
    vectors,
)
from langgraph.checkpoint.sqlalchemy.dialects.base import (
    DialectOps,
    TransactionOptions,
    autocommits_at_driver,
    batch_alter,
    binary_results,
    database_file,
    dialect_ops,
    engine_defaults,
    example_isolation_level,
    has_schemas,
    is_memory_database,
    lost_a_race,
    normalize_url,
    same_database,
    single_writer,
    sync_url,
    transaction_options,
    tune_engine,
)
from langgraph.checkpoint.sqlalchemy.dialects.mysql import watch_packet_limit

__all__ = [
    "DialectOps",
    "TransactionOptions",
    "autocommits_at_driver",
    "batch_alter",
    "binary_results",
    "database_file",
    "dialect_ops",
    "engine_defaults",
    "example_isolation_level",
    "has_schemas",
    "is_memory_database",
    "lost_a_race",
    "mysql",
    "normalize_url",
    "pgvector",
    "postgresql",
    "same_database",
    "single_writer",
    "sqlite",
    "sqlite_vec",
    "sync_url",
    "transaction_options",
    "tune_engine",
    "vectors",
    "watch_packet_limit",
]
