"""langgraph-checkpoint-sqlite's tables (``checkpoints`` and ``writes``), as
``transfer`` reads them: a layout of another package, not ours, so spelled
apart from :mod:`.tables`, and only as far as reading it needs.

The official PostgreSQL saver's tables are ours (:mod:`.tables`), column for
column.
"""

from __future__ import annotations

from sqlalchemy import column, table
from sqlalchemy.sql.expression import TableClause

__all__ = ["checkpoints_table", "writes_table"]


def checkpoints_table(schema: str | None) -> TableClause:
    """The official SQLite saver's ``checkpoints``: the whole checkpoint is
    one serialized value (``type``, ``checkpoint``), metadata JSON bytes."""
    return table(
        "checkpoints",
        *(
            column(name)
            for name in (
                "thread_id",
                "checkpoint_ns",
                "checkpoint_id",
                "parent_checkpoint_id",
                "type",
                "checkpoint",
                "metadata",
            )
        ),
        schema=schema,
    )


def writes_table(schema: str | None, *, with_task_path: bool) -> TableClause:
    """The official SQLite saver's ``writes`` (``value`` for our ``blob``);
    releases before ``task_path`` existed lack that column."""
    names = [
        "thread_id",
        "checkpoint_ns",
        "checkpoint_id",
        "task_id",
        "idx",
        "channel",
        "type",
        "value",
    ]
    if with_task_path:
        names.append("task_path")
    return table("writes", *(column(name) for name in names), schema=schema)
