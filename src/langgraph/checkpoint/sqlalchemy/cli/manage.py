"""``prune``, ``delete`` and ``copy-thread``: the commands that change data.

Each one shows what it is about to do and asks first (``--yes`` skips the
question); ``--dry-run`` shows it and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import click

from langgraph.checkpoint.sqlalchemy.cli._common import (
    CliError,
    Database,
    Output,
    checkpoint_time,
    confirm_options,
    database_options,
    format_time,
    parse_age,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import inspection
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.codec import (
    checkpoint_id_at,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.inspection import (
    ThreadStats,
)
from langgraph.checkpoint.sqlalchemy.runtime.driver import run

__all__ = ["copy_thread", "delete", "prune"]


@dataclass
class PruneRow:
    """One thread a prune will touch; ``to_delete`` is an upper bound (a
    DeltaChannel thread keeps the ancestors its channels rebuild from)."""

    thread_id: str
    checkpoints: int
    last_update: datetime | None
    to_delete: int


def _confirm(question: str, yes: bool) -> None:
    if not yes:
        click.confirm(question, abort=True, err=True)


def _known(
    stats: dict[str, ThreadStats], thread_ids: Sequence[str], db: Database
) -> None:
    missing = [t for t in thread_ids if t not in stats]
    if missing:
        names = ", ".join(repr(t) for t in missing)
        raise CliError(f"no thread {names} in {db.where}")


@click.command()
@click.argument("thread_ids", nargs=-1, metavar="[THREAD]...")
@click.option(
    "--older-than",
    metavar="AGE",
    help="Only threads whose latest checkpoint is older than AGE "
    "(30d, 12h, 90m, 2w, 45s) or an ISO date.",
)
@click.option("--all", "all_threads", is_flag=True, help="Every thread.")
@click.option(
    "--keep-last",
    type=click.IntRange(min=1),
    metavar="N",
    help="Keep each namespace's N latest checkpoints (default: the latest one).",
)
@click.option("--delete", "delete_", is_flag=True, help="Delete the threads whole.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Threads pruned per call (each thread is its own transaction).",
)
@confirm_options
@database_options
def prune(
    db: Database,
    out: Output,
    thread_ids: tuple[str, ...],
    older_than: str | None,
    all_threads: bool,
    keep_last: int | None,
    delete_: bool,
    batch_size: int,
    yes: bool,
    dry_run: bool,
) -> None:
    """Prune old checkpoints of the given threads, of threads idle for longer
    than --older-than, or of --all threads.

    By default each namespace keeps its latest checkpoint (and, for
    DeltaChannel threads, the ancestors it is rebuilt from); --keep-last N
    keeps N; --delete removes the threads entirely.
    """
    if delete_ and keep_last is not None:
        raise CliError("--delete and --keep-last do not go together")
    if not (thread_ids or older_than or all_threads):
        raise CliError("say which threads: give THREAD IDs, --older-than AGE or --all")
    if all_threads and thread_ids:
        raise CliError("--all and THREAD IDs do not go together")
    strategy = "delete" if delete_ else "keep_last" if keep_last else "keep_latest"
    cutoff = checkpoint_id_at(parse_age(older_than)) if older_than else None

    with db.saver() as saver:
        with db.connect(saver) as conn:
            stats = run(inspection.thread_stats(list(thread_ids) or None), conn)
            _known(stats, thread_ids, db)
            chosen = sorted(
                (
                    s
                    for s in stats.values()
                    if cutoff is None or (s.last_checkpoint_id or "") < cutoff
                ),
                key=lambda s: s.thread_id,
            )
            per_ns = run(
                inspection.namespace_counts([s.thread_id for s in chosen]), conn
            )
        keep = keep_last or 1
        plan = [
            PruneRow(
                s.thread_id,
                s.checkpoints,
                checkpoint_time(s.last_checkpoint_id),
                s.checkpoints
                if strategy == "delete"
                else sum(max(0, n - keep) for n in per_ns[s.thread_id].values()),
            )
            for s in chosen
        ]
        total = sum(p.checkpoints for p in plan)
        going = sum(p.to_delete for p in plan)
        _show_plan(out, plan, strategy, keep_last)
        what = (
            f"delete {len(plan)} thread(s) ({total} checkpoints)"
            if strategy == "delete"
            else f"prune {len(plan)} thread(s) ({strategy}"
            + (f" {keep_last}" if keep_last else "")
            + f"): up to {going} of {total} checkpoints go"
        )
        if dry_run or not plan:
            _finish(out, db, dry_run, plan, what, None)
            return
        _confirm(f"{what.capitalize()} in {db.where}?", yes)
        ids = [p.thread_id for p in plan]
        with out.progress("Pruning", len(ids)) as advance:
            for start in range(0, len(ids), batch_size):
                batch = ids[start : start + batch_size]
                saver.prune(batch, strategy=strategy, keep=keep_last)
                advance(len(batch))
        with db.connect(saver) as conn:
            after = run(inspection.thread_stats(ids), conn)
        left = sum(s.checkpoints for s in after.values())
        _finish(out, db, False, plan, what, total - left)


def _show_plan(
    out: Output, plan: list[PruneRow], strategy: str, keep_last: int | None
) -> None:
    if out.json:
        return
    out.table(
        ["thread", "checkpoints", "last update", "to delete"],
        [
            (
                p.thread_id,
                p.checkpoints,
                format_time(p.last_update),
                "all" if strategy == "delete" else f"≤ {p.to_delete}",
            )
            for p in plan
        ],
    )


def _finish(
    out: Output,
    db: Database,
    dry_run: bool,
    plan: list[PruneRow],
    what: str,
    deleted: int | None,
) -> None:
    if out.json:
        out.emit_json(
            {
                "dry_run": dry_run,
                "threads": plan,
                "checkpoints_deleted": deleted,
            }
        )
    elif not plan:
        out.note("no thread to prune")
    elif dry_run:
        out.note(f"dry run: would {what}; nothing changed")
    else:
        out.note(f"pruned {len(plan)} thread(s): {deleted} checkpoint(s) deleted")


@click.command()
@click.argument("thread_ids", nargs=-1, required=True, metavar="THREAD...")
@confirm_options
@database_options
def delete(
    db: Database, out: Output, thread_ids: tuple[str, ...], yes: bool, dry_run: bool
) -> None:
    """Delete threads: every checkpoint, blob and write of them, in every
    namespace."""
    ids = list(dict.fromkeys(thread_ids))
    with db.saver() as saver:
        with db.connect(saver) as conn:
            stats = run(inspection.thread_stats(ids), conn)
        _known(stats, ids, db)
        rows = [stats[t] for t in ids]
        summary = [
            {
                "thread_id": s.thread_id,
                "checkpoints": s.checkpoints,
                "blobs": s.blobs,
                "writes": s.writes,
            }
            for s in rows
        ]
        if not out.json:
            out.table(
                ["thread", "checkpoints", "blobs", "writes"],
                [tuple(s.values()) for s in summary],
            )
        names = ", ".join(repr(t) for t in ids)
        if dry_run:
            if out.json:
                out.emit_json({"dry_run": True, "deleted": [], "threads": summary})
            else:
                out.note(f"dry run: would delete {names}; nothing changed")
            return
        _confirm(f"Delete {names} from {db.where}?", yes)
        with out.status("Deleting…"):
            for thread_id in ids:
                saver.delete_thread(thread_id)
    if out.json:
        out.emit_json({"dry_run": False, "deleted": ids, "threads": summary})
    else:
        out.note(f"deleted {names}")


@click.command("copy-thread")
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
@confirm_options
@database_options
def copy_thread(
    db: Database, out: Output, source: str, target: str, yes: bool, dry_run: bool
) -> None:
    """Copy thread SRC, every namespace, checkpoint, blob and write of it, to a
    new thread DST (which must have no checkpoints: nothing is overwritten)."""
    if source == target:
        raise CliError("SRC and DST are the same thread")
    with db.saver() as saver:
        with db.connect(saver) as conn:
            stats = run(inspection.thread_stats([source, target]), conn)
        _known(stats, [source], db)
        if target in stats:
            raise CliError(
                f"thread {target!r} already has {stats[target].checkpoints} "
                "checkpoint(s); copy-thread never overwrites"
            )
        src = stats[source]
        data = {
            "source": source,
            "target": target,
            "checkpoints": src.checkpoints,
            "blobs": src.blobs,
            "writes": src.writes,
            "dry_run": dry_run,
        }
        what = (
            f"copy {source!r} to {target!r} ({src.checkpoints} checkpoints, "
            f"{src.blobs} blobs, {src.writes} writes)"
        )
        if dry_run:
            if out.json:
                out.emit_json(data)
            else:
                out.note(f"dry run: would {what}; nothing changed")
            return
        _confirm(f"{what.capitalize()} in {db.where}?", yes)
        with out.status("Copying…"):
            saver.copy_thread(source, target)
    if out.json:
        out.emit_json(data)
    else:
        out.note(f"copied {source!r} to {target!r}: {src.checkpoints} checkpoints")
