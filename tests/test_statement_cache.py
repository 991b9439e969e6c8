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

from typing import Any

from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from sqlalchemy import event
from sqlalchemy.engine.default import DefaultExecutionContext

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver


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
    compiled_before = len(saver._binding.statements._compiled)
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
    assert len(saver._binding.statements._compiled) == compiled_before
