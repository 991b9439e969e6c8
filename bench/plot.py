"""The ratios of a run as an SVG chart, for docs/performance.md.

One horizontal bar per row that has a ratio: its median, the interquartile
range as a whisker, the target as a red tick, and 1x (parity with the
official saver) as a dashed line. Plain SVG, written by hand: no plotting
library to install for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from bench.report import TARGETS, Row

WIDTH, LABEL, RIGHT, BAR, GAP, TOP = 900, 420, 60, 14, 10, 40


def svg(rows: Sequence[Row], title: str) -> str:
    """An SVG document charting the ratio rows of ``rows``."""
    shown = [r for r in rows if r.ratio is not None]
    top = max(
        [2.0]
        + [r.q3 or r.ratio or 0 for r in shown]
        + [TARGETS[r.target].line or 0 for r in shown if r.target]
    )
    scale = (WIDTH - LABEL - RIGHT) / (top * 1.05)
    height = TOP + len(shown) * (BAR + GAP) + 30

    def x(ratio: float) -> float:
        return LABEL + ratio * scale

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    bottom = height - 25
    for tick in range(int(top * 1.05) + 1):
        tx = x(tick)
        # 1x, parity with the official saver, dashed and darker.
        stroke = (
            'stroke="#666" stroke-dasharray="4 3"' if tick == 1 else 'stroke="#ccc"'
        )
        out.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 8}" x2="{tx:.1f}" y2="{bottom}" {stroke}/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{bottom + 15}" text-anchor="middle">{tick}x</text>'
        )
    for i, row in enumerate(shown):
        y = TOP + i * (BAR + GAP)
        assert row.ratio is not None
        verdict = row.verdict
        colour = {"PASS": "#3a7d44", "MISS": "#c0504d"}.get(verdict, "#7f8c9a")
        label = f"{row.scenario}: {row.what}"
        if len(label) > 62:
            label = label[:61] + "…"
        out.append(
            f'<text x="{LABEL - 8}" y="{y + BAR - 3}" text-anchor="end">{escape(label)}</text>'
        )
        out.append(
            f'<rect x="{LABEL}" y="{y}" width="{row.ratio * scale:.1f}" '
            f'height="{BAR}" fill="{colour}" opacity="0.8"/>'
        )
        if row.q1 is not None and row.q3 is not None and row.q1 != row.q3:
            mid = y + BAR / 2
            out.append(
                f'<line x1="{x(row.q1):.1f}" y1="{mid}" x2="{x(row.q3):.1f}" '
                f'y2="{mid}" stroke="black"/>'
            )
        line = TARGETS[row.target].line if row.target else None
        if line is not None:
            out.append(
                f'<line x1="{x(line):.1f}" y1="{y - 3}" x2="{x(line):.1f}" '
                f'y2="{y + BAR + 3}" stroke="red" stroke-width="2"/>'
            )
        out.append(
            f'<text x="{x(max(row.ratio, row.q3 or 0)) + 5:.1f}" y="{y + BAR - 3}">'
            f"{row.ratio:.2f}x</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_svg(path: Path, rows: Sequence[Row], title: str) -> None:
    path.write_text(svg(rows, title), encoding="utf-8")
