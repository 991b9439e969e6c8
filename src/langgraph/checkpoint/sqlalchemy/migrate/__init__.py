"""The schema's lifecycle, owned by Alembic.

The migration scripts live in this package (``migrations/``), so one copy
serves a checkout, an editable install and an installed wheel; the checkout's
top-level ``alembic/alembic.ini`` points at that folder. Three ways in:

* ``saver.setup()`` runs ``upgrade()`` of the checkpoint branch on the
  saver's own connection, the store's ``setup()`` that of the store branch;
* the command line: ``python -m langgraph.checkpoint.sqlalchemy.migrate -x
  url=postgresql://... upgrade heads`` (any alembic command: ``downgrade``,
  ``current``, ``history``, ``upgrade heads --sql``), or plain ``alembic -c
  <ini_path()> ...``;
* a host application's own Alembic history: add ``version_location()`` to its
  ``version_locations`` and run ``alembic upgrade heads``, and put
  ``models.metadata`` in its ``target_metadata``.

One history, two branches, each with its own root: ``langgraph_checkpoint``
(the saver's tables) and ``langgraph_store`` (the memory store's). An
application that uses only one of them gets only its tables; ``upgrade
heads`` brings both, and each branch's head is one row of the version table.

Our version table is ``langgraph_checkpoint_alembic_version``, never the host's
``alembic_version``.

Alembic is imported by the functions that use it, not with this module: the
saver imports this module for its names, and importing Alembic took about as
long as the rest of the package (0.3 of 0.6-0.8 s, cold), which an application
whose schema is managed elsewhere never needs. For the same reason
``upgrade()`` finds out whether anything is to be done without Alembic: the
branches' heads are written down here (``BRANCH_HEADS``, checked against the
scripts by the tests) and the version table is read with a plain ``SELECT``,
so a ``setup()`` at every start of an application whose database is already
at head never loads Alembic (nor Mako) into the process.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.sqlalchemy._floors import require

# Public here for host apps' env.py (examples/host_app_migrations): the URL
# their engine needs, with an async driver swapped for its sync twin.
from langgraph.checkpoint.sqlalchemy.dialects import sync_url
from langgraph.checkpoint.sqlalchemy.models import ONLY_ON_DIALECTS
from sqlalchemy import Column, Connection, MetaData, String, Table, inspect, select

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "BRANCH_HEADS",
    "BRANCH_LABEL",
    "SCRIPT_LOCATION",
    "STORE_BRANCH_LABEL",
    "URL_ENV_VAR",
    "VERSION_TABLE",
    "alembic_config",
    "branch_heads",
    "current_heads",
    "include_object",
    "ini_path",
    "script_heads",
    "sync_url",
    "upgrade",
    "version_location",
]

SCRIPT_LOCATION = "langgraph.checkpoint.sqlalchemy:migrations"
VERSION_TABLE = "langgraph_checkpoint_alembic_version"
BRANCH_LABEL = "langgraph_checkpoint"
STORE_BRANCH_LABEL = "langgraph_store"
URL_ENV_VAR = "LANGGRAPH_CHECKPOINT_URL"

#: The head revision of each branch of the packaged scripts. A new revision
#: moves its branch's entry here (tests/test_migrations.py compares this with
#: Alembic's own reading of the scripts, so a forgotten entry fails there).
BRANCH_HEADS: dict[str, frozenset[str]] = {
    BRANCH_LABEL: frozenset({"lgcp0003"}),
    STORE_BRANCH_LABEL: frozenset({"lgst0002"}),
}


def _migrations_dir() -> Path:
    return Path(str(resources.files("langgraph.checkpoint.sqlalchemy") / "migrations"))


def ini_path() -> Path:
    """The packaged ``alembic.ini`` (for ``alembic -c``)."""
    return _migrations_dir() / "alembic.ini"


def version_location() -> Path:
    """The folder of our revisions, for a host app's ``version_locations``."""
    return _migrations_dir() / "versions"


def include_object(dialect_name: str) -> Callable[..., bool]:
    """An autogenerate ``include_object`` hook that skips what this dialect
    never gets: the PostgreSQL-only GIN index on ``checkpoints.metadata``.

    Alembic compares ``Index(...).ddl_if(dialect=...)`` objects on every
    dialect (sqlalchemy/alembic#1491), which would report the index as missing
    on SQLite and MySQL. Host apps pass
    ``include_object=include_object(connection.dialect.name)`` to
    ``context.configure`` (chain it with their own hook if they have one).
    """

    def include(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        if type_ == "index" and not reflected:
            wanted = obj.info.get(ONLY_ON_DIALECTS)
            if wanted is not None:
                return dialect_name in wanted
        return True

    return include


def alembic_config(
    connection: Connection | None = None,
    *,
    schema: str | None = None,
    version_table: str = VERSION_TABLE,
) -> Config:
    """An Alembic ``Config`` for our scripts; with ``connection``, env.py uses it."""
    require("alembic")
    from alembic.config import Config

    config = Config(str(ini_path()))
    if connection is not None:
        config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    config.attributes["version_table"] = version_table
    return config


@functools.cache
def script_heads() -> frozenset[str]:
    """The head revisions of the packaged migration scripts (read once)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def branch_heads(branch: str | None) -> frozenset[str]:
    """The head revisions of one branch of the packaged scripts (``None``:
    of every branch), from ``BRANCH_HEADS``: no Alembic needed."""
    if branch is None:
        return frozenset().union(*BRANCH_HEADS.values())
    try:
        return BRANCH_HEADS[branch]
    except KeyError:
        raise ValueError(
            f"no migration branch {branch!r}; ours are {sorted(BRANCH_HEADS)}"
        ) from None


def current_heads(
    connection: Connection,
    *,
    schema: str | None = None,
    version_table: str = VERSION_TABLE,
) -> frozenset[str]:
    """The revisions the database is at (empty before the first upgrade).

    Read with SQLAlchemy alone, as Alembic would read them: the table's
    ``version_num`` rows, none if the table is not there yet.
    """
    if not inspect(connection).has_table(version_table, schema=schema):
        return frozenset()
    table = Table(
        version_table, MetaData(), Column("version_num", String(32)), schema=schema
    )
    return frozenset(connection.execute(select(table.c.version_num)).scalars())


def upgrade(
    connection: Connection,
    *,
    schema: str | None = None,
    version_table: str = VERSION_TABLE,
    branch: str | None = BRANCH_LABEL,
) -> bool:
    """Bring ``branch`` (``None``: every branch) to its head on
    ``connection``; cheap when it is there.

    Returns whether anything ran. The caller owns the transaction (and, for
    concurrent callers, the lock around it: see ``DialectOps.setup_lock``).
    """
    if current_heads(connection, schema=schema, version_table=version_table) >= (
        branch_heads(branch)
    ):
        return False
    from alembic import command

    config = alembic_config(connection, schema=schema, version_table=version_table)
    command.upgrade(config, "heads" if branch is None else f"{branch}@head")
    return True


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m langgraph.checkpoint.sqlalchemy.migrate [alembic args]``
    (run by this package's ``__main__``, which nothing else imports: running
    this module itself as ``__main__`` would load it twice, since the saver
    imports it)."""
    require("alembic")
    from alembic.config import main as alembic_main

    args = _plural_head(list(sys.argv[1:] if argv is None else argv))
    alembic_main(argv=["-c", str(ini_path()), *args], prog="python -m " + __name__)


def _plural_head(args: list[str]) -> list[str]:
    """``upgrade head`` as ``upgrade heads``.

    Until the store's branch arrived our history had one head, and deploy
    scripts say ``upgrade head``, which Alembic refuses once there are two.
    This command owns only our two branches, so both is what it meant.
    """
    if "upgrade" in args:
        at = args.index("upgrade") + 1
        if at < len(args) and args[at] == "head":
            print(
                "note: our history has two branches (checkpoints, store); "
                "running 'upgrade heads'",
                file=sys.stderr,
            )
            return [*args[:at], "heads", *args[at + 1 :]]
    return args
