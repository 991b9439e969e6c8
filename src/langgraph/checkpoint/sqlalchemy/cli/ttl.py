"""``ttl sweep``, ``ttl show``, ``pin`` and ``unpin``: checkpoint TTL from
the command line.

``ttl sweep`` is the operator's way to run the savers' ``sweep_ttl`` from a
scheduler (cron, a Kubernetes CronJob) instead of a sweeper inside the
application; several may run at once (see docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime, timezone

import click

from langgraph.checkpoint.sqlalchemy.cli._common import (
    CliError,
    Database,
    Output,
    confirm_options,
    database_options,
    format_time,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import ttl as ttl_plans
from langgraph.checkpoint.sqlalchemy.runtime.driver import run
from langgraph.checkpoint.sqlalchemy.saver import SQLAlchemySaver
from sqlalchemy import inspect

__all__ = ["pin", "ttl", "unpin"]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _side_rows(
    db: Database, saver: SQLAlchemySaver
) -> list[tuple[str, datetime | None, bool, bool]]:
    with db.connect(saver) as conn:
        if not inspect(conn).has_table(ttl_plans.TTL.name, schema=db.schema):
            raise CliError(
                f"no {ttl_plans.TTL.name} table in {db.where}; bring the schema "
                "to head with `langgraph-sqlalchemy db upgrade`"
            )
        return run(ttl_plans.side_rows(_now()), conn)


@click.group()
def ttl() -> None:
    """Checkpoint TTL: sweep expired threads, show expiries and pins."""


@ttl.command("sweep")
@click.option(
    "--strategy",
    type=click.Choice(ttl_plans.STRATEGIES),
    default="delete",
    show_default=True,
    help="delete: the threads go whole; keep_latest: each namespace keeps its "
    "latest checkpoint, and the thread does not expire again until written.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Threads claimed and swept per transaction.",
)
@confirm_options
@database_options
def sweep(
    db: Database, out: Output, strategy: str, batch_size: int, yes: bool, dry_run: bool
) -> None:
    """Sweep the threads whose TTL has run out (pinned threads never are).

    Expiries are written by savers configured with ttl=...; this command only
    sweeps, so run it from cron or a Kubernetes CronJob, as often as you like,
    from as many places as you like: each thread is swept once.
    """
    with db.saver() as saver:
        expired = [row[0] for row in _side_rows(db, saver) if row[3]]
        if dry_run or not expired:
            if out.json:
                out.emit_json({"dry_run": dry_run, "expired": expired, "swept": 0})
            elif not expired:
                out.note("no expired thread")
            else:
                out.note(
                    f"dry run: would sweep {len(expired)} expired thread(s) "
                    f"({strategy}); nothing changed"
                )
            return
        if not yes:
            click.confirm(
                f"Sweep {len(expired)} expired thread(s) ({strategy}) in {db.where}?",
                abort=True,
                err=True,
            )
        with out.status("Sweeping…"):
            swept = saver.sweep_ttl(strategy=strategy, batch_size=batch_size)
    if out.json:
        out.emit_json({"dry_run": False, "expired": expired, "swept": swept})
    else:
        out.note(f"swept {swept} thread(s) ({strategy})")


@ttl.command("show")
@click.option("--expired", "only_expired", is_flag=True, help="Only expired threads.")
@click.option("--pinned", "only_pinned", is_flag=True, help="Only pinned threads.")
@database_options
def show(db: Database, out: Output, only_expired: bool, only_pinned: bool) -> None:
    """Threads with an expiry or a pin, soonest expiry first."""
    with db.saver() as saver:
        rows = _side_rows(db, saver)
    rows = [r for r in rows if (not only_expired or r[3]) and (not only_pinned or r[2])]
    if out.json:
        out.emit_json(
            [
                {
                    "thread_id": thread_id,
                    "expires_at": None if at is None else at.isoformat() + "Z",
                    "pinned": pinned,
                    "expired": expired,
                }
                for thread_id, at, pinned, expired in rows
            ]
        )
        return
    out.table(
        ["thread", "expires", "pinned", "expired"],
        [
            (
                thread_id,
                format_time(None if at is None else at.replace(tzinfo=timezone.utc)),
                "yes" if pinned else "",
                "yes" if expired else "",
            )
            for thread_id, at, pinned, expired in rows
        ],
    )
    out.note(f"{len(rows)} thread(s) in {db.where}")


def _pin_command(name: str, pinned: bool, doc: str) -> click.Command:
    @click.command(name, help=doc)
    @click.argument("thread_ids", nargs=-1, required=True, metavar="THREAD...")
    @database_options
    def command(db: Database, out: Output, thread_ids: tuple[str, ...]) -> None:
        ids = list(dict.fromkeys(thread_ids))
        with db.saver() as saver:
            _side_rows(db, saver)  # the table is there
            for thread_id in ids:
                if pinned:
                    saver.pin_thread(thread_id)
                else:
                    saver.unpin_thread(thread_id)
            now_pinned = saver.list_pinned_threads()
        if out.json:
            out.emit_json({name: ids, "pinned": now_pinned})
        else:
            out.note(f"{name}ned {', '.join(repr(t) for t in ids)}")

    return command


pin = _pin_command(
    "pin",
    True,
    "Pin threads: they never expire nor are swept, whatever their TTL "
    "(a thread not written yet can be pinned ahead).",
)
unpin = _pin_command(
    "unpin", False, "Unpin threads: they expire again as their TTL says."
)
