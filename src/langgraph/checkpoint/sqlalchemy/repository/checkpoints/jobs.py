"""Each saver operation as a :class:`~..plan.Job`: the plan, what to do with
its result, and how the runtime must run it (autocommit, read-only, retry).

The savers validate and encode their arguments first (``_core.SaverCore``)
and hand the results here; the jobs only build plans, and the runtime runs
them. Operations of several transactions are a :class:`Pager` (``list``) or a
:class:`Sweep` (stale threads), which hand out one job at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, PendingWrite

from langgraph.checkpoint.sqlalchemy._compat import DeltaChannelHistory
from langgraph.checkpoint.sqlalchemy.dialects import DialectOps
from langgraph.checkpoint.sqlalchemy.repository import setup
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import (
    reads,
    retention,
    ttl,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import (
    writes as write_plans,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.codec import (
    Codec,
    StoredWrite,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Job, Plan

__all__ = [
    "LIST_PAGE_SIZE",
    "Pager",
    "Sweep",
    "copy_thread_job",
    "delete_for_runs_job",
    "delete_threads_job",
    "delta_history_job",
    "get_tuple_job",
    "iter_pages",
    "map_result",
    "prune_jobs",
    "put_job",
    "put_writes_job",
    "setup_job",
]

T = TypeVar("T")
U = TypeVar("U")

LIST_PAGE_SIZE = 100


def map_result(plan: Plan[T], fn: Callable[[T], U]) -> Plan[U]:
    """``plan``, returning ``fn`` of what it returns (its decoding, say)."""
    return fn((yield from plan))


def get_tuple_job(
    codec: Codec,
    ops: DialectOps,
    thread_id: str,
    ns: str,
    checkpoint_id: str | None,
) -> Job[CheckpointTuple | None]:
    return Job(
        lambda: map_result(
            reads.get_tuple(ops, thread_id, ns, checkpoint_id),
            lambda stored: codec.checkpoint_tuple(stored) if stored else None,
        ),
        autocommit=ops.one_statement_reads,
        read_only=True,
    )


class Pager:
    """Drives ``list`` page by page: each page is its own short transaction, so
    a caller that iterates slowly holds no connection between pages."""

    def __init__(
        self,
        codec: Codec,
        ops: DialectOps,
        query: reads.ListQuery,
        limit: int | None,
    ) -> None:
        self._codec = codec
        self._ops = ops
        self._query = query
        self._remaining = limit
        self._after: tuple[str, str, str] | None = None
        self._done = limit == 0

    def next_job(self) -> Job[list[CheckpointTuple]] | None:
        """The job reading the next page; ``None`` once the last was read."""
        if self._done:
            return None
        size = LIST_PAGE_SIZE
        if self._remaining is not None:
            size = min(size, self._remaining)
        self._size = size
        codec, ops, query, after = self._codec, self._ops, self._query, self._after
        return Job(
            lambda: map_result(
                reads.list_page(ops, query, after, size),
                lambda page: [codec.checkpoint_tuple(s) for s in page],
            ),
            read_only=True,
        )

    def advance(self, page: list[CheckpointTuple]) -> list[CheckpointTuple]:
        """Move past ``page`` (what the last job returned), and return it."""
        if len(page) < self._size:
            self._done = True
        if self._remaining is not None:
            self._remaining -= len(page)
            self._done = self._done or self._remaining <= 0
        if page:
            last = page[-1].config["configurable"]
            self._after = (
                last["checkpoint_id"],
                last["thread_id"],
                last["checkpoint_ns"],
            )
        return page


def iter_pages(
    pager: Pager, run: Callable[[Job[list[CheckpointTuple]]], list[CheckpointTuple]]
) -> Iterator[CheckpointTuple]:
    """Run ``pager``'s jobs one by one with ``run`` and yield every tuple."""
    while (job := pager.next_job()) is not None:
        yield from pager.advance(run(job))


def put_job(
    ops: DialectOps,
    row: Mapping[str, Any],
    blobs: Sequence[Mapping[str, Any]],
    next_config: RunnableConfig,
) -> Job[RunnableConfig]:
    return Job(
        lambda: map_result(write_plans.put(ops, row, blobs), lambda _: next_config),
        autocommit=ops.one_statement_put(len(blobs)),
    )


def put_writes_job(ops: DialectOps, rows: Sequence[Mapping[str, Any]]) -> Job[None]:
    regular, special = write_plans.split_writes(rows)
    return Job(
        lambda: write_plans.put_writes(ops, regular, special),
        # Both kinds at once take two statements, hence a transaction.
        autocommit=ops.one_statement_writes(len(rows)) and not (regular and special),
    )


def delete_threads_job(thread_ids: Sequence[str], *, forget_ttl: bool) -> Job[None]:
    """Delete the threads; with ``forget_ttl`` (a saver with a TTL), their
    side rows too. A saver without a TTL leaves the side table alone, so it
    keeps working on a database not yet upgraded to lgcp0003."""

    def plan() -> Plan[None]:
        yield from write_plans.delete_thread(thread_ids)
        if forget_ttl:
            yield from ttl.forget(thread_ids)  # a deleted thread keeps no pin

    return Job(plan)


def delete_for_runs_job(run_ids: Sequence[str]) -> Job[None]:
    return Job(lambda: write_plans.delete_for_runs(run_ids))


def copy_thread_job(source: str, target: str) -> Job[None]:
    def refuse_taken(written: bool) -> None:
        if not written:
            raise ValueError(
                f"target thread {target!r} already has checkpoints; delete it "
                "first or copy to a new thread ID"
            )

    # Not retried: had a lost connection come after the commit, a second
    # attempt would find the target taken and misreport.
    return Job(
        lambda: map_result(write_plans.copy_thread(source, target), refuse_taken),
        retry=False,
    )


def prune_jobs(
    thread_ids: Sequence[str], keep: int | None, *, forget_ttl: bool
) -> list[Job[None]]:
    """One job per transaction: all threads at once when ``keep`` is ``None``
    (delete them), one thread at a time otherwise (a failure leaves the
    threads before it pruned, and retrying is safe)."""
    if keep is None:
        return [delete_threads_job(thread_ids, forget_ttl=forget_ttl)]
    return [Job(partial(retention.prune_keep_last, tid, keep)) for tid in thread_ids]


class Sweep:
    """Finds stale threads a batch at a time, in thread ID order. Each batch
    is found in a transaction of its own and pruned in others (one per thread
    for ``keep_latest``/``keep_last``, one for the whole batch for
    ``delete``), so a sweep that stops halfway has done what it did, and
    running it again finishes the job."""

    def __init__(self, cutoff_id: str, batch_size: int) -> None:
        self.cutoff_id = cutoff_id
        self.batch_size = batch_size
        self.after: str | None = None
        self.done = False
        self.threads = 0

    def next_job(self) -> Job[list[str]] | None:
        """The job finding the next batch; ``None`` once the last was found."""
        if self.done:
            return None
        cutoff, after, size = self.cutoff_id, self.after, self.batch_size
        return Job(
            lambda: retention.stale_threads(cutoff, after, size), autocommit=True
        )

    def advance(self, thread_ids: list[str]) -> list[str]:
        """Move past the batch ``thread_ids`` (what the last job returned), and
        return it."""
        self.done = len(thread_ids) < self.batch_size
        if thread_ids:
            self.after = thread_ids[-1]
        self.threads += len(thread_ids)
        return thread_ids


def delta_history_job(
    codec: Codec,
    thread_id: str,
    ns: str,
    checkpoint_id: str | None,
    channels: Sequence[str],
) -> Job[dict[str, DeltaChannelHistory]]:
    def decode(rows: reads.DeltaRows | None) -> dict[str, DeltaChannelHistory]:
        if rows is None:
            return {ch: {"writes": []} for ch in channels}
        by_checkpoint: dict[tuple[str, str], list[StoredWrite]] = {}
        for w in rows.writes:
            by_checkpoint.setdefault((w.checkpoint_id, w.channel), []).append(w)
        result: dict[str, DeltaChannelHistory] = {}
        for ch in channels:
            collected: list[PendingWrite] = []
            # The chain runs newest first; history is replayed oldest first.
            for cid in reversed(rows.walk.chains.get(ch, [])):
                collected += codec.pending_writes(by_checkpoint.get((cid, ch), []))
            entry: DeltaChannelHistory = {"writes": collected}
            if ch in rows.seeds:
                type_, blob = rows.seeds[ch]
                entry["seed"] = codec.load(type_, blob)
            elif ch in rows.walk.seed_inline:
                entry["seed"] = rows.walk.seed_inline[ch]
            result[ch] = entry
        return result

    return Job(
        lambda: map_result(
            reads.delta_history(thread_id, ns, checkpoint_id, channels), decode
        ),
        read_only=True,
    )


def setup_job(ops: DialectOps, schema: str | None, version_table: str) -> Job[None]:
    return Job(
        lambda: setup.setup(ops, schema, version_table),
        autocommit=ops.setup_autocommits,
    )
