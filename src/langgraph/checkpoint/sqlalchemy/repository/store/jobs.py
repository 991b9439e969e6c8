"""The store's jobs: its plans with how the runtime runs them."""

from __future__ import annotations

from datetime import datetime

from langgraph.store.base import Result

from langgraph.checkpoint.sqlalchemy import migrate
from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.repository import setup
from langgraph.checkpoint.sqlalchemy.repository.plan import Job
from langgraph.checkpoint.sqlalchemy.repository.store import plans, sweep

__all__ = ["batch_job", "setup_job", "sweep_job"]


def batch_job(
    ops: DialectOps, requests: plans.Requests, now: datetime
) -> Job[list[Result]]:
    """One batch in one transaction; a batch that only reads, and refreshes
    no TTL, takes a reader's transaction."""
    return Job(lambda: plans.batch(ops, requests, now), read_only=not requests.writes)


def sweep_job(ops: DialectOps, now: datetime, size: int) -> Job[tuple[int, int]]:
    """One sweep batch (see ``sweep``)."""
    return Job(lambda: sweep.sweep_batch(ops, now, size))


def setup_job(ops: DialectOps, schema: str | None, version_table: str) -> Job[None]:
    """The store's branch of the migrations brought to its head."""
    return Job(
        lambda: setup.setup(
            ops, schema, version_table, branch=migrate.STORE_BRANCH_LABEL
        ),
        autocommit=ops.setup_autocommits,
    )
