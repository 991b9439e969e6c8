"""The store's jobs: its plans with how the runtime runs them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langgraph.checkpoint.sqlalchemy import migrate
from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.repository import setup
from langgraph.checkpoint.sqlalchemy.repository.expiry_sweep import BatchedSweep
from langgraph.checkpoint.sqlalchemy.repository.plan import Job, Plan
from langgraph.checkpoint.sqlalchemy.repository.store import plans, sweep
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.index import (
    EmbeddingWork,
    VectorIndex,
)

__all__ = ["batch_job", "expiry_sweep", "refresh_job", "setup_job"]


def batch_job(
    ops: DialectOps,
    requests: plans.Requests,
    now: datetime,
    vectors: VectorIndex | None = None,
    work: EmbeddingWork | None = None,
) -> Job[plans.Outcome]:
    """One batch in one transaction. A batch that only reads takes a
    reader's transaction, or none when it is one statement (a vector search
    is, where its index needs nothing before it in the transaction); so does
    a lone put that is one statement. The refresh a reading batch owes is
    :func:`refresh_job`'s."""
    reads_only = not requests.puts
    return Job(
        lambda: plans.batch(ops, requests, now, vectors, work),
        read_only=reads_only,
        autocommit=_one_statement(ops, requests, vectors),
    )


def refresh_job(owed: list[dict[str, Any]]) -> Job[None]:
    """The TTL refresh a read-only batch owed (``plans.Outcome.refresh``):
    one statement, so atomic by itself when it is one item."""
    return Job(lambda: plans.refresh(owed), autocommit=len(owed) == 1)


def _one_statement(
    ops: DialectOps, requests: plans.Requests, vectors: VectorIndex | None
) -> bool:
    if vectors is not None:
        if requests.puts:
            return False  # a put writes its vectors too
        if any(op.query for _, op in requests.searches):
            return (
                len(requests.searches) == 1
                and not requests.gets
                and not requests.listings
                and vectors.ops.one_statement_search
            )
    return requests.one_statement(ops)


def expiry_sweep(
    ops: DialectOps, now: datetime, size: int, vectors: VectorIndex | None = None
) -> BatchedSweep:
    """The sweep of the items expired at ``now``, ``size`` per transaction
    (see ``sweep``); its ``removed`` counts the items deleted."""
    return BatchedSweep(
        lambda: Job(
            lambda: sweep.sweep_batch(ops, now, size, vectors),
            autocommit=ops.sweeps_in_one_statement,
        )
    )


def setup_job(
    ops: DialectOps,
    schema: str | None,
    version_table: str,
    vectors: VectorIndex | None = None,
) -> Job[None]:
    """The store's branch of the migrations brought to its head; then, with
    a vector index, ``store_vectors`` for its configuration."""

    def plan() -> Plan[None]:
        yield from setup.setup(
            ops, schema, version_table, branch=migrate.STORE_BRANCH_LABEL
        )
        if vectors is not None:
            yield from vectors.setup(schema)

    return Job(plan, autocommit=ops.setup_autocommits)
