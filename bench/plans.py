"""Workloads written once for sync and async savers.

A *plan* is a generator that yields :class:`Op` (a saver method and its
arguments) and is sent each result, like the saver's own plans. :func:`drive`
runs one on a sync saver, :func:`adrive` on an async one (``aget_tuple``…):
those two functions are the only code that knows which API is in use.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Op:
    """``saver.<name>(*args, **kwargs)``; ``list`` comes back as a list."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


Plan = Generator[Op, Any, T]
# Wraps each operation, e.g. to time it or to count its statements.
Hook = Callable[[str], AbstractContextManager[Any]]


def _no_hook(_name: str) -> AbstractContextManager[Any]:
    return contextlib.nullcontext()


def drive(plan: Plan[T], saver: Any, hook: Hook = _no_hook) -> T:
    """Run ``plan`` on a sync saver."""
    try:
        op = next(plan)
        while True:
            with hook(op.name):
                result = getattr(saver, op.name)(*op.args, **op.kwargs)
                if op.name == "list":
                    result = list(result)
            op = plan.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def adrive(plan: Plan[T], saver: Any, hook: Hook = _no_hook) -> T:
    """Run ``plan`` on an async saver (``aget_tuple``, ``aput``…)."""
    try:
        op = next(plan)
        while True:
            with hook(op.name):
                if op.name == "list":
                    result: Any = [t async for t in saver.alist(*op.args, **op.kwargs)]
                else:
                    result = await getattr(saver, "a" + op.name)(*op.args, **op.kwargs)
            op = plan.send(result)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class OpTimer:
    """A :data:`Hook` that adds up wall time and calls per operation name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start
            self.calls[name] += 1

    def per_call(self, name: str) -> float:
        return self.seconds[name] / self.calls[name] if self.calls[name] else 0.0
