"""Periodic TTL sweeps in the background: a thread for the sync savers and
stores, an asyncio task for the async ones.

The sweeper only schedules. What one sweep does (which rows are expired, how
several processes share the work without blocking writers or each other)
belongs to the repository's sweep job that ``sweep`` runs; each of its batches
is a transaction of its own, so stopping the sweeper between two batches
loses nothing.

A sweep that fails is logged and tried again at the next interval: a database
that is briefly away must not end the sweeper for the life of the process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

__all__ = ["AsyncSweeper", "Sweeper", "sweep_interval_seconds"]

logger = logging.getLogger("langgraph.checkpoint.sqlalchemy.sweeper")


def sweep_interval_seconds(minutes: float | None, *, default: float = 5.0) -> float:
    """``sweep_interval_minutes`` as seconds, validated (``default`` minutes
    when None)."""
    value = default if minutes is None else minutes
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"sweep_interval_minutes must be a number of minutes, got {value!r}"
        )
    if not value > 0:
        raise ValueError(f"sweep_interval_minutes must be positive, got {value!r}")
    return float(value) * 60.0


def _report(what: str, swept: int) -> None:
    if swept:
        logger.info("%s: swept %d expired", what, swept)


class Sweeper:
    """Runs ``sweep()`` every ``interval`` seconds on a daemon thread.

    ``start()`` returns at once (a second call while running does nothing);
    ``stop()`` wakes the thread, lets a sweep in progress finish its batch and
    joins it. The first sweep runs one interval after ``start()``.
    """

    def __init__(self, sweep: Callable[[], int], interval: float, *, name: str) -> None:
        self._sweep = sweep
        self._interval = interval
        self._name = name
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the sweeper thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._loop, name=self._name, daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the thread; returns whether it ended within ``timeout``."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping.set()
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _loop(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                _report(self._name, self._sweep())
            except Exception:
                logger.exception(
                    "%s: sweep failed; trying again next interval", self._name
                )


class AsyncSweeper:
    """Awaits ``sweep()`` every ``interval`` seconds in a task on the running
    loop (the async twin of :class:`Sweeper`, same rules)."""

    def __init__(
        self, sweep: Callable[[], Awaitable[int]], interval: float, *, name: str
    ) -> None:
        self._sweep = sweep
        self._interval = interval
        self._name = name
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the sweeper task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the task on the running loop (call from inside it)."""
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name=self._name
            )

    async def stop(self) -> None:
        """Cancel the task and wait for it to end."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            # Ours, unless the caller itself is being cancelled: then pass it on.
            # (``Task.cancelling`` is Python 3.11+; on 3.10 ours is assumed.)
            current = asyncio.current_task()
            cancelling = getattr(current, "cancelling", None)
            if cancelling is not None and cancelling():
                raise

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                _report(self._name, await self._sweep())
            except Exception:
                logger.exception(
                    "%s: sweep failed; trying again next interval", self._name
                )
