"""``threads``: every thread with its size, age and pin."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from langgraph.checkpoint.sqlalchemy.cli._common import (
    CliError,
    Database,
    Output,
    checkpoint_time,
    database_options,
    format_bytes,
    format_time,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import inspection, ttl
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.inspection import (
    ThreadStats,
)
from langgraph.checkpoint.sqlalchemy.runtime.driver import run
from sqlalchemy import inspect

__all__ = ["parse_filters", "threads"]

# Sort key, and whether it goes newest/largest first.
SORTS: dict[str, tuple[Callable[[ThreadStats], Any], bool]] = {
    "updated": (lambda s: s.last_checkpoint_id or "", True),
    "thread": (lambda s: s.thread_id, False),
    "checkpoints": (lambda s: s.checkpoints, True),
    "bytes": (lambda s: s.bytes, True),
}


def parse_filters(items: tuple[str, ...]) -> list[tuple[str, Any, str]]:
    """``key=value`` pairs as (key, value read as JSON if it is JSON, raw text)."""
    filters = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise CliError(f"--filter wants key=value, not {item!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        filters.append((key, value, raw))
    return filters


def _matches(metadata: dict[str, Any], filters: list[tuple[str, Any, str]]) -> bool:
    for key, value, raw in filters:
        if key not in metadata:
            return False
        have = metadata[key]
        if have != value and have != raw and str(have) != raw:
            return False
    return True


@click.command()
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only threads whose latest checkpoint's metadata has KEY=VALUE "
    "(VALUE read as JSON when it is JSON). Repeat to require several.",
)
@click.option(
    "--sort",
    type=click.Choice(sorted(SORTS)),
    default="updated",
    show_default=True,
    help="Order: updated, checkpoints and bytes go largest/newest first.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@database_options
def threads(
    db: Database, out: Output, filters: tuple[str, ...], sort: str, limit: int | None
) -> None:
    """List threads: checkpoints, namespaces, bytes stored, last update, pin.

    Bytes are the serialized channel values and pending writes (blob columns);
    the last update is read from the newest checkpoint ID (LangGraph's IDs are
    time-ordered UUIDv6).
    """
    wanted = parse_filters(filters)
    with (
        db.saver() as saver,
        out.status("Reading threads…"),
        db.connect(saver) as conn,
    ):
        stats = list(run(inspection.thread_stats(), conn).values())
        # A schema not yet at lgcp0003 has no side table: nothing is pinned.
        pinned = (
            set(run(ttl.pinned_threads(), conn))
            if inspect(conn).has_table(ttl.TTL.name, schema=db.schema)
            else set()
        )
    if wanted:
        stats = [s for s in stats if _matches(s.metadata, wanted)]
    key, reverse = SORTS[sort]
    stats.sort(key=key, reverse=reverse)
    if limit is not None:
        stats = stats[:limit]
    if out.json:
        out.emit_json([{**_as_dict(s), "pinned": s.thread_id in pinned} for s in stats])
        return
    out.table(
        [
            "thread",
            "checkpoints",
            "ns",
            "bytes",
            "last update",
            "step",
            "source",
            "pinned",
        ],
        [
            (
                s.thread_id,
                s.checkpoints,
                s.namespaces,
                format_bytes(s.bytes),
                format_time(checkpoint_time(s.last_checkpoint_id)),
                s.metadata.get("step"),
                s.metadata.get("source"),
                "yes" if s.thread_id in pinned else "",
            )
            for s in stats
        ],
    )
    out.note(f"{len(stats)} thread(s) in {db.where}")


def _as_dict(stats: ThreadStats) -> dict[str, Any]:
    moment = checkpoint_time(stats.last_checkpoint_id)
    return {
        "thread_id": stats.thread_id,
        "checkpoints": stats.checkpoints,
        "namespaces": stats.namespaces,
        "blobs": stats.blobs,
        "writes": stats.writes,
        "bytes": stats.bytes,
        "last_checkpoint_id": stats.last_checkpoint_id,
        "last_update": moment.isoformat() if moment else None,
        "metadata": stats.metadata,
    }
