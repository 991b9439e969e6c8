"""The store's jobs: its plans with how the runtime runs them."""

from __future__ import annotations

from datetime import datetime

from langgraph.store.base import Result

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

__all__ = ["batch_job", "expiry_sweep", "setup_job"]


def batch_job(
    ops: DialectOps,
    requests: plans.Requests,
    now: datetime,
    vectors: VectorIndex | None = None,
    work: EmbeddingWork | None = None,
    *,
    refresh_ttl: bool = True,
) -> Job[list[Result]]:
    """One batch in one transaction; a batch that only reads, and refreshes
    no TTL, takes a reader's transaction. A batch of one vector search whose
    index needs nothing before it in its transaction autocommits: one round
    trip. Unless ``refresh_ttl`` is False (a store without a TTL
    configuration, whose items rarely carry one), a search that refreshes
    TTLs keeps its transaction."""
    return Job(
        lambda: plans.batch(ops, requests, now, vectors, work),
        read_only=not requests.writes,
        autocommit=_one_vector_search(requests, vectors, refresh_ttl),
    )


def _one_vector_search(
    requests: plans.Requests, vectors: VectorIndex | None, refresh_ttl: bool
) -> bool:
    if vectors is None or not vectors.ops.one_statement_search:
        return False
    if requests.gets or requests.listings or requests.puts:
        return False
    if len(requests.searches) != 1:
        return False
    search = requests.searches[0][1]
    return bool(search.query) and not (refresh_ttl and search.refresh_ttl)


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
