"""2. One turn of a ReAct-shaped agent (agent -> tools -> agent, a scripted
model, a growing message history), wall time per turn, through a compiled
LangGraph graph with its default durability. InMemorySaver is the floor:
the time the graph itself takes with a saver that does no I/O. Ours and the
official PostgresSaver each on one dedicated connection, and ours on its
default pool too."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping

from bench.adapters import (
    POSTGRES,
    SQLITE,
    in_memory,
    official_pg_conn,
    official_sqlite,
    ours,
)
from bench.harness import Arm, SaverSet, alternate, compare
from bench.report import Row
from bench.settings import Context
from bench.workload import agent_graph, config, human_turn

NAME = "agent"
TITLE = "ReAct agent turn through a compiled graph (PostgreSQL, SQLite; InMemorySaver floor)"


def turn_round(
    graph: object, threads: int, turns: int, durability: str | None = None
) -> Callable[[], Mapping[str, float]]:
    """A round: ``turns`` turns, each on the next of ``threads`` threads,
    with LangGraph's default durability or the one given."""
    cycle = itertools.cycle(range(threads))
    counter = itertools.count()
    options = {} if durability is None else {"durability": durability}

    def round_() -> Mapping[str, float]:
        cpu, start = time.process_time(), time.perf_counter()
        for _ in range(turns):
            thread = next(cycle)
            graph.invoke(  # type: ignore[attr-defined]
                human_turn(next(counter)), config(f"agent-{thread:03d}"), **options
            )
        return {
            "turn": (time.perf_counter() - start) / turns,
            "cpu": (time.process_time() - cpu) / turns,
        }

    return round_


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    mine, theirs, floor = (
        ours(POSTGRES, one_connection=True),
        official_pg_conn(),
        in_memory(),
    )
    pooled = ours(POSTGRES)
    lite, theirs_lite = ours(SQLITE), official_sqlite()
    variants = [mine, theirs, floor, pooled, lite, theirs_lite]
    with SaverSet(ctx.env, "agent", variants) as savers:
        arms = [
            Arm(
                o.variant.key,
                turn_round(agent_graph(o.saver), s.agent_threads, s.agent_turns),
            )
            for o in savers.opened.values()
        ]
        samples = alternate(arms, s.rounds, s.warmup, "agent turn")
    a, b, f, p, sa, sb = (samples[v.key]["turn"] for v in variants)
    above_floor = compare(
        [x - y for x, y in zip(a, f, strict=True)],
        [x - y for x, y in zip(b, f, strict=True)],
    )
    return [
        Row.compared(
            NAME,
            f"PG turn: ours (pool) vs {theirs.label}",
            "s",
            compare(p, b),
            "agent_turn_pg",
            "defaults against defaults: from_url(url) against "
            "PostgresSaver.from_conn_string(url)",
        ),
        Row.compared(
            NAME,
            f"PG turn: ours (1 connection) vs {theirs.label}",
            "s",
            compare(a, b),
            note="like for like: each saver on one dedicated connection",
        ),
        Row.compared(
            NAME,
            f"SQLite turn: ours vs {theirs_lite.label}",
            "s",
            compare(sa, sb),
            "agent_turn_sqlite",
            "defaults: ours from_url on a file against SqliteSaver as shipped",
        ),
        Row.compared(
            NAME,
            f"PG client CPU per turn: ours (pool) vs {theirs.label}",
            "s",
            compare(samples[pooled.key]["cpu"], samples[theirs.key]["cpu"]),
            note="process time of the client, the graph's own included",
        ),
        Row.compared(
            NAME,
            "PG turn: ours (1 connection) vs InMemorySaver (floor)",
            "s",
            compare(a, f),
        ),
        Row.compared(
            NAME, f"PG turn: {theirs.label} vs InMemorySaver", "s", compare(b, f)
        ),
        Row.compared(
            NAME,
            "PG turn minus floor: ours (1 connection) vs official",
            "s",
            above_floor,
            note="time each saver adds to a turn beyond InMemorySaver's",
        ),
    ]
