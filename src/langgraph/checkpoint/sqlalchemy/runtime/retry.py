"""The one retry rule: which failed attempts of a job run again, and when.

Every job of both savers goes by it, ``setup()`` included (see
:func:`retry_delay`'s ``contended``).
"""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.sqlalchemy.repository.plan import Job
from sqlalchemy.exc import DBAPIError, OperationalError

__all__ = ["RETRY_DELAYS", "retry_delay"]

# Seconds to wait before each new attempt of an idempotent job that lost its
# connection: at once first (the pool has been invalidated and a restarted
# server is usually back), then backing off while a server comes back up.
# Bounded: about 3.5 s in all, then the error surfaces.
RETRY_DELAYS = (0.0, 0.25, 1.0, 2.25)


def retry_delay(
    job: Job[Any],
    error: DBAPIError,
    attempt: int,
    *,
    reached: bool,
    lost_a_race: bool = False,
    contended: bool = False,
) -> float | None:
    """How long to wait before attempt ``attempt + 1`` of ``job`` after
    ``error``, or None to give up and raise it.

    Only a job that may run twice is retried, and only when the connection
    was lost (the pool invalidated it), when the database rolled its whole
    transaction back for losing a race with another (``lost_a_race``: a
    deadlock or a serialization failure, whose documented answer is to run
    it again), or, once the database has been ``reached`` before, when a
    connection could not be made (an ``OperationalError`` with no statement:
    the server is not answering yet). A database never reached (a wrong host
    or password) fails at once.

    Args:
        job: the job whose attempt failed.
        error: what it failed with.
        attempt: how many attempts failed before this one (0 for the first).
        reached: a connection to the database was had once.
        lost_a_race: ``error`` is a race lost to a concurrent transaction,
            in a transaction the saver may run again.
        contended: ``job`` races the same job in other processes
            (``setup()``: creating the tables where no lock serializes it),
            so a statement's error may be that race lost: another process
            created a table between our check and ours.

    Returns:
        The seconds to wait, or None.
    """
    if not job.retry or attempt >= len(RETRY_DELAYS):
        return None
    lost = error.connection_invalidated
    unreachable = isinstance(error, OperationalError) and error.statement is None
    raced = lost_a_race or (contended and error.statement is not None)
    again = lost or raced or (reached and unreachable)
    return RETRY_DELAYS[attempt] if again else None
