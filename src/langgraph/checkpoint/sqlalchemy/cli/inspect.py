"""``history``, ``show`` and ``diff``: one thread's checkpoints, read-only."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click
from langgraph.checkpoint.base import CheckpointTuple
from rich.pretty import Pretty
from rich.table import Table
from rich.text import Text

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.cli._common import (
    CliError,
    Database,
    Output,
    checkpoint_time,
    database_options,
    format_time,
    is_message_list,
    message_lines,
    short,
    to_jsonable,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import inspection
from langgraph.checkpoint.sqlalchemy.runtime.driver import run
from sqlalchemy import Connection

__all__ = ["diff", "history", "resolve_checkpoint", "show"]

INTERRUPT = "__interrupt__"

ns_option = click.option(
    "--ns",
    "checkpoint_ns",
    default="",
    show_default=False,
    metavar="NS",
    help="Checkpoint namespace (a subgraph's); default: the root namespace.",
)


def resolve_checkpoint(
    conn: Connection, db: Database, thread_id: str, ns: str, checkpoint: str | None
) -> str | None:
    """Check that the thread has the namespace, and find the checkpoint whose ID
    is (or, uniquely, starts with) ``checkpoint``; ``None`` means the latest."""
    namespaces = run(inspection.namespaces(thread_id), conn)
    if not namespaces:
        raise CliError(f"no thread {thread_id!r} in {db.where}")
    if ns not in namespaces:
        have = ", ".join(repr(n) for n in namespaces)
        raise CliError(
            f"thread {thread_id!r} has no checkpoints in namespace {ns!r} "
            f"(it has {have})"
        )
    if checkpoint is None:
        return None
    found = run(inspection.checkpoints_like(thread_id, ns, checkpoint), conn)
    if checkpoint in found:
        return checkpoint
    if not found:
        raise CliError(f"no checkpoint {checkpoint!r} in thread {thread_id!r}")
    if len(found) > 1:
        raise CliError(
            f"{checkpoint!r} names more than one checkpoint; give more of it"
        )
    return found[0]


def _moment(ts: Any, checkpoint_id: str | None) -> datetime | None:
    if isinstance(ts, str):
        try:
            moment = datetime.fromisoformat(ts)
        except ValueError:
            moment = None
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return checkpoint_time(checkpoint_id)


@click.command()
@click.argument("thread_id", metavar="THREAD")
@ns_option
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@database_options
def history(
    db: Database, out: Output, thread_id: str, checkpoint_ns: str, limit: int | None
) -> None:
    """Show a thread's checkpoint chain, newest first: ID, step, source,
    parent and time."""
    with db.saver() as saver, db.connect(saver) as conn:
        resolve_checkpoint(conn, db, thread_id, checkpoint_ns, None)
        rows = run(inspection.history(thread_id, checkpoint_ns, limit), conn)
    entries = [
        {
            "checkpoint_id": r.checkpoint_id,
            "step": r.metadata.get("step"),
            "source": r.metadata.get("source"),
            "parent_checkpoint_id": r.parent_checkpoint_id,
            "time": _iso(_moment(r.ts, r.checkpoint_id)),
        }
        for r in rows
    ]
    if out.json:
        out.emit_json(entries)
        return
    out.table(
        ["checkpoint", "step", "source", "parent", "time"],
        [
            (
                e["checkpoint_id"],
                e["step"],
                e["source"],
                e["parent_checkpoint_id"] or "(none)",
                format_time(_moment(e["time"], None)),
            )
            for e in entries
        ],
        title=f"thread {thread_id!r}"
        + (f" ns {checkpoint_ns!r}" if checkpoint_ns else ""),
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _load(
    saver: SQLAlchemySaver,
    db: Database,
    thread_id: str,
    ns: str,
    checkpoint: str | None,
) -> CheckpointTuple:
    with db.connect(saver) as conn:
        checkpoint_id = resolve_checkpoint(conn, db, thread_id, ns, checkpoint)
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    found = saver.get_tuple({"configurable": configurable})
    if found is None:  # deleted between the two reads
        raise CliError(f"no checkpoint {checkpoint!r} in thread {thread_id!r}")
    return found


def _interrupts(found: CheckpointTuple) -> list[Any]:
    interrupts: list[Any] = []
    for _task, channel, value in found.pending_writes or []:
        if channel == INTERRUPT:
            interrupts.extend(value if isinstance(value, (list, tuple)) else [value])
    return interrupts


def _renderable(value: Any) -> Text | Pretty:
    if is_message_list(value):
        return Text("\n".join(message_lines(value)))
    if isinstance(value, str):
        return Text(value)
    return Pretty(value, max_string=2000)


@click.command()
@click.argument("thread_id", metavar="THREAD")
@click.argument("checkpoint", required=False, metavar="[CHECKPOINT_ID]")
@ns_option
@database_options
def show(
    db: Database,
    out: Output,
    thread_id: str,
    checkpoint: str | None,
    checkpoint_ns: str,
) -> None:
    """Show a checkpoint's decoded state (default: the thread's latest):
    channel values, pending writes and interrupts.

    CHECKPOINT_ID may be any unique leading part of the ID.
    """
    with db.saver() as saver:
        found = _load(saver, db, thread_id, checkpoint_ns, checkpoint)
    conf = found.config["configurable"]
    parent = (found.parent_config or {}).get("configurable", {})
    channel_values = found.checkpoint.get("channel_values", {})
    writes = found.pending_writes or []
    interrupts = _interrupts(found)
    moment = _moment(found.checkpoint.get("ts"), conf["checkpoint_id"])
    if out.json:
        out.emit_json(
            {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": conf["checkpoint_id"],
                "parent_checkpoint_id": parent.get("checkpoint_id"),
                "time": _iso(moment),
                "metadata": found.metadata,
                "channel_values": channel_values,
                "pending_writes": [
                    {"task_id": t, "channel": c, "value": v} for t, c, v in writes
                ],
                "interrupts": interrupts,
            }
        )
        return
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row("thread", thread_id)
    if checkpoint_ns:
        head.add_row("namespace", checkpoint_ns)
    head.add_row("checkpoint", conf["checkpoint_id"])
    head.add_row("parent", parent.get("checkpoint_id") or "(none)")
    head.add_row("time", format_time(moment))
    head.add_row("metadata", Pretty(to_jsonable(found.metadata)))
    out.print(head)

    values = Table(title="channel values", title_justify="left", show_lines=True)
    values.add_column("channel", style="bold", no_wrap=True)
    values.add_column("value", overflow="fold")
    for channel in sorted(channel_values):
        values.add_row(channel, _renderable(channel_values[channel]))
    out.print(values)

    pending = Table(title="pending writes", title_justify="left")
    for column in ("task", "channel", "value"):
        pending.add_column(column, overflow="fold")
    for task_id, channel, value in writes:
        if channel != INTERRUPT:
            pending.add_row(task_id, channel, _renderable(value))
    out.print(pending if pending.row_count else Text("pending writes: none"))

    if interrupts:
        table = Table(title="interrupts", title_justify="left")
        table.add_column("id", no_wrap=True)
        table.add_column("value", overflow="fold")
        for item in interrupts:
            table.add_row(
                str(getattr(item, "id", "")),
                _renderable(getattr(item, "value", item)),
            )
        out.print(table)
    else:
        out.note("interrupts: none")


def _same(a: Any, b: Any) -> bool:
    try:
        if a == b:
            return True
    except Exception:  # values whose == raises are compared as JSON
        pass
    return bool(to_jsonable(a) == to_jsonable(b))


def _change(a: Any, b: Any) -> str:
    if (
        isinstance(a, (list, tuple))
        and isinstance(b, (list, tuple))
        and len(b) > len(a)
        and all(_same(x, y) for x, y in zip(a, b, strict=False))
    ):
        return f"appended {len(b) - len(a)}"
    return "changed"


@click.command()
@click.argument("thread_id", metavar="THREAD")
@click.argument("a", metavar="CHECKPOINT_A")
@click.argument("b", metavar="CHECKPOINT_B")
@ns_option
@database_options
def diff(
    db: Database, out: Output, thread_id: str, a: str, b: str, checkpoint_ns: str
) -> None:
    """Show the channels whose values differ between two checkpoints of a
    thread (IDs or unique leading parts of them)."""
    with db.saver() as saver:
        first = _load(saver, db, thread_id, checkpoint_ns, a)
        second = _load(saver, db, thread_id, checkpoint_ns, b)
    va = first.checkpoint.get("channel_values", {})
    vb = second.checkpoint.get("channel_values", {})
    changes = []
    for channel in sorted(set(va) | set(vb)):
        if channel not in vb:
            change = "removed"
        elif channel not in va:
            change = "added"
        elif _same(va[channel], vb[channel]):
            continue
        else:
            change = _change(va[channel], vb[channel])
        changes.append(
            {
                "channel": channel,
                "change": change,
                "a": va.get(channel),
                "b": vb.get(channel),
            }
        )
    ida = first.config["configurable"]["checkpoint_id"]
    idb = second.config["configurable"]["checkpoint_id"]
    if out.json:
        out.emit_json({"a": ida, "b": idb, "changes": changes})
        return
    if not changes:
        out.note(f"no channel differs between {ida} and {idb}")
        return
    out.table(
        ["channel", "change", "in A", "in B"],
        [
            (
                c["channel"],
                c["change"],
                short(c["a"]) if c["change"] != "added" else "",
                short(c["b"]) if c["change"] != "removed" else "",
            )
            for c in changes
        ],
        title=f"A = {ida}\nB = {idb}",
    )
