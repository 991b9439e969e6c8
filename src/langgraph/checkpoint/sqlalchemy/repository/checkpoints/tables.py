"""The checkpoint tables as the repository spells them, and IN-list chunking.

Every statement on ``checkpoints``, ``checkpoint_blobs`` and
``checkpoint_writes`` is built on these handles (the declarative tables of
``models``), so a table or column is named in one place. Statements name
their tables unqualified; a schema is applied at execution
(``schema_translate_map``), by whoever runs the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langgraph.checkpoint.sqlalchemy.models import (
    CheckpointBlobRecord,
    CheckpointRecord,
    CheckpointWriteRecord,
)
from sqlalchemy import Table

__all__ = ["BLOBS", "CHECKPOINTS", "IN_CHUNK", "WRITES", "B", "C", "W", "chunks"]

CHECKPOINTS: Table = CheckpointRecord.__table__  # type: ignore[assignment]
BLOBS: Table = CheckpointBlobRecord.__table__  # type: ignore[assignment]
WRITES: Table = CheckpointWriteRecord.__table__  # type: ignore[assignment]
C = CHECKPOINTS.c
B = BLOBS.c
W = WRITES.c

# How many keys go in one IN list (well under every driver's parameter limit).
IN_CHUNK = 500


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    """``items`` in slices of at most ``size``: one IN list each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
