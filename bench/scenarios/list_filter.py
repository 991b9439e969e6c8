"""3. ``list(None, filter={...})`` on metadata over many checkpoints
(PostgreSQL), and EXPLAIN of the statements ours sends for it.

Each saver's database gets the same rows: its own template checkpoint,
copied by SQL (see ``bulk.py``) across 1,000 threads, with metadata
``{"source": "loop", "step": i % 50, "run_id": "run-NNNNNN", "parents": {}}``
where one run in 1,000 matches a filter. Ours' SQL is caught with
SQLAlchemy's ``before_cursor_execute`` event and EXPLAINed with its own
parameters; the official saver's query, rebuilt from its module, is
EXPLAINed too for context.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bench.adapters import POSTGRES, official_pg_conn, ours
from bench.bulk import clone_checkpoints, template
from bench.harness import Arm, SaverSet, alternate, compare
from bench.plans import Op, Plan, drive
from bench.report import Row
from bench.servers import libpq_url
from bench.settings import Context
from bench.statements import captured

NAME = "list_filter"
TITLE = "list(filter=...) on metadata over many checkpoints (PostgreSQL, EXPLAIN)"
RUNS = 1000  # distinct run_ids: a filter on one matches 1 checkpoint in RUNS
THREADS = 1000


def filter_for(run: int) -> dict[str, Any]:
    return {"source": "loop", "run_id": f"run-{run:06d}"}


def load(place: str, saver: Any, n: int) -> None:
    drive(template("template", saver.get_next_version), saver)
    clone_checkpoints(
        place,
        "template",
        n,
        thread_sql=f"'bulk-' || lpad((i % {THREADS})::text, 6, '0')",
        metadata_sql=(
            "jsonb_build_object('source', 'loop', 'step', i % 50, 'run_id', "
            f"'run-' || lpad((i % {RUNS})::text, 6, '0'), 'parents', '{{}}'::jsonb)"
        ),
    )


def list_round(saver: Any, queries: int) -> Callable[[], Mapping[str, float]]:
    runs = itertools.cycle(range(7, RUNS, 37))

    def round_() -> Mapping[str, float]:
        found = 0
        start = time.perf_counter()
        for _ in range(queries):
            found += len(drive(_list(filter_for(next(runs))), saver))
        return {"list": (time.perf_counter() - start) / queries, "found": found}

    return round_


def _list(filter: dict[str, Any]) -> Plan[list[Any]]:
    found: list[Any] = yield Op("list", (None,), {"filter": filter})
    return found


# -- EXPLAIN -----------------------------------------------------------------


def plan_nodes(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def scans(explained: Any) -> list[str]:
    """'Seq Scan on checkpoints', 'Bitmap Index Scan on …_idx'… for a plan."""
    document = explained if isinstance(explained, list) else json.loads(explained)
    out = []
    for node in plan_nodes(document[0]["Plan"]):
        if "Scan" in node["Node Type"]:
            on = (
                node.get("Relation Name")
                or node.get("Index Name")
                or node.get("Function Name", "?")
            )
            if node.get("Index Name") and node.get("Relation Name"):
                on = f"{node['Relation Name']} using {node['Index Name']}"
            out.append(f"{node['Node Type']} on {on}")
    return out


def explain_ours(saver: Any, filter: dict[str, Any]) -> list[str]:
    engine = saver.bind
    with captured(engine) as seen:
        list(saver.list(None, filter=filter))
    found: list[str] = []
    with engine.connect() as conn:
        for statement, params in seen:
            if "@>" not in statement:
                continue  # the pages' children queries go by primary key
            result = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params)
            found += scans(result.scalar())
    return found


def explain_official(place: str, filter: dict[str, Any]) -> list[str]:
    """The official saver's list query, rebuilt from its module. Context
    only: it uses private helpers, so a failure is reported, not raised."""
    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from langgraph.checkpoint.postgres.base import SELECT_SQL

        where, args = PostgresSaver._search_where(  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            None,
            filter,
        )
        query = SELECT_SQL + where + " ORDER BY checkpoint_id DESC"
        with psycopg.connect(libpq_url(place), autocommit=True) as conn:
            row = conn.execute("EXPLAIN (FORMAT JSON) " + query, args).fetchone()
        return scans(row[0]) if row else ["?"]
    except Exception as exc:
        return [f"could not EXPLAIN: {exc!r}"]


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    mine, theirs = ours(POSTGRES), official_pg_conn()
    with SaverSet(ctx.env, "list", [mine, theirs]) as savers:
        for opened in savers.opened.values():
            load(opened.place, opened.saver, s.list_checkpoints)
        arms = [
            Arm(o.variant.key, list_round(o.saver, s.list_queries))
            for o in savers.opened.values()
        ]
        samples = alternate(arms, s.rounds, s.warmup, "list filter")
        probe = filter_for(42)
        ours_scans = explain_ours(savers[mine.key].saver, probe)
        official_scans = explain_official(savers[theirs.key].place, probe)
    found = {k: samples[k]["found"] for k in (mine.key, theirs.key)}
    if found[mine.key] != found[theirs.key]:
        raise AssertionError(f"the savers listed different checkpoints: {found}")
    per_query = s.list_checkpoints // RUNS
    seq = [x for x in ours_scans if x.startswith("Seq Scan on checkpoints")]
    return [
        Row.compared(
            NAME,
            f"list(filter) over {s.list_checkpoints:,}: ours vs {theirs.label}",
            "s",
            compare(samples[mine.key]["list"], samples[theirs.key]["list"]),
            note=f"each list returns {per_query} checkpoints",
        ),
        Row(
            NAME,
            "ours PG EXPLAIN: seq scans of checkpoints",
            "count",
            len(seq),
            None,
            target="list_index",
            note=f"ours: {'; '.join(ours_scans) or '-'} | official: "
            f"{'; '.join(official_scans)}",
            extra={"ours_plan": ours_scans, "official_plan": official_scans},
        ),
    ]
