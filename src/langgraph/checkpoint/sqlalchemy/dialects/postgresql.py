"""What differs on PostgreSQL.

Native upserts (``INSERT … ON CONFLICT``), and ``put`` in one statement: the
blobs ride along as a writable CTE. Metadata filters are JSONB containment
(``@>``, served by the GIN index). ``get_tuple`` joins the blobs through
``jsonb_each_text``, one ``LATERAL`` lookup per channel. Key columns are
``TEXT``: no length check. ``setup()`` takes a transaction-scoped advisory
lock. Engines on psycopg (3) autocommit at the driver and send ``BEGIN``
themselves, and ask for binary results, and turn psycopg's automatic
prepared statements off behind a connection pooler (PgBouncer in transaction
mode: see ``_unprepared_behind_a_pooler``); on an engine the caller made, a
saver warns of the pooler instead (:class:`PoolerWarning`), and names the
fix when a prepared statement fails (:class:`PreparedStatementsBehindAPoolerError`).
A deadlock or serialization failure (SQLSTATE ``40P01``/``40001``) is a lost
race.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, ClassVar

from langgraph.checkpoint.sqlalchemy._validate import (
    PoolerWarning,
    PreparedStatementsBehindAPoolerError,
)
from langgraph.checkpoint.sqlalchemy.dialects.base import (
    VALUES_ROWS,
    DialectOps,
    SubPlan,
    begin_listener,
    compare,
    filter_kind,
    first_row,
    key_names,
    on_conflict,
    register,
    same_key,
)
from langgraph.checkpoint.sqlalchemy.repository.plan import Execute, Step
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Numeric,
    Select,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    collate,
    delete,
    event,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

# Arbitrary but fixed: the key of the advisory lock that serializes setup().
_SETUP_LOCK_KEY = 0x6C67_5F73_6176  # "lg_sav"
# SQLSTATEs of a transaction the server rolled back for losing a race:
# deadlock_detected, serialization_failure (PostgreSQL, and the standard).
_RACE_SQLSTATES = frozenset({"40P01", "40001"})
_PSYCOPG = ("psycopg", "psycopg_async")
_PSYCOPG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE, without importing psycopg

# SQLSTATEs of a prepared statement missing from the server session, or of
# its name taken there: invalid_sql_statement_name,
# duplicate_prepared_statement.
_PREPARED_SQLSTATES = frozenset({"26000", "42P05"})
# The setting that turns psycopg's preparing off, as a user writes it.
PREPARE_OFF = 'connect_args={"prepare_threshold": None}'

_begin = begin_listener("BEGIN")
# A row version's place in its table: see PostgreSQLOps.delete_oldest.
_CTID: ColumnElement[Any] = literal_column("ctid")
# Engines from_url made (tune_engine): their connections turn preparing off
# behind a pooler themselves, or the caller chose a prepare_threshold.
_tuned: weakref.WeakSet[Engine] = weakref.WeakSet()


@register("postgresql", aliases=("postgres",))
class PostgreSQLOps(DialectOps):
    has_native_upsert = True
    has_json_tables = True
    bounded_keys = False
    skip_locked = True
    sweeps_in_one_statement = True
    shaped_filters = True
    default_drivers = ("psycopg", "psycopg")
    async_twins: ClassVar[Mapping[str, str]] = {"psycopg2": "psycopg"}
    sync_twins: ClassVar[Mapping[str, str]] = {
        "asyncpg": "psycopg",
        "psycopg_async": "psycopg",
    }
    # A plain inner join is planned as a hash join over every blob of the
    # thread once the thread holds more than a handful, so a long
    # conversation (a new blob per step) made get_tuple slower at every step.
    # (An outer join is worse still: a hash join over all blobs.)
    blobs_by_lateral_lookup = True

    def one_statement_put(self, blob_count: int) -> bool:
        # Writable CTEs carry the blobs along.
        return self.native_upsert

    def channel_versions(self, document: ColumnElement[Any]) -> TableValuedAlias:
        versions = document.op("->")(literal_column("'channel_versions'"))
        return func.jsonb_each_text(versions).table_valued("key", "value")

    insert_into = staticmethod(postgresql.insert)
    on_key_exists = staticmethod(on_conflict)

    def insert_ignore_then_upsert(
        self,
        first: Table,
        first_rows: Sequence[Mapping[str, Any]],
        table: Table,
        row: Mapping[str, Any],
        update: Sequence[str],
    ) -> SubPlan:
        """One statement: the first insert rides along as a writable CTE
        (which runs whether or not the statement reads it)."""
        if not (self.native_upsert and first_rows):
            yield from super().insert_ignore_then_upsert(
                first, first_rows, table, row, update
            )
            return
        # Columns the two share (the thread and namespace) must agree.
        shared, unshared, names = _first_columns(first, tuple(row))
        params = dict(row)
        n = len(first_rows)
        if n <= VALUES_ROWS:
            for i, r in enumerate(first_rows):
                for c, name in zip(unshared, names[i], strict=True):
                    params[name] = r[c]
        else:
            n = 0  # one array per column instead
            for c in unshared:
                params[f"first_{c}"] = [r[c] for r in first_rows]
        statement = _ignore_then_upsert_statement(
            first, table, shared, tuple(row), tuple(update), n
        )
        yield Execute(statement, params, hot=True)

    def metadata_matches(
        self, column: ColumnElement[Any], filter: Mapping[str, Any]
    ) -> ColumnElement[bool]:
        """JSONB containment: nested objects match by containment."""
        if not filter:
            return true()
        return column.op("@>")(bindparam(None, dict(filter), type_=postgresql.JSONB))

    def store_filter(
        self, column: ColumnElement[Any], key: str, operator: str, value: Any
    ) -> ColumnElement[bool]:
        """JSONB: ``value -> key`` against the value as ``jsonb`` (equality
        as JSONB's, numbers by value; a scalar's also as containment, for
        the GIN index); ordering on ``->>`` cast to
        ``numeric``, or compared as text in the ``C`` collation (code point
        order), each only where ``jsonb_typeof`` says the field is of that
        kind (a ``CASE``, so no cast ever meets another type)."""
        values = _filter_values(key, operator, value)

        def bind(role: str, type_: TypeEngine[Any] | None) -> Any:
            if type_ is None:
                return values[role]  # typed by what it is compared with
            return bindparam(None, values[role], type_=type_)

        return _store_filter(column, operator, filter_kind(value), bind)

    def store_filter_shape(
        self, column: ColumnElement[Any], operator: str, kind: str, name: str
    ) -> ColumnElement[bool]:
        return _store_filter(
            column,
            operator,
            kind,
            lambda role, type_: bindparam(f"{name}_{role}", type_=type_),
        )

    def store_filter_params(
        self, name: str, key: str, operator: str, value: Any
    ) -> dict[str, Any]:
        values = _filter_values(key, operator, value)
        return {f"{name}_{role}": v for role, v in values.items()}

    def delete_oldest(
        self,
        table: Table,
        oldest: Select[Any],
        still_due: ColumnElement[bool],
        dependents: Sequence[Table] = (),
    ) -> Generator[Step, Any, tuple[int, int]]:
        """One statement: the picked rows, locked (``SKIP LOCKED``), are a
        CTE, evaluated once; the delete finds them by their ``ctid`` (the
        version it locked, which nobody else can change until the batch
        commits), a TID scan whatever the planner knows of the table. A
        join on the key became a hash join over every expired row when the
        table had no statistics yet, and deleting by a list of keys cost
        ten times as much (docs/performance.md). Each dependent's rows go
        in a writable CTE joined on the key."""
        names = [c.name for c in oldest.selected_columns]
        picked = (
            oldest.add_columns(_CTID).with_for_update(skip_locked=True).cte("picked")
        )
        tids = func.array(select(picked.c.ctid).scalar_subquery())
        statement = delete(table).where(any_(tids) == _CTID, still_due)
        for i, dependent in enumerate(dependents):
            gone = delete(dependent).where(same_key(dependent, picked, names))
            statement = statement.add_cte(gone.cte(f"dependent_{i}"))
        deleted = max((yield Execute(statement)).rowcount, 0)
        return deleted, deleted

    def setup_lock(self) -> tuple[Executable, Executable | None]:
        # Transaction-scoped: no release needed.
        held = select(literal(1)).select_from(
            func.pg_advisory_xact_lock(_SETUP_LOCK_KEY)
        )
        return held, None

    # -- engines -------------------------------------------------------------

    @classmethod
    def engine_options(
        cls, url: URL, poolclass: type
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        options, connect_args = super().engine_options(url, poolclass)
        if _begins_explicitly(url):
            # psycopg autocommits and the begin listener that tune_engine
            # adds sends BEGIN: see there.
            options["isolation_level"] = "AUTOCOMMIT"
        return options, connect_args

    @classmethod
    def checks_in_by_status(cls, url: URL, options: Mapping[str, Any]) -> bool:
        return (
            _begins_explicitly(url) and options.get("isolation_level") == "AUTOCOMMIT"
        )

    @classmethod
    def tune_engine(cls, engine: Engine, url: URL, options: Mapping[str, Any]) -> None:
        """A psycopg engine autocommits (``isolation_level="AUTOCOMMIT"``,
        unless the caller chose another level) and sends BEGIN itself for the
        jobs that need a transaction. The one-statement jobs, the whole hot
        path, then run as they are: with SQLAlchemy's AUTOCOMMIT execution
        option instead, every checkout switched the isolation level and every
        check-in switched it back (docs/performance.md). A connection checked
        in rolls back only when psycopg says a transaction is open."""
        super().tune_engine(engine, url, options)
        _tuned.add(engine)
        if _begins_explicitly(url) and options.get("isolation_level") == "AUTOCOMMIT":
            event.listen(engine, "begin", _begin)
        if _begins_explicitly(url) and "prepare_threshold" not in (
            options.get("connect_args") or {}
        ):
            # A caller who set prepare_threshold has decided; otherwise each
            # new connection finds out whether a pooler sits in between.
            event.listen(engine, "connect", _unprepared_behind_a_pooler)

    @classmethod
    def first_connection_check(
        cls, engine: Engine
    ) -> Callable[[Connection], None] | None:
        """On a psycopg engine the caller made: whether it prepares behind a
        pooler (see :func:`_warn_of_a_pooler`). An engine from_url made has
        seen to it on every connection already."""
        if engine.dialect.driver not in _PSYCOPG or engine in _tuned:
            return None
        return _warn_of_a_pooler

    @staticmethod
    def explain(error: DBAPIError) -> Exception | None:
        """A prepared statement missing or taken on the server session: say
        why (a pooler) and what to do, instead of psycopg's
        ``prepared statement "_pg3_0" already exists``."""
        if getattr(error.orig, "sqlstate", None) not in _PREPARED_SQLSTATES:
            return None
        return PreparedStatementsBehindAPoolerError(
            f"{error.orig} -- psycopg prepares the statements it runs often, and "
            "a prepared statement lives in one server session: this connection "
            "goes through a connection pooler in transaction mode (PgBouncer), "
            "which gives each transaction whichever server session is free. "
            f"Create the engine with {PREPARE_OFF} (or let the saver make it "
            "with from_url, which turns preparing off behind a pooler)."
        )

    @staticmethod
    def in_transaction(driver_connection: Any) -> bool:
        # IDLE is the only status with nothing open.
        return bool(driver_connection.info.transaction_status != _PSYCOPG_IDLE)

    # -- drivers -------------------------------------------------------------

    @staticmethod
    def lost_a_race(orig: BaseException | None) -> bool:
        return getattr(orig, "sqlstate", None) in _RACE_SQLSTATES  # psycopg

    @staticmethod
    def binary_results(driver: str) -> Callable[[Any], None] | None:
        """psycopg (sync and async): the text format sends ``bytea`` as hex,
        twice its size, for the server to encode and the client to decode,
        and ``get_tuple`` returns every blob of a checkpoint (a long
        conversation: tens of KB). The official saver reads in binary too."""
        return _psycopg_binary if driver in _PSYCOPG else None


def _begins_explicitly(url: URL) -> bool:
    """Whether an engine of ``url`` can autocommit at the driver and send
    BEGIN itself: psycopg (3) commits and rolls back by the server's
    transaction status, not by its autocommit flag, so SQLAlchemy's
    commit/rollback still end a transaction that a plain BEGIN started."""
    return url.get_driver_name() in _PSYCOPG


def _unprepared_behind_a_pooler(dbapi_connection: Any, _record: Any) -> None:
    """Turn psycopg's automatic prepared statements off on a new connection
    that reaches PostgreSQL through a connection pooler.

    psycopg prepares a statement on the server once it has run it
    ``prepare_threshold`` times (5) on a connection, and from then on runs
    it by name (``_pg3_0``, ``_pg3_1``…). A prepared statement lives in one
    server session, and a pooler in transaction mode (PgBouncer before
    1.21, and later ones unless ``max_prepared_statements`` is set) hands each
    transaction of a client whichever server session is free: the name is
    then missing there, or already taken by another client's statement
    (``DuplicatePreparedStatement``), or, worst, names *another* client's
    statement of the same parameters, which would run in place of ours. So
    this cannot wait for an error: it must be known before psycopg's first
    prepare, when the connection is made.

    The sign: the backend PID the server announced at connect (BackendKeyData,
    ``info.backend_pid``) is not the PID of the session that answers. A pooler
    must announce one of its own (it is the key a cancel request is sent
    with, and the pooler forwards it to whichever session is busy), and no
    parameter it reports tells it apart (PgBouncer forwards the server's).
    The cost: one round trip per new connection (the pool reuses them), none
    per statement; a direct connection keeps its prepared statements.
    """
    # The async adapter keeps psycopg's AsyncConnection beside it; its
    # cursor runs the query in this greenlet, as every statement does.
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    pooled = _through_a_pooler(dbapi_connection, driver)
    if driver.info.transaction_status != _PSYCOPG_IDLE:
        # Not yet in autocommit (the caller's isolation level): end the
        # transaction the query began, as a fresh connection has none.
        dbapi_connection.rollback()
    if pooled:
        driver.prepare_threshold = None


def _through_a_pooler(dbapi_connection: Any, driver: Any) -> bool:
    """Whether the session answering is not the one psycopg was told of at
    connect (see :func:`_unprepared_behind_a_pooler`): one round trip."""
    row = first_row(dbapi_connection, "SELECT pg_backend_pid()")
    return row is None or row[0] != driver.info.backend_pid


def _warn_of_a_pooler(conn: Connection) -> None:
    """Warn, once per saver, that the caller's engine prepares statements
    behind a pooler.

    The saver leaves an engine it was given as it is (no listeners, no
    settings: the caller's other code uses it too, and PgBouncer 1.21 and
    later can keep prepared statements in transaction mode, which no check
    from the client can tell). So the first connection a saver gets says
    whether a pooler answers, before psycopg prepared anything of the
    saver's; a connection that prepares nothing costs no round trip. Runs
    in the job's transaction: the query is one more of it.
    """
    dbapi_connection = conn.connection.dbapi_connection
    driver = conn.connection.driver_connection
    if driver is None or driver.prepare_threshold is None:
        return
    if _through_a_pooler(dbapi_connection, driver):
        warnings.warn(
            "this engine reaches PostgreSQL through a connection pooler, and "
            f"psycopg prepares the statements it runs often (prepare_threshold="
            f"{driver.prepare_threshold}). Behind PgBouncer in transaction "
            "mode a prepared statement is then looked for on another server "
            'session: it fails (prepared statement "_pg3_0" already exists, '
            "or does not exist) or runs another client's statement of that "
            f"name. Create the engine with {PREPARE_OFF}, or make the saver "
            "with from_url, which turns preparing off behind a pooler. A pooler "
            "that keeps prepared statements (session mode; PgBouncer 1.21+ "
            "with max_prepared_statements) is fine: filter out PoolerWarning.",
            PoolerWarning,
            stacklevel=2,
        )


def _psycopg_binary(cursor: Any) -> None:
    # One function for every saver, so that savers on one engine share the
    # kept cursor (runtime.compiled keys it by this function). The cursor may be
    # SQLAlchemy's async adapter of a psycopg cursor; anything else is left
    # as it is.
    import psycopg
    from psycopg.pq import Format

    raw = getattr(cursor, "_cursor", cursor)  # inside the async adapter
    if isinstance(raw, (psycopg.Cursor, psycopg.AsyncCursor)):
        raw.format = Format.BINARY


def _filter_values(key: str, operator: str, value: Any) -> dict[str, Any]:
    """What :func:`_store_filter` binds, by role."""
    values = {"key": key, "value": value}
    if operator == "$eq" and filter_kind(value) != "container":
        values["whole"] = {key: value}
    return values


def _store_filter(
    column: ColumnElement[Any],
    operator: str,
    kind: str,
    bind: Callable[[str, TypeEngine[Any] | None], Any],
) -> ColumnElement[bool]:
    """``PostgreSQLOps.store_filter``'s predicate for a value of ``kind``;
    ``bind(role, type)`` gives what stands for the bound ``key``, ``value``
    and ``whole`` (:func:`_filter_values`): a value, or a named parameter."""
    key = bind("key", Text())
    field = column.op("->")(key)
    if operator in ("$eq", "$ne"):
        equal: ColumnElement[bool] = field == bind("value", postgresql.JSONB())
        if operator == "$ne":
            return or_(field.is_(None), ~equal)
        if kind == "container":
            return equal  # containment would also match a part of it
        # For a scalar, containment says the same as equality and the
        # GIN index (store_value_path_idx) answers it: both, so the index
        # finds the candidates and equality stays the rule.
        whole: ColumnElement[bool] = column.op("@>")(bind("whole", postgresql.JSONB()))
        return and_(whole, equal)
    text_ = column.op("->>", return_type=Text)(key)
    typed: ColumnElement[Any]
    if kind == "str":
        json_type, typed = "string", collate(text_, "C")
    else:
        json_type, typed = "number", cast(text_, Numeric)
    typed_or_null = case((func.jsonb_typeof(field) == json_type, typed), else_=null())
    return compare(typed_or_null, operator, bind("value", None))


@functools.lru_cache(maxsize=16)
def _first_columns(
    first: Table, columns: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """``first``'s columns that the main row (of ``columns``) also has, the
    others, and the parameter names of the others in each ``VALUES`` row:
    the same for every put, so worked out once."""
    shared = tuple(c.name for c in first.columns if c.name in columns)
    unshared = tuple(c.name for c in first.columns if c.name not in shared)
    names = tuple(tuple(f"first_{c}_{i}" for c in unshared) for i in range(VALUES_ROWS))
    return shared, unshared, names


@functools.lru_cache(maxsize=4 * VALUES_ROWS)
def _ignore_then_upsert_statement(
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
    (bound as ``first_{col}``), the same statement for any number of rows:
    so a statement never nears PostgreSQL's 65,535 parameters. Arrays cost
    more for small puts: psycopg quotes each array element in Python (bytea
    escaped as text), where a plain bytea parameter is dumped in C.
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
        .on_conflict_do_nothing(index_elements=key_names(first))
        .cte("ignored")
    )
    stmt = postgresql.insert(table).values(
        {c: bindparam(c, type_=table.c[c].type) for c in columns}
    )
    return stmt.on_conflict_do_update(
        index_elements=key_names(table),
        set_={c: stmt.excluded[c] for c in update},
    ).add_cte(ignored)
