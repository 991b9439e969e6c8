"""How each database stores embeddings and ranks by them: the portable path
and a registry by dialect name.

:class:`VectorOps` here is the portable path, which MariaDB/MySQL (no vector
type in 10.11) and a SQLite that cannot load sqlite-vec take: embeddings are
float32 BLOBs, and a search reads the candidates' embeddings in bounded
batches (keyset pages of ``EXACT_BATCH`` rows, filters applied in SQL) and
ranks them in Python, exactly. ``pgvector.py`` (PostgreSQL: a ``vector`` or
``halfvec`` column, an HNSW or IVFFlat index) and ``sqlite_vec.py`` (SQLite
with sqlite-vec: exact ranking in SQL) subclass it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import Any, ClassVar, TypeVar

from langgraph.checkpoint.sqlalchemy.dialects.base import normalize_url
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Step
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.codec import (
    from_blob,
    to_blob,
)
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.config import (
    VectorConfig,
)
from sqlalchemy import (
    ColumnElement,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    TextClause,
    func,
    select,
    text,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.url import URL
from sqlalchemy.types import TypeEngine

SubPlan = Generator[Step, Any, None]

#: The type :meth:`VectorOps.stored_embeddings` names for a BLOB column.
BLOB = "float32 BLOB"

#: Rows (one embedding each) per page of an exact search: at 1536 dimensions
#: about 6 MB of embeddings in memory at once.
EXACT_BATCH = 1000

_REGISTRY: dict[str, type[VectorOps]] = {}
OpsT = TypeVar("OpsT", bound="type[VectorOps]")


def register(*names: str) -> Callable[[OpsT], OpsT]:
    """Class decorator: the dialect names whose vector search ``cls`` does."""

    def add(cls: OpsT) -> OpsT:
        for name in names:
            _REGISTRY[name] = cls
        return cls

    return add


def vector_ops(dialect: Dialect, config: VectorConfig) -> VectorOps:
    """The :class:`VectorOps` for ``dialect`` (its class may hand the
    portable one back, as SQLite does when it cannot load sqlite-vec)."""
    return _REGISTRY.get(dialect.name, VectorOps).make(dialect, config)


def storage_ops(dialect: Dialect, config: VectorConfig) -> VectorOps:
    """The :class:`VectorOps` of ``dialect`` for reading and writing the
    ``embedding`` column only, never for a search: what a copy between
    databases needs. Unlike :func:`vector_ops` it does not ask whether the
    connections could rank (a BLOB is written alike with sqlite-vec or
    without)."""
    return _REGISTRY.get(dialect.name, VectorOps)(dialect, config)


def engine_options(url: str | URL, *, is_async: bool) -> dict[str, Any]:
    """``create_engine`` options that vector search needs of an engine
    ``from_url`` makes for ``url`` (see ``VectorOps.engine_options``)."""
    parsed = normalize_url(url, is_async=is_async)
    return _REGISTRY.get(parsed.get_backend_name(), VectorOps).engine_options(parsed)


class VectorOps:
    """Embeddings as float32 BLOBs; exact search in Python, in batches.

    Attributes:
        ranks_in_sql: a search is one statement that ranks by
            :meth:`distance` in the database; otherwise the repository pages
            through the candidates and ranks them with :meth:`py_scorer`.
    """

    ranks_in_sql: ClassVar[bool] = False
    #: The database enforces ``ON DELETE CASCADE`` from the items: SQLite
    #: does only under ``PRAGMA foreign_keys=ON``, which is per connection
    #: and off by default, so the store deletes vectors itself there.
    cascades: ClassVar[bool] = False

    def __init__(self, dialect: Dialect, config: VectorConfig) -> None:
        self.dialect, self.config = dialect, config

    @classmethod
    def make(cls, dialect: Dialect, config: VectorConfig) -> VectorOps:
        return cls(dialect, config)

    @classmethod
    def engine_options(cls, url: URL) -> dict[str, Any]:
        """``create_engine`` options for a store's ``from_url`` engine."""
        return {}

    # -- the column ------------------------------------------------------------

    def embedding_type(self) -> TypeEngine[Any]:
        """The ``embedding`` column's type: a BLOB big enough for ``dims``
        float32 values (MySQL's plain BLOB stops at 64 KiB)."""
        return LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")

    def bind_vector(self, vector: Sequence[float]) -> Any:
        """``vector`` as the value bound to the column (and to a query)."""
        return to_blob(vector)

    def query_type(self) -> TypeEngine[Any]:
        """The type of a query vector bound as :meth:`bind_vector` made it."""
        return LargeBinary()

    def key(self, table_name: str) -> list[Any]:
        """The table's key: the official stores' primary key (prefix, key,
        field_name)."""
        return [
            PrimaryKeyConstraint(
                "prefix", "key", "field_name", name=f"{table_name}_pkey"
            )
        ]

    def now_default(self) -> TextClause:
        """The timestamps' server default (the official tables')."""
        return text("CURRENT_TIMESTAMP")

    def indexes(self, table: Table) -> list[Any]:
        """The ANN index(es) of ``table``, for ``setup()``."""
        return []

    # -- setup -----------------------------------------------------------------

    def prepare_setup(self) -> SubPlan:
        """What must exist before the table (pgvector's extension)."""
        return
        yield

    @classmethod
    def stored_embeddings(
        cls, table: Table, schema: str | None
    ) -> Generator[Step, Any, tuple[str, int | None]]:
        """What the existing ``table`` holds: the embeddings' type, as the
        database names it, and their dimension, None where nothing tells.

        A BLOB carries no dimension, so it is that of an embedding already
        stored: None for an empty table, which takes any."""
        result = yield Execute(select(func.length(table.c.embedding)).limit(1))
        length = result.scalar()
        return BLOB, None if length is None else length // 4

    def check_schema(self, table: Table, schema: str | None) -> SubPlan:
        """Refuse a table made for another configuration: embeddings of
        another dimension stored in it."""
        _, dims = yield from self.stored_embeddings(table, schema)
        if dims is not None and dims != self.config.dims:
            raise dims_mismatch(
                shown_name(table, schema),
                dims,
                self.config.dims,
                "the embeddings stored in it",
            )

    # -- copying between databases ----------------------------------------------

    def read_embedding(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """What a copy selects of the ``embedding`` column."""
        return column

    def to_float32(self, value: Any) -> bytes:
        """A value selected by :meth:`read_embedding` as little-endian
        float32 bytes, the form a copy carries between databases (compact:
        a page of embeddings is held in memory)."""
        return bytes(value)

    def bind_float32(self, blob: bytes) -> Any:
        """:meth:`to_float32`'s bytes as the value bound to the column."""
        return blob

    # -- search ----------------------------------------------------------------

    @property
    def uses_ann_index(self) -> bool:
        """A search is an approximate index scan (with a candidate LIMIT),
        not an exact ranking of every candidate."""
        return False

    def prepare_search(self) -> SubPlan:
        """Statements a search runs first, in its transaction (pgvector's
        ``ef_search``; loading sqlite-vec into the connection)."""
        return
        yield

    def own_sessions(self, driver: str) -> None:
        """The store made its engine (``from_url``) with ``driver``: no one
        else's code uses its connections, so their session settings are the
        store's to keep (see :attr:`one_statement_search`)."""

    @property
    def one_statement_search(self) -> bool:
        """Whether a search alone may run as one autocommitted statement,
        with nothing before it that needs its transaction."""
        return False

    def distance(
        self, embedding: ColumnElement[Any], query: ColumnElement[Any]
    ) -> ColumnElement[float]:
        """The distance of ``embedding`` to ``query``, smaller is closer
        (only where :attr:`ranks_in_sql`)."""
        raise NotImplementedError

    def score(self, distance: float) -> float:
        """A distance from :meth:`distance` as the score a search returns."""
        raise NotImplementedError

    def py_scorer(self, query: Sequence[float]) -> Callable[[bytes], float]:
        """The score of a stored embedding against ``query``, computed in
        Python, as the database-side score would be (higher is closer)."""
        q = [float(v) for v in query]
        q_norm = math.sqrt(_dot(q, q))
        distance = self.config.distance

        def scorer(blob: bytes) -> float:
            v = from_blob(blob)
            if distance == "inner_product":
                return _dot(q, v)
            if distance == "l2":
                return -math.sqrt(
                    sum((a - b) * (a - b) for a, b in zip(q, v, strict=True))
                )
            norms = q_norm * math.sqrt(_dot(v, v))
            return _dot(q, v) / norms if norms else 0.0

        return scorer


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


class VectorSchemaMismatch(ValueError):
    """The ``store_vectors`` table was made for another index configuration."""


def shown_name(table: Table, schema: str | None) -> str:
    """``table``'s name as a user would type it, in ``schema`` if given."""
    return f"{schema}.{table.name}" if schema else table.name


def dims_mismatch(
    shown: str, found: int, wanted: int, where: str
) -> VectorSchemaMismatch:
    return VectorSchemaMismatch(
        f"index['dims'] is {wanted}, but table {shown} holds "
        f"{found}-dimensional vectors ({where}). Embeddings of one model "
        f"can't be compared with another's: keep dims={found} (and the model "
        "that made them), or drop the table (DROP TABLE "
        f"{shown}), run setup() again, and put the items again to "
        "embed them with the new model."
    )


@register("mysql", "mariadb")
class MySQLVectorOps(VectorOps):
    """MariaDB 10.11 and MySQL 8 have no vector type (MariaDB's arrives in
    11.7): the portable exact search.

    The key differs: InnoDB indexes at most 3072 bytes, and ``store``'s key
    (prefix, key) already takes 3020 of them in utf8mb4, which leaves no room
    for ``field_name``. So (prefix, key) is a plain index, and a put keeps an
    item's vectors unique itself: it deletes them and inserts the new ones
    after its upsert of the item has locked the item's row, so two puts of
    one item take turns."""

    cascades: ClassVar[bool] = True

    def key(self, table_name: str) -> list[Any]:
        return [Index(f"{table_name}_item_idx", "prefix", "key")]

    def now_default(self) -> TextClause:
        # MySQL wants the default's precision to match DATETIME(6)'s.
        return text("CURRENT_TIMESTAMP(6)")
