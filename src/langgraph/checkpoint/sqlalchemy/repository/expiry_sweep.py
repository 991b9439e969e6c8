"""How a TTL sweep walks its batches, for every tenant (checkpoint threads,
store items).

Each batch is a transaction that claims expired rows with ``FOR UPDATE SKIP
LOCKED`` and removes them. A batch that claims nothing does not prove the
sweep is over: the rows may be held by another sweeper that is about to
remove them, or, on MariaDB 10.11 under load, skipped though nobody holds
them (seen in CI: four sweepers all stopped with 100 of 300 expired items
left, which a later sweep then removed). So an empty batch also asks,
without locking, whether expired rows remain; if they do, the sweep waits
briefly and claims again, until none remain or its patience runs out (a
writer's long transaction may hold an expired row; the next sweep gets it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Job, Plan
from sqlalchemy import Select

__all__ = ["Batch", "BatchedSweep", "remaining"]

#: Seconds between two claims while expired rows remain unclaimed: doubles
#: from the first to the last, and the sweep gives up after PATIENCE in all.
FIRST_PAUSE, LAST_PAUSE, PATIENCE = 0.01, 0.2, 2.0


class Batch(NamedTuple):
    """What one sweep transaction did."""

    claimed: int
    """Rows it locked."""
    removed: int
    """What the sweep counts: rows it deleted, or threads it swept."""
    unclaimed: bool = False
    """With nothing claimed: expired rows remain that it could not lock."""


def remaining(expired: Select[tuple[object]]) -> Plan[bool]:
    """Whether ``expired`` (a select of the expired rows, without locking)
    still finds one."""
    return (yield Execute(expired.limit(1))).first() is not None


class BatchedSweep:
    """Runs ``batch()`` jobs until one claims nothing and finds nothing left
    (see the module's note); ``removed`` sums the batches. The caller runs
    the loop, sleeping ``pause`` seconds before each job:

        while (job := sweep.next_job()) is not None:
            sleep(sweep.pause)
            sweep.advance(run(job))
    """

    def __init__(self, batch: Callable[[], Job[Batch]]) -> None:
        self._batch = batch
        self.removed = 0
        self.pause = 0.0
        self._waited = 0.0
        self._done = False

    def next_job(self) -> Job[Batch] | None:
        return None if self._done else self._batch()

    def advance(self, batch: Batch) -> None:
        self.removed += batch.removed
        if batch.claimed:
            self.pause = self._waited = 0.0
        elif batch.unclaimed and self._waited < PATIENCE:
            self.pause = min(max(self.pause * 2, FIRST_PAUSE), LAST_PAUSE)
            self._waited += self.pause
        else:
            self._done = True
            self.pause = 0.0
