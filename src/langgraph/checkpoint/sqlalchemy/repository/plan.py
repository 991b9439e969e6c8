"""What a plan is: the vocabulary between the repository, which writes plans,
and the runtime, which runs them.

Every operation is a *plan*: a generator that yields :class:`Execute` (a
statement and its parameters) or :class:`Call` (a function of a sync
``Connection``, such as Alembic's upgrade) and is sent back each result. A
:class:`Job` is a plan with what the runtime must know to run it. Nothing
here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection
from sqlalchemy.sql.base import Executable

__all__ = ["Call", "Execute", "Job", "Plan", "Step", "T"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Execute:
    """Execute ``statement``; a list of ``params`` makes it an executemany.

    ``hot``: the statement is a long-lived object (module-level or from a
    cached builder), which the driver may compile once and run on the DBAPI
    cursor (``runtime.compiled``). Its result is then a list of named tuples
    with ``first()``/``scalar()``/``all()``, not a ``Result``."""

    statement: Executable
    params: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None
    hot: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """Call ``fn`` with a sync ``Connection`` (``run_sync`` on async engines)."""

    fn: Callable[[Connection], Any]


Step = Execute | Call
Plan = Generator[Step, Any, T]


@dataclass(frozen=True, slots=True)
class Job(Generic[T]):
    """A plan and how to run it.

    Attributes:
        new_plan: builds a fresh plan (a retry needs a new generator).
        autocommit: the plan is a single statement, atomic by itself, so it
            runs without BEGIN/COMMIT: two round trips saved on a network.
        retry: the plan is idempotent, so it is run again when an attempt
            lost its connection (a restarted server), a bounded number of
            times with backoff (``runtime.retry.RETRY_DELAYS``): the pool has been
            invalidated by then and hands out fresh connections.
        read_only: the plan only reads, so its transaction need not take
            the locks of a writer (SQLite: a deferred BEGIN).
    """

    new_plan: Callable[[], Plan[T]]
    autocommit: bool = False
    retry: bool = True
    read_only: bool = False
