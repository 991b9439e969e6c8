"""Everything that differs between databases, decided once per engine.

This is the only module that looks at ``dialect.name``. The rest of the package
asks a :class:`DialectOps` for what it needs: how to insert-or-ignore and
upsert, how to filter on metadata, whether key lengths must be checked, how to
serialize ``setup()`` across processes, and which driver a bare URL means.

Statement builders here return *sub-plans* (generators of steps, see
``_run``), because the portable fallback for a missing native upsert takes
more than one statement.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from langgraph.checkpoint.sqlalchemy._private_api import CURSOR_EXECUTE
from langgraph.checkpoint.sqlalchemy._run import BindSettings, Execute, Step
from langgraph.checkpoint.sqlalchemy._validate import PayloadTooLargeError
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
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
    text,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect, ExceptionContext, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolResetState, QueuePool, StaticPool
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TableValuedAlias

__all__ = [
    "DialectOps",
    "autocommits_at_driver",
    "binary_results",
    "bind_settings",
    "dialect_ops",
    "engine_defaults",
    "is_memory_sqlite",
    "lost_a_race",
    "normalize_url",
    "sync_url",
    "transaction_options",
    "tune_engine",
    "watch_packet_limit",
]

SubPlan = Generator[Step, Any, None]

# Drivers picked for a URL that names only the database.
_DEFAULT_SYNC_DRIVERS = {
    "postgresql": "psycopg",
    "sqlite": "pysqlite",
    "mysql": "pymysql",
    "mariadb": "pymysql",
}
_DEFAULT_ASYNC_DRIVERS = {
    "postgresql": "psycopg",
    "sqlite": "aiosqlite",
    "mysql": "asyncmy",
    "mariadb": "asyncmy",
}
_URL_ALIASES = {"postgres": "postgresql"}
# Sync drivers and the async driver the async saver uses for the same URL.
_ASYNC_TWINS = {
    "pysqlite": "aiosqlite",
    "pymysql": "asyncmy",
    "mysqldb": "asyncmy",
    "psycopg2": "psycopg",
}
# Async drivers and the sync driver that reads the same URL, for tools (such
# as the alembic command line) that need a sync engine.
_SYNC_TWINS = {
    "aiosqlite": "pysqlite",
    "asyncpg": "psycopg",
    "psycopg_async": "psycopg",
    "asyncmy": "pymysql",
    "aiomysql": "pymysql",
}

# Arbitrary but fixed: the key of the advisory lock that serializes setup().
_SETUP_LOCK_KEY = 0x6C67_5F73_6176  # "lg_sav"
_SETUP_LOCK_NAME = "langgraph_checkpoint_setup"


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
    if "+" in parsed.drivername:
        driver = parsed.get_driver_name()
        if is_async:
            driver = _ASYNC_TWINS.get(driver, driver)
        return parsed.set(drivername=f"{backend}+{driver}")
    defaults = _DEFAULT_ASYNC_DRIVERS if is_async else _DEFAULT_SYNC_DRIVERS
    default = defaults.get(backend)
    return parsed.set(drivername=f"{backend}+{default}" if default else backend)


def sync_url(url: str | URL) -> URL:
    """``url`` with its async driver, if any, swapped for the matching sync one."""
    parsed = normalize_url(url, is_async=False)
    twin = _SYNC_TWINS.get(parsed.get_driver_name())
    if twin is None:
        return parsed
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{twin}")


def is_memory_sqlite(url: URL) -> bool:
    """Whether ``url`` is an in-memory SQLite database (one per connection)."""
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in str(url.query)


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
    options: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    if is_memory_sqlite(url):
        # One connection for the saver's life: an in-memory database lives and
        # dies with its connection. The saver serializes access to it.
        options["poolclass"] = StaticPool
        connect_args["check_same_thread"] = False
    elif url.get_backend_name() == "sqlite":
        # Writers from other processes wait up to 30 s instead of failing.
        connect_args["timeout"] = 30
        if issubclass(poolclass, StaticPool):
            # One connection that LangGraph's threads take turns on.
            connect_args["check_same_thread"] = False
    elif issubclass(poolclass, QueuePool):
        # The most recently used connection first: a saver called in sequence
        # keeps reusing one warm server process (its plan and catalog caches
        # hot) instead of cycling through the pool, and spare connections stay
        # idle long enough for server-side timeouts to reclaim them.
        options["pool_use_lifo"] = True
    if _begins_explicitly(url):
        # psycopg autocommits and the begin listener that tune_engine adds
        # sends BEGIN: see there.
        options["isolation_level"] = "AUTOCOMMIT"
    # No pool_pre_ping: it costs a round trip on every checkout. A restarted
    # server instead fails the first statement on a dead connection, which
    # invalidates the pool, and the saver runs that (idempotent) call again
    # on a fresh one (see `_run.Job.retry`).
    connect_args.update(given.pop("connect_args", None) or {})
    if connect_args:
        options["connect_args"] = connect_args
    options.update(given)
    if "pool_reset_on_return" not in given and _checks_in_by_status(url, options):
        # A check-in rolls back only a transaction left open: see tune_engine.
        options["pool_reset_on_return"] = None
    return options


def _checks_in_by_status(url: URL, options: Mapping[str, Any]) -> bool:
    """Whether the connections of an engine made with ``options`` autocommit
    at the driver and the driver tells, without a round trip, whether one
    is in a transaction: psycopg in autocommit, a sqlite3 (or aiosqlite) file
    connection, which tune_engine puts in autocommit."""
    if _begins_explicitly(url):
        return options.get("isolation_level") == "AUTOCOMMIT"
    return url.get_backend_name() == "sqlite" and not is_memory_sqlite(url)


def _begins_explicitly(url: URL) -> bool:
    """Whether a PostgreSQL engine of ``url`` can autocommit at the driver and
    send BEGIN itself: psycopg (3) commits and rolls back by the server's
    transaction status, not by its autocommit flag, so SQLAlchemy's
    commit/rollback still end a transaction that a plain BEGIN started."""
    return url.get_backend_name() == "postgresql" and url.get_driver_name() in (
        "psycopg",
        "psycopg_async",
    )


def tune_engine(engine: Engine, url: URL, options: Mapping[str, Any]) -> None:
    """Per-connection settings for an engine ``from_url`` made with ``options``.

    A SQLite file gets WAL (readers never wait for the writer, across
    processes) and write transactions that start with ``BEGIN IMMEDIATE``:
    a deferred transaction that reads and then writes cannot wait for another
    writer and fails at once with "database is locked"; an immediate one takes
    the write lock first and waits its turn (the busy timeout).

    A psycopg engine autocommits (``isolation_level="AUTOCOMMIT"``, unless
    the caller chose another level) and sends BEGIN itself for the jobs that
    need a transaction. The one-statement jobs, the whole hot path, then run
    as they are: with SQLAlchemy's AUTOCOMMIT execution option instead, every
    checkout switched the isolation level and every check-in switched it back,
    ~26 µs a call (measured on a bare connect/close).

    On both, a connection checked in rolls back only when the driver says a
    transaction is open (:func:`_roll_back_if_in_transaction`), instead of the
    pool's unconditional rollback: nearly every check-in follows a committed
    or single statement, and on the async drivers that rollback of nothing was
    still a trip through the event loop (aiosqlite: through its thread).

    MySQL/MariaDB connections learn their ``max_allowed_packet``, to name it
    when the server drops one over a statement too large (see
    :func:`watch_packet_limit`).
    """
    if url.get_backend_name() in ("mysql", "mariadb"):
        watch_packet_limit(engine)
        return
    if options.get("pool_reset_on_return", "rollback") is None and (
        _checks_in_by_status(url, options)
    ):
        event.listen(engine, "reset", _roll_back_if_in_transaction)
    if _begins_explicitly(url):
        if options.get("isolation_level") == "AUTOCOMMIT":
            event.listen(engine, "begin", _begin_explicitly)
        return
    if url.get_backend_name() != "sqlite" or is_memory_sqlite(url):
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions begin when SQLAlchemy says, not when sqlite3 guesses.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    event.listen(engine, "begin", _begin_explicitly)


def _roll_back_if_in_transaction(
    dbapi_connection: Any, _record: Any, state: PoolResetState
) -> None:
    """The pool's check-in reset (``pool_reset_on_return=None`` otherwise):
    roll back a transaction left open, as SQLAlchemy's default would, and
    skip the rollback of an idle connection."""
    if state.transaction_was_reset or state.terminate_only or not state.asyncio_safe:
        return  # already reset, or about to be closed
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    info = getattr(driver, "info", None)
    if info is not None:  # psycopg: IDLE is the only state with nothing open
        in_transaction = info.transaction_status != _PSYCOPG_IDLE
    else:  # sqlite3, aiosqlite
        in_transaction = bool(driver.in_transaction)
    if in_transaction:
        dbapi_connection.rollback()


_PSYCOPG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE, without importing psycopg


# Execution options that the ``begin`` listener of an engine tuned above
# reads: no BEGIN at all (one statement), or a BEGIN for reads (on SQLite a
# deferred one, which takes no write lock).
_NO_BEGIN = "langgraph_checkpoint_no_begin"
_READ_ONLY = "langgraph_checkpoint_read_only"


def _begin_explicitly(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get("isolation_level") == "AUTOCOMMIT" or options.get(_NO_BEGIN):
        return
    # SQLite writers take the write lock up front (see tune_engine).
    writer = conn.dialect.name == "sqlite" and not options.get(_READ_ONLY)
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"
    if not CURSOR_EXECUTE:
        # SQLAlchemy's documented recipe for a BEGIN of one's own.
        conn.exec_driver_sql(begin)
        return
    # On the cursor, as the hot statements run (see _compiled): a full
    # execution would cost more than the BEGIN itself. _cursor_execute keeps
    # SQLAlchemy's error wrapping ("database is locked" and all).
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        conn._cursor_execute(cursor, begin, ())
    finally:
        cursor.close()


def autocommits_at_driver(engine: Engine) -> bool:
    """Whether ``engine``'s connections autocommit at the driver and begin a
    transaction only when SQLAlchemy begins one (:func:`tune_engine` set it
    up): a single statement then needs neither BEGIN nor COMMIT."""
    return event.contains(engine, "begin", _begin_explicitly)


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
      PRAGMA, and the next statement ran about 2x slower (measured on
      ``get_tuple``: SQLite re-prepares it).
    - reads: a deferred BEGIN, not BEGIN IMMEDIATE, so that a reader never
      waits for a writer (WAL) nor makes one wait.
    """
    if autocommits_at_driver(engine):
        return TransactionOptions({_NO_BEGIN: True}, {_READ_ONLY: True})
    if "isolation_level" in engine.get_execution_options():
        # engine.execution_options(isolation_level=...): another
        # execution_options(isolation_level="AUTOCOMMIT") on top of it loses
        # to it at checkout (SQLAlchemy applies both, the engine's last), so
        # a one-statement job ran in a transaction nobody committed, and the
        # check-in rolled its write back. Such jobs take a transaction here.
        return TransactionOptions(None, {})
    return TransactionOptions({"isolation_level": "AUTOCOMMIT"}, {})


def bind_settings(engine: Engine, options: Mapping[str, Any] | None) -> BindSettings:
    """How a saver runs its jobs on ``engine`` (or on a connection of it),
    every statement with execution ``options``."""
    autocommit, read_only = transaction_options(engine)
    return BindSettings(
        options,
        autocommit,
        read_only,
        binary_results(engine.dialect),
        single_writer=engine.dialect.name == "sqlite",
        lost_a_race=lost_a_race,
    )


# SQLSTATEs of a transaction the server rolled back for losing a race:
# deadlock_detected, serialization_failure (PostgreSQL, and the standard).
_RACE_SQLSTATES = frozenset({"40P01", "40001"})
# MySQL/MariaDB's ER_LOCK_DEADLOCK: InnoDB rolled the whole transaction back
# (PyMySQL and asyncmy put the server's code first in the error's args).
_MYSQL_DEADLOCK = 1213


def lost_a_race(error: DBAPIError) -> bool:
    """Whether the server rolled back ``error``'s transaction because it lost
    a race with a concurrent one (a deadlock, a serialization failure), for
    which running it again is the documented answer. InnoDB picks such
    victims among ordinary concurrent writes: a prune deleting a thread's old
    rows while a run inserts new ones is enough."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _RACE_SQLSTATES:  # psycopg
        return True
    args: tuple[Any, ...] = getattr(orig, "args", ())
    return bool(args) and args[0] == _MYSQL_DEADLOCK


def binary_results(dialect: Dialect) -> Callable[[Any], None] | None:
    """How to ask a DBAPI cursor for results in the binary format, for the
    hot statements (``_compiled``), or None where the driver has no choice.

    psycopg (sync and async): the text format sends ``bytea`` as hex, twice
    its size, for the server to encode and the client to decode, and
    ``get_tuple`` returns every blob of a checkpoint (a long conversation:
    tens of KB). The official saver reads in binary too. The cursor may be
    SQLAlchemy's async adapter of a psycopg cursor; anything else is left as
    it is (text results are as correct, only slower).
    """
    if dialect.driver not in ("psycopg", "psycopg_async"):
        return None
    return _psycopg_binary


def _psycopg_binary(cursor: Any) -> None:
    # One function for every saver, so that savers on one engine share the
    # kept cursor (_compiled keys it by this function).
    import psycopg
    from psycopg.pq import Format

    raw = getattr(cursor, "_cursor", cursor)  # inside the async adapter
    if isinstance(raw, (psycopg.Cursor, psycopg.AsyncCursor)):
        raw.format = Format.BINARY


# Where each MySQL/MariaDB connection keeps the max_allowed_packet it got.
_PACKET_LIMIT_INFO = "langgraph_checkpoint_max_allowed_packet"
# What the drivers' client-side escaping doubles (PyMySQL, asyncmy, mysqlclient).
_ESCAPED = ("\\", "\x00", "\n", "\r", "\x1a", "'", '"')
_ESCAPED_BYTES = tuple(c.encode() for c in _ESCAPED)
# ER_NET_PACKET_TOO_LARGE: "Got a packet bigger than 'max_allowed_packet'".
_PACKET_TOO_LARGE = 1153


def watch_packet_limit(engine: Engine) -> None:
    """On MySQL/MariaDB, report a statement over ``max_allowed_packet`` as a
    :class:`PayloadTooLargeError` naming the setting, not as a lost connection.

    The server answers such a statement by closing the connection, so the
    driver raises "server has gone away" / "Lost connection", the same error
    as an outage: unclear to the user, and a lost connection invalidates the
    whole pool and makes the saver run the call again, sending it twice.
    The plans refuse blob-heavy writes before sending them (see
    :attr:`DialectOps.packet_limit`); this catches the rest: long strings kept
    inline in the checkpoint document, large metadata, and bytes that the
    drivers' escaping makes up to twice as long on the wire.

    Each connection reads its limit once, when it opens (the session value is
    fixed then: ``SET GLOBAL`` reaches new connections only). When one is lost
    in the middle of a statement longer than that, the error says so; only that
    connection is discarded, not the pool, as the server is fine. Nothing
    happens on the hot path. Calling this again on the same engine does
    nothing; connections opened before the first call are not covered.
    """
    for name, listener in (
        ("connect", _read_packet_limit),
        ("handle_error", _explain_packet_too_large),
    ):
        if not event.contains(engine, name, listener):
            event.listen(engine, name, listener)


def _read_packet_limit(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT @@max_allowed_packet")
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row and row[0] is not None:
        record.info[_PACKET_LIMIT_INFO] = int(row[0])


def _explain_packet_too_large(context: ExceptionContext) -> Exception | None:
    refused = _error_code(context.original_exception) == _PACKET_TOO_LARGE
    if not (refused or context.is_disconnect) or context.connection is None:
        return None
    try:
        limit = context.connection.info.get(_PACKET_LIMIT_INFO)
        size = _wire_size(context.statement) + _wire_size(context.parameters)
    except Exception:  # never hide the driver's error behind one of ours
        return None
    if not refused and (limit is None or size <= limit):
        return None  # a genuine outage
    # The server closes the connection even when it manages to say why.
    context.is_disconnect = True
    context.invalidate_pool_on_disconnect = False
    allowed = "" if limit is None else f" ({limit} bytes)"
    return PayloadTooLargeError(
        f"a statement of about {size} bytes is larger than the server's "
        f"max_allowed_packet{allowed}: MySQL and MariaDB close the "
        "connection over such a statement. Raise max_allowed_packet on the "
        "server (for instance SET GLOBAL max_allowed_packet = 268435456; "
        "it applies to new connections) or store smaller values. The "
        "transaction was rolled back: nothing of this write was stored."
    )


def _error_code(error: BaseException | None) -> Any:
    """The server's error number on a MySQL driver's exception, if any."""
    args = getattr(error, "args", None)
    return args[0] if args else None


def _wire_size(value: Any) -> int:
    """About how many bytes ``value`` takes in a statement the driver sends
    (parameters are inlined, escaped, by the MySQL drivers)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return len(data) + sum(data.count(c) for c in _ESCAPED_BYTES) + 10
    if isinstance(value, str):
        encoded = len(value.encode("utf-8", "replace"))
        return encoded + sum(value.count(c) for c in _ESCAPED) + 2
    if isinstance(value, Mapping):
        return sum(_wire_size(v) + 2 for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_wire_size(v) + 2 for v in value)
    return len(str(value))


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
    """

    name: str
    native_upsert: bool
    bounded_keys: bool
    json_tables: bool

    # -- how many statements an operation takes ------------------------------

    @property
    def one_statement_reads(self) -> bool:
        """``get_tuple`` in one statement (needs a JSON table function)."""
        return self.json_tables

    @property
    def outer_join_keeps_order(self) -> bool:
        """Whether to join a checkpoint's blobs to its channel versions with
        an outer join, the one join SQLite's planner never reorders.

        As an inner join, SQLite read every blob of the thread before the
        versions (get_tuple's statement ~2.5x slower). PostgreSQL is the
        other way round: the inner join is a nested loop on the blobs' key,
        the outer one a hash join over all blobs (get_tuple ~3x slower).
        """
        return self.name == "sqlite"

    @property
    def blobs_by_lateral_lookup(self) -> bool:
        """Whether to fetch a checkpoint's blobs with one ``LATERAL`` primary
        key lookup per channel version.

        PostgreSQL: a plain inner join is planned as a hash join over every
        blob of the thread once the thread holds more than a handful, so a
        long conversation (a new blob per step) made ``get_tuple`` slower at
        every step. MariaDB has no ``LATERAL``.
        """
        return self.name == "postgresql"

    def one_statement_put(self, blob_count: int) -> bool:
        """A ``put`` in one statement: PostgreSQL's writable CTEs carry the
        blobs along; elsewhere only a put with no new blob is one upsert."""
        if not self.native_upsert:
            return False
        return self.name == "postgresql" or blob_count == 0

    def one_statement_writes(self, row_count: int) -> bool:
        """A ``put_writes`` in one statement: one multi-row insert (SQLAlchemy
        splits an executemany past 1000 rows, so stay well below)."""
        return self.native_upsert and row_count <= 100

    def channel_versions(self, document: ColumnElement[Any]) -> TableValuedAlias:
        """The (key, value) rows of ``document["channel_versions"]`` as text,
        for joining a checkpoint to its blobs in SQL.

        The path is a literal, not a bound parameter: a constant of ours, and
        SQLite plans a table-valued function with a known path several times
        faster (measured: ~200 µs → ~100 µs per ``get_tuple``)."""
        if self.name == "postgresql":
            versions = document.op("->")(literal_column("'channel_versions'"))
            return func.jsonb_each_text(versions).table_valued("key", "value")
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
            keys = _key_names(table)
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
            keys = _key_names(table)
            present = yield from self._present_keys(table, keys, rows)
            if present:
                yield Execute(
                    delete(table).where(
                        tuple_(*(table.c[k] for k in keys)).in_(sorted(present))
                    )
                )
            yield Execute(insert(table), rows)

    def _native_insert(
        self,
        table: Table,
        rows: Sequence[Mapping[str, Any]],
        update: tuple[str, ...] | None,
    ) -> Execute:
        """One statement inserting ``rows``, ignoring (``update`` None) or
        updating the ``update`` columns of rows whose key exists.

        Up to ``_VALUES_ROWS`` rows with the same columns are one execution of
        a cached statement (a ``hot`` one: a multi-row ``VALUES`` for several
        rows); more are an executemany."""
        n = len(rows)
        columns = tuple(rows[0])
        if n == 1:
            return Execute(
                _native_insert_statement(self.name, table, update), rows[0], hot=True
            )
        if n <= _VALUES_ROWS and all(tuple(r) == columns for r in rows):
            params = {f"{c}_{i}": r[c] for i, r in enumerate(rows) for c in columns}
            return Execute(
                _native_insert_statement(self.name, table, update, columns, n),
                params,
                hot=True,
            )
        return Execute(_native_insert_statement(self.name, table, update), rows)

    def insert_ignore_then_upsert(
        self,
        first: Table,
        first_rows: Sequence[Mapping[str, Any]],
        table: Table,
        row: Mapping[str, Any],
        update: Sequence[str],
    ) -> SubPlan:
        """:meth:`insert_ignore` of ``first_rows`` into ``first``, then
        :meth:`upsert` of ``row`` into ``table``. On PostgreSQL one statement:
        the first insert rides along as a writable CTE (which runs whether or
        not the statement reads it)."""
        if not (self.name == "postgresql" and self.native_upsert and first_rows):
            yield from self.insert_ignore(first, first_rows)
            yield from self.upsert(table, [row], update)
            return
        # Columns the two share (the thread and namespace) must agree.
        shared = tuple(c.name for c in first.columns if c.name in row)
        unshared = [c.name for c in first.columns if c.name not in shared]
        params = dict(row)
        n = len(first_rows)
        if n <= _VALUES_ROWS:
            for i, r in enumerate(first_rows):
                for c in unshared:
                    params[f"first_{c}_{i}"] = r[c]
        else:
            n = 0  # one array per column instead
            for c in unshared:
                params[f"first_{c}"] = [r[c] for r in first_rows]
        statement = _pg_ignore_then_upsert_statement(
            first, table, shared, tuple(row), tuple(update), n
        )
        yield Execute(statement, params, hot=True)

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

    # -- metadata ----------------------------------------------------------

    def metadata_matches(
        self, column: ColumnElement[Any], filter: Mapping[str, Any]
    ) -> ColumnElement[bool]:
        """A predicate: the metadata document in ``column`` matches ``filter``.

        Keys and values are always bound parameters. PostgreSQL uses JSONB
        containment (``@>``, served by the GIN index), MySQL ``JSON_CONTAINS``;
        SQLite compares each key through ``json_each`` so that no JSON path is
        ever built from a key. Nested objects match by containment on
        PostgreSQL/MySQL and by equality on SQLite.
        """
        if not filter:
            return true()
        if self.name == "postgresql":
            return column.op("@>")(
                bindparam(None, dict(filter), type_=postgresql.JSONB)
            )
        if self.name in ("mysql", "mariadb"):
            return _mysql_contains(column, filter)
        return and_(
            *(self._sqlite_key_matches(column, k, v) for k, v in filter.items())
        )

    @staticmethod
    def _sqlite_key_matches(
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

    @property
    def packet_limit(self) -> Executable | None:
        """A query for the largest statement the server accepts, where there
        is such a limit (MySQL's ``max_allowed_packet``): past it the server
        drops the connection instead of answering with an error."""
        if self.name in ("mysql", "mariadb"):
            return text("SELECT @@max_allowed_packet")
        return None

    # -- schema ------------------------------------------------------------

    def setup_lock(self) -> tuple[Executable, Executable | None] | None:
        """Statements that take and release the lock serializing concurrent
        ``setup()`` calls, if the database has one. Taking it returns 1 once
        held (anything else: it could not be had).

        PostgreSQL's advisory lock is transaction-scoped: no release needed.
        MySQL's named lock belongs to the session, which a pool keeps alive,
        so it must be released explicitly, and only after the migration's
        writes are committed (see :attr:`setup_autocommits`). SQLite has no
        such thing; ``setup()`` retries instead.
        """
        if self.name == "postgresql":
            held = select(literal(1)).select_from(
                func.pg_advisory_xact_lock(_SETUP_LOCK_KEY)
            )
            return held, None
        if self.name in ("mysql", "mariadb"):
            return (
                text(f"SELECT GET_LOCK('{_SETUP_LOCK_NAME}', 60)"),
                text(f"SELECT RELEASE_LOCK('{_SETUP_LOCK_NAME}')"),
            )
        return None

    @property
    def setup_autocommits(self) -> bool:
        """Whether ``setup()`` runs statement by statement, each committed.

        MySQL commits every DDL statement implicitly anyway; what would be
        left in a transaction is the version table's row, committed only after
        the session lock is released, so a second ``setup()`` could take the
        lock, miss the row and migrate again. In autocommit the row is written
        while the lock is held. Elsewhere DDL is transactional: one
        transaction, all or nothing.
        """
        return self.name in ("mysql", "mariadb")


def _mysql_contains(
    column: ColumnElement[Any], filter: Mapping[str, Any]
) -> ColumnElement[bool]:
    """``JSON_CONTAINS`` brought in line with PostgreSQL's ``@>``.

    MySQL and MariaDB also count a value as contained in an *array* that holds
    it, at any depth: ``{"tags": ["a", "b"]}`` contains ``{"tags": "a"}`` and
    ``{"ok": [null]}`` contains ``{"ok": null}``. PostgreSQL, the SQLite path
    and the in-memory saver all say no. So for each non-array value that the
    filter reaches through object keys alone, the document must *not* contain
    that value wrapped in a one-element array at the same place: it does
    exactly when the document holds an array there (or above it), where
    ``@>`` would fail too. A scalar or object never contains an array, so a
    genuine match is never excluded. Each wrapped filter is one more bound
    ``JSON_CONTAINS``; no JSON path is built from a key.

    What stays MySQL's own: inside a filter's arrays, an element also matches
    an array element holding it (``{"a": [1]}`` matches ``{"a": [[1], 2]}``).
    """
    matches = [func.json_contains(column, literal(json.dumps(dict(filter)))) == 1]
    matches += [
        func.json_contains(column, literal(json.dumps(wrapped))) == 0
        for wrapped in _wrapped_non_arrays(filter)
    ]
    return and_(*matches)


def _wrapped_non_arrays(filter: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{"a": {"b": 1}}`` → ``[{"a": [{"b": 1}]}, {"a": {"b": [1]}}]``: every
    non-array value reached through keys, alone on its path, in an array."""
    wrapped: list[dict[str, Any]] = []
    for key, value in filter.items():
        if isinstance(value, (list, tuple)):
            continue
        wrapped.append({key: [value]})
        if isinstance(value, Mapping):
            wrapped += [{key: inner} for inner in _wrapped_non_arrays(value)]
    return wrapped


# -- statements built once per (dialect, table) ------------------------------
# Building an INSERT … ON CONFLICT costs more than running it; these are built
# once and reused, so SQLAlchemy's compiled cache hits on the same object.


def _key_names(table: Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


# Up to this many rows ride along as a VALUES list, one parameter per value;
# more as one array per column through unnest(), so that a statement never
# nears PostgreSQL's 65,535 parameters. Arrays cost more for small puts:
# psycopg quotes each array element in Python (bytea escaped as text), where
# a plain bytea parameter is dumped in C.
_VALUES_ROWS = 32


@functools.lru_cache(maxsize=8 * _VALUES_ROWS)
def _native_insert_statement(
    name: str,
    table: Table,
    update: tuple[str, ...] | None,
    columns: tuple[str, ...] = (),
    rows: int = 0,
) -> Executable:
    """``INSERT`` into ``table`` ignoring rows whose key exists (``update``
    None) or overwriting their ``update`` columns. With ``rows``, the
    ``columns`` of that many rows as a ``VALUES`` list bound as
    ``{column}_{i}``; without, one row or an executemany."""

    def with_rows(stmt: Any) -> Any:
        if not rows:
            return stmt
        return stmt.values(
            [
                {c: bindparam(f"{c}_{i}", type_=table.c[c].type) for c in columns}
                for i in range(rows)
            ]
        )

    keys = _key_names(table)
    if name in ("mysql", "mariadb"):
        mine = with_rows(mysql.insert(table))
        if update is None:
            # A no-op update, not INSERT IGNORE: IGNORE would also swallow
            # truncation and other errors that must surface.
            return mine.on_duplicate_key_update({keys[0]: mine.inserted[keys[0]]})  # type: ignore[no-any-return]
        return mine.on_duplicate_key_update({c: mine.inserted[c] for c in update})  # type: ignore[no-any-return]
    stmt = with_rows(
        (postgresql.insert if name == "postgresql" else sqlite.insert)(table)
    )
    if update is None:
        return stmt.on_conflict_do_nothing(index_elements=keys)  # type: ignore[no-any-return]
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=keys, set_={c: stmt.excluded[c] for c in update}
    )


@functools.lru_cache(maxsize=4 * _VALUES_ROWS)
def _pg_ignore_then_upsert_statement(
    first: Table,
    table: Table,
    shared: tuple[str, ...],
    columns: tuple[str, ...],
    update: tuple[str, ...],
    rows: int,
) -> Executable:
    """``WITH ignored AS (INSERT INTO first SELECT … ON CONFLICT DO NOTHING)
    INSERT INTO table … ON CONFLICT DO UPDATE``.

    ``first``'s ``rows`` rows arrive as ``VALUES`` (bound as
    ``first_{col}_{i}``), or, when ``rows`` is 0, as one array per column
    (bound as ``first_{col}``), the same statement for any number of rows.
    The ``shared`` columns take the main row's values (bound as ``{col}``).
    """
    unshared = [c.name for c in first.columns if c.name not in shared]
    if rows:
        # SELECT … UNION ALL SELECT …, not VALUES: SQLAlchemy can't cache a
        # statement holding a VALUES construct and would compile it each time.
        selects = [
            select(
                *(
                    bindparam(f"first_{c}_{i}", type_=first.c[c].type).label(c)
                    for c in unshared
                )
            )
            for i in range(rows)
        ]
        rows_in: Any = (union_all(*selects) if rows > 1 else selects[0]).subquery(
            "first_rows"
        )
    else:
        rows_in = (
            func.unnest(
                *(
                    bindparam(f"first_{c}", type_=postgresql.ARRAY(first.c[c].type))
                    for c in unshared
                )
            )
            .table_valued(*unshared)
            .render_derived()
        )
    source = select(
        *(bindparam(c, type_=first.c[c].type) for c in shared),
        *(rows_in.c[c] for c in unshared),
    )
    ignored = (
        postgresql.insert(first)
        .from_select([*shared, *unshared], source)
        .on_conflict_do_nothing(index_elements=_key_names(first))
        .cte("ignored")
    )
    stmt = postgresql.insert(table).values(
        {c: bindparam(c, type_=table.c[c].type) for c in columns}
    )
    return stmt.on_conflict_do_update(
        index_elements=_key_names(table),
        set_={c: stmt.excluded[c] for c in update},
    ).add_cte(ignored)


def dialect_ops(dialect: Dialect, *, force_portable: bool = False) -> DialectOps:
    """The :class:`DialectOps` for ``dialect``.

    ``force_portable`` takes the path an unknown dialect would take (no native
    upsert, no JSON operators beyond SQLite's), to test it on SQLite.
    """
    name = dialect.name
    return DialectOps(
        name=name,
        native_upsert=name in ("postgresql", "sqlite", "mysql", "mariadb")
        and not force_portable,
        bounded_keys=name != "postgresql",
        json_tables=name in ("postgresql", "sqlite") and not force_portable,
    )
