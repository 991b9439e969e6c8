"""The host application's env.py: its tables and ours, in one history.

The database URL comes from ``config.attributes["url"]`` (a caller that builds
its own ``Config``), else ``-x url=...``, else the ``DATABASE_URL`` environment
variable. Async driver URLs (``sqlite+aiosqlite``, ``postgresql+psycopg_async``,
``postgresql+asyncpg``) are run with the matching sync driver, so the URL an
async app serves with works here too.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from host_models import host_metadata
from sqlalchemy import URL, create_engine, pool

from langgraph.checkpoint.sqlalchemy import metadata as checkpoint_metadata
from langgraph.checkpoint.sqlalchemy.migrate import include_object, sync_url

config = context.config
if config.config_file_name is not None and config.attributes.get(
    "configure_logger", True
):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Autogenerate compares the database with both: `alembic revision
# --autogenerate` writes only what the host's own models changed.
target_metadata = [host_metadata, checkpoint_metadata]


def database_url() -> URL:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("DATABASE_URL")
    )
    if not url:
        raise SystemExit("No database URL: set DATABASE_URL or pass -x url=...")
    return sync_url(url)


if context.is_offline_mode():  # --sql: print the DDL for review
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # Hides the PostgreSQL-only GIN index from other dialects.
                include_object=include_object(connection.dialect.name),
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
