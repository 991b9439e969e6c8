"""What each of LangGraph's durability modes costs a turn, per saver.

A graph chooses how durable it is (``durability="sync" | "async" | "exit"``):
``sync`` waits for each checkpoint before the next step, ``async`` (the
default) writes it while the next step runs, ``exit`` writes only when the
run ends. The saver does the same work per write in each mode; what changes
is how many writes there are and whether the graph waits for them. The same
ReAct turn as ``agent``, through ours on its default pool and the official
``PostgresSaver.from_conn_string``, each mode against ``InMemorySaver`` in
the same mode, so each row says what the saver adds to a turn in that mode.
"""

from __future__ import annotations

from bench.adapters import POSTGRES, Variant, in_memory, official_pg_conn, ours
from bench.harness import Arm, SaverSet, alternate, compare
from bench.report import Row
from bench.scenarios.agent_turn import turn_round
from bench.settings import Context
from bench.workload import agent_graph

NAME = "durability"
TITLE = "agent turn per durability mode (sync, async, exit), ours and official"
MODES = ("sync", "async", "exit")


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    savers_of: dict[str, Variant] = {
        "ours": ours(POSTGRES),
        "official": official_pg_conn(),
        "floor": in_memory(),
    }
    with SaverSet(ctx.env, "durability", list(savers_of.values())) as savers:
        arms = [
            Arm(
                f"{side}_{mode}",
                turn_round(
                    agent_graph(savers[v.key].saver),
                    s.agent_threads,
                    s.agent_turns,
                    mode,
                ),
            )
            for side, v in savers_of.items()
            for mode in MODES
        ]
        samples = alternate(arms, s.rounds, s.warmup, "durability")
    rows = []
    for mode in MODES:
        a, b, f = (samples[f"{side}_{mode}"]["turn"] for side in savers_of)
        rows += [
            Row.compared(
                NAME,
                f"durability={mode!r} turn: ours (pool) vs "
                f"{savers_of['official'].label}",
                "s",
                compare(a, b),
            ),
            Row.compared(
                NAME,
                f"durability={mode!r} turn minus InMemorySaver's: ours vs official",
                "s",
                compare(
                    [x - y for x, y in zip(a, f, strict=True)],
                    [x - y for x, y in zip(b, f, strict=True)],
                ),
                note="what each saver adds to a turn in this mode",
            ),
        ]
    return rows
