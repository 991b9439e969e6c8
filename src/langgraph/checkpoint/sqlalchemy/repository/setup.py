"""The plan of ``setup()``: one branch of the packaged migrations brought to
its head (the checkpoint tables for the saver, the store's for the store)."""

from __future__ import annotations

from langgraph.checkpoint.sqlalchemy import migrate
from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.repository.plan import Call, Execute, Plan
from sqlalchemy import Connection
from sqlalchemy.schema import CreateSchema

__all__ = ["setup"]


def setup(
    ops: DialectOps,
    schema: str | None,
    version_table: str,
    branch: str | None = migrate.BRANCH_LABEL,
) -> Plan[None]:
    """Bring ``branch`` of the schema to its head, under the setup lock.

    Like every plan, this one does no I/O: it yields a ``CREATE SCHEMA``
    (where the database has schemas and one is asked for), then a
    :class:`~.plan.Call` of ``upgrade``. The runtime runs that function with
    its sync ``Connection``, inside the job's transaction; it is the function,
    run there, that takes the setup lock, runs Alembic and releases the lock.
    The migration scripts qualify names with ``schema`` themselves (so that
    ``--sql`` renders them too).
    """
    if schema is not None and ops.has_schemas:
        yield Execute(CreateSchema(schema, if_not_exists=True))
    lock = ops.setup_lock()

    def upgrade(conn: Connection) -> None:
        if lock is not None and conn.execute(lock[0]).scalar() != 1:
            raise TimeoutError(
                "setup() waited 60 s for another process's schema migration "
                "to finish; call it again once that one is done"
            )
        try:
            migrate.upgrade(
                conn, schema=schema, version_table=version_table, branch=branch
            )
        finally:
            if lock is not None and lock[1] is not None:
                conn.execute(lock[1])

    yield Call(upgrade)
