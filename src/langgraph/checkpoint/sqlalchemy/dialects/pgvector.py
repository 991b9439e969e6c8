"""Vector search on PostgreSQL: pgvector.

The ``embedding`` column is ``vector(dims)`` or ``halfvec(dims)``, as in the
official ``PostgresStore``, with an HNSW (default) or IVFFlat index whose
operator class is the configured distance's. A search orders by
``embedding <op> CAST(:query AS vector(dims))``, the operator applied to the
indexed column itself, with a LIMIT: the form pgvector's index scan serves.
On pgvector 0.8 and later the scan is iterative (``hnsw.iterative_scan`` /
``ivfflat.iterative_scan``), so a filter that rejects the nearest rows makes
the index read on instead of returning fewer rows; ``ef_search`` and
``probes`` are set per transaction with ``set_config(..., true)``, or, on
an engine the store made (``from_url``) with psycopg and no pooler in
between, once per connection for its session, so that a search alone is one
autocommitted statement (one round trip instead of four).
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Sequence
from typing import Any

from langgraph.checkpoint.sqlalchemy.dialects.postgresql import (
    _PSYCOPG,
    _PSYCOPG_IDLE,
    _through_a_pooler,
)
from langgraph.checkpoint.sqlalchemy.dialects.vectors import (
    SubPlan,
    VectorOps,
    VectorSchemaMismatch,
    dims_mismatch,
    register,
    shown_name,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Call, Execute, Step
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.codec import (
    from_blob,
    from_pgvector_text,
    to_blob,
    to_pgvector_text,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.config import (
    VectorConfig,
)
from sqlalchemy import (
    ColumnElement,
    Connection,
    Index,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import Float, String, TypeEngine, UserDefinedType

INDEX_NAME = "store_vectors_embedding_idx"

# Distance -> (operator, operator class suffix). Each operator is what the
# index's operator class serves in ORDER BY.
_OPERATORS = {"cosine": "<=>", "l2": "<->", "inner_product": "<#>"}
_OPCLASS = {"cosine": "cosine_ops", "l2": "l2_ops", "inner_product": "ip_ops"}
# pgvector's limits on indexed dimensions, per type.
_MAX_INDEXED = {"vector": 2000, "halfvec": 4000}
# Pages of the index a filtered scan may read on (pgvector's default is 20000).
_ITERATIVE = "relaxed_order"
# Where a connection's pool record notes the settings its session holds.
_SESSION_KEY = "langgraph_store_pgvector_settings"


class PgVector(UserDefinedType[Any]):
    """pgvector's ``vector(n)`` / ``halfvec(n)``, bound as its text form."""

    cache_ok = True

    def __init__(self, kind: str, dims: int) -> None:
        self.kind, self.dims = kind, dims

    def get_col_spec(self, **kw: Any) -> str:
        return f"{self.kind}({self.dims})"

    def bind_processor(self, dialect: Any) -> Any:
        def process(value: Any) -> Any:
            if value is None or isinstance(value, str):
                return value
            return to_pgvector_text(value)

        return process


@register("postgresql")
class PgVectorOps(VectorOps):
    ranks_in_sql = True
    cascades = True

    def __init__(self, dialect: Dialect, config: VectorConfig) -> None:
        super().__init__(dialect, config)
        # The extension's version, once a search has read it.
        self._version: tuple[int, ...] | None = None
        # The settings a search needs, with the version.
        self._needed: tuple[tuple[str, str], ...] = ()
        # The store made the engine, with psycopg (own_sessions).
        self._owned = False
        # No pooler between the engine and the server: its sessions keep
        # what is set in them. None until a search has looked.
        self._direct: bool | None = None

    def embedding_type(self) -> TypeEngine[Any]:
        return PgVector(self.config.vector_type, self.config.dims)

    def bind_vector(self, vector: Sequence[float]) -> Any:
        return to_pgvector_text(vector)

    def query_type(self) -> TypeEngine[Any]:
        return String()  # the text form, cast by distance()

    @property
    def opclass(self) -> str:
        return f"{self.config.vector_type}_{_OPCLASS[self.config.distance]}"

    def indexes(self, table: Table) -> list[Any]:
        config = self.config
        if config.index_kind == "flat":
            return []
        limit = _MAX_INDEXED[config.vector_type]
        if config.dims > limit:
            raise ValueError(
                f"pgvector indexes {config.vector_type} columns of at most {limit} "
                f"dimensions, and index['dims'] is {config.dims}: use "
                "ann_index_config={'vector_type': 'halfvec'} (up to 4000), or "
                "{'kind': 'flat'} for exact search without an index"
            )
        return [
            Index(
                INDEX_NAME,
                table.c.embedding,
                postgresql_using=config.index_kind,
                postgresql_with=dict(config.index_params),
                postgresql_ops={"embedding": self.opclass},
            )
        ]

    # -- setup -----------------------------------------------------------------

    def prepare_setup(self) -> SubPlan:
        found = yield Execute(_EXTENSION)
        if found.scalar() is None:
            yield Call(_create_extension)

    @classmethod
    def stored_embeddings(
        cls, table: Table, schema: str | None
    ) -> Generator[Step, Any, tuple[str, int | None]]:
        """The column's type (``vector``, ``halfvec``) and the dimension in
        it; ``("", None)`` when the table has no ``embedding`` column."""
        column = yield Execute(_COLUMN_TYPE, {"table": _regclass(table, schema)})
        kind, _, rest = (column.scalar() or "").partition("(")
        dims = rest.rstrip(")")
        return kind, int(dims) if dims.isdigit() else None

    def check_schema(self, table: Table, schema: str | None) -> SubPlan:
        shown = shown_name(table, schema)
        kind, dims = yield from self.stored_embeddings(table, schema)
        found = kind if dims is None else f"{kind}({dims})"
        wanted = f"{self.config.vector_type}({self.config.dims})"
        if kind and found != wanted:
            if kind == self.config.vector_type and dims is not None:
                raise dims_mismatch(shown, dims, self.config.dims, found)
            raise VectorSchemaMismatch(
                f"table {shown} stores embeddings as {found}, but the "
                f"index configuration asks for {wanted}. Keep "
                f"ann_index_config's vector_type matching the table, or drop the "
                f"table (DROP TABLE {shown}), run setup() again and "
                "put the items again."
            )
        if self.config.index_kind == "flat":
            return
        indexes = yield Execute(_ANN_INDEXES, {"table": _regclass(table, schema)})
        for index_name, method, opclass in indexes.all():
            if (method, opclass) != (self.config.index_kind, self.opclass):
                raise VectorSchemaMismatch(
                    f"index {index_name} on {shown} is {method} with "
                    f"{opclass}, but the configuration asks for "
                    f"{self.config.index_kind} with {self.opclass} "
                    f"(distance_type={self.config.distance!r}); a search would not "
                    f"use it. Keep the configuration, or drop the index (DROP INDEX "
                    f"{index_name}) and run setup() again to build the configured one."
                )

    # -- copying between databases ----------------------------------------------

    def read_embedding(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # The text form: no driver has to know pgvector's types.
        return cast(column, Text())

    def to_float32(self, value: Any) -> bytes:
        # vector is float32 and halfvec float16: float32 holds either exactly.
        return to_blob(from_pgvector_text(value))

    def bind_float32(self, blob: bytes) -> Any:
        return to_pgvector_text(from_blob(blob))

    # -- search ----------------------------------------------------------------

    @property
    def uses_ann_index(self) -> bool:
        return self.config.index_kind != "flat"

    def own_sessions(self, driver: str) -> None:
        # Only psycopg tells a pooler apart (_through_a_pooler).
        self._owned = driver in _PSYCOPG

    @property
    def one_statement_search(self) -> bool:
        """Once a search has read the version and found no pooler in
        between, the settings live in each connection's session, set by the
        first search on it (a :class:`Call` that costs a round trip only
        then), so the search itself needs no transaction."""
        if self._version is None:
            return False
        return not self._needed or self._direct is True

    def prepare_search(self) -> SubPlan:
        """The configured ``ef_search``/``probes`` and, on pgvector 0.8+,
        the iterative scan, before the search: in the session of a connection
        of the store's own engine (see :attr:`one_statement_search`),
        otherwise for this transaction only (``set_config(..., true)``): the
        sessions of a caller's engine are the caller's, and behind a pooler
        in transaction mode the next transaction may get another session.
        pgvector's version and whether a pooler answers are read once per
        store, by its first search."""
        if self._version is None:
            found = yield Execute(_EXTENSION)
            version = _version(found.scalar())
            self._needed = tuple(
                (name, str(value)) for name, value in self._settings(version)
            )
            self._version = version
        if not self._needed:
            return
        if self._owned and self._direct is None:
            self._direct = yield Call(_no_pooler)
        if self._direct:
            yield Call(functools.partial(_in_session, self._needed))
        else:
            yield _set_config(self._needed, local=True)

    def _settings(self, version: tuple[int, ...]) -> list[tuple[str, int | str]]:
        config = self.config
        settings: list[tuple[str, int | str]] = []
        if config.index_kind == "hnsw":
            if config.ef_search is not None:
                settings.append(("hnsw.ef_search", config.ef_search))
            if version >= (0, 8):
                settings.append(("hnsw.iterative_scan", _ITERATIVE))
        elif config.index_kind == "ivfflat":
            if config.probes is not None:
                settings.append(("ivfflat.probes", config.probes))
            if version >= (0, 8):
                settings.append(("ivfflat.iterative_scan", _ITERATIVE))
        return settings

    def distance(
        self, embedding: ColumnElement[Any], query: ColumnElement[Any]
    ) -> ColumnElement[float]:
        operator = _OPERATORS[self.config.distance]
        typed = cast(query, self.embedding_type())
        return embedding.op(operator, return_type=Float())(typed)

    def score(self, distance: float) -> float:
        if self.config.distance == "cosine":
            return 1.0 - distance
        return -distance  # l2: the negative distance; <#>: the negative product


_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _regclass(table: Table, schema: str | None) -> str:
    """``table``'s name for ``to_regclass``, quoted, in ``schema`` if given
    (the store's tables carry no schema: it is translated at execution)."""
    preparer = _DIALECT.identifier_preparer
    name = preparer.quote(table.name)
    return f"{preparer.quote_schema(schema)}.{name}" if schema else name


def _set_config(settings: Sequence[tuple[str, str]], *, local: bool) -> Execute:
    """One statement that sets ``settings``, for this transaction only
    (``local``) or for the session (each search on a caller's engine runs
    it: built once per count, and compiled)."""
    params: dict[str, str] = {}
    for i, (name, value) in enumerate(settings):
        params[f"name_{i}"], params[f"value_{i}"] = name, value
    return Execute(_set_config_statement(len(settings), local), params, hot=True)


@functools.lru_cache(maxsize=8)
def _set_config_statement(count: int, local: bool) -> Select[Any]:
    return select(
        *(
            func.set_config(
                bindparam(f"name_{i}", type_=String()),
                bindparam(f"value_{i}", type_=String()),
                local,
            )
            for i in range(count)
        )
    )


def _no_pooler(conn: Connection) -> bool:
    """Whether ``conn`` reaches PostgreSQL without a pooler in between."""
    record = conn.connection
    return not _through_a_pooler(record.dbapi_connection, record.driver_connection)


def _in_session(settings: tuple[tuple[str, str], ...], conn: Connection) -> None:
    """``settings`` in the session of ``conn``'s DBAPI connection, once: the
    pool record's ``info`` notes them, and is cleared when the connection is
    replaced. Inside a transaction (a search that also writes, or the first
    one) they are set for it alone: a rollback would undo a session setting
    made in it, and the note would then be wrong."""
    info = conn.connection.info
    if info.get(_SESSION_KEY) == settings:
        return
    driver = conn.connection.driver_connection
    # Autocommitting and outside a transaction: the statement commits alone.
    idle = (
        driver is not None
        and driver.autocommit
        and driver.info.transaction_status == _PSYCOPG_IDLE
    )
    step = _set_config(settings, local=not idle)
    conn.execute(step.statement, step.params)
    if idle:
        info[_SESSION_KEY] = settings


def _create_extension(conn: Connection) -> None:
    # A savepoint: a refused CREATE EXTENSION must not abort setup()'s
    # transaction before the error below says what to do.
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    except DBAPIError as exc:
        raise RuntimeError(
            "vector search on PostgreSQL needs the pgvector extension, and "
            f"CREATE EXTENSION vector failed: {exc.orig}. Install pgvector on the "
            "server, and have a superuser (or, for a trusted extension, the "
            "database owner) run CREATE EXTENSION vector in this database."
        ) from exc


def _version(text_version: str | None) -> tuple[int, ...]:
    parts = []
    for part in (text_version or "0").split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


_EXTENSION = (
    select(text("extversion"))
    .select_from(text("pg_extension"))
    .where(text("extname = 'vector'"))
)
_COLUMN_TYPE = text(
    "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
    "WHERE a.attrelid = to_regclass(:table) AND a.attname = 'embedding' "
    "AND NOT a.attisdropped"
).bindparams(bindparam("table", type_=String()))
_ANN_INDEXES = text(
    "SELECT c.relname, am.amname, opc.opcname FROM pg_index i "
    "JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_am am ON am.oid = c.relam "
    "JOIN pg_opclass opc ON opc.oid = i.indclass[0] "
    "WHERE i.indrelid = to_regclass(:table) AND am.amname IN ('hnsw', 'ivfflat')"
).bindparams(bindparam("table", type_=String()))

__all__ = ["INDEX_NAME", "PgVector", "PgVectorOps"]
