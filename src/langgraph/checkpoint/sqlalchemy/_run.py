"""The two drivers: the only code that talks to a database.

Every operation is a *plan*: a generator that yields :class:`Execute` (a
statement and its parameters) or :class:`Call` (a function of a sync
``Connection``, such as ``MetaData.create_all``) and is sent back each result.
A plan never knows whether it runs on an ``Engine`` or an ``AsyncEngine``:
``AsyncConnection.execute`` returns a buffered result with the sync API.
:func:`run` drives a plan on a ``Connection``; :func:`arun` on an
``AsyncConnection``. Each shell opens one transaction per plan around them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import (
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.base import Executable

__all__ = ["Call", "Execute", "Plan", "Step", "arun", "run"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Execute:
    """Execute ``statement``; a list of ``params`` makes it an executemany."""

    statement: Executable
    params: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """Call ``fn`` with a sync ``Connection`` (``run_sync`` on async engines)."""

    fn: Callable[[Connection], Any]


Step = Execute | Call
Plan = Generator[Step, Any, T]


def run(plan: Plan[T], conn: Connection, options: Mapping[str, Any] | None = None) -> T:
    """Drive ``plan`` on a sync connection and return what it returns.

    ``options`` are execution options for every statement (the saver's
    ``schema_translate_map``)."""
    try:
        step = next(plan)
        while True:
            if isinstance(step, Call):
                result = step.fn(conn)
            else:
                result = conn.execute(
                    step.statement, step.params, execution_options=options
                )
            step = plan.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def arun(
    plan: Plan[T], conn: AsyncConnection, options: Mapping[str, Any] | None = None
) -> T:
    """Drive ``plan`` on an async connection and return what it returns."""
    try:
        step = next(plan)
        while True:
            if isinstance(step, Call):
                result = await conn.run_sync(step.fn)
            else:
                result = await conn.execute(
                    step.statement, step.params, execution_options=options
                )
            step = plan.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


@contextmanager
def transaction(
    bind: Engine | Connection, lock: threading.RLock | None
) -> Iterator[Connection]:
    """One transaction on ``bind``: committed on success, rolled back on error.

    On a caller's ``Connection`` that is already in a transaction this is a
    savepoint, so the caller's transaction decides what is finally committed.
    """
    with lock if lock is not None else nullcontext():
        if isinstance(bind, Engine):
            with bind.begin() as conn:
                yield conn
        else:
            with bind.begin_nested() if bind.in_transaction() else bind.begin():
                yield bind


@asynccontextmanager
async def atransaction(
    bind: AsyncEngine | AsyncConnection, lock: asyncio.Lock | None
) -> AsyncIterator[AsyncConnection]:
    """The async twin of :func:`transaction`."""
    async with lock if lock is not None else _NULL_ALOCK:
        if isinstance(bind, AsyncEngine):
            async with bind.begin() as conn:
                yield conn
        else:
            async with bind.begin_nested() if bind.in_transaction() else bind.begin():
                yield bind


class _NullAsyncLock:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NULL_ALOCK = _NullAsyncLock()
