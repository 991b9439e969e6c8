"""``transfer``: copy threads from one database to another.

```
langgraph-sqlalchemy transfer --from sqlite:///agent.sqlite --to postgresql://u:p@host/db
```

``migrate`` is the same command under its old name, deprecated: "migrate"
means the schema everywhere else (``db upgrade``, ``python -m ...migrate``).

The source may hold this package's tables, the official PostgreSQL saver's or
the official SQLite saver's (found by looking at its tables); the target gets
this package's tables. Runs again after an interruption pick up where the last
one stopped. See :mod:`langgraph.checkpoint.sqlalchemy.transfer` and
``docs/transfer.md``.

Exit codes: 0 when every thread is in the target and verified; 1 when a thread
failed verification, conflicts with the target or is missing from the source,
or the transfer could not run (unreachable database, unknown tables); 2 for
bad usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from langgraph.checkpoint.sqlalchemy.cli._common import CliError, Output, mask_url
from langgraph.checkpoint.sqlalchemy.transfer import (
    SourceInfo,
    TransferError,
    TransferProgress,
    TransferReport,
    inspect_source,
    transfer,
)

__all__ = ["migrate_alias", "transfer_command"]


class _Bar:
    """A rich progress bar on stderr, shown on a terminal only: threads copied,
    then threads verified, with the checkpoints copied so far (two phases and
    a count, which ``Output.progress``'s one bar does not have)."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[checkpoints]} checkpoints"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, event: TransferProgress) -> None:
        label = "copying" if event.phase == "copy" else "verifying"
        task = self._tasks.get(event.phase)
        if task is None:
            task = self._progress.add_task(
                label, total=event.threads_total, checkpoints=0
            )
            self._tasks[event.phase] = task
        self._progress.update(
            task,
            completed=event.threads_done,
            total=event.threads_total,
            checkpoints=event.checkpoints_copied,
            description=f"{label} {event.thread_id[:40]}",
        )

    @contextmanager
    def running(self) -> Iterator[_Bar]:
        with self._progress:
            yield self


def _summary(report: TransferReport, out: Console) -> None:
    table = Table(title="threads", title_justify="left")
    for name in ("thread", "status", "checkpoints", "copied", "verified"):
        table.add_column(name, overflow="fold")
    problems = [t for t in report.threads if not t.ok]
    # All the problems, and the first threads otherwise: a migration can have
    # millions of threads.
    shown = problems + [t for t in report.threads if t.ok][: max(0, 20 - len(problems))]
    for t in shown:
        verified = {True: "yes", False: "MISMATCH", None: ""}[t.verified]
        table.add_row(
            t.thread_id, t.status, str(t.checkpoints), str(t.copied), verified
        )
    if shown:
        out.print(table)
    if len(shown) < len(report.threads):
        out.print(f"... and {len(report.threads) - len(shown)} more thread(s)")
    counts = ", ".join(
        f"{n} {status}"
        for status in (
            "copied",
            "resumed",
            "skipped",
            "planned",
            "conflict",
            "not-found",
        )
        if (n := report.count(status))
    )
    verb = "would copy" if report.dry_run else "copied"
    out.print(
        f"{len(report.threads)} thread(s): {counts or 'none'}; "
        f"{verb} {report.checkpoints_copied} checkpoint(s)",
        markup=False,
    )
    if report.mismatched:
        out.print(
            f"verification FAILED for {len(report.mismatched)} thread(s)", markup=False
        )
    store = report.store
    if store is not None:
        out.print(
            f"store: {store.items} item(s); {verb} {store.inserted} new, "
            f"{'would update' if report.dry_run else 'updated'} {store.updated}, "
            f"kept {store.kept} the target had as new or newer; "
            f"{verb} {store.vectors_copied} vector(s)",
            markup=False,
        )
        if store.vectors_note:
            out.print(store.vectors_note, markup=False)
        if store.verified is False:
            out.print(
                f"store verification FAILED for {len(store.mismatched or ())} item(s)",
                markup=False,
            )


def _check_usage(source: str, target: str) -> None:
    if source == target:
        raise click.UsageError("--from and --to name the same database")


@click.command("transfer", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--from", "source", required=True, metavar="URL", help="Source database URL."
)
@click.option(
    "--to", "target", required=True, metavar="URL", help="Target database URL."
)
@click.option(
    "--from-schema", default=None, metavar="NAME", help="Schema of the source tables."
)
@click.option(
    "--to-schema", default=None, metavar="NAME", help="Schema for the target tables."
)
@click.option(
    "--thread",
    "threads",
    multiple=True,
    metavar="ID",
    help="Move only this thread (repeatable). Default: every thread.",
)
@click.option(
    "--batch-size",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Checkpoints read per query.",
)
@click.option(
    "--with-store",
    is_flag=True,
    help="Also copy the memory store's items (all of them; the newer "
    "updated_at wins where both sides hold one), with their vectors where the "
    "target's store_vectors has the same dims.",
)
@click.option(
    "--store-batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Store items per page (one target transaction each).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--dry-run", is_flag=True, help="Show what would be copied; write nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def transfer_command(
    source: str,
    target: str,
    from_schema: str | None,
    to_schema: str | None,
    threads: tuple[str, ...],
    batch_size: int,
    with_store: bool,
    store_batch_size: int,
    yes: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Copy threads from --from to --to, then verify them.

    The source may hold this package's tables, langgraph-checkpoint-postgres's
    or langgraph-checkpoint-sqlite's; the target gets this package's tables.
    Threads already complete in the target are skipped, so an interrupted run
    can simply be started again.
    """
    _check_usage(source, target)
    out = Output(as_json)
    only = list(threads) or None
    try:
        info: SourceInfo = inspect_source(source, schema=from_schema, thread_ids=only)
        if not (yes or dry_run or as_json):
            click.confirm(
                f"Copy {info.threads} thread(s) ({info.layout} layout on "
                f"{info.dialect}){' and the store' if with_store else ''} to "
                f"{mask_url(target)}?",
                abort=True,
                err=True,
            )
        elif not (yes or dry_run):
            raise click.UsageError("--json without --dry-run needs --yes")
        bar = _Bar(out.err, enabled=out.err.is_terminal and not as_json)
        with bar.running():
            report = transfer(
                source,
                target,
                source_schema=from_schema,
                target_schema=to_schema,
                thread_ids=only,
                dry_run=dry_run,
                batch_size=batch_size,
                progress=bar,
                with_store=with_store,
                store_batch_size=store_batch_size,
            )
    except TransferError as exc:
        # Other failures reach the command group, which prints them in one
        # line (or, with --debug, with their traceback).
        raise CliError(str(exc)) from exc
    if as_json:
        out.emit_json(_jsonable(report, info))
    else:
        _summary(report, out.console)
    if not report.ok:
        raise click.exceptions.Exit(1)


def _jsonable(report: TransferReport, info: SourceInfo) -> dict[str, Any]:
    data = report.to_dict()
    data["source_dialect"] = info.dialect
    return data


#: The old name, kept working for scripts that use it; hidden from the list.
migrate_alias = click.Command(
    "migrate",
    params=transfer_command.params,
    callback=transfer_command.callback,
    help=transfer_command.help,
    context_settings=transfer_command.context_settings,
    hidden=True,
    deprecated=True,
)
