"""Result rows, the targets they are held to, and the printed table / JSON.

Every row compares A with B: usually ours (A) with an official saver (B), so
a ratio below 1 means ours is faster (or smaller). The absolute medians are
shown alongside, never alone: they depend on the machine, the ratios much
less.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import Comparison


@dataclass(frozen=True)
class Target:
    text: str
    met: Callable[[Row], bool]
    line: float | None = None  # the ratio the target draws the line at


def _within_noise(row: Row) -> bool:
    # 10k-deep costs the same as 10-deep: the ratio is within 10 % of 1, or
    # the spread of the per-round ratios reaches 1.
    assert row.ratio is not None
    spread_reaches_one = (
        row.q1 is not None and row.q3 is not None and row.q1 <= 1.0 <= row.q3
    )
    return abs(row.ratio - 1.0) <= 0.10 or spread_reaches_one


def _at_most(line: float) -> Target:
    return Target(
        f"<= {line:g}x", lambda r: r.ratio is not None and r.ratio <= line, line
    )


def _at_least(line: float, what: str = "") -> Target:
    return Target(
        f">= {line:g}x{what}", lambda r: r.ratio is not None and r.ratio >= line, line
    )


# Issue 18's targets: each package's one-line default against the other's,
# like for like on one connection, and the client's own CPU.
TARGETS: dict[str, Target] = {
    "pg_superstep_defaults": _at_most(0.85),
    "pg_superstep_conn": _at_most(0.8),
    "client_cpu": _at_most(0.6),
    "sqlite_superstep": _at_most(1.0),
    "agent_turn_pg": _at_most(0.85),
    "agent_turn_sqlite": _at_most(1.0),
    "async_throughput": _at_least(2.5, " throughput"),
    "peak_rss": _at_most(1.0),
    "list_index": Target("no seq scan", lambda r: r.a == 0),
    "deep_thread": Target("within noise", _within_noise),
    "bytes": _at_most(1.0),
    "round_trips": Target("<= 1", lambda r: r.a is not None and r.a <= 1.0),
}


@dataclass
class Row:
    """One line of the table.

    Attributes:
        scenario: which scenario.
        what: what is measured, and A vs B.
        unit: ``s`` (shown as ms/µs), ``ops/s``, ``bytes``, ``count``, ``bool``.
        a, b: medians (or single values for non-timed measurements).
        ratio, q1, q3: A/B, with the quartiles of the per-round ratios.
        target: a key of :data:`TARGETS`, or None for context rows.
        note: anything a reader needs to interpret the row.
    """

    scenario: str
    what: str
    unit: str
    a: float | None
    b: float | None
    ratio: float | None = None
    q1: float | None = None
    q3: float | None = None
    target: str | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def compared(
        cls,
        scenario: str,
        what: str,
        unit: str,
        comparison: Comparison,
        target: str | None = None,
        note: str = "",
    ) -> Row:
        return cls(
            scenario,
            what,
            unit,
            comparison.a_median,
            comparison.b_median,
            comparison.ratio,
            comparison.low,
            comparison.high,
            target,
            note,
            {
                "rounds": comparison.rounds,
                "a_rounds": list(comparison.a_values),
                "b_rounds": list(comparison.b_values),
            },
        )

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "PASS" if TARGETS[self.target].met(self) else "MISS"


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        if value >= 1:
            return f"{value:.2f} s"
        if value >= 1e-3:
            return f"{value * 1e3:.3g} ms"
        return f"{value * 1e6:.3g} us"
    if unit == "ops/s":
        return f"{value:,.0f}/s"
    if unit == "bytes":
        return f"{value:,.0f} B"
    if unit == "bool":
        return "yes" if value else "no"
    return f"{value:.3g}"


def _ratio(row: Row) -> str:
    if row.ratio is None:
        return "-"
    text = f"{row.ratio:.2f}x"
    if row.q1 is not None and row.q3 is not None and row.q1 != row.q3:
        text += f" [{row.q1:.2f}-{row.q3:.2f}]"
    return text


def table(rows: Sequence[Row]) -> str:
    head = ("scenario", "A vs B", "A median", "B median", "A/B [q1-q3]", "target", "")
    body = [
        (
            r.scenario,
            r.what,
            _value(r.a, r.unit),
            _value(r.b, r.unit),
            _ratio(r),
            TARGETS[r.target].text if r.target else "",
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))

    out = [line(head), "-+-".join("-" * w for w in widths)]
    out += [line(cells) for cells in body]
    notes = [(i, r.note) for i, r in enumerate(rows, 1) if r.note]
    if notes:
        out.append("")
        out += [f"  {rows[i - 1].scenario} / {rows[i - 1].what}: {n}" for i, n in notes]
    return "\n".join(out)


def summary(rows: Sequence[Row]) -> str:
    verdicts = [r.verdict for r in rows if r.target]
    return f"targets: {verdicts.count('PASS')} PASS, {verdicts.count('MISS')} MISS"


LEGEND = (
    "A/B is the median of per-round ratios, [q1-q3] their quartiles. Below 1: "
    "ours (A) is faster or smaller, except for throughput (ops/s), where above 1 "
    "means ours does more."
)


def write_json(
    path: Path,
    rows: Sequence[Row],
    settings: dict[str, Any],
    servers: dict[str, str],
) -> None:
    payload = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            **servers,
        },
        "settings": settings,
        "rows": [
            {**asdict(r), "verdict": r.verdict or None, "target_text": _target(r)}
            for r in rows
        ],
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")


def _target(row: Row) -> str | None:
    return TARGETS[row.target].text if row.target else None
