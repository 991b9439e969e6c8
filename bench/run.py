"""Benchmark our savers against the official ones, on the same servers, in
one run. ``python bench/run.py --help``; see bench/README.md."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for entry in (REPO, REPO / "tests"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from bench import plot, report  # noqa: E402
from bench.scenarios import SCENARIOS  # noqa: E402
from bench.servers import bench_env  # noqa: E402
from bench.settings import Context, settings  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare langgraph-checkpoint-sqlalchemy with the official "
        "savers: alternating rounds, medians, ratios ours/official."
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run of about a minute"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these scenarios (repeat or comma-separate): "
        f"{', '.join(SCENARIOS)}",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write results here")
    parser.add_argument(
        "--plot", type=Path, metavar="PATH", help="draw the ratios as an SVG chart here"
    )
    parser.add_argument(
        "--rounds", type=int, metavar="N", help="measured rounds per scenario"
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    names = [n.strip() for group in args.only or [] for n in group.split(",")]
    unknown = [n for n in names if n and n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIOS)}")
    args.names = [n for n in SCENARIOS if not names or n in names]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = settings(args.quick, args.rounds)
    # LangGraph warns about the scripted graph's plain-dict messages etc.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    rows: list[report.Row] = []
    started = time.perf_counter()
    print(
        f"scenarios: {', '.join(args.names)}; {chosen.rounds} rounds "
        f"(+{chosen.warmup} warmup){' [quick]' if args.quick else ''}",
        file=sys.stderr,
    )
    with bench_env(need_postgres=True) as env:
        servers = env.versions()
        print(
            "servers: " + ", ".join(f"{k} {v}" for k, v in servers.items()),
            file=sys.stderr,
        )
        ctx = Context(env, chosen)
        for name in args.names:
            module = SCENARIOS[name]
            print(f"[{name}] {module.TITLE}", file=sys.stderr)
            rows += module.run(ctx)
    print()
    print(report.LEGEND)
    print(report.table(rows))
    print()
    print(report.summary(rows), f"(run took {time.perf_counter() - started:.0f} s)")
    if args.json is not None:
        report.write_json(
            args.json,
            rows,
            {"quick": args.quick, "scenarios": args.names} | dataclasses.asdict(chosen),
            servers,
        )
        print(f"results written to {args.json}")
    if args.plot is not None:
        title = (
            f"ours / official, {time.strftime('%Y-%m-%d')} (below 1x: ours "
            "faster or smaller; for throughput, above 1x: ours does more)"
        )
        plot.write_svg(args.plot, rows, title)
        print(f"chart written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
