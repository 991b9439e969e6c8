"""Filling a database fast: copies of one checkpoint row, made by SQL.

Putting 100k checkpoints one call at a time would take minutes and measure
nothing of interest. Instead each saver writes one *template* checkpoint
itself (so the row is in its own format), and the database copies that row
``n`` times under new checkpoint IDs. The official savers and ours name the
``checkpoints`` table and its columns alike (on SQLite too), so the same
statement serves both. Copies get IDs that sort before any real (uuid6) ID,
so a thread's real checkpoints stay its latest.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bench.plans import Op, Plan
from bench.workload import NextVersion, config, metadata, next_checkpoint

# A checkpoint ID for copy number i, below every uuid6 LangGraph makes.
_ID_PREFIX = "00000000-0000-6000-8000-"
_DIALECT = {
    "postgresql": {
        "series": "SELECT generate_series(0, :n - 1) AS i",
        "pad": "lpad(i::text, 12, '0')",
    },
    "sqlite": {
        "series": "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s "
        "WHERE i < :n - 1) SELECT i FROM s",
        "pad": "printf('%012d', i)",
    },
}


def template(thread_id: str, next_version: NextVersion) -> Plan[None]:
    """The row to copy: a checkpoint whose values are all kept inline (no
    blobs), so copies under other thread IDs are complete."""
    checkpoint, versions = next_checkpoint(
        None, {"counter": 1, "status": "done"}, 0, next_version
    )
    yield Op("put", (config(thread_id), checkpoint, metadata(0), versions))


def clone_checkpoints(
    url: str,
    template_thread: str,
    n: int,
    thread_sql: str,
    metadata_sql: str | None = None,
) -> None:
    """Insert ``n`` copies of ``template_thread``'s checkpoint.

    ``thread_sql`` and ``metadata_sql`` are SQL expressions of the copy
    number ``i`` (constants of this package, never user input): the thread
    each copy goes to and, optionally, its metadata (else the template's).
    """
    if n <= 0:
        return
    engine = sa.create_engine(url if "://" in url else f"sqlite:///{url}")
    sql = _DIALECT[engine.dialect.name]
    statement = f"""
        INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id,
            parent_checkpoint_id, type, checkpoint, metadata)
        SELECT {thread_sql}, '', '{_ID_PREFIX}' || {sql["pad"]}, NULL, t.type,
            t.checkpoint, {metadata_sql or "t.metadata"}
        FROM ({sql["series"]}) AS series
        CROSS JOIN (SELECT type, checkpoint, metadata FROM checkpoints
                    WHERE thread_id = :template) AS t
    """
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement), {"n": n, "template": template_thread})
        analyze(engine)
    finally:
        engine.dispose()


def analyze(engine: sa.Engine) -> None:
    """Fresh planner statistics (and, on PostgreSQL, a vacuumed heap)."""
    command = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(command)


def count_checkpoints(url: str, where: str = "", **params: Any) -> int:
    engine = sa.create_engine(url if "://" in url else f"sqlite:///{url}")
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(f"SELECT count(*) FROM checkpoints {where}"), params
                ).scalar_one()
            )
    finally:
        engine.dispose()
