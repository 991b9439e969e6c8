"""The releases of langgraph-checkpoint we support, told apart once at import.

Our declared range of ``langgraph-checkpoint`` starts below the release that
introduced some names we use, because an app that pins ``langgraph`` pins an
older ``langgraph-checkpoint`` with it and pip keeps the one installed. Where
a name is missing, its meaning is small enough to state here:

- ``writes_sort_key`` (4.3): the order a super-step applies its tasks' writes,
  a plain ``(task_path, task_id, idx)`` key.
- ``DeltaChannelHistory`` and ``_DeltaSnapshot`` (4.1, with ``DeltaChannel``):
  under 4.0 no channel is a delta channel, so no value is ever a snapshot and
  no caller asks for a delta history; the names only need to exist.

A release below the declared floor is refused with its name and the version
needed, rather than an ``ImportError`` from deep inside the package.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any, NamedTuple

import langgraph.checkpoint.base as _base
import langgraph.checkpoint.serde.types as _serde_types

__all__ = [
    "FLOORS",
    "HAS_DELTA_CHANNELS",
    "DeltaChannelHistory",
    "DeltaSnapshot",
    "require",
    "require_core",
    "require_driver",
    "writes_sort_key",
]


def _release(version: str) -> tuple[int, ...]:
    """The leading numeric parts of a version string: ``"2.0.30.post1"`` ->
    ``(2, 0, 30)``."""
    parts: list[int] = []
    for piece in version.split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if digits != piece:
            break
    return tuple(parts)


#: The lowest release of each dependency that we declare and test, and what
#: needs it; pyproject.toml declares the same (a test keeps the two equal).
FLOORS: dict[str, str] = {
    "langgraph-checkpoint": "4.0",
    "sqlalchemy": "2.0.30",
    "greenlet": "3.0",
    "alembic": "1.13",
    "psycopg": "3.1",
    "aiosqlite": "0.20",
    "pymysql": "1.1",
    "asyncmy": "0.2.9",
}

# The distribution behind each driver name of a URL we make engines for.
_DRIVER_DISTRIBUTIONS = {
    "psycopg": "psycopg",
    "psycopg_async": "psycopg",
    "aiosqlite": "aiosqlite",
    "pymysql": "pymysql",
    "asyncmy": "asyncmy",
}


def require(distribution: str) -> None:
    """Raise an ``ImportError`` naming ``distribution`` and its floor when the
    installed release is older than :data:`FLOORS` says.

    A distribution that is not installed at all is left to the import that
    needs it, whose own error names it."""
    floor = FLOORS[distribution]
    try:
        installed = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return
    if _release(installed) < _release(floor):
        raise ImportError(
            f"langgraph-checkpoint-sqlalchemy needs {distribution}>={floor}, "
            f"but {distribution} {installed} is installed. "
            f"Upgrade it: pip install '{distribution}>={floor}'"
        )


def require_driver(driver: str) -> None:
    """:func:`require` for the distribution of a URL's ``driver`` name, if
    it is one we declare."""
    distribution = _DRIVER_DISTRIBUTIONS.get(driver)
    if distribution is not None:
        require(distribution)


def require_core() -> None:
    """:func:`require` for what every import of the package needs."""
    for distribution in ("langgraph-checkpoint", "sqlalchemy", "greenlet"):
        require(distribution)


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
