"""``store``: the memory store's items, for operators.

A NAMESPACE on the command line is its labels joined by dots
(``users.42.memories``), the form the ``store`` table keeps it in: a label may
hold no dot (the store refuses one), so the dotted form is never ambiguous,
and it is what an operator sees in the table. A label of ``*`` in
``namespaces --prefix/--suffix`` is any one label.

Everything goes through :class:`~langgraph.store.sqlalchemy.SQLAlchemyStore`
(no SQL here), with ``refresh_ttl=False``: looking at an item never extends
its life. Expired items are invisible to every command, as to the store;
``sweep`` deletes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from langgraph.store.base import Item, PutOp

from langgraph.checkpoint.sqlalchemy.cli._common import (
    CliError,
    Database,
    Output,
    confirm_options,
    database_options,
    describe_error,
    format_time,
    short,
)
from langgraph.checkpoint.sqlalchemy.cli.threads import parse_filters
from langgraph.checkpoint.sqlalchemy.dialects import database_file
from langgraph.store.sqlalchemy import SQLAlchemyStore
from sqlalchemy import inspect
from sqlalchemy.exc import ArgumentError, DBAPIError

__all__ = ["parse_namespace", "store"]

#: Items read (and deleted) per transaction by ``delete NAMESPACE``.
PAGE = 500


def parse_namespace(text: str, what: str = "NAMESPACE") -> tuple[str, ...]:
    """``users.42`` as ``("users", "42")``; empty labels are refused."""
    labels = tuple(text.split("."))
    if not text or any(not label for label in labels):
        raise CliError(
            f"{what} {text!r} is not a namespace: give its labels joined by "
            "dots, such as users.42"
        )
    return labels


def _dotted(namespace: tuple[str, ...]) -> str:
    return ".".join(namespace)


@contextmanager
def _open(db: Database) -> Iterator[SQLAlchemyStore]:
    """A store on a new engine, checked to find the ``store`` table; closed
    afterwards. Never creates anything."""
    url = db.require_url()
    path = database_file(url)
    if path is not None and not Path(path).exists():
        raise CliError(f"no such SQLite database file: {path}")
    try:
        opened = SQLAlchemyStore.from_url(url, schema=db.schema)
    except ImportError as exc:
        raise CliError(
            f"the database driver for {db.masked} is not installed ({exc})"
        ) from exc
    except ArgumentError as exc:
        raise CliError(f"cannot use {db.masked}: {describe_error(exc)}") from exc
    with opened:
        try:
            with opened.bind.engine.connect() as conn:
                found = inspect(conn).has_table("store", schema=db.schema)
        except DBAPIError as exc:
            raise CliError(f"cannot reach {db.where}: {describe_error(exc)}") from exc
        if not found:
            raise CliError(
                f"no store table in {db.where}; create it with "
                "`langgraph-sqlalchemy db upgrade` or SQLAlchemyStore.setup()"
            )
        yield opened


def _item(item: Item) -> dict[str, Any]:
    return {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def _filters(items: tuple[str, ...]) -> dict[str, Any] | None:
    return {key: value for key, value, _ in parse_filters(items)} or None


@click.group()
def store() -> None:
    """The memory store (SQLAlchemyStore): namespaces, items, TTL sweeps.

    NAMESPACE is the labels joined by dots: users.42.memories.
    """


@store.command()
@click.option(
    "--prefix",
    metavar="NAMESPACE",
    help="Only namespaces starting with these labels (* is any one label).",
)
@click.option(
    "--suffix",
    metavar="NAMESPACE",
    help="Only namespaces ending with these labels (* is any one label).",
)
@click.option(
    "--max-depth",
    type=click.IntRange(min=1),
    metavar="N",
    help="Cut namespaces to their first N labels (and list each once).",
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@database_options
def namespaces(
    db: Database,
    out: Output,
    prefix: str | None,
    suffix: str | None,
    max_depth: int | None,
    limit: int,
    offset: int,
) -> None:
    """List the namespaces that hold items, sorted."""
    with _open(db) as opened, out.status("Reading namespaces…"):
        found = opened.list_namespaces(
            prefix=parse_namespace(prefix, "--prefix") if prefix else None,
            suffix=parse_namespace(suffix, "--suffix") if suffix else None,
            max_depth=max_depth,
            limit=limit,
            offset=offset,
        )
    if out.json:
        out.emit_json([list(ns) for ns in found])
        return
    out.table(["namespace"], [(_dotted(ns),) for ns in found])
    out.note(f"{len(found)} namespace(s) in {db.where}")


@store.command()
@click.argument("namespace")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only items whose value has KEY=VALUE (VALUE read as JSON when it is "
    "JSON). Repeat to require several.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@database_options
def items(
    db: Database,
    out: Output,
    namespace: str,
    filters: tuple[str, ...],
    limit: int,
    offset: int,
) -> None:
    """List the items in NAMESPACE and below it, most recently updated first."""
    prefix = parse_namespace(namespace)
    wanted = _filters(filters)
    with _open(db) as opened, out.status("Reading items…"):
        found = opened.search(
            prefix, filter=wanted, limit=limit, offset=offset, refresh_ttl=False
        )
    if out.json:
        out.emit_json([_item(i) for i in found])
        return
    out.table(
        ["namespace", "key", "value", "updated"],
        [
            (_dotted(i.namespace), i.key, short(i.value), format_time(i.updated_at))
            for i in found
        ],
    )
    out.note(f"{len(found)} item(s) under {namespace} in {db.where}")


@store.command()
@click.argument("namespace")
@click.argument("key")
@database_options
def get(db: Database, out: Output, namespace: str, key: str) -> None:
    """Show one item: its whole value and its times."""
    with _open(db) as opened:
        item = opened.get(parse_namespace(namespace), key, refresh_ttl=False)
    if item is None:
        raise CliError(f"no item {key!r} in namespace {namespace} in {db.where}")
    if out.json:
        out.emit_json(_item(item))
        return
    out.table(
        ["field", "value"],
        [
            ("namespace", namespace),
            ("key", item.key),
            ("created", format_time(item.created_at)),
            ("updated", format_time(item.updated_at)),
        ],
    )
    out.emit_json(item.value)


@store.command()
@click.argument("namespace")
@click.argument("key", required=False)
@confirm_options
@database_options
def delete(
    db: Database,
    out: Output,
    namespace: str,
    key: str | None,
    yes: bool,
    dry_run: bool,
) -> None:
    """Delete item KEY of NAMESPACE, or, without KEY, every item in NAMESPACE
    and below it (which needs --yes, or --dry-run to count them first)."""
    prefix = parse_namespace(namespace)
    if key is None and not (yes or dry_run):
        raise CliError(
            f"deleting every item under {namespace} needs --yes "
            "(--dry-run counts them first)"
        )
    with _open(db) as opened:
        if key is not None:
            one = opened.get(prefix, key, refresh_ttl=False)
            if one is None:
                raise CliError(
                    f"no item {key!r} in namespace {namespace} in {db.where}"
                )
            targets = [(prefix, key)]
        else:
            targets = list(_keys_under(opened, prefix))
        what = (
            f"delete item {key!r} of {namespace}"
            if key is not None
            else f"delete {len(targets)} item(s) under {namespace}"
        )
        if not dry_run and targets:
            if not yes:
                click.confirm(
                    f"{what.capitalize()} in {db.where}?", abort=True, err=True
                )
            with out.status("Deleting…"):
                for start in range(0, len(targets), PAGE):
                    part = targets[start : start + PAGE]
                    opened.batch([PutOp(ns, k, None) for ns, k in part])
    summary = {
        "dry_run": dry_run,
        "namespace": list(prefix),
        "key": key,
        "items": [{"namespace": list(ns), "key": k} for ns, k in targets],
        "deleted": 0 if dry_run else len(targets),
    }
    if out.json:
        out.emit_json(summary)
    elif dry_run:
        out.note(f"dry run: would {what}; nothing changed")
    elif not targets:
        out.note(f"no item under {namespace}")
    else:
        out.note(f"deleted {len(targets)} item(s) under {namespace}")


def _keys_under(
    opened: SQLAlchemyStore, prefix: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], str]]:
    """Every live item under ``prefix``, a page at a time (the search's
    order includes namespace and key, so pages neither overlap nor skip)."""
    offset = 0
    while True:
        page = opened.search(prefix, limit=PAGE, offset=offset, refresh_ttl=False)
        for found in page:
            yield found.namespace, found.key
        if len(page) < PAGE:
            return
        offset += PAGE


@store.command()
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Expired items deleted per transaction.",
)
@database_options
def sweep(db: Database, out: Output, batch_size: int) -> None:
    """Delete the items whose TTL has run out, now (what the store's TTL
    sweeper does on its interval). Safe beside running sweepers."""
    with _open(db) as opened, out.status("Sweeping…"):
        deleted = opened.sweep_ttl(batch_size=batch_size)
    if out.json:
        out.emit_json({"deleted": deleted})
    else:
        out.note(f"swept {deleted} expired item(s) from {db.where}")
