"""Checkpoints to rows and back, with the saver's serializer. No I/O.

The row layout is langgraph-checkpoint-postgres's, so the two savers read each
other's data: primitive channel values (``None``, ``bool``, ``int``, finite
``float``, ``str`` without NUL) stay inline in the checkpoint document; other
values go to ``checkpoint_blobs`` keyed by (channel, version), written only for
the channels in ``new_versions``. A ``DeltaChannel`` snapshot is a blob with a
``true`` marker left inline, which tells a snapshot from a genuine ``True``:
when both exist, the blob wins.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph.checkpoint.sqlalchemy._compat import DeltaSnapshot, writes_sort_key
from langgraph.checkpoint.sqlalchemy._validate import clean_json

__all__ = [
    "Codec",
    "StoredCheckpoint",
    "StoredWrite",
    "checkpoint_id_at",
    "checkpoint_time",
    "config_for",
]

EMPTY = "empty"


@dataclass(slots=True)
class StoredWrite:
    """A ``checkpoint_writes`` row as read back."""

    checkpoint_id: str
    task_id: str
    channel: str
    type: str | None
    blob: bytes
    task_path: str
    idx: int

    def sort_key(self) -> tuple[str, str, int]:
        return writes_sort_key(self.task_path or "", self.task_id, self.idx)


@dataclass(slots=True)
class StoredCheckpoint:
    """A ``checkpoints`` row with the blobs and writes that belong to it."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    document: dict[str, Any]
    metadata: dict[str, Any]
    blobs: dict[str, tuple[str, bytes | None]] = field(default_factory=dict)
    writes: list[StoredWrite] = field(default_factory=list)

    def blob_keys(self) -> list[tuple[str, str]]:
        """(channel, version) of every blob this checkpoint may reference."""
        versions = self.document.get("channel_versions") or {}
        return [(ch, str(v)) for ch, v in versions.items()]


def is_inline(value: Any) -> bool:
    """Whether a channel value stays in the checkpoint document."""
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return "\x00" not in value
    return False


class Codec:
    """Encodes checkpoints, metadata and writes for storage, and decodes them."""

    def __init__(self, serde: SerializerProtocol) -> None:
        self.serde = serde

    # -- put ---------------------------------------------------------------

    def checkpoint_rows(
        self,
        thread_id: str,
        checkpoint_ns: str,
        parent_checkpoint_id: str | None,
        checkpoint: Checkpoint,
        metadata: dict[str, Any],
        new_versions: Mapping[str, Any],
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The ``checkpoints`` row and the ``checkpoint_blobs`` rows of a put."""
        document: dict[str, Any] = dict(checkpoint)
        inline: dict[str, Any] = {}
        blob_rows: list[dict[str, Any]] = []
        for channel, value in checkpoint["channel_values"].items():
            if isinstance(value, DeltaSnapshot):
                inline[channel] = True
            elif is_inline(value):
                inline[channel] = value
                continue
            if channel in new_versions:
                type_, blob = self.serde.dumps_typed(value)
                blob_rows.append(
                    {
                        "thread_id": thread_id,
                        "checkpoint_ns": checkpoint_ns,
                        "channel": channel,
                        "version": str(new_versions[channel]),
                        "type": type_,
                        "blob": blob,
                    }
                )
        document["channel_values"] = inline
        row = {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint["id"],
            "parent_checkpoint_id": parent_checkpoint_id,
            "checkpoint": clean_json(document, where="checkpoint"),
            "metadata": metadata,
        }
        return row, blob_rows

    @staticmethod
    def metadata(
        config: RunnableConfig, metadata: CheckpointMetadata
    ) -> dict[str, Any]:
        """The metadata document to store: the config's extras merged in, cleaned."""
        merged = get_serializable_checkpoint_metadata(config, metadata)
        return clean_json(merged, where="metadata")  # type: ignore[no-any-return]

    def write_rows(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        task_id: str,
        task_path: str,
        writes: Sequence[tuple[str, Any]],
    ) -> list[dict[str, Any]]:
        """The ``checkpoint_writes`` rows of a put_writes."""
        rows = []
        for idx, (channel, value) in enumerate(writes):
            type_, blob = self.serde.dumps_typed(value)
            rows.append(
                {
                    "thread_id": thread_id,
                    "checkpoint_ns": checkpoint_ns,
                    "checkpoint_id": checkpoint_id,
                    "task_id": task_id,
                    "task_path": task_path,
                    "idx": WRITES_IDX_MAP.get(channel, idx),
                    "channel": channel,
                    "type": type_,
                    "blob": blob,
                }
            )
        return rows

    # -- get ---------------------------------------------------------------

    def load(self, type_: str | None, blob: bytes | None) -> Any:
        return self.serde.loads_typed((type_ or "", blob or b""))

    def channel_values(self, stored: StoredCheckpoint) -> dict[str, Any]:
        values = dict(stored.document.get("channel_values") or {})
        for channel, (type_, blob) in stored.blobs.items():
            if type_ == EMPTY:
                values.pop(channel, None)
            else:
                values[channel] = self.load(type_, blob)
        return values

    def pending_writes(self, writes: Sequence[StoredWrite]) -> list[PendingWrite]:
        return [
            (w.task_id, w.channel, self.load(w.type, w.blob))
            for w in sorted(writes, key=StoredWrite.sort_key)
        ]

    def checkpoint_tuple(self, stored: StoredCheckpoint) -> CheckpointTuple:
        """The :class:`CheckpointTuple` for a row and its blobs and writes."""
        checkpoint = cast(
            Checkpoint,
            {**stored.document, "channel_values": self.channel_values(stored)},
        )
        parent = (
            config_for(
                stored.thread_id, stored.checkpoint_ns, stored.parent_checkpoint_id
            )
            if stored.parent_checkpoint_id
            else None
        )
        return CheckpointTuple(
            config=config_for(
                stored.thread_id, stored.checkpoint_ns, stored.checkpoint_id
            ),
            checkpoint=checkpoint,
            metadata=stored.metadata,  # type: ignore[arg-type]
            parent_config=parent,
            pending_writes=self.pending_writes(stored.writes),
        )


# UUIDv1/v6 count 100 ns ticks from the Gregorian reform.
_UUID_EPOCH = datetime(1582, 10, 15, tzinfo=timezone.utc)


def checkpoint_id_at(moment: datetime) -> str:
    """The smallest checkpoint ID LangGraph could have made at ``moment``.

    LangGraph's checkpoint IDs are UUIDv6: the timestamp (100 ns ticks since
    1582-10-15) fills the leading bits, so their text sorts by time and
    ``checkpoint_id < checkpoint_id_at(t)`` means "made before t", a
    comparison every index on the key can serve.
    """
    ticks = int((moment - _UUID_EPOCH).total_seconds() * 10_000_000)
    value = ((ticks >> 12) & 0xFFFF_FFFF_FFFF) << 80 | (ticks & 0x0FFF) << 64
    return str(uuid.UUID(int=value | (6 << 76)))


def checkpoint_time(checkpoint_id: str | None) -> datetime | None:
    """When a checkpoint was made, read from its time-ordered ID (LangGraph's
    UUIDv6; UUIDv1 works too); ``None`` for an ID that carries no time."""
    if not checkpoint_id:
        return None
    try:
        value = uuid.UUID(checkpoint_id)
    except ValueError:
        return None
    # The version nibble, read whatever the variant bits say.
    version = (value.int >> 76) & 0xF
    if version == 6:
        ticks = ((value.int >> 80) & 0xFFFF_FFFF_FFFF) << 12 | (
            (value.int >> 64) & 0x0FFF
        )
    elif version == 1:
        ticks = value.time
    else:
        return None
    return _UUID_EPOCH + timedelta(microseconds=ticks // 10)


def config_for(
    thread_id: str, checkpoint_ns: str, checkpoint_id: str
) -> RunnableConfig:
    """The config that points at one checkpoint."""
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }
