"""Vector search on SQLite: sqlite-vec, when the connection can load it.

Embeddings are float32 BLOBs (as the official ``SqliteStore`` stores them)
and a search ranks them in SQL with sqlite-vec's distance functions: exact
search, in C. Loading an extension needs ``enable_load_extension``, which
many Python builds leave out of ``sqlite3`` (pyenv's and python.org's macOS
builds among them). Then:

- ``from_url`` engines use ``pysqlite3`` (the ``sqlite-vec`` extra installs
  ``pysqlite3-binary`` on Linux) in place of ``sqlite3``
  (:func:`engine_module`);
- an engine the caller made on such a ``sqlite3`` while ``pysqlite3`` is
  installed is refused with the fix (``create_engine(url,
  module=pysqlite3.dbapi2)``);
- otherwise (no sqlite-vec, or aiosqlite, which always uses ``sqlite3``) the
  store takes the portable exact search in Python and logs once why, and
  what would make it use sqlite-vec.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from langgraph.checkpoint.sqlalchemy.dialects.vectors import (
    SubPlan,
    VectorOps,
    register,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Call
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.codec import to_blob
from langgraph.checkpoint.sqlalchemy.repository.store.vectors.config import (
    VectorConfig,
)
from sqlalchemy import ColumnElement, Connection, func, literal
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.url import URL
from sqlalchemy.types import Float, LargeBinary

logger = logging.getLogger("langgraph.store.sqlalchemy")

EXTRA = "pip install 'langgraph-checkpoint-sqlalchemy[sqlite-vec]'"
_LOADED = "langgraph_sqlite_vec"
_warned: set[str] = set()


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def can_load_extensions(module: Any) -> bool:
    """Whether connections of the DBAPI ``module`` can load extensions."""
    return hasattr(getattr(module, "Connection", None), "enable_load_extension")


def engine_module() -> Any | None:
    """The DBAPI module a ``from_url`` SQLite engine of a store with an index
    should use: ``pysqlite3`` when this Python's ``sqlite3`` cannot load
    sqlite-vec; None to keep SQLAlchemy's choice."""
    import sqlite3

    if can_load_extensions(sqlite3) or not _installed("sqlite_vec"):
        return None
    if not _installed("pysqlite3"):
        return None
    import pysqlite3.dbapi2 as pysqlite3  # type: ignore[import-untyped,import-not-found,unused-ignore]

    return pysqlite3


def _why_not(dialect: Dialect) -> str | None:
    """Why ``dialect``'s connections can't use sqlite-vec, or None."""
    if not _installed("sqlite_vec"):
        return f"sqlite-vec is not installed ({EXTRA})"
    if dialect.driver == "aiosqlite":
        import sqlite3

        if can_load_extensions(sqlite3):
            return None
        return (
            "this Python's sqlite3 cannot load extensions, and aiosqlite has no "
            "other; use a Python whose sqlite3 has enable_load_extension (such "
            "as Debian's or Homebrew's), or the sync store with pysqlite3"
        )
    if can_load_extensions(dialect.dbapi):
        return None
    if _installed("pysqlite3"):
        raise ValueError(
            "vector search on SQLite needs sqlite-vec, which this engine's "
            "sqlite3 module cannot load (no enable_load_extension); pysqlite3 "
            "is installed and can: make the engine with "
            "create_engine(url, module=pysqlite3.dbapi2), or let the store make "
            "it (SQLAlchemyStore.from_url)"
        )
    return (
        "this Python's sqlite3 cannot load extensions; "
        f"{EXTRA} adds pysqlite3-binary, which can"
    )


@register("sqlite")
class SqliteVecOps(VectorOps):
    ranks_in_sql = True

    @classmethod
    def make(cls, dialect: Dialect, config: VectorConfig) -> VectorOps:
        why = _why_not(dialect)
        if why is None:
            return cls(dialect, config)
        if why not in _warned:
            _warned.add(why)
            logger.warning(
                "vector search on SQLite without sqlite-vec: %s. Searches rank "
                "exactly, in Python, reading the candidates in batches (correct, "
                "but slower on large stores).",
                why,
            )
        return VectorOps(dialect, config)

    @classmethod
    def engine_options(cls, url: URL) -> dict[str, Any]:
        # aiosqlite always opens sqlite3's connections: nothing to swap there.
        if url.get_driver_name() != "pysqlite":
            return {}
        module = engine_module()
        return {} if module is None else {"module": module}

    def prepare_search(self) -> SubPlan:
        yield Call(_load_sqlite_vec)

    def distance(
        self, embedding: ColumnElement[Any], query: ColumnElement[Any]
    ) -> ColumnElement[float]:
        distance = self.config.distance
        if distance == "cosine":
            return func.vec_distance_cosine(embedding, query, type_=Float())
        if distance == "l2":
            return func.vec_distance_l2(embedding, query, type_=Float())
        # sqlite-vec has no inner product: -a.q = (|a-q|^2 - |a|^2 - |q|^2) / 2,
        # its squares from Euclidean distances to q and to the zero vector.
        zero = literal(to_blob([0.0] * self.config.dims), LargeBinary())

        def squared(a: ColumnElement[Any], b: ColumnElement[Any]) -> Any:
            d = func.vec_distance_l2(a, b, type_=Float())
            return d * d

        return (  # type: ignore[no-any-return]
            squared(embedding, query) - squared(embedding, zero) - squared(query, zero)
        ) / 2.0

    def score(self, distance: float) -> float:
        if self.config.distance == "cosine":
            return 1.0 - distance
        return -distance


def _load_sqlite_vec(conn: Connection) -> None:
    """Load sqlite-vec into ``conn``'s DBAPI connection, once per connection."""
    fairy = conn.connection
    if fairy.info.get(_LOADED):
        return
    import sqlite_vec  # type: ignore[import-untyped,unused-ignore]

    path = sqlite_vec.loadable_path()
    dbapi: Any = fairy.dbapi_connection
    if hasattr(dbapi, "run_async"):  # aiosqlite, through SQLAlchemy's adapter
        dbapi.run_async(lambda c: c.enable_load_extension(True))
        try:
            dbapi.run_async(lambda c: c.load_extension(path))
        finally:
            dbapi.run_async(lambda c: c.enable_load_extension(False))
    else:
        dbapi.enable_load_extension(True)
        try:
            dbapi.load_extension(path)
        finally:
            dbapi.enable_load_extension(False)
    fairy.info[_LOADED] = True
