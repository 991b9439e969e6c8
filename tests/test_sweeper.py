"""The TTL sweepers' scheduling (runtime/sweeper.py): they sweep on their
interval, survive a failing sweep, and stop when told."""

from __future__ import annotations

import asyncio
import threading

import pytest

from langgraph.checkpoint.sqlalchemy.runtime.sweeper import (
    AsyncSweeper,
    Sweeper,
    sweep_interval_seconds,
)


def test_interval_is_validated() -> None:
    assert sweep_interval_seconds(None) == 300.0
    assert sweep_interval_seconds(0.5) == 30.0
    with pytest.raises(ValueError, match="positive"):
        sweep_interval_seconds(0)
    with pytest.raises(TypeError, match="minutes"):
        sweep_interval_seconds("5")  # type: ignore[arg-type]


def test_thread_sweeper_keeps_going_after_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []
    enough = threading.Event()

    def sweep() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")
        if len(calls) >= 3:
            enough.set()
        return 2

    sweeper = Sweeper(sweep, 0.01, name="test-sweeper")
    sweeper.start()
    sweeper.start()  # a second start while running is a no-op
    assert enough.wait(5)
    assert sweeper.stop(5)
    assert not sweeper.running
    count = len(calls)
    threading.Event().wait(0.05)
    assert len(calls) == count  # stopped means no more sweeps
    assert "database away" in caplog.text


def test_async_sweeper_runs_and_stops(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> int:
        calls: list[int] = []
        enough = asyncio.Event()

        async def sweep() -> int:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("database away")
            if len(calls) >= 3:
                enough.set()
            return 1

        sweeper = AsyncSweeper(sweep, 0.01, name="test-async-sweeper")
        sweeper.start()
        await asyncio.wait_for(enough.wait(), 5)
        await sweeper.stop()
        assert not sweeper.running
        count = len(calls)
        await asyncio.sleep(0.05)
        assert len(calls) == count
        return count

    assert asyncio.run(main()) >= 3
    assert "database away" in caplog.text
