"""The portable path, and the registry of the databases that differ from it.

:class:`DialectOps` here is what an unknown dialect gets: no native upsert
(select-then-write inside the plan's transaction), length-checked keys,
metadata filters through ``json_each``, no setup lock, SQLAlchemy's
transactions as they come (only the pool hands out its most recent
connection first). Each database with something of its own
(``postgresql.py``, ``sqlite.py``, ``mysql.py``) subclasses it and registers
the subclass under its dialect names; :func:`ops_class` finds it. The
functions of this module answer the rest of the package's questions about an
engine or a URL by asking that class, so that no other module need branch on
a dialect's name (see the package's docstring for what still carries one).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, TypeVar

from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Step
from langgraph.checkpoint.sqlalchemy.runtime.private_api import CURSOR_EXECUTE
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    event,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolResetState, QueuePool
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TableValuedAlias

SubPlan = Generator[Step, Any, None]

# -- the registry --------------------------------------------------------------

_REGISTRY: dict[str, type[DialectOps]] = {}
# Other names a URL may give a backend (``postgres://``), to the dialect name.
_URL_ALIASES: dict[str, str] = {}

OpsT = TypeVar("OpsT", bound="type[DialectOps]")


def register(*names: str, aliases: Iterable[str] = ()) -> Callable[[OpsT], OpsT]:
    """Class decorator: ``names`` are SQLAlchemy dialect names the class
    serves; ``aliases`` are URL backend names that mean the first of them."""

    def add(cls: OpsT) -> OpsT:
        for name in names:
            _REGISTRY[name] = cls
        for alias in aliases:
            _URL_ALIASES[alias] = names[0]
        return cls

    return add


def ops_class(name: str) -> type[DialectOps]:
    """The :class:`DialectOps` class for the dialect (or URL backend) ``name``;
    the portable one for a dialect not registered."""
    return _REGISTRY.get(_URL_ALIASES.get(name, name), DialectOps)


def _of_url(url: URL) -> type[DialectOps]:
    return ops_class(url.get_backend_name())


def _registered() -> list[type[DialectOps]]:
    return list(dict.fromkeys(_REGISTRY.values()))


# -- the strategy --------------------------------------------------------------


@dataclass(frozen=True)
class DialectOps:
    """The database-specific pieces of every statement, computed once.

    Attributes:
        name: SQLAlchemy's dialect name.
        native_upsert: whether single-statement insert-or-ignore/upsert exist.
            When false (an unknown dialect, or forced for tests) a portable
            select-then-write sequence is used inside the plan's transaction.
        bounded_keys: whether key columns are ``VARCHAR(n)``; then values are
            length-checked before they reach a server that might truncate them.
        json_tables: whether a JSON table function can join a checkpoint to
            its blobs in SQL (see :attr:`one_statement_reads`).
    """

    name: str
    native_upsert: bool
    json_tables: bool

    # What a subclass has; ``force_portable`` turns the first two off.
    has_native_upsert: ClassVar[bool] = False
    has_json_tables: ClassVar[bool] = False
    bounded_keys: ClassVar[bool] = True

    # -- facts about the database, for the rest of the package ---------------

    #: Whether the database has schemas (``CREATE SCHEMA``, ``--schema``).
    has_schemas: ClassVar[bool] = True
    #: Whether one writer at a time holds the whole database, so a saver's
    #: writers take turns in the process rather than in the database.
    single_writer: ClassVar[bool] = False
    #: A transactional isolation level the database accepts, for messages.
    example_isolation_level: ClassVar[str] = "READ COMMITTED"
    #: Whether Alembic must alter tables by copying them (no ALTER for it).
    batch_alter: ClassVar[bool] = False
    #: The drivers a URL that names only the database gets: (sync, async).
    default_drivers: ClassVar[tuple[str, str] | None] = None
    #: Sync drivers, and the async driver that reads the same URL.
    async_twins: ClassVar[Mapping[str, str]] = {}
    #: Async drivers, and the sync driver that reads the same URL (for tools,
    #: such as Alembic's command line, that need a sync engine).
    sync_twins: ClassVar[Mapping[str, str]] = {}

    # -- how statements are shaped ---------------------------------------------

    #: Whether to join a checkpoint's blobs to its channel versions with an
    #: outer join (see ``sqlite.py``).
    outer_join_keeps_order: ClassVar[bool] = False
    #: Whether to fetch a checkpoint's blobs with one ``LATERAL`` primary key
    #: lookup per channel version (see ``postgresql.py``).
    blobs_by_lateral_lookup: ClassVar[bool] = False
    #: Whether ``setup()`` runs statement by statement, each committed (see
    #: ``mysql.py``). Elsewhere DDL is transactional: one transaction, all or
    #: nothing.
    setup_autocommits: ClassVar[bool] = False
    #: A query for the largest statement the server accepts, where there is
    #: such a limit and the server drops the connection past it instead of
    #: answering with an error (see ``mysql.py``).
    packet_limit: ClassVar[Executable | None] = None
    #: Whether ``SELECT … FOR UPDATE SKIP LOCKED`` exists, so that TTL
    #: sweepers in several processes each take rows no other one holds
    #: (PostgreSQL; MySQL 8 and MariaDB 10.6 on). Without it (SQLite, one
    #: writer at a time) a sweep batch is one writing transaction.
    skip_locked: ClassVar[bool] = False
    #: Whether :meth:`delete_oldest` is one statement, atomic by itself, so
    #: that a sweep batch needs no BEGIN/COMMIT around it (PostgreSQL).
    #: Not SQLite's: a write that reads first, outside ``BEGIN IMMEDIATE``,
    #: fails at once when another writer got in between, instead of waiting.
    sweeps_in_one_statement: ClassVar[bool] = False
    #: How deeply a JSON document may nest, where the database has a limit
    #: below what a Python value can reach (checked before a store's put).
    json_depth_limit: ClassVar[int | None] = None
    #: Whether :meth:`store_filter_shape` exists: a store filter built once
    #: per shape, its key and value bound by name, so that a statement
    #: holding it can be long-lived (a ranked vector search's). Without it,
    #: searches build their filters with the values, every time.
    shaped_filters: ClassVar[bool] = False

    @property
    def forced_portable(self) -> bool:
        """Whether ``force_portable`` turned this database's own paths off,
        so that it takes an unknown dialect's (to test those on SQLite)."""
        return (self.native_upsert, self.json_tables) != (
            self.has_native_upsert,
            self.has_json_tables,
        )

    # -- how many statements an operation takes ------------------------------

    @property
    def one_statement_reads(self) -> bool:
        """``get_tuple`` in one statement (needs a JSON table function)."""
        return self.json_tables

    def one_statement_put(self, blob_count: int) -> bool:
        """A ``put`` in one statement: only a put with no new blob is one
        upsert, unless the database can carry the blobs along."""
        return self.native_upsert and blob_count == 0

    def one_statement_writes(self, row_count: int) -> bool:
        """A ``put_writes`` in one statement: one multi-row insert (SQLAlchemy
        splits an executemany past 1000 rows, so stay well below)."""
        return self.native_upsert and row_count <= 100

    def channel_versions(self, document: ColumnElement[Any]) -> TableValuedAlias:
        """The (key, value) rows of ``document["channel_versions"]`` as text,
        for joining a checkpoint to its blobs in SQL.

        The path is a literal, not a bound parameter: a constant of ours, and
        SQLite plans a table-valued function with a known path much faster
        (docs/performance.md)."""
        return func.json_each(
            document, literal_column("'$.channel_versions'")
        ).table_valued("key", "value")

    # -- writes ------------------------------------------------------------

    def insert_ignore(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> SubPlan:
        """Insert ``rows``; a row whose primary key exists is left as it is."""
        if not rows:
            return
        if self.native_upsert:
            yield self._native_insert(table, rows, None)
        else:
            keys = key_names(table)
            missing = yield from self._missing_rows(table, keys, rows)
            if missing:
                yield Execute(insert(table), missing)

    def upsert(
        self,
        table: Table,
        rows: Sequence[Mapping[str, Any]],
        update: Sequence[str],
    ) -> SubPlan:
        """Insert ``rows``; where the key exists, overwrite the ``update`` columns."""
        if not rows:
            return
        if self.native_upsert:
            yield self._native_insert(table, rows, tuple(update))
        else:
            # Portable: clear the rows that exist, then insert all of them. Both
            # run in the caller's transaction, so nobody sees the gap.
            keys = key_names(table)
            present = yield from self._present_keys(table, keys, rows)
            if present:
                yield Execute(
                    delete(table).where(
                        tuple_(*(table.c[k] for k in keys)).in_(sorted(present))
                    )
                )
            yield Execute(insert(table), rows)

    def insert_statement(
        self,
        table: Table,
        update: tuple[str, ...] | None,
        columns: tuple[str, ...] = (),
        rows: int = 0,
    ) -> Executable:
        """The native ``INSERT`` into ``table`` ignoring rows whose key exists
        (``update`` None) or overwriting their ``update`` columns. With
        ``rows``, the ``columns`` of that many rows as a ``VALUES`` list bound
        as ``{column}_{i}``; without, one row or an executemany. Built once
        per arguments (cached by each database's module): building an
        ``INSERT … ON CONFLICT`` costs more than running it, and SQLAlchemy's
        compiled cache hits on the same object."""
        return _insert_statement(self.name, table, update, columns, rows)

    @staticmethod
    def insert_into(table: Table) -> Any:
        """The database's own ``INSERT`` construct for ``table``."""
        raise NotImplementedError("no native upsert here")

    @staticmethod
    def on_key_exists(
        stmt: Any, table: Table, update: tuple[str, ...] | None
    ) -> Executable:
        """``stmt`` (from :meth:`insert_into`) ignoring rows whose key exists
        (``update`` None) or overwriting their ``update`` columns."""
        raise NotImplementedError("no native upsert here")

    def _native_insert(
        self,
        table: Table,
        rows: Sequence[Mapping[str, Any]],
        update: tuple[str, ...] | None,
    ) -> Execute:
        """One statement inserting ``rows``, ignoring (``update`` None) or
        updating the ``update`` columns of rows whose key exists.

        Up to ``VALUES_ROWS`` rows with the same columns are one execution of
        a cached statement (a ``hot`` one: a multi-row ``VALUES`` for several
        rows); more are an executemany."""
        n = len(rows)
        columns = tuple(rows[0])
        if n == 1:
            return Execute(self.insert_statement(table, update), rows[0], hot=True)
        if n <= VALUES_ROWS and all(tuple(r) == columns for r in rows):
            params = {
                name: r[c]
                for r, names in zip(rows, _row_names(columns, n), strict=True)
                for c, name in zip(columns, names, strict=True)
            }
            return Execute(
                self.insert_statement(table, update, columns, n), params, hot=True
            )
        return Execute(self.insert_statement(table, update), rows)

    def insert_ignore_then_upsert(
        self,
        first: Table,
        first_rows: Sequence[Mapping[str, Any]],
        table: Table,
        row: Mapping[str, Any],
        update: Sequence[str],
    ) -> SubPlan:
        """:meth:`insert_ignore` of ``first_rows`` into ``first``, then
        :meth:`upsert` of ``row`` into ``table``."""
        yield from self.insert_ignore(first, first_rows)
        yield from self.upsert(table, [row], update)

    def _present_keys(
        self, table: Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]
    ) -> Generator[Step, Any, set[tuple[Any, ...]]]:
        wanted = {tuple(row[k] for k in keys) for row in rows}
        key_cols = [table.c[k] for k in keys]
        result = yield Execute(select(*key_cols).where(tuple_(*key_cols).in_(wanted)))
        return {tuple(r) for r in result}

    def _missing_rows(
        self, table: Table, keys: Sequence[str], rows: Sequence[Mapping[str, Any]]
    ) -> Generator[Step, Any, list[Mapping[str, Any]]]:
        present = yield from self._present_keys(table, keys, rows)
        missing: dict[tuple[Any, ...], Mapping[str, Any]] = {}
        for row in rows:
            key = tuple(row[k] for k in keys)
            if key not in present:
                missing.setdefault(key, row)
        return list(missing.values())

    # -- TTL sweeps ------------------------------------------------------------

    def delete_oldest(
        self,
        table: Table,
        oldest: Select[Any],
        still_due: ColumnElement[bool],
        dependents: Sequence[Table] = (),
    ) -> Generator[Step, Any, tuple[int, int]]:
        """One batch of a TTL sweep, in the caller's transaction: delete the
        rows of ``table`` that ``oldest`` picks (a select of its key columns,
        ordered and limited) and for which ``still_due`` holds when they are
        deleted, with their rows in ``dependents`` (tables with the same key
        column names that the database does not clear by cascade). Returns
        how many rows it picked and how many it deleted.

        Where ``skip_locked``, the picked rows are locked and rows another
        transaction holds are skipped, so that sweepers never block on each
        other nor delete a row twice. Portable: the keys are picked, then
        deleted by list, then the dependents' rows whose parent is gone."""
        if self.skip_locked:
            oldest = oldest.with_for_update(skip_locked=True)
        keys = [tuple(row) for row in (yield Execute(oldest))]
        if not keys:
            return 0, 0
        names = [c.name for c in oldest.selected_columns]
        deleted = yield Execute(
            delete(table).where(
                tuple_(*(table.c[n] for n in names)).in_(keys), still_due
            )
        )
        for dependent in dependents:
            yield Execute(
                delete(dependent).where(
                    tuple_(*(dependent.c[n] for n in names)).in_(keys),
                    ~exists().where(same_key(table, dependent, names)),
                )
            )
        return len(keys), max(deleted.rowcount, 0)

    # -- metadata ----------------------------------------------------------

    def metadata_matches(
        self, column: ColumnElement[Any], filter: Mapping[str, Any]
    ) -> ColumnElement[bool]:
        """A predicate: the metadata document in ``column`` matches ``filter``.

        Keys and values are always bound parameters. Here each key is compared
        through ``json_each`` (SQLite's, and the portable guess), so that no
        JSON path is ever built from a key; nested objects match by equality.
        """
        if not filter:
            return true()
        return and_(*(self._key_matches(column, k, v) for k, v in filter.items()))

    @staticmethod
    def _key_matches(
        column: ColumnElement[Any], key: str, value: Any
    ) -> ColumnElement[bool]:
        entry = func.json_each(column).table_valued("key", "value", "type")
        if value is None:
            matches: ColumnElement[bool] = entry.c.type == "null"
        elif isinstance(value, bool):
            matches = entry.c.type == ("true" if value else "false")
        elif isinstance(value, (int, float)):
            # Numbers compare as numbers, 1 == 1.0, as in PostgreSQL's JSONB.
            matches = and_(
                or_(entry.c.type == "integer", entry.c.type == "real"),
                entry.c.value == value,
            )
        elif isinstance(value, str):
            matches = and_(entry.c.type == "text", entry.c.value == value)
        else:
            canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
            matches = func.json(entry.c.value) == func.json(literal(canonical))
        return exists(
            select(literal(1)).select_from(entry).where(entry.c.key == key, matches)
        )

    # -- the store's value filters ---------------------------------------------

    def store_filter(
        self, column: ColumnElement[Any], key: str, operator: str, value: Any
    ) -> ColumnElement[bool]:
        """A predicate on the JSON document in ``column``: its top-level
        ``key`` compared with ``value`` by ``operator`` (``$eq $ne $gt $gte
        $lt $lte``; the caller checked it, and that ordering operators get a
        number or a string). Keys and values are bound parameters.

        Here through ``json_each`` (SQLite's, and the portable guess), as
        :meth:`metadata_matches`: no JSON path is built from a key. Numbers
        order as numbers and strings as strings (by code point); a value of
        another JSON type never matches an ordering operator. ``$ne`` also
        matches an item that lacks ``key``, as LangGraph's in-memory store.
        """
        if operator in ("$eq", "$ne"):
            equal = self._key_matches(column, key, value)
            return equal if operator == "$eq" else ~equal
        entry = func.json_each(column).table_valued("key", "value", "type")
        types = ("text",) if isinstance(value, str) else ("integer", "real")
        return exists(
            select(literal(1))
            .select_from(entry)
            .where(
                entry.c.key == key,
                entry.c.type.in_(types),
                compare(entry.c.value, operator, value),
            )
        )

    def store_filter_shape(
        self, column: ColumnElement[Any], operator: str, kind: str, name: str
    ) -> ColumnElement[bool]:
        """:meth:`store_filter` for any key and any value of ``kind``
        (:func:`filter_kind`), with parameters named after ``name`` whose
        values :meth:`store_filter_params` gives (only where
        :attr:`shaped_filters`)."""
        raise NotImplementedError

    def store_filter_params(
        self, name: str, key: str, operator: str, value: Any
    ) -> dict[str, Any]:
        """The parameters of :meth:`store_filter_shape`'s predicate ``name``
        for ``key`` and ``value``."""
        raise NotImplementedError

    # -- schema ------------------------------------------------------------

    def setup_lock(self) -> tuple[Executable, Executable | None] | None:
        """Statements that take and release the lock serializing concurrent
        ``setup()`` calls, if the database has one. Taking it returns 1 once
        held (anything else: it could not be had). Without one, ``setup()``
        retries instead."""
        return None

    # -- engines -------------------------------------------------------------
    # Class methods: they concern an engine (or its URL), not a saver.

    @classmethod
    def is_memory(cls, url: URL) -> bool:
        """Whether ``url`` is a database that lives and dies with its connection."""
        return False

    @classmethod
    def database_file(cls, url: URL) -> str | None:
        """The path of the file that is ``url``'s database, if it is one."""
        return None

    @classmethod
    def engine_options(
        cls, url: URL, poolclass: type
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``create_engine`` options, and ``connect_args``, for an engine
        ``from_url`` makes with ``poolclass``."""
        options: dict[str, Any] = {}
        if issubclass(poolclass, QueuePool):
            # The most recently used connection first: a saver called in
            # sequence keeps reusing one warm server process (its plan and
            # catalog caches hot) instead of cycling through the pool, and
            # spare connections stay idle long enough for server-side
            # timeouts to reclaim them.
            options["pool_use_lifo"] = True
            # Ten connections, none beyond: an overflow connection is closed
            # at its check-in whenever the pool is full, so under many
            # concurrent calls (short transactions, each) SQLAlchemy's
            # default of 5 + 10 overflow kept opening and closing server
            # sessions; a call that finds all ten busy waits for one
            # (pool_timeout) instead. Measured: docs/performance.md.
            options["pool_size"] = 10
            options["max_overflow"] = 0
        return options, {}

    @classmethod
    def checks_in_by_status(cls, url: URL, options: Mapping[str, Any]) -> bool:
        """Whether the connections of an engine made with ``options``
        autocommit at the driver, and the driver tells without a round trip
        whether one is in a transaction; then a check-in rolls back only a
        transaction left open (``reset_listener``)."""
        return False

    @classmethod
    def tune_engine(cls, engine: Engine, url: URL, options: Mapping[str, Any]) -> None:
        """Per-connection settings for an engine ``from_url`` made with ``options``."""
        if options.get("pool_reset_on_return", "rollback") is None and (
            cls.checks_in_by_status(url, options)
        ):
            event.listen(engine, "reset", cls.reset_listener)

    @staticmethod
    def in_transaction(driver_connection: Any) -> bool:
        """Whether the driver's connection is in a transaction, by its own
        bookkeeping (no round trip); only asked where
        :meth:`checks_in_by_status` says so."""
        return True

    @classmethod
    def reset_listener(
        cls, dbapi_connection: Any, _record: Any, state: PoolResetState
    ) -> None:
        """The pool's check-in reset (``pool_reset_on_return=None`` otherwise):
        roll back a transaction left open, as SQLAlchemy's default would, and
        skip the rollback of an idle connection: nearly every check-in follows
        a committed or single statement, and on the async drivers that
        rollback of nothing was still a trip through the event loop."""
        if (
            state.transaction_was_reset
            or state.terminate_only
            or not state.asyncio_safe
        ):
            return  # already reset, or about to be closed
        driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
        if cls.in_transaction(driver):
            dbapi_connection.rollback()

    # -- drivers ---------------------------------------------------------------
    # Asked of every registered class, whatever the engine's dialect: a
    # driver's exceptions and cursors are its own on any dialect that uses it.

    @staticmethod
    def lost_a_race(orig: BaseException | None) -> bool:
        """Whether the driver exception ``orig`` says that the server rolled
        the transaction back for losing a race with a concurrent one."""
        return False

    @staticmethod
    def binary_results(driver: str) -> Callable[[Any], None] | None:
        """How to ask a cursor of ``driver`` for binary results, if it can."""
        return None

    @classmethod
    def first_connection_check(
        cls, engine: Engine
    ) -> Callable[[Connection], None] | None:
        """What to check once on the first connection a saver gets from
        ``engine`` (its own, or the caller's), or None."""
        return None

    @staticmethod
    def explain(error: DBAPIError) -> Exception | None:
        """An error that says what to do about the driver error ``error``,
        where the driver's own message would not, or None."""
        return None


# -- statements built once -----------------------------------------------------


def filter_kind(value: Any) -> str:
    """What of a store filter's value decides the form of its predicate:
    ``container`` (a JSON object or array), ``str``, or ``scalar`` (a
    number, a boolean, null)."""
    if isinstance(value, (dict, list)):
        return "container"
    return "str" if isinstance(value, str) else "scalar"


def compare(left: ColumnElement[Any], operator: str, value: Any) -> ColumnElement[bool]:
    """``left`` ordered against the bound ``value`` by a filter's ``$gt``,
    ``$gte``, ``$lt`` or ``$lte``."""
    result: ColumnElement[bool]
    if operator == "$gt":
        result = left > value
    elif operator == "$gte":
        result = left >= value
    elif operator == "$lt":
        result = left < value
    elif operator == "$lte":
        result = left <= value
    else:
        raise ValueError(f"not an ordering operator: {operator!r}")
    return result


def same_key(table: Table, other: Any, names: Sequence[str]) -> ColumnElement[bool]:
    """``table``'s row and ``other``'s (a table or a CTE) have the same key."""
    return and_(*(table.c[n] == other.c[n] for n in names))


def key_names(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


# Up to this many rows ride along as a VALUES list, one parameter per value;
# more as an executemany (or, on PostgreSQL, one array per column).
VALUES_ROWS = 32


@functools.lru_cache(maxsize=8 * VALUES_ROWS)
def _insert_statement(
    name: str,
    table: Table,
    update: tuple[str, ...] | None,
    columns: tuple[str, ...],
    rows: int,
) -> Executable:
    kind = ops_class(name)
    stmt = with_rows(kind.insert_into(table), table, columns, rows)
    return kind.on_key_exists(stmt, table, update)


@functools.lru_cache(maxsize=8 * VALUES_ROWS)
def _row_names(columns: tuple[str, ...], rows: int) -> tuple[tuple[str, ...], ...]:
    """The parameter names :func:`with_rows` binds, row by row."""
    return tuple(tuple(f"{c}_{i}" for c in columns) for i in range(rows))


def with_rows(stmt: Any, table: Table, columns: tuple[str, ...], rows: int) -> Any:
    """``stmt`` (an INSERT) with ``rows`` rows of ``columns`` as a ``VALUES``
    list bound as ``{column}_{i}``; as it is when ``rows`` is 0."""
    if not rows:
        return stmt
    return stmt.values(
        [
            {
                c: bindparam(name, type_=table.c[c].type)
                for c, name in zip(columns, names, strict=True)
            }
            for names in _row_names(columns, rows)
        ]
    )


def on_conflict(stmt: Any, table: Table, update: tuple[str, ...] | None) -> Executable:
    """``stmt … ON CONFLICT (key) DO NOTHING`` (``update`` None) or ``DO
    UPDATE`` of the ``update`` columns: the syntax PostgreSQL and SQLite share."""
    keys = key_names(table)
    if update is None:
        return stmt.on_conflict_do_nothing(index_elements=keys)  # type: ignore[no-any-return]
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=keys, set_={c: stmt.excluded[c] for c in update}
    )


# -- explicit BEGIN ------------------------------------------------------------

# Execution options that the ``begin`` listener of a tuned engine reads: no
# BEGIN at all (one statement), or a BEGIN for reads.
NO_BEGIN = "langgraph_checkpoint_no_begin"
READ_ONLY = "langgraph_checkpoint_read_only"
_BEGIN_LISTENERS: list[Callable[[Connection], None]] = []


def first_row(dbapi_connection: Any, sql: str) -> Any:
    """The first row of ``sql`` on a raw DBAPI connection, for the
    per-connection probes of ``connect`` listeners (no SQLAlchemy
    ``Connection`` exists yet there)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchone()
    finally:
        cursor.close()


def begin_listener(writer_begin: str) -> Callable[[Connection], None]:
    """A ``begin`` listener for an engine whose connections autocommit at the
    driver: it sends ``writer_begin`` for a read-write transaction, ``BEGIN``
    for a read-only one, nothing for a one-statement job."""

    def begin_explicitly(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT" or options.get(NO_BEGIN):
            return
        begin = "BEGIN" if options.get(READ_ONLY) else writer_begin
        if not CURSOR_EXECUTE:
            # SQLAlchemy's documented recipe for a BEGIN of one's own.
            conn.exec_driver_sql(begin)
            return
        # On the cursor, as the hot statements run (see runtime.compiled): a full
        # execution would cost more than the BEGIN itself. _cursor_execute
        # keeps SQLAlchemy's error wrapping ("database is locked" and all).
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            conn._cursor_execute(cursor, begin, ())
        finally:
            cursor.close()

    _BEGIN_LISTENERS.append(begin_explicitly)
    return begin_explicitly


def autocommits_at_driver(engine: Engine) -> bool:
    """Whether ``engine``'s connections autocommit at the driver and begin a
    transaction only when SQLAlchemy begins one (:func:`tune_engine` set it
    up): a single statement then needs neither BEGIN nor COMMIT."""
    return any(event.contains(engine, "begin", b) for b in _BEGIN_LISTENERS)


# -- what the rest of the package asks -----------------------------------------


def dialect_ops(dialect: Dialect, *, force_portable: bool = False) -> DialectOps:
    """The :class:`DialectOps` for ``dialect``.

    ``force_portable`` takes the path an unknown dialect would take (no native
    upsert, no JSON operators beyond SQLite's), to test it on SQLite.
    """
    kind = ops_class(dialect.name)
    return kind(
        dialect.name,
        native_upsert=kind.has_native_upsert and not force_portable,
        json_tables=kind.has_json_tables and not force_portable,
    )


def has_schemas(dialect: Dialect) -> bool:
    """Whether ``dialect``'s database has schemas to create and look into."""
    return ops_class(dialect.name).has_schemas


def batch_alter(dialect: Dialect) -> bool:
    """Whether Alembic must alter tables of ``dialect`` in batch mode."""
    return ops_class(dialect.name).batch_alter


def example_isolation_level(dialect: Dialect) -> str:
    """A transactional isolation level that ``dialect`` accepts, for messages."""
    return ops_class(dialect.name).example_isolation_level


def normalize_url(url: str | URL, *, is_async: bool) -> URL:
    """Parse ``url`` and give a bare ``postgresql://``-style URL its default driver.

    ``postgresql``/``postgres`` → psycopg 3 (sync and async), ``sqlite`` →
    pysqlite (sync) or aiosqlite (async), ``mysql``/``mariadb`` → PyMySQL (sync)
    or asyncmy (async). A URL that names a driver keeps it, except that the
    async saver swaps a sync-only driver for its async twin (``+pymysql`` →
    ``+asyncmy``, ``+pysqlite`` → ``+aiosqlite``), so one URL serves both.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    backend = _URL_ALIASES.get(parsed.get_backend_name(), parsed.get_backend_name())
    kind = ops_class(backend)
    if "+" in parsed.drivername:
        driver = parsed.get_driver_name()
        if is_async:
            driver = kind.async_twins.get(driver, driver)
        return parsed.set(drivername=f"{backend}+{driver}")
    if kind.default_drivers is None:
        return parsed.set(drivername=backend)
    default = kind.default_drivers[1 if is_async else 0]
    return parsed.set(drivername=f"{backend}+{default}")


def sync_url(url: str | URL) -> URL:
    """``url`` with its async driver, if any, swapped for the matching sync one."""
    parsed = normalize_url(url, is_async=False)
    twin = _of_url(parsed).sync_twins.get(parsed.get_driver_name())
    if twin is None:
        return parsed
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{twin}")


def is_memory_database(url: URL) -> bool:
    """Whether ``url`` is an in-memory database (one per connection)."""
    return _of_url(url).is_memory(url)


def database_file(url: URL) -> str | None:
    """The path of the file that is ``url``'s database (a SQLite file named
    by path, not in memory nor a ``file:`` URI), or None."""
    return _of_url(url).database_file(url)


def same_database(a: URL, b: URL) -> bool:
    """Whether ``a`` and ``b`` certainly name one database (two in-memory
    databases never are one)."""
    return (
        a.get_backend_name() == b.get_backend_name()
        and (a.host, a.port, a.database) == (b.host, b.port, b.database)
        and a.database not in (None, "", ":memory:")
    )


def engine_defaults(
    url: URL, engine_kwargs: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``create_engine`` options for an engine ``from_url`` makes.

    ``engine_kwargs`` override them, ``connect_args`` key by key (a caller's
    ``connect_args`` adds to ours rather than dropping them)."""
    given = dict(engine_kwargs or {})
    poolclass = given.get("poolclass") or QueuePool
    if not isinstance(poolclass, type):
        raise TypeError(f"poolclass must be a Pool class, not {poolclass!r}")
    kind = _of_url(url)
    options, connect_args = kind.engine_options(url, poolclass)
    # No pool_pre_ping: it costs a round trip on every checkout. A restarted
    # server instead fails the first statement on a dead connection, which
    # invalidates the pool, and the saver runs that (idempotent) call again
    # on a fresh one (see `repository.plan.Job.retry`).
    connect_args.update(given.pop("connect_args", None) or {})
    if connect_args:
        options["connect_args"] = connect_args
    options.update(given)
    if "pool_reset_on_return" not in given and kind.checks_in_by_status(url, options):
        # A check-in rolls back only a transaction left open: see tune_engine.
        options["pool_reset_on_return"] = None
    return options


def tune_engine(engine: Engine, url: URL, options: Mapping[str, Any]) -> None:
    """Per-connection settings for an engine ``from_url`` made with
    ``options``: listeners of the database's own (see each database's
    ``tune_engine``)."""
    _of_url(url).tune_engine(engine, url, options)


class TransactionOptions(NamedTuple):
    """Execution options for the jobs that are not read-write transactions.

    Attributes:
        autocommit: a single statement, atomic by itself, with no
            BEGIN/COMMIT around it; None where it can't be had, and such a
            statement takes a transaction like the rest.
        read_only: several statements that only read, from one snapshot.
    """

    autocommit: dict[str, Any] | None
    read_only: dict[str, Any]


def transaction_options(engine: Engine) -> TransactionOptions:
    """The :class:`TransactionOptions` of ``engine``.

    Usually the AUTOCOMMIT isolation level, and nothing special for reads.
    An engine that :func:`tune_engine` set up (a SQLite file, psycopg)
    already autocommits at the driver and begins transactions only through
    its ``begin`` listener, which these options instruct instead:

    - one statement: no BEGIN. Switching the isolation level would cost more
      than the statement: SQLAlchemy resets it at every check-in with a
      PRAGMA, and SQLite then re-prepares the next statement
      (docs/performance.md).
    - reads: a deferred BEGIN, not BEGIN IMMEDIATE, so that a reader never
      waits for a writer (WAL) nor makes one wait.
    """
    if autocommits_at_driver(engine):
        return TransactionOptions({NO_BEGIN: True}, {READ_ONLY: True})
    if "isolation_level" in engine.get_execution_options():
        # engine.execution_options(isolation_level=...): another
        # execution_options(isolation_level="AUTOCOMMIT") on top of it loses
        # to it at checkout (SQLAlchemy applies both, the engine's last), so
        # a one-statement job ran in a transaction nobody committed, and the
        # check-in rolled its write back. Such jobs take a transaction here.
        return TransactionOptions(None, {})
    return TransactionOptions({"isolation_level": "AUTOCOMMIT"}, {})


def single_writer(dialect: Dialect) -> bool:
    """Whether ``dialect``'s database takes one writing transaction at a time
    (see ``runtime.policy.TransactionPolicy.single_writer``)."""
    return ops_class(dialect.name).single_writer


def lost_a_race(error: DBAPIError) -> bool:
    """Whether the server rolled back ``error``'s transaction because it lost
    a race with a concurrent one (a deadlock, a serialization failure), for
    which running it again is the documented answer. InnoDB picks such
    victims among ordinary concurrent writes: a prune deleting a thread's old
    rows while a run inserts new ones is enough."""
    return any(kind.lost_a_race(error.orig) for kind in _registered())


def first_connection_check(engine: Engine) -> Callable[[Connection], None] | None:
    """What a saver on ``engine`` checks once, on the first connection it
    gets, or None (see ``DialectOps.first_connection_check``)."""
    return ops_class(engine.dialect.name).first_connection_check(engine)


def explain(error: DBAPIError) -> Exception | None:
    """A clearer error for ``error``, one a user can act on, or None (see
    ``DialectOps.explain``)."""
    for kind in _registered():
        clearer = kind.explain(error)
        if clearer is not None:
            return clearer
    return None


def binary_results(dialect: Dialect) -> Callable[[Any], None] | None:
    """How to ask a DBAPI cursor for results in the binary format, for the
    hot statements (``runtime.compiled``), or None where the driver has no choice
    (text results are as correct, only slower)."""
    for kind in _registered():
        setup = kind.binary_results(dialect.driver)
        if setup is not None:
            return setup
    return None
