"""What differs on MySQL and MariaDB.

Native upserts are ``INSERT … ON DUPLICATE KEY UPDATE``; metadata filters are
``JSON_CONTAINS``, brought in line with PostgreSQL's ``@>``. No JSON table
function that MariaDB shares, so ``get_tuple`` takes more than one statement.
Key columns are ``VARCHAR(n)``, length-checked. ``setup()`` takes a named
session lock and runs in autocommit. The server drops the connection over a
statement larger than ``max_allowed_packet``: the plans ask for it before
blob-heavy writes, and a listener names it when that happens anyway. A
deadlock victim (error 1213) lost a race.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from langgraph.checkpoint.sqlalchemy._validate import PayloadTooLargeError
from langgraph.checkpoint.sqlalchemy.dialects.base import (
    DialectOps,
    compare,
    first_row,
    key_names,
    register,
)
from sqlalchemy import (
    ColumnElement,
    Engine,
    Table,
    Text,
    and_,
    bindparam,
    case,
    collate,
    event,
    func,
    literal,
    null,
    text,
    true,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.url import URL
from sqlalchemy.sql.base import Executable

_SETUP_LOCK_NAME = "langgraph_checkpoint_setup"
# ER_LOCK_DEADLOCK: InnoDB rolled the whole transaction back (PyMySQL and
# asyncmy put the server's code first in the error's args).
_DEADLOCK = 1213
# ER_NET_PACKET_TOO_LARGE: "Got a packet bigger than 'max_allowed_packet'".
_PACKET_TOO_LARGE = 1153
# Where each connection keeps the max_allowed_packet it got.
_PACKET_LIMIT_INFO = "langgraph_checkpoint_max_allowed_packet"
# What the drivers' client-side escaping doubles (PyMySQL, asyncmy, mysqlclient).
_ESCAPED = ("\\", "\x00", "\n", "\r", "\x1a", "'", '"')
_ESCAPED_BYTES = tuple(c.encode() for c in _ESCAPED)


@register("mysql", "mariadb")
class MySQLOps(DialectOps):
    has_native_upsert = True
    # MySQL 8 and MariaDB 10.6 on: the floors the store's sweeper needs.
    skip_locked = True
    # MariaDB's JSON_VALID (the JSON column's check) refuses deeper
    # documents; MySQL's own limit (100) is higher.
    json_depth_limit = 32
    example_isolation_level = "REPEATABLE READ"
    default_drivers = ("pymysql", "asyncmy")
    async_twins: ClassVar[Mapping[str, str]] = {
        "pymysql": "asyncmy",
        "mysqldb": "asyncmy",
    }
    sync_twins: ClassVar[Mapping[str, str]] = {
        "asyncmy": "pymysql",
        "aiomysql": "pymysql",
    }
    # MySQL commits every DDL statement implicitly anyway; what would be left
    # in a transaction is the version table's row, committed only after the
    # session lock is released, so a second setup() could take the lock, miss
    # the row and migrate again. In autocommit the row is written while the
    # lock is held.
    setup_autocommits = True
    packet_limit: ClassVar[Executable | None] = text("SELECT @@max_allowed_packet")

    insert_into = staticmethod(mysql.insert)

    @staticmethod
    def on_key_exists(
        stmt: Any, table: Table, update: tuple[str, ...] | None
    ) -> Executable:
        if update is None:
            # A no-op update, not INSERT IGNORE: IGNORE would also swallow
            # truncation and other errors that must surface.
            first_key = key_names(table)[0]
            return stmt.on_duplicate_key_update({first_key: stmt.inserted[first_key]})  # type: ignore[no-any-return]
        return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in update})  # type: ignore[no-any-return]

    def metadata_matches(
        self, column: ColumnElement[Any], filter: Mapping[str, Any]
    ) -> ColumnElement[bool]:
        """``JSON_CONTAINS``: nested objects match by containment."""
        if not filter:
            return true()
        return _contains(column, filter)

    def store_filter(
        self, column: ColumnElement[Any], key: str, operator: str, value: Any
    ) -> ColumnElement[bool]:
        """``JSON_EXTRACT`` at the path of ``key`` (a bound parameter, the
        key quoted and escaped as a JSON string, so any key is one member
        name). Equality is containment both ways (``1`` equals ``1.0``; a
        scalar never equals an array holding it); ordering only where
        ``JSON_TYPE`` says the field is a number or a string, strings
        compared in the binary collation (code point order)."""
        path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        field = func.json_extract(column, bindparam(None, path, type_=Text))
        if operator in ("$eq", "$ne"):
            wanted = literal(json.dumps(value))
            equal = and_(
                field.is_not(None),
                func.json_contains(field, wanted) == 1,
                func.json_contains(wanted, field) == 1,
            )
            return equal if operator == "$eq" else ~equal
        kind = func.json_type(field)
        if isinstance(value, str):
            typed: ColumnElement[Any] = case(
                (kind == "STRING", collate(func.json_unquote(field), "utf8mb4_bin")),
                else_=null(),
            )
        else:
            typed = case(
                (
                    kind.in_(("INTEGER", "UNSIGNED INTEGER", "DOUBLE", "DECIMAL")),
                    field + 0,
                ),
                else_=null(),
            )
        return compare(typed, operator, value)

    def setup_lock(self) -> tuple[Executable, Executable | None]:
        # The named lock belongs to the session, which a pool keeps alive, so
        # it must be released explicitly, and only after the migration's
        # writes are committed (see setup_autocommits).
        return (
            text(f"SELECT GET_LOCK('{_SETUP_LOCK_NAME}', 60)"),
            text(f"SELECT RELEASE_LOCK('{_SETUP_LOCK_NAME}')"),
        )

    # -- engines -------------------------------------------------------------

    @classmethod
    def tune_engine(cls, engine: Engine, url: URL, options: Mapping[str, Any]) -> None:
        """Connections learn their ``max_allowed_packet``, to name it when the
        server drops one over a statement too large (see
        :func:`watch_packet_limit`)."""
        watch_packet_limit(engine)

    @staticmethod
    def lost_a_race(orig: BaseException | None) -> bool:
        return bool(_error_code(orig) == _DEADLOCK)


def _contains(
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


# -- max_allowed_packet ----------------------------------------------------------


def watch_packet_limit(engine: Engine) -> None:
    """Report a statement over ``max_allowed_packet`` as a
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
    row = first_row(dbapi_connection, "SELECT @@max_allowed_packet")
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
