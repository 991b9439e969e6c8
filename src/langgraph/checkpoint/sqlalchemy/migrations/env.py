"""Alembic environment for the checkpoint tables.

Three ways in, one script:

* ``saver.setup()`` hands its own connection over in
  ``config.attributes["connection"]`` (Alembic's connection-sharing recipe; the
  async saver gets here through ``run_sync``), so nothing here starts an event
  loop or an engine, and logging is left as the host set it up;
* the ``alembic`` command line, with ``-x url=...`` or ``LANGGRAPH_CHECKPOINT_URL``;
* ``--sql`` (offline), which prints the DDL for review.

Options (``config.attributes`` first, then ``-x`` arguments): ``schema`` and
``version_table``.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from langgraph.checkpoint.sqlalchemy.dialects import batch_alter, sync_url
from langgraph.checkpoint.sqlalchemy.migrate import (
    URL_ENV_VAR,
    VERSION_TABLE,
    include_object,
)
from langgraph.checkpoint.sqlalchemy.models import metadata

config = context.config
x_args = context.get_x_argument(as_dictionary=True)


def _option(name: str, default: Any = None) -> Any:
    if name in config.attributes:
        return config.attributes[name]
    return x_args.get(name, default)


schema: str | None = _option("schema") or None
version_table: str = _option("version_table") or VERSION_TABLE


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=metadata,
        version_table=version_table,
        version_table_schema=schema,
        include_schemas=False,
        **kwargs,
    )


def _run(connection: Connection) -> None:
    _configure(
        connection=connection,
        render_as_batch=batch_alter(connection.dialect),
        include_object=include_object(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = _option("url") or os.environ.get(URL_ENV_VAR)
    if not url:
        raise SystemExit("No database URL: pass -x url=... or set " + URL_ENV_VAR)
    return str(url)


if context.is_offline_mode():
    _configure(
        url=sync_url(_url()), literal_binds=True, dialect_opts={"paramstyle": "named"}
    )
    with context.begin_transaction():
        context.run_migrations()
elif (shared := config.attributes.get("connection")) is not None:
    _run(shared)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    engine = create_engine(sync_url(_url()), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()
