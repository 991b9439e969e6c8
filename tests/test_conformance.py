"""The official conformance suite, every capability, on every backend, both savers.

``langgraph-checkpoint-conformance`` drives async methods only; the sync saver
goes through :class:`SyncAsAsync`, which calls its sync methods, so both shells
are held to the same contract.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from langgraph.checkpoint.sqlalchemy import SQLAlchemySaver

from conftest import Backend


class SyncAsAsync(BaseCheckpointSaver[str]):
    """The async interface over a sync saver's sync methods."""

    def __init__(self, inner: SQLAlchemySaver) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner

    def get_next_version(self, current: Any, channel: None = None) -> str:
        return self.inner.get_next_version(current, channel)

    async def aget_tuple(self, config: Any) -> Any:
        return self.inner.get_tuple(config)

    async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[Any]:
        for item in self.inner.list(config, **kwargs):
            yield item

    async def aput(self, *args: Any) -> Any:
        return self.inner.put(*args)

    async def aput_writes(self, *args: Any, **kwargs: Any) -> None:
        self.inner.put_writes(*args, **kwargs)

    async def adelete_thread(self, thread_id: str) -> None:
        self.inner.delete_thread(thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.inner.delete_for_runs(run_ids)

    async def acopy_thread(self, source: str, target: str) -> None:
        self.inner.copy_thread(source, target)

    async def aprune(self, thread_ids: Sequence[str], **kwargs: Any) -> None:
        self.inner.prune(thread_ids, **kwargs)


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_conformance(backend: Backend, mode: str) -> None:
    async def factory() -> AsyncIterator[BaseCheckpointSaver[str]]:
        if mode == "async":
            asaver = await backend.asaver()
            try:
                yield asaver
            finally:
                await asaver.aclose()
        else:
            saver = backend.saver()
            try:
                yield SyncAsAsync(saver)
            finally:
                saver.close()

    registered = checkpointer_test(name=f"{mode}-{backend.name}")(factory)
    report = await validate(registered)
    report.print_report()
    failures = {
        name: result.failures
        for name, result in report.results.items()
        if result.passed is not True
    }
    assert not failures, failures
    assert {r for r, res in report.results.items() if res.detected} == {
        c.value for c in ALL_CAPABILITIES
    }
    assert report.conformance_level() == "FULL"
