"""Hot statements, compiled once per saver and run on the DBAPI cursor.

``Connection.execute`` spends Python on every call before the driver sees
the statement: a cache-key lookup, an execution context, parameter
processing in general form, a result with its metadata. On loopback that is
more than the round trip itself (docs/performance.md), and a superstep makes three calls. The
statements of ``get_tuple``, ``put_writes`` and ``put`` are long-lived
objects (built once, see the repository's plans and ``dialects``), so they are compiled
here once per saver and then executed through ``Connection._cursor_execute``:
SQLAlchemy's own last step, which keeps its cursor events, echo, error
wrapping and disconnect handling (a lost connection still invalidates the
pool, so the retry policy sees the same errors).

Only what this module can run exactly as SQLAlchemy would is taken: a single
execution (not executemany), no post-compile or renamed parameters, no
RETURNING. Anything else falls back to ``Connection.execute``, and so does
everything where :mod:`.private_api` finds the private calls changed (or a
statement fails to compile here): slower, the same results.

No I/O happens here but through the ``Connection`` given.
"""

from __future__ import annotations

import contextlib
import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeGuard

from langgraph.checkpoint.sqlalchemy.runtime.private_api import CURSOR_EXECUTE
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import SelectBase

__all__ = ["CompiledStatements", "Rows"]

Processor = Callable[[Any], Any]
# Far more than the hot path has (a few statements per row count).
MAX_STATEMENTS = 512


class Rows(list[Any]):
    """The rows of one execution, with the few ``Result`` methods plans use."""

    rowcount: int = -1

    def first(self) -> Any:
        return self[0] if self else None

    def scalar(self) -> Any:
        return self[0][0] if self else None

    def all(self) -> list[Any]:
        return list(self)


class _Compiled:
    """One statement compiled for one dialect: its SQL, how to lay out its
    parameters, and how to decode its rows."""

    __slots__ = (
        "binds",
        "columns",
        "decoders",
        "defaults",
        "names",
        "positional",
        "row",
        "sql",
        "statement",
    )

    def __init__(
        self, statement: Executable, compiled: SQLCompiler, dialect: Dialect
    ) -> None:
        self.statement = statement  # keeps the id() it is cached under alive
        self.sql = compiled.string
        # Values bound into the statement itself (None for those the caller
        # supplies), in the names the SQL uses.
        self.defaults = dict(compiled.construct_params(_check=False))
        self.positional = compiled.positiontup is not None
        self.names: tuple[str, ...] = tuple(
            compiled.positiontup if compiled.positiontup is not None else self.defaults
        )
        binds: list[tuple[str, Processor]] = []
        for name, bind in compiled.binds.items():
            if name not in self.defaults:
                continue  # an anonymous parameter's key; its SQL name is here too
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                binds.append((name, proc))
        self.binds = tuple(binds)
        self.columns: tuple[Any, ...] = ()
        self.row: Any = None
        if isinstance(statement, SelectBase):
            self.columns = tuple(statement.selected_columns)
            self.row = namedtuple(  # type: ignore[misc]
                "Row", [c.name for c in self.columns], rename=True
            )
        # Built from the first cursor.description (result processors may
        # depend on the driver's type codes, as in SQLAlchemy).
        self.decoders: list[tuple[int, Processor]] | None = None

    def parameters(self, values: Mapping[str, Any] | None) -> Any:
        params = dict(self.defaults)
        if values:
            params.update(values)
        for name, proc in self.binds:
            params[name] = proc(params[name])
        if self.positional:
            return tuple(params[name] for name in self.names)
        return params

    def decode(self, cursor: Any, dialect: Dialect) -> Rows:
        # Only a SELECT returns rows here (RETURNING is never hot). Asking the
        # cursor instead costs more than it seems: psycopg builds
        # ``description`` anew, one object per column, at every access.
        if not self.columns:
            rows = Rows()
            rows.rowcount = cursor.rowcount
            return rows
        if self.decoders is None:
            decoders = []
            for i, (column, described) in enumerate(
                zip(self.columns, cursor.description, strict=True)
            ):
                impl = column.type.dialect_impl(dialect)
                proc = impl.result_processor(dialect, described[1])
                if proc is not None:
                    decoders.append((i, proc))
            self.decoders = decoders
        make, decoders = self.row._make, self.decoders
        rows = Rows()
        for raw in cursor.fetchall():
            if decoders:
                raw = list(raw)
                for i, proc in decoders:
                    # NULL stays None through every processor of our columns,
                    # and most cells of get_tuple's UNION are NULL: a call
                    # per cell (two, in SQLite's JSON) cost more than a test.
                    if raw[i] is not None:
                        raw[i] = proc(raw[i])
            rows.append(make(raw))
        rows.rowcount = cursor.rowcount
        return rows


class CompiledStatements:
    """The hot statements of one saver, compiled for its dialect and schema.

    Statements are cached by identity: only long-lived statement objects
    (module-level, or from a ``functools.cache`` builder) are brought here,
    so the cache is as small as the set of hot statements.
    """

    def __init__(
        self,
        dialect: Dialect,
        schema_translate_map: Mapping[Any, Any] | None,
        setup_cursor: Callable[[Any], None] | None = None,
    ) -> None:
        self.dialect = dialect
        self.schema_translate_map = schema_translate_map
        # Applied to each new cursor (see dialects.binary_results).
        self.setup_cursor = setup_cursor
        # Where each DBAPI connection keeps its hot-statement cursor: one per
        # cursor set-up, so that savers on one engine share it (each job has
        # the connection to itself, whichever saver runs it).
        self._cursor_key = ("langgraph.checkpoint.sqlalchemy.cursor", setup_cursor)
        self._compiled: dict[tuple[int, tuple[str, ...]], _Compiled | None] = {}
        self._lock = threading.Lock()

    def get(
        self, statement: Executable, params: Mapping[str, Any] | None
    ) -> _Compiled | None:
        """``statement`` compiled, or None when it must go through
        ``Connection.execute``."""
        if not CURSOR_EXECUTE:
            return None
        key = (id(statement), tuple(params or ()))
        try:
            return self._compiled[key]
        except KeyError:
            pass
        with self._lock:
            if len(self._compiled) >= MAX_STATEMENTS:
                # Builders' caches are bounded, so an evicted statement may
                # come back as a new object: never let the ids pile up.
                self._compiled.clear()
            if key not in self._compiled:
                self._compiled[key] = self._compile(statement, params)
            return self._compiled[key]

    def _compile(
        self, statement: Executable, params: Mapping[str, Any] | None
    ) -> _Compiled | None:
        # Rows are decoded by the SELECT's own columns (see _Compiled.decode),
        # so only SELECTs and DML without RETURNING may run here.
        if not isinstance(statement, (SelectBase, UpdateBase)):
            return None
        try:
            compiled = statement.compile(
                dialect=self.dialect,
                column_keys=list(params or ()),
                schema_translate_map=self.schema_translate_map,
                render_schema_translate=bool(self.schema_translate_map),
            )
            if not isinstance(compiled, SQLCompiler) or (
                compiled.post_compile_params
                or compiled.literal_execute_params
                or compiled.escaped_bind_names
                or getattr(compiled, "effective_returning", None)
            ):
                return None
            return _Compiled(statement, compiled, self.dialect)
        except (AttributeError, TypeError):
            # The compiler's attributes read above are not public API: where a
            # release changed them, this statement takes the public route.
            return None

    def execute(
        self,
        conn: Connection,
        compiled: _Compiled,
        values: Mapping[str, Any] | None,
    ) -> Rows:
        """Run ``compiled`` with ``values`` on ``conn``'s DBAPI connection."""
        params = compiled.parameters(values)
        cursor = self._cursor(conn)
        try:
            # SQLAlchemy's last step of every execution: cursor events, echo,
            # and on error the wrapping and pool invalidation of any other.
            conn._cursor_execute(cursor, compiled.sql, params)
            try:
                return compiled.decode(cursor, self.dialect)
            except self.dialect.loaded_dbapi.Error as exc:
                conn._handle_dbapi_exception(exc, compiled.sql, params, cursor, None)
                raise  # it always raises; should that change, still fail
        except BaseException:
            # After a failure (or an interruption mid-statement) the cursor
            # may hold anything: the next statement gets a new one.
            self._drop_cursor(conn)
            raise

    def _cursor(self, conn: Connection) -> Any:
        """The DBAPI connection's cursor for hot statements, made once.

        A new psycopg cursor starts with empty adaptation caches, so a
        statement on one costs measurably more than on a cursor that has run
        it before (docs/performance.md). The pooled connection's ``info`` lives exactly as long as
        the DBAPI connection (it is cleared when that is closed or
        invalidated), and one job at a time has the connection, so a cursor
        kept there is never shared or outlives its connection. (A psycopg
        cursor holds its last result until the next statement: each idle
        connection keeps one, bounded by the pool's size.)"""
        info = conn.connection.info
        cursor = info.get(self._cursor_key)
        if cursor is None:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            if self.setup_cursor is not None:
                self.setup_cursor(cursor)
            info[self._cursor_key] = cursor
        return cursor

    def _drop_cursor(self, conn: Connection) -> None:
        if conn.invalidated or conn.closed:
            return  # its info went with the DBAPI connection
        cursor = conn.connection.info.pop(self._cursor_key, None)
        if cursor is not None:
            with contextlib.suppress(Exception):  # a broken cursor, dropped
                cursor.close()


def is_single(
    params: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None,
) -> TypeGuard[Mapping[str, Any] | None]:
    """Parameters for one execution (not an executemany)."""
    return params is None or isinstance(params, Mapping)
