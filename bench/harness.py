"""Alternating rounds, medians and paired ratios; opening a scenario's savers.

Every timed scenario gives each arm (a saver, or a saver under one condition)
a function that runs one *round* and returns its measurements. Rounds
alternate between the arms and reverse their order every other round
(A B, B A, A B…), so a drift of the machine (another process, the server's
caches warming, autovacuum) falls on every arm alike. The first ``warmup``
rounds are run and thrown away.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.adapters import Variant
from bench.servers import BenchEnv


@dataclass(frozen=True)
class Arm:
    name: str
    round: Callable[[], Mapping[str, float]]


Samples = dict[str, dict[str, list[float]]]  # arm -> metric -> one value per round


def alternate(arms: Sequence[Arm], rounds: int, warmup: int, label: str) -> Samples:
    """Run ``warmup + rounds`` rounds of every arm, alternating, and keep the
    measurements of the last ``rounds``."""
    samples: Samples = {arm.name: {} for arm in arms}
    total = warmup + rounds
    started = time.perf_counter()
    for r in range(total):
        order = arms if r % 2 == 0 else list(reversed(arms))
        for arm in order:
            measured = arm.round()
            if r >= warmup:
                for metric, value in measured.items():
                    samples[arm.name].setdefault(metric, []).append(value)
        progress(f"{label}: round {r + 1}/{total}", started)
    progress(f"{label}: done", started, final=True)
    return samples


def progress(message: str, started: float, *, final: bool = False) -> None:
    if not sys.stderr.isatty():
        if final:
            print(
                f"  {message} ({time.perf_counter() - started:.1f} s)", file=sys.stderr
            )
        return
    end = "\n" if final else ""
    elapsed = time.perf_counter() - started
    print(f"\r\x1b[K  {message} ({elapsed:.1f} s)", end=end, file=sys.stderr)


@dataclass(frozen=True)
class Comparison:
    """A against B over paired rounds.

    ``ratio`` is the median of the per-round ratios A/B (each round's A and
    B ran back to back); ``low``/``high`` are their quartiles, a measure of
    the noise.
    """

    a_median: float
    b_median: float
    ratio: float
    low: float
    high: float
    rounds: int
    a_values: tuple[float, ...] = ()
    b_values: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, float]:
        return {
            "a_median": self.a_median,
            "b_median": self.b_median,
            "ratio": self.ratio,
            "ratio_q1": self.low,
            "ratio_q3": self.high,
            "rounds": self.rounds,
            "a_values": list(self.a_values),
            "b_values": list(self.b_values),
        }


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def compare(a: Sequence[float], b: Sequence[float]) -> Comparison:
    ratios = [x / y for x, y in zip(a, b, strict=True) if y]
    low, high = quartiles(ratios)
    return Comparison(
        a_median=statistics.median(a),
        b_median=statistics.median(b),
        ratio=statistics.median(ratios),
        low=low,
        high=high,
        rounds=len(ratios),
        a_values=tuple(a),
        b_values=tuple(b),
    )


# -- opening savers ----------------------------------------------------------


@dataclass
class Opened:
    variant: Variant
    place: str
    saver: Any


class SaverSet:
    """The savers of one scenario, each in its own fresh place, opened on
    entry and closed on exit. Async savers live on :attr:`runner`'s loop,
    which their rounds must use too (``self.run(coro)``)."""

    def __init__(self, env: BenchEnv, tag: str, variants: Sequence[Variant]) -> None:
        self.env, self.tag, self.variants = env, tag, list(variants)
        self.opened: dict[str, Opened] = {}
        self.runner: asyncio.Runner | None = None

    def run(self, coro: Any) -> Any:
        assert self.runner is not None, "no async variant in this set"
        return self.runner.run(coro)

    def __getitem__(self, key: str) -> Opened:
        return self.opened[key]

    @contextlib.contextmanager
    def _opened(self) -> Iterator[SaverSet]:
        with contextlib.ExitStack() as stack:
            if any(v.is_async for v in self.variants):
                self.runner = stack.enter_context(asyncio.Runner())
                astack = contextlib.AsyncExitStack()
                stack.callback(lambda: self.run(astack.aclose()))
            for variant in self.variants:
                place = variant.provision(self.env, self.tag)
                if variant.is_async:
                    saver = self.run(astack.enter_async_context(variant.open(place)))
                else:
                    saver = stack.enter_context(variant.open(place))
                self.opened[variant.key] = Opened(variant, place, saver)
            yield self

    def __enter__(self) -> SaverSet:
        self._cm = self._opened()
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._cm.__exit__(*exc)
