"""The releases of langgraph-checkpoint we support, told apart once at import.

Our declared range of ``langgraph-checkpoint`` starts below the release that
introduced some names we use, because an app that pins ``langgraph`` pins an
older ``langgraph-checkpoint`` with it and pip keeps the one installed. Where
a name is missing, its meaning is small enough to state here:

- ``writes_sort_key`` (4.3): the order in which pending writes come back, a
  plain ``(task_path, task_id, idx)`` key. From 4.3 on it is also the order
  LangGraph applies a super-step's writes in; with 4.1 and 4.2 LangGraph
  applied one step's Send tasks in creation order, which nothing stores, so
  a delta history replayed there can order those writes differently.
- ``DeltaChannelHistory`` and ``_DeltaSnapshot`` (4.1, with ``DeltaChannel``):
  under 4.0 no channel is a delta channel, so no value is ever a snapshot and
  no caller asks for a delta history; the names only need to exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import langgraph.checkpoint.base as _base
import langgraph.checkpoint.serde.types as _serde_types

__all__ = [
    "HAS_DELTA_CHANNELS",
    "DeltaChannelHistory",
    "DeltaSnapshot",
    "writes_sort_key",
]


def _writes_sort_key(
    task_path: str, task_id: str = "", idx: int = 0
) -> tuple[str, str, int]:
    return (task_path, task_id, idx)


class _NoDeltaSnapshot(NamedTuple):
    """Stands for ``_DeltaSnapshot`` where it does not exist: nothing is one."""

    value: Any


#: Whether this langgraph-checkpoint has delta channels (4.1 and later).
HAS_DELTA_CHANNELS = hasattr(_serde_types, "_DeltaSnapshot")

if TYPE_CHECKING:
    from langgraph.checkpoint.base import DeltaChannelHistory, writes_sort_key
    from langgraph.checkpoint.serde.types import _DeltaSnapshot as DeltaSnapshot
else:
    writes_sort_key = getattr(_base, "writes_sort_key", _writes_sort_key)
    DeltaChannelHistory = getattr(_base, "DeltaChannelHistory", dict)
    DeltaSnapshot = getattr(_serde_types, "_DeltaSnapshot", _NoDeltaSnapshot)
