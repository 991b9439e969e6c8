"""``db``: the schema's Alembic migrations (upgrade, downgrade, current,
history, sql), on the packaged scripts of ``langgraph.checkpoint.sqlalchemy.migrate``."""

from __future__ import annotations

import io
from collections.abc import Callable

import click
from alembic import command
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from langgraph.checkpoint.sqlalchemy.cli._common import (
    CliError,
    Database,
    Output,
    database_options,
    engine_of,
    one_line,
)
from langgraph.checkpoint.sqlalchemy.dialects import has_schemas
from langgraph.checkpoint.sqlalchemy.migrate import (
    VERSION_TABLE,
    alembic_config,
    current_heads,
    script_heads,
)
from langgraph.store.sqlalchemy import SQLAlchemyStore
from sqlalchemy import Connection
from sqlalchemy.schema import CreateSchema

__all__ = ["db"]

_HEADS = ("head", "heads")


@click.group()
def db() -> None:
    """Manage the checkpoint tables' schema (Alembic migrations)."""


def _heads(conn: Connection, database: Database) -> list[str]:
    return sorted(current_heads(conn, schema=database.schema))


def _alembic(action: str, run: Callable[[], object]) -> None:
    try:
        run()
    except CommandError as exc:
        raise CliError(f"{action}: {exc}") from exc


@db.command()
@click.argument("revision", default="heads")
@database_options
def upgrade(db: Database, out: Output, revision: str) -> None:
    """Upgrade the tables to REVISION (default: the latest).

    Creates the schema given with --schema where the database has schemas.
    At the latest revision this does nothing, and several processes may run it
    at once.
    """
    with db.saver(require_tables=False) as saver, out.status("Migrating…"):
        with db.connect(saver) as conn:
            before = _heads(conn, db)
        if revision in _HEADS:
            # Every branch: the checkpoint tables and the memory store's.
            saver.setup()
            SQLAlchemyStore(
                engine_of(saver), schema=db.schema, version_table=saver.version_table
            ).setup()
        else:
            with engine_of(saver).connect() as conn, conn.begin():
                if db.schema and has_schemas(conn.dialect):
                    conn.execute(CreateSchema(db.schema, if_not_exists=True))
                config = alembic_config(conn, schema=db.schema)
                _alembic("upgrade", lambda: command.upgrade(config, revision))
        with db.connect(saver) as conn:
            after = _heads(conn, db)
    _report(out, db, "upgrade", before, after)


@db.command()
@click.argument("revision")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@database_options
def downgrade(db: Database, out: Output, revision: str, yes: bool) -> None:
    """Downgrade the tables to REVISION (``base`` drops them, with every
    checkpoint in them)."""
    with db.saver(require_tables=False) as saver:
        with db.connect(saver) as conn:
            before = _heads(conn, db)
        if not yes:
            click.confirm(
                f"Downgrade {db.where} from {', '.join(before) or '(none)'} "
                f"to {revision}? Tables dropped lose their data",
                abort=True,
                err=True,
            )
        with out.status("Migrating…"), engine_of(saver).connect() as conn, conn.begin():
            config = alembic_config(conn, schema=db.schema)
            _alembic("downgrade", lambda: command.downgrade(config, revision))
        with db.connect(saver) as conn:
            after = _heads(conn, db)
    _report(out, db, "downgrade", before, after)


def _report(
    out: Output, db: Database, action: str, before: list[str], after: list[str]
) -> None:
    changed = before != after
    if out.json:
        out.emit_json(
            {"url": db.masked, "schema": db.schema, "action": action}
            | {"before": before, "after": after, "changed": changed}
        )
        return
    was = ", ".join(before) or "(no tables)"
    now = ", ".join(after) or "(no tables)"
    if changed:
        out.note(f"{action}: {was} -> {now} on {db.where}")
    else:
        out.note(f"{action}: nothing to do; {db.where} is at {now}")


@db.command()
@database_options
def current(db: Database, out: Output) -> None:
    """Show the revision the database is at, and whether that is the latest."""
    with db.saver(require_tables=False) as saver, db.connect(saver) as conn:
        heads = _heads(conn, db)
    latest = sorted(script_heads())
    data = {
        "url": db.masked,
        "schema": db.schema,
        "version_table": VERSION_TABLE,
        "current": heads,
        "head": latest,
        "up_to_date": heads == latest,
    }
    if out.json:
        out.emit_json(data)
        return
    state = "up to date" if heads == latest else f"behind (latest: {', '.join(latest)})"
    out.note(f"{', '.join(heads) or '(no tables)'} on {db.where}: {state}")


@db.command("history")
@database_options
def history_(db: Database, out: Output) -> None:
    """List the migrations, newest first (marking the current one when a
    database URL is given)."""
    heads: list[str] = []
    if db.url:
        with db.saver(require_tables=False) as saver, db.connect(saver) as conn:
            heads = _heads(conn, db)
    script = ScriptDirectory.from_config(alembic_config())
    revisions = []
    for rev in script.walk_revisions():
        down = rev.down_revision
        revisions.append(
            {
                "revision": rev.revision,
                "down_revision": list(down)
                if isinstance(down, (tuple, list))
                else down,
                "head": rev.is_head,
                "current": rev.revision in heads,
                "description": one_line((rev.doc or "").splitlines()[0])
                if rev.doc
                else "",
            }
        )
    if out.json:
        out.emit_json(revisions)
        return
    out.table(
        ["revision", "down", "description", "state"],
        [
            (
                r["revision"],
                r["down_revision"] or "(base)",
                r["description"],
                " ".join(
                    s
                    for s, on in (("head", r["head"]), ("current", r["current"]))
                    if on
                ),
            )
            for r in revisions
        ],
    )


@db.command()
@click.argument("revision", default="heads")
@database_options
def sql(db: Database, out: Output, revision: str) -> None:
    """Print the DDL that `db upgrade` would run, for the URL's dialect, without
    connecting (a bare URL such as postgresql:// or mysql:// is enough)."""
    url = db.require_url()
    config = alembic_config(schema=db.schema)
    config.attributes["url"] = url.render_as_string(hide_password=False)
    buffer = io.StringIO()
    config.output_buffer = buffer
    _alembic("sql", lambda: command.upgrade(config, revision, sql=True))
    if out.json:
        out.emit_json({"dialect": url.get_backend_name(), "sql": buffer.getvalue()})
    else:
        click.echo(buffer.getvalue(), nl=False)
