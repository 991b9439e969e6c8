"""What the sync and async savers share: validation and encoding, in front
of the repository's jobs (``repository.checkpoints.jobs``). The shells in
``saver`` and ``aio`` only run the jobs.

Arguments are validated and values serialized here, eagerly, before a plan
starts, so bad input fails before any connection is taken and no transaction
waits on a serializer.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph.checkpoint.sqlalchemy._compat import DeltaChannelHistory
from langgraph.checkpoint.sqlalchemy._validate import (
    KEY_LIMITS,
    InvalidConfigError,
    TTLSettings,
    check_length,
    no_nul,
    parse_config,
    parse_filter,
    parse_limit,
    parse_thread_id,
    parse_thread_ids,
    parse_ttl,
)
from langgraph.checkpoint.sqlalchemy.dialects import DialectOps, dialect_ops
from langgraph.checkpoint.sqlalchemy.migrate import VERSION_TABLE
from langgraph.checkpoint.sqlalchemy.repository.checkpoints import jobs, ttl
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.codec import (
    Codec,
    checkpoint_id_at,
    config_for,
)
from langgraph.checkpoint.sqlalchemy.repository.checkpoints.reads import ListQuery
from langgraph.checkpoint.sqlalchemy.repository.expiry_sweep import BatchedSweep
from langgraph.checkpoint.sqlalchemy.repository.plan import Job, T
from langgraph.checkpoint.sqlalchemy.runtime.sweeper import sweep_interval_seconds
from sqlalchemy.engine import Dialect

__all__ = ["PRUNE_STRATEGIES", "SaverCore"]

PRUNE_STRATEGIES = ("keep_latest", "keep_last", "delete")
# Other names for them: langgraph-api's checkpointer service (the Agent
# Server's core calls it for thread TTL sweeps) asks aprune for "delete_all"
# where BaseCheckpointSaver's docstring says "delete".
_STRATEGY_ALIASES = {"delete_all": "delete"}


class SaverCore(BaseCheckpointSaver[str]):
    """The database-independent half of both savers."""

    _ops: DialectOps
    _codec_cache: Codec | None = None

    def __init__(
        self,
        dialect: Dialect,
        *,
        serde: SerializerProtocol | None = None,
        force_portable: bool = False,
        schema: str | None = None,
        version_table: str = VERSION_TABLE,
        ttl: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(serde=serde)
        #: The validated ``ttl=`` (``None``: threads never expire, and no
        #: statement about expiry runs).
        self.ttl: TTLSettings | None = parse_ttl(ttl)
        self._ops = dialect_ops(dialect, force_portable=force_portable)
        if schema is not None and (not isinstance(schema, str) or not schema):
            raise ValueError("schema must be a non-empty str or None")
        self.schema = schema
        self.version_table = version_table
        # Every statement names its tables unqualified; this puts them in
        # `schema` without touching the connection's search_path.
        self._exec_options: dict[str, Any] | None = (
            {"schema_translate_map": {None: schema}} if schema else None
        )

    @staticmethod
    def _clock() -> datetime:
        """Now, as the side table stores moments: naive UTC (tests move it)."""
        return datetime.now(timezone.utc).replace(tzinfo=None)

    @property
    def _codec(self) -> Codec:
        # `with_allowlist` clones the saver and swaps `serde`: follow it.
        if self._codec_cache is None or self._codec_cache.serde is not self.serde:
            self._codec_cache = Codec(self.serde)
        return self._codec_cache

    # -- validation --------------------------------------------------------

    def _key(self, value: str, what: str) -> str:
        # A key is compared and indexed as text: PostgreSQL can't hold a NUL
        # in one and the other databases would, so it is refused everywhere.
        no_nul(value, what)
        if self._ops.bounded_keys:
            check_length(value, KEY_LIMITS[what], what)
        return value

    def _thread_key(
        self, config: RunnableConfig, *, where: str = "config"
    ) -> tuple[str, str, str | None]:
        key = parse_config(config, where=where)
        self._key(key.thread_id, "thread_id")
        self._key(key.checkpoint_ns, "checkpoint_ns")
        if key.checkpoint_id is not None:
            self._key(key.checkpoint_id, "checkpoint_id")
        return key

    # -- jobs --------------------------------------------------------------

    def _get_tuple_job(self, config: RunnableConfig) -> Job[CheckpointTuple | None]:
        thread_id, ns, checkpoint_id = self._thread_key(config)
        job = jobs.get_tuple_job(self._codec, self._ops, thread_id, ns, checkpoint_id)
        if self.ttl is None or not (self._hides_expired or self.ttl.refresh_on_read):
            return job
        return self._guarded(job, None, thread_id)

    def _pager(
        self,
        config: RunnableConfig | None,
        filter: Mapping[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> jobs.Pager:
        thread_id = ns = checkpoint_id = None
        if config is not None:
            configurable = (
                config.get("configurable") if isinstance(config, Mapping) else None
            )
            if (
                isinstance(configurable, Mapping)
                and configurable.get("thread_id") is not None
            ):
                thread_id, _, checkpoint_id = self._thread_key(config)
                raw_ns = configurable.get("checkpoint_ns")
                ns = None if raw_ns is None else self._key(str(raw_ns), "checkpoint_ns")
            elif not isinstance(configurable, Mapping) and configurable is not None:
                raise InvalidConfigError("config['configurable'] must be a dict")
        before_id = None
        if before is not None:
            before_conf = (
                before.get("configurable") if isinstance(before, Mapping) else None
            )
            if not isinstance(before_conf, Mapping) or not isinstance(
                before_conf.get("checkpoint_id"), str
            ):
                raise InvalidConfigError(
                    "before['configurable']['checkpoint_id'] is required (a str)"
                )
            before_id = before_conf["checkpoint_id"]
        query = ListQuery(
            thread_id=thread_id,
            checkpoint_ns=ns,
            checkpoint_id=checkpoint_id,
            filter=parse_filter(filter),
            before_id=before_id,
            where=ttl.alive(self._clock()) if self._hides_expired else None,
        )
        if self.ttl is not None and thread_id is not None and self.ttl.refresh_on_read:
            return _RefreshingPager(self, query, parse_limit(limit), thread_id)
        return jobs.Pager(self._codec, self._ops, query, parse_limit(limit))

    def _put_job(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Job[RunnableConfig]:
        thread_id, ns, parent_id = self._thread_key(config)
        if not isinstance(checkpoint, Mapping) or not isinstance(
            checkpoint.get("id"), str
        ):
            raise TypeError("checkpoint must be a Checkpoint dict with a str 'id'")
        self._key(checkpoint["id"], "checkpoint_id")
        for channel, version in new_versions.items():
            self._key(channel, "channel")
            self._key(str(version), "version")
        row, blobs = self._codec.checkpoint_rows(
            thread_id,
            ns,
            parent_id,
            checkpoint,
            self._codec.metadata(config, metadata),
            new_versions,
        )
        next_config = config_for(thread_id, ns, checkpoint["id"])
        return self._touching(
            thread_id, jobs.put_job(self._ops, row, blobs, next_config)
        )

    def _put_writes_job(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> Job[None]:
        thread_id, ns, checkpoint_id = self._thread_key(config)
        if checkpoint_id is None:
            raise InvalidConfigError(
                "config['configurable']['checkpoint_id'] is required: writes "
                "belong to a checkpoint"
            )
        self._key(task_id, "task_id")
        self._key(task_path, "task_path")
        for channel, _ in writes:
            self._key(channel, "channel")
        rows = self._codec.write_rows(
            thread_id, ns, checkpoint_id, task_id, task_path, writes
        )
        return jobs.put_writes_job(self._ops, rows)

    def _delete_thread_job(self, thread_id: str) -> Job[None]:
        return jobs.delete_threads_job(
            [parse_thread_id(thread_id)], forget_ttl=self.ttl is not None
        )

    def _delete_for_runs_job(self, run_ids: Sequence[str]) -> Job[None] | None:
        ids = parse_thread_ids(run_ids, where="run_ids")
        return jobs.delete_for_runs_job(ids) if ids else None

    def _copy_thread_job(
        self, source_thread_id: str, target_thread_id: str
    ) -> Job[None]:
        source = self._key(
            parse_thread_id(source_thread_id, where="source_thread_id"), "thread_id"
        )
        target = self._key(
            parse_thread_id(target_thread_id, where="target_thread_id"), "thread_id"
        )
        if source == target:
            raise ValueError(
                "source_thread_id and target_thread_id are the same thread"
            )
        # The copy is not pinned; with a TTL it expires as a new thread does.
        return self._touching(target, jobs.copy_thread_job(source, target))

    def _prune_jobs(
        self, thread_ids: Sequence[str], strategy: str, keep: int | None
    ) -> list[Job[None]]:
        if isinstance(strategy, str):
            strategy = _STRATEGY_ALIASES.get(strategy, strategy)
        if strategy not in PRUNE_STRATEGIES:
            raise ValueError(
                f"unknown prune strategy {strategy!r}; use one of {PRUNE_STRATEGIES}"
            )
        count = _keep_count(strategy, keep)
        ids = parse_thread_ids(thread_ids)
        if not ids:
            return []
        return jobs.prune_jobs(
            ids,
            None if strategy == "delete" else count,
            forget_ttl=self.ttl is not None,
        )

    def _sweep(self, older_than: datetime | timedelta, batch_size: int) -> jobs.Sweep:
        _check_batch_size(batch_size)
        return jobs.Sweep(checkpoint_id_at(_moment(older_than)), batch_size)

    # -- TTL ---------------------------------------------------------------

    def _touching(self, thread_id: str, job: Job[T]) -> Job[T]:
        """``job``, which writes ``thread_id``, pushing the thread's expiry to
        now + ``default_ttl`` first (unchanged without a TTL)."""
        if self.ttl is None:
            return job
        now = self._clock()
        expires_at = now + timedelta(minutes=self.ttl.default_ttl)
        ops, strategy = self._ops, self.ttl.strategy
        return ttl.then(
            lambda: ttl.touch(ops, thread_id, now, expires_at, strategy), job
        )

    @property
    def _hides_expired(self) -> bool:
        """Whether reads leave expired threads out: with ``delete``, an
        expired thread is gone before the sweep; with ``keep_latest`` its
        latest checkpoint stays served, and the sweep trims the rest."""
        return self.ttl is not None and self.ttl.strategy == "delete"

    def _guarded(self, job: Job[T], empty: T, thread_id: str) -> Job[T]:
        assert self.ttl is not None
        refresh = (
            timedelta(minutes=self.ttl.default_ttl)
            if self.ttl.refresh_on_read
            else None
        )
        return ttl.guarded(
            job, empty, thread_id, self._clock, refresh, hide=self._hides_expired
        )

    def _pin_job(self, thread_id: str, pinned: bool) -> Job[None]:
        tid = self._key(parse_thread_id(thread_id), "thread_id")
        ops = self._ops
        return Job(lambda: ttl.set_pin(ops, tid, pinned))

    def _pinned_job(self) -> Job[list[str]]:
        return Job(ttl.pinned_threads, read_only=True)

    def _ttl_sweep(self, strategy: str | None, batch_size: int) -> BatchedSweep:
        if strategy is None:
            strategy = "delete" if self.ttl is None else self.ttl.strategy
        if strategy not in ttl.STRATEGIES:
            raise ValueError(
                f"unknown TTL strategy {strategy!r}; use one of {ttl.STRATEGIES}"
            )
        _check_batch_size(batch_size)
        return ttl.ttl_sweep(self._clock(), strategy, batch_size)

    def _sweep_interval(self) -> float:
        if self.ttl is None:
            raise ValueError(
                "this saver has no ttl; pass ttl={'default_ttl': minutes, ...} "
                "to run a TTL sweeper"
            )
        return sweep_interval_seconds(self.ttl.sweep_interval_minutes)

    def _delta_history_job(
        self, config: RunnableConfig, channels: Sequence[str]
    ) -> Job[dict[str, DeltaChannelHistory]]:
        thread_id, ns, checkpoint_id = self._thread_key(config)
        channels = list(dict.fromkeys(channels))
        return jobs.delta_history_job(
            self._codec, thread_id, ns, checkpoint_id, channels
        )

    def _setup_job(self) -> Job[None]:
        return jobs.setup_job(self._ops, self.schema, self.version_table)

    # -- versions ----------------------------------------------------------

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """A sortable string version, as the official savers make them: a
        zero-padded counter, then a random fraction so concurrent branches
        differ."""
        if current is None:
            counter = 0
        elif isinstance(current, int):
            counter = current
        else:
            counter = int(str(current).split(".")[0])
        return f"{counter + 1:032}.{random.random():016}"


def _check_batch_size(batch_size: int) -> None:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive int, not {batch_size!r}")


class _RefreshingPager(jobs.Pager):
    """A thread's ``list`` with ``refresh_on_read``: the first page is read
    behind the TTL guard, which pushes the thread's expiry."""

    def __init__(
        self, core: SaverCore, query: ListQuery, limit: int | None, thread_id: str
    ) -> None:
        super().__init__(core._codec, core._ops, query, limit)
        self._core = core
        self._thread_id = thread_id
        self._first = True

    def next_job(self) -> Job[list[CheckpointTuple]] | None:
        job = super().next_job()
        if job is None or not self._first:
            return job
        self._first = False
        return self._core._guarded(job, [], self._thread_id)


def _keep_count(strategy: str, keep: int | None) -> int:
    if strategy == "keep_last":
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep_last needs keep= a positive int, not {keep!r}")
        return keep
    if keep is not None:
        raise ValueError(f"keep= goes with strategy='keep_last', not {strategy!r}")
    return 1


def _moment(older_than: datetime | timedelta) -> datetime:
    if isinstance(older_than, timedelta):
        return datetime.now(timezone.utc) - older_than
    if isinstance(older_than, datetime):
        # A naive datetime is taken as UTC, as LangGraph's timestamps are.
        if older_than.tzinfo is None:
            return older_than.replace(tzinfo=timezone.utc)
        return older_than
    raise TypeError(
        f"older_than must be a datetime or a timedelta, not {type(older_than).__name__}"
    )
