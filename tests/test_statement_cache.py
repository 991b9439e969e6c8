"""No statement is compiled twice.

Compiling a statement costs more than running it (milliseconds for the
one-statement ``put`` on PostgreSQL), and a construct that SQLAlchemy can't
build a cache key for (a ``VALUES`` list, a literal rendered into the SQL)
is compiled again on every call without any error. So the second time the
same calls are made, every statement must either be a hit of SQLAlchemy's
compiled cache or a hot statement the saver compiled itself the first time
(those run on the cursor, with no execution context), and the hot path must
actually take the cursor route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from psycopg.pq import Format
from sqlalchemy import Boolean, bindparam, create_engine, event, literal, select
from sqlalchemy.engine.default import DefaultExecutionContext

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.aio import AsyncSQLAlchemySaver
from langgraph.checkpoint.sqlalchemy.runtime.compiled import CompiledStatements

from conftest import make_backend

pytestmark = pytest.mark.fast_path


def _workload(saver: SQLAlchemySaver, thread: str) -> None:
    config: Any = generate_config(thread)
    versions: dict[str, str] = {}
    for step, changed in enumerate([["a"], ["a", "b"], ["a", "b", "c"], []]):
        new = {ch: saver.get_next_version(versions.get(ch)) for ch in changed}
        versions.update(new)
        values = {ch: [ch, step, {"nested": step}] for ch in versions}
        checkpoint = generate_checkpoint(
            channel_values=values, channel_versions=dict(versions)
        )
        config = saver.put(config, checkpoint, generate_metadata(step=step), new)
        saver.put_writes(config, [("a", step), ("b", "x")], f"task-{step}")
        saver.put_writes(config, [("__error__", "boom")], f"task-{step}")
    saver.get_tuple(generate_config(thread))
    saver.get_tuple(config)
    list(saver.list(generate_config(thread), limit=2))
    list(saver.list(None, filter={"step": 1}))
    list(saver.list(generate_config(thread), before=config))


def test_second_run_compiles_nothing(saver: SQLAlchemySaver) -> None:
    _workload(saver, "warm")
    seen: list[tuple[str, str]] = []

    def record(
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: DefaultExecutionContext,
        executemany: bool,
    ) -> None:
        if context is None:  # one of the saver's own compiled statements
            seen.append(("HOT", statement.split("\n")[0][:80]))
        elif context.compiled is not None:
            seen.append((context.cache_hit.name, statement.split("\n")[0][:80]))

    engine = saver.bind.engine  # type: ignore[union-attr]
    compiled_before = len(saver._runner.statements._compiled)
    event.listen(engine, "after_cursor_execute", record)
    try:
        _workload(saver, "measured")
    finally:
        event.remove(engine, "after_cursor_execute", record)
    assert seen, "no statement was observed"
    assert [s for s in seen if s[0] not in ("CACHE_HIT", "HOT")] == []
    # get_tuple, put (and its blobs) and put_writes took the cursor route
    # (the portable mode, for databases without an upsert, reads first)...
    if saver._ops.native_upsert:
        assert sum(kind == "HOT" for kind, _ in seen) >= 4 * 3 + 2, seen
    # ...with statements compiled during the first run only.
    assert len(saver._runner.statements._compiled) == compiled_before


@pytest.mark.postgres
@pytest.mark.parametrize("name", ["postgres", "postgres-one-connection"])
async def test_psycopg_reads_in_binary_on_the_hot_path(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """On psycopg, the hot reads (``get_tuple``) ask for binary results, as
    the official saver does: the text format sends each blob as hex, twice
    its size. Sync and async, on a pool and on a kept connection; what comes
    back is the same."""
    backend = make_backend(name, request, tmp_path)
    formats: list[Any] = []

    def record(
        conn: Any, cursor: Any, statement: str, *_: Any
    ) -> None:  # before_cursor_execute
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            formats.append(getattr(cursor, "_cursor", cursor).format)

    value = {"blob": b"\x00\xff" * 2000, "text": "é" * 100}
    sync_saver = backend.saver()
    async_saver = await backend.asaver()
    try:
        for engine in (sync_saver.bind.engine, async_saver.bind.sync_engine):  # type: ignore[union-attr]
            event.listen(engine, "before_cursor_execute", record)
        checkpoint = generate_checkpoint(
            channel_values={"big": value}, channel_versions={"big": "1"}
        )
        config = sync_saver.put(
            generate_config("binary"), checkpoint, generate_metadata(), {"big": "1"}
        )
        sync_saver.put_writes(config, [("big", value)], "task")
        read = sync_saver.get_tuple(config)
        aread = await async_saver.aget_tuple(config)
    finally:
        sync_saver.close()
        await async_saver.aclose()
    for got in (read, aread):
        assert got is not None
        assert got.checkpoint["channel_values"] == {"big": value}
        assert got.pending_writes == [("task", "big", value)]
    assert len(formats) >= 2, formats
    assert set(formats) == {Format.BINARY}, formats


async def _superstep(saver: Any, thread: str, step: int, config: Any) -> Any:
    """put, put_writes and get_tuple, on the async API of an async saver."""
    asynchronous = isinstance(saver, AsyncSQLAlchemySaver)

    async def call(name: str, *args: Any) -> Any:
        if asynchronous:
            return await getattr(saver, "a" + name)(*args)
        return getattr(saver, name)(*args)

    version = str(step + 1)
    checkpoint = generate_checkpoint(
        channel_values={"a": step}, channel_versions={"a": version}
    )
    config = await call(
        "put", config, checkpoint, generate_metadata(step=step), {"a": version}
    )
    await call("put_writes", config, [("a", step)], f"task-{step}")
    got = await call("get_tuple", generate_config(thread))
    assert got is not None
    assert got.checkpoint["channel_values"] == {"a": step}
    assert got.pending_writes == [(f"task-{step}", "a", step)]
    return config


class _CursorLog:
    """``before_cursor_execute``: the cursors each DBAPI connection ran the
    saver's own compiled statements on (BEGIN, sent by the begin listener on
    a cursor of its own, aside)."""

    def __init__(self) -> None:
        self.cursors: dict[int, tuple[Any, set[int]]] = {}
        self.hot = 0

    def __call__(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if context is None and not statement.startswith("BEGIN"):
            self.hot += 1
            dbapi = conn.connection.dbapi_connection
            # Keep the connection referenced, so that its id is never reused.
            self.cursors.setdefault(id(dbapi), (dbapi, set()))[1].add(id(cursor))

    def one_cursor_per_connection(self) -> bool:
        return {len(ids) for _, ids in self.cursors.values()} == {1}


async def test_hot_statements_reuse_one_cursor_per_connection(
    backend: Any,
) -> None:
    """The hot statements of every call on one DBAPI connection run on one
    cursor, made the first time (a statement on a new psycopg cursor took
    23-33 µs more, its adaptation caches empty), sync and async, on a pool
    and on a kept connection; what the calls return is unchanged."""
    log = _CursorLog()
    sync_saver = backend.saver()
    async_saver = await backend.asaver()
    engines = [sync_saver.bind.engine, async_saver.bind.sync_engine]
    try:
        for engine in engines:
            event.listen(engine, "before_cursor_execute", log)
        for saver in (sync_saver, async_saver):
            thread = f"cursor-{type(saver).__name__}"
            config: Any = generate_config(thread)
            for step in range(4):
                config = await _superstep(saver, thread, step, config)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", log)
        sync_saver.close()
        await async_saver.aclose()
    if not sync_saver._ops.native_upsert:
        # The portable statements all go through Connection.execute.
        assert log.hot == 0, log.hot
        return
    assert log.hot >= 2 * 4 * 2, log.hot  # the calls took the hot route
    assert log.one_cursor_per_connection(), log.cursors


async def test_savers_on_one_engine_share_the_kept_cursor(backend: Any) -> None:
    """Two savers on one engine (two schemas' worth of code, say) run their
    hot statements on the same kept cursor of each connection, rather than
    one cursor per saver per connection."""
    first = backend.saver()
    second = SQLAlchemySaver(first.bind, force_portable=backend.force_portable)
    log = _CursorLog()
    event.listen(first.bind, "before_cursor_execute", log)
    try:
        for saver in (first, second, first, second):
            thread = f"shared-{id(saver)}"
            config: Any = generate_config(thread)
            for step in range(2):
                config = await _superstep(saver, thread, step, config)
    finally:
        event.remove(first.bind, "before_cursor_execute", log)
        first.close()
    if not first._ops.native_upsert:
        assert log.hot == 0, log.hot
        return
    assert log.hot >= 2 * 2 * 4, log.hot
    assert log.one_cursor_per_connection(), log.cursors


def test_a_hot_statement_may_hold_an_anonymous_literal(tmp_path: Path) -> None:
    """A literal in a hot statement (an anonymous parameter, known to the
    compiler by its key and by its name in the SQL) has its value processed
    once, under the name the SQL uses: SQLite's Boolean becomes 1 or 0."""
    engine = create_engine(f"sqlite:///{tmp_path / 'hot.sqlite'}")
    statements = CompiledStatements(engine.dialect, None)
    statement = select(
        literal(True).label("literal"), bindparam("flag", type_=Boolean()).label("flag")
    )
    try:
        with engine.connect() as conn:
            compiled = statements.get(statement, {"flag": False})
            assert compiled is not None
            rows = statements.execute(conn, compiled, {"flag": False})
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [(True, False)]
