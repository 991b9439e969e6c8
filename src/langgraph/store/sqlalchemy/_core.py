"""What the sync and async stores share: validation and encoding, in front
of the repository's jobs (``repository.store.jobs``). The faces in ``store``
and ``aio`` only run the jobs.

Operations are checked here, all of them, before a batch takes a
connection: a bad one fails the whole batch and nothing of it is written.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from langgraph.store.base import (
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    ListNamespacesOp,
    Op,
    PutOp,
    SearchOp,
    TTLConfig,
)

from langgraph.checkpoint.sqlalchemy._types import (
    STORE_KEY_LENGTH,
    STORE_PREFIX_LENGTH,
)
from langgraph.checkpoint.sqlalchemy._validate import (
    check_length,
    clean_json,
    no_nul,
)
from langgraph.checkpoint.sqlalchemy.dialects import DialectOps, dialect_ops
from langgraph.checkpoint.sqlalchemy.repository.expiry_sweep import BatchedSweep
from langgraph.checkpoint.sqlalchemy.repository.plan import Job
from langgraph.checkpoint.sqlalchemy.repository.store import jobs
from langgraph.checkpoint.sqlalchemy.repository.store.items import prefix_of
from langgraph.checkpoint.sqlalchemy.repository.store.plans import (
    ORDERING_OPERATORS,
    Outcome,
    Requests,
    filter_terms,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors import vector_config
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.index import (
    EmbeddingWork,
    VectorIndex,
)
from langgraph.checkpoint.sqlalchemy.runtime.sweeper import sweep_interval_seconds
from sqlalchemy.engine import Dialect

__all__ = ["DEFAULT_SWEEP_BATCH", "StoreCore"]

#: How many expired items one sweep transaction deletes at most.
DEFAULT_SWEEP_BATCH = 1000
_OPERATORS = ("$eq", "$ne", *ORDERING_OPERATORS)


class StoreCore:
    """The database-independent half of both stores (a mixin beside
    ``BaseStore`` or ``AsyncBatchedBaseStore``)."""

    supports_ttl: bool = True
    ttl_config: TTLConfig | None = None
    _ops: DialectOps

    def _configure(
        self,
        dialect: Dialect,
        *,
        schema: str | None,
        version_table: str,
        ttl: TTLConfig | None,
        force_portable: bool,
        index: IndexConfig | None = None,
        force_exact: bool = False,
    ) -> None:
        self._ops = dialect_ops(dialect, force_portable=force_portable)
        config = vector_config(index)
        self._vectors = (
            None
            if config is None
            else VectorIndex(config, dialect, force_exact=force_exact)
        )
        # The names LangGraph's own stores give them (tools read them).
        self.index_config = index
        self.embeddings = None if config is None else config.embeddings
        if schema is not None and (not isinstance(schema, str) or not schema):
            raise ValueError("schema must be a non-empty str or None")
        self.schema = schema
        self.version_table = version_table
        self.ttl_config = _parse_ttl(ttl)
        # Statements name the table unqualified; this puts it in `schema`.
        self._exec_options: dict[str, Any] | None = (
            {"schema_translate_map": {None: schema}} if schema else None
        )

    @staticmethod
    def _now() -> datetime:
        return datetime.now(timezone.utc)

    # -- jobs --------------------------------------------------------------

    def _batch_job(self, ops: Iterable[Op]) -> Job[Outcome]:
        """The job of a batch, its texts embedded first (with the model's
        sync methods), outside the transaction."""
        requests, work = self._requests(ops)
        return self._embedded_job(requests, self._embed(work))

    async def _abatch_job(self, ops: Iterable[Op]) -> Job[Outcome]:
        """:meth:`_batch_job`, embedding with the model's async methods."""
        requests, work = self._requests(ops)
        return self._embedded_job(requests, await self._aembed(work))

    def _embedded_job(
        self, requests: Requests, work: EmbeddingWork | None
    ) -> Job[Outcome]:
        """The job of a batch whose texts and queries ``work`` has embedded."""
        return jobs.batch_job(self._ops, requests, self._now(), self._vectors, work)

    @staticmethod
    def _refresh_job(outcome: Outcome) -> Job[None] | None:
        """The TTL refresh a read-only batch left owing, as its own job."""
        return jobs.refresh_job(outcome.refresh) if outcome.refresh else None

    def _own_engine(self, driver: str) -> None:
        """The store made its engine (``from_url``), with ``driver``."""
        if self._vectors is not None:
            self._vectors.ops.own_sessions(driver)

    def _embed(self, work: EmbeddingWork | None) -> EmbeddingWork | None:
        """``work``'s texts and queries embedded, before any transaction."""
        if work is None or not work or self._vectors is None:
            return work
        model = self._vectors.config.embeddings
        documents = [r.text for r in work.documents]
        return self._vectors.accept(
            work,
            model.embed_documents(documents) if documents else [],
            [model.embed_query(q) for q in work.queries],
        )

    async def _aembed(self, work: EmbeddingWork | None) -> EmbeddingWork | None:
        """:meth:`_embed` with the model's async methods."""
        if work is None or not work or self._vectors is None:
            return work
        model = self._vectors.config.embeddings
        documents = [r.text for r in work.documents]
        queries = await asyncio.gather(*(model.aembed_query(q) for q in work.queries))
        return self._vectors.accept(
            work,
            await model.aembed_documents(documents) if documents else [],
            queries,
        )

    def _requests(self, ops: Iterable[Op]) -> tuple[Requests, EmbeddingWork | None]:
        """``ops`` checked and sorted by kind, and (with a vector index) what
        they need embedded."""
        if isinstance(ops, (str, bytes, Mapping)) or not isinstance(ops, Iterable):
            raise TypeError(
                f"ops must be an iterable of store operations, not {type(ops).__name__}"
            )
        gets: list[tuple[int, GetOp]] = []
        searches: list[tuple[int, SearchOp]] = []
        listings: list[tuple[int, ListNamespacesOp]] = []
        puts: list[PutOp] = []
        size = 0
        for i, op in enumerate(ops):
            size = i + 1
            if isinstance(op, GetOp):
                gets.append((i, self._get(op)))
            elif isinstance(op, PutOp):
                puts.append(self._put(op))
            elif isinstance(op, SearchOp):
                searches.append((i, self._search(op)))
            elif isinstance(op, ListNamespacesOp):
                listings.append((i, _listing(op)))
            else:
                raise TypeError(
                    "each op must be a GetOp, PutOp, SearchOp or ListNamespacesOp, "
                    f"not {type(op).__name__}"
                )
        requests = Requests(gets, searches, listings, puts, size)
        work = (
            None
            if self._vectors is None
            else self._vectors.embedding_work(puts, [op for _, op in searches])
        )
        return requests, work

    def _sweep(self, batch_size: int) -> BatchedSweep:
        return jobs.expiry_sweep(self._ops, self._now(), batch_size, self._vectors)

    def _setup_job(self) -> Job[None]:
        return jobs.setup_job(self._ops, self.schema, self.version_table, self._vectors)

    def _sweep_interval(self, minutes: float | None) -> float:
        if minutes is None and self.ttl_config is not None:
            minutes = self.ttl_config.get("sweep_interval_minutes")
        return sweep_interval_seconds(minutes)

    # -- validation --------------------------------------------------------

    def _namespace(
        self, namespace: Any, what: str, *, empty: bool = False
    ) -> tuple[str, ...]:
        if not isinstance(namespace, (tuple, list)):
            raise TypeError(
                f"{what} must be a tuple of str labels, such as ('users', '42'), "
                f"not {type(namespace).__name__}"
            )
        labels: tuple[str, ...] = tuple(namespace)
        if not labels and not empty:
            raise InvalidNamespaceError(f"{what} must have at least one label")
        for label in labels:
            _label(label, what)
        if self._ops.bounded_keys:
            check_length(prefix_of(labels), STORE_PREFIX_LENGTH, what)
        return labels

    def _key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, not {type(key).__name__}")
        no_nul(key, "key")
        if self._ops.bounded_keys:
            check_length(key, STORE_KEY_LENGTH, "key")
        return key

    def _get(self, op: GetOp) -> GetOp:
        return op._replace(
            namespace=self._namespace(op.namespace, "namespace"), key=self._key(op.key)
        )

    def _put(self, op: PutOp) -> PutOp:
        namespace = self._namespace(op.namespace, "namespace")
        if namespace[0] == "langgraph":
            raise InvalidNamespaceError(
                "the root label 'langgraph' is reserved for LangGraph's own use"
            )
        value = op.value
        if value is not None:
            if not isinstance(value, Mapping):
                raise TypeError(
                    f"value must be a dict (or None to delete), not {type(value).__name__}"
                )
            try:
                value = _sorted_keys(clean_json(value, where="value"))
            except RecursionError:
                raise ValueError("value is nested too deeply to store") from None
            limit = self._ops.json_depth_limit
            if limit is not None and _deeper_than(value, limit):
                raise ValueError(
                    f"value is nested more than {limit} levels deep, which this "
                    "database's JSON column refuses; flatten it"
                )
        ttl = op.ttl
        if ttl is not None and (
            isinstance(ttl, bool)
            or not isinstance(ttl, (int, float))
            or not math.isfinite(ttl)
            or ttl <= 0
        ):
            raise ValueError(
                f"ttl must be a positive number of minutes or None, not {ttl!r}"
            )
        index = op.index
        if (
            index is not None
            and index is not False
            and (
                isinstance(index, str)
                or not isinstance(index, Sequence)
                or not all(isinstance(f, str) for f in index)
            )
        ):
            raise TypeError("index must be False, None or a list of str field paths")
        return op._replace(namespace=namespace, key=self._key(op.key), value=value)

    def _search(self, op: SearchOp) -> SearchOp:
        namespace = self._namespace(op.namespace_prefix, "namespace_prefix", empty=True)
        filter = op.filter
        if filter is not None:
            if not isinstance(filter, Mapping):
                raise TypeError(f"filter must be a dict, not {type(filter).__name__}")
            for key in filter:
                if not isinstance(key, str):
                    raise TypeError(
                        f"filter keys must be str, not {type(key).__name__}"
                    )
                no_nul(key, "a filter key")
            filter = clean_json(dict(filter), where="filter")
            for key, operator, value in filter_terms(filter):
                _term(key, operator, value)
        return op._replace(
            namespace_prefix=namespace,
            filter=filter,
            limit=_count(op.limit, "limit"),
            offset=_count(op.offset, "offset"),
        )


def _label(label: Any, what: str, *, wildcard: bool = False) -> None:
    if not isinstance(label, str):
        raise InvalidNamespaceError(
            f"{what} labels must be str, not {type(label).__name__} ({label!r})"
        )
    if not label:
        raise InvalidNamespaceError(f"{what} labels must not be empty")
    if "." in label:
        raise InvalidNamespaceError(
            f"{what} label {label!r} holds a '.', which separates labels in storage"
        )
    if "\x00" in label:
        raise InvalidNamespaceError(f"{what} label {label!r} holds a NUL character")


def _sorted_keys(value: Any) -> Any:
    """``value`` with every object's keys in sorted order: the filters' JSON
    equality on SQLite compares documents as text (``json()``), against a
    filter written with sorted keys. PostgreSQL and MySQL reorder keys
    themselves, so no database keeps the order a value was put with."""
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    if limit < 0:
        return True
    if isinstance(value, Mapping):
        return any(_deeper_than(v, limit - 1) for v in value.values())
    if isinstance(value, list):
        return any(_deeper_than(v, limit - 1) for v in value)
    return False


def _term(key: str, operator: str, value: Any) -> None:
    if operator not in _OPERATORS:
        raise ValueError(
            f"filter on {key!r}: unsupported operator {operator!r}; use one of "
            f"{', '.join(_OPERATORS)}"
        )
    if operator in ORDERING_OPERATORS and (
        isinstance(value, bool) or not isinstance(value, (int, float, str))
    ):
        raise TypeError(
            f"filter on {key!r}: {operator} compares with a number or a str, "
            f"not {type(value).__name__}"
        )


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, not {value}")
    return value


def _listing(op: ListNamespacesOp) -> ListNamespacesOp:
    conditions = op.match_conditions or ()
    for condition in conditions:
        if condition.match_type not in ("prefix", "suffix"):
            raise ValueError(
                f"match_type must be 'prefix' or 'suffix', not {condition.match_type!r}"
            )
        if not isinstance(condition.path, (tuple, list)):
            raise TypeError(
                f"a {condition.match_type} must be a tuple of labels, "
                f"not {type(condition.path).__name__}"
            )
        for label in condition.path:
            if label != "*":
                _label(label, condition.match_type)
    max_depth = op.max_depth
    if max_depth is not None and _count(max_depth, "max_depth") < 1:
        raise ValueError("max_depth must be >= 1 or None")
    return op._replace(
        match_conditions=tuple(c._replace(path=tuple(c.path)) for c in conditions),
        limit=_count(op.limit, "limit"),
        offset=_count(op.offset, "offset"),
    )


def _parse_ttl(ttl: TTLConfig | None) -> TTLConfig | None:
    if ttl is None:
        return None
    if not isinstance(ttl, Mapping):
        raise TypeError(
            f"ttl must be a TTLConfig dict or None, not {type(ttl).__name__}"
        )
    unknown = set(ttl) - {"default_ttl", "refresh_on_read", "sweep_interval_minutes"}
    if unknown:
        raise ValueError(f"ttl has unknown keys {sorted(unknown)}")
    default = ttl.get("default_ttl")
    if default is not None and (
        isinstance(default, bool)
        or not isinstance(default, (int, float))
        or default <= 0
    ):
        raise ValueError(
            f"default_ttl must be a positive number of minutes, not {default!r}"
        )
    if not isinstance(ttl.get("refresh_on_read", True), bool):
        raise TypeError("refresh_on_read must be a bool")
    sweep_interval_seconds(ttl.get("sweep_interval_minutes"))
    return TTLConfig(**ttl)
