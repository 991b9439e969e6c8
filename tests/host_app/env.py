"""The host application's env.py: its metadata and ours, one history."""

from alembic import context
from host_models import host_metadata
from sqlalchemy import create_engine, pool

from langgraph.checkpoint.sqlalchemy import metadata as checkpoint_metadata
from langgraph.checkpoint.sqlalchemy.migrate import include_object

config = context.config
engine = create_engine(config.attributes["url"], poolclass=pool.NullPool)
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=[host_metadata, checkpoint_metadata],
        include_object=include_object(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
