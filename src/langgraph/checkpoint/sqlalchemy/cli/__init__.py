"""``langgraph-sqlalchemy``: the operator's command line for checkpoint databases.

Needs the ``cli`` extra (click and rich): ``pip install
"langgraph-checkpoint-sqlalchemy[cli]"``. Run it as ``langgraph-sqlalchemy`` or
``python -m langgraph.checkpoint.sqlalchemy``. See ``docs/cli.md``.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from langgraph.checkpoint.sqlalchemy.cli._common import CliError, describe_error
from langgraph.checkpoint.sqlalchemy.cli.db import db
from langgraph.checkpoint.sqlalchemy.cli.demo import demo
from langgraph.checkpoint.sqlalchemy.cli.inspect import diff, history, show
from langgraph.checkpoint.sqlalchemy.cli.manage import copy_thread, delete, prune
from langgraph.checkpoint.sqlalchemy.cli.store import store
from langgraph.checkpoint.sqlalchemy.cli.threads import threads
from langgraph.checkpoint.sqlalchemy.cli.transfer import migrate_alias, transfer_command
from langgraph.checkpoint.sqlalchemy.cli.ttl import pin, ttl, unpin

__all__ = ["main"]

DEBUG_ENV_VAR = "LANGGRAPH_CLI_DEBUG"


class _Group(click.Group):
    """A group that turns any failure below it into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as exc:
            if _debugging(ctx) and exc.__cause__ is not None:
                # The one line stays; the failure under it (a refused
                # connection, a missing driver) is what --debug is asked for.
                traceback.print_exception(exc.__cause__, file=sys.stderr)
            raise
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if _debugging(ctx):
                raise
            raise CliError(describe_error(exc)) from exc


def _debugging(ctx: click.Context) -> bool:
    # Set by main's callback, which runs inside invoke.
    return bool(ctx.obj and ctx.obj.get("debug"))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--debug",
    is_flag=True,
    envvar=DEBUG_ENV_VAR,
    help=f"Show full tracebacks instead of one-line errors (or set {DEBUG_ENV_VAR}=1).",
)
@click.version_option(package_name="langgraph-checkpoint-sqlalchemy")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Inspect and manage LangGraph checkpoints stored with SQLAlchemy.

    Every command takes --url (or LANGGRAPH_CHECKPOINT_URL), --schema and --json.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug or os.environ.get(DEBUG_ENV_VAR) == "1"


for _command in (
    db,
    threads,
    history,
    show,
    diff,
    prune,
    delete,
    copy_thread,
    ttl,
    pin,
    unpin,
    store,
    transfer_command,
    migrate_alias,
    demo,
):
    main.add_command(_command)
