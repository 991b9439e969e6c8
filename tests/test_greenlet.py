"""The async saver's greenlet runner (``runtime.greenlet.run_in_greenlet``).

Every async call of the saver goes through it, so the whole async suite runs
on it against real databases; these tests pin down what that suite would
only show indirectly: a greenlet is reused, a failure or a cancellation
reaches both sides, concurrent calls don't mix, each thread keeps its own
greenlets, and an idle greenlet holds on to nothing of the last call.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import weakref
from typing import Any

import pytest
from greenlet import getcurrent

from langgraph.checkpoint.sqlalchemy.runtime.greenlet import (
    REUSES_GREENLETS,
    run_in_greenlet,
)

try:
    from sqlalchemy.util import await_
except ImportError:  # older SQLAlchemy 2.0 names it only await_only
    from sqlalchemy.util import await_only as await_

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


async def _echo(value: Any, delay: float = 0) -> Any:
    await asyncio.sleep(delay)
    return value


def _sync_add(a: int, b: int) -> int:
    # Sync code that awaits, as the sync driver does on an async DBAPI.
    return int(await_(_echo(a, 0.001))) + int(await_(_echo(b)))


async def test_returns_what_the_sync_code_returns_and_reuses_its_greenlet() -> None:
    """A greenlet is reused where SQLAlchemy follows the await protocol we
    rely on; elsewhere (SQLAlchemy 2.0.30, or the public routes forced) each
    call gets SQLAlchemy's own new one, and the result is the same."""
    assert await run_in_greenlet(_sync_add, 2, 3) == 5
    first = await run_in_greenlet(getcurrent)
    second = await run_in_greenlet(getcurrent)
    assert (first is second) is REUSES_GREENLETS
    assert first is not getcurrent()


async def test_an_error_inside_is_raised_to_the_caller() -> None:
    def fail() -> None:
        await_(_echo(None))
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        await run_in_greenlet(fail)
    assert await run_in_greenlet(_sync_add, 1, 1) == 2  # still usable


async def test_an_awaitable_that_fails_raises_where_it_was_awaited() -> None:
    async def broken() -> None:
        raise ValueError("driver said no")

    seen: list[str] = []

    def call() -> str:
        try:
            await_(broken())
        except ValueError as exc:
            seen.append(str(exc))
            raise RuntimeError("wrapped") from exc
        return "unreachable"

    with pytest.raises(RuntimeError, match="wrapped"):
        await run_in_greenlet(call)
    assert seen == ["driver said no"]


async def test_concurrent_calls_each_get_their_own_result() -> None:
    def work(n: int) -> tuple[int, Any]:
        await_(asyncio.sleep(0.001 * (n % 5)))
        return n, getcurrent()

    results = await asyncio.gather(*(run_in_greenlet(work, n) for n in range(40)))
    assert [n for n, _ in results] == list(range(40))
    # Calls that were suspended at the same time ran in different greenlets.
    assert len({id(g) for _, g in results}) > 1


async def test_a_cancelled_call_cleans_up_inside_and_raises_outside() -> None:
    started = asyncio.Event()
    cleaned: list[str] = []

    def slow() -> None:
        try:
            await_(_mark_and_wait(started))
        except asyncio.CancelledError:
            cleaned.append("cancelled inside")
            raise

    task = asyncio.create_task(run_in_greenlet(slow))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cancelled inside"]
    assert await run_in_greenlet(_sync_add, 4, 5) == 9


async def _mark_and_wait(started: asyncio.Event) -> None:
    started.set()
    await asyncio.sleep(30)


async def test_context_variables_are_the_callers() -> None:
    def read() -> str:
        return request_id.get()

    async def in_task(value: str) -> str:
        request_id.set(value)
        await asyncio.sleep(0)
        return await run_in_greenlet(read)

    got = await asyncio.gather(*(in_task(f"r{i}") for i in range(5)))
    assert got == [f"r{i}" for i in range(5)]


async def test_an_idle_greenlet_holds_nothing_of_the_last_call() -> None:
    class Payload:
        pass

    def keep(payload: Payload) -> Payload:
        await_(_echo(None))
        return payload

    def fail(payload: Payload) -> None:
        raise RuntimeError(payload)

    payload = Payload()
    ref = weakref.ref(payload)
    assert await run_in_greenlet(keep, payload) is payload
    with pytest.raises(RuntimeError):
        await run_in_greenlet(fail, payload)
    del payload
    gc.collect()
    assert ref() is None


def test_each_thread_uses_greenlets_of_its_own() -> None:
    results: dict[str, Any] = {}

    def in_thread(name: str) -> None:
        try:
            results[name] = asyncio.run(run_in_greenlet(_sync_add, 20, 22))
        except BaseException as exc:  # reported below
            results[name] = exc

    asyncio.run(run_in_greenlet(_sync_add, 1, 2))  # a greenlet idles here
    threads = [threading.Thread(target=in_thread, args=(f"t{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"t0": 42, "t1": 42, "t2": 42}
