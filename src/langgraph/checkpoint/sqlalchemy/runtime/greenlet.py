"""Running the sync driver from a coroutine, in a reused greenlet.

The async saver runs each attempt of a job (checkout, statements, check-in)
as sync code in a greenlet where SQLAlchemy turns the async driver's awaits
into plain calls. ``sqlalchemy.util.greenlet_spawn`` makes a new greenlet for
every call, and making one (and letting it die) costs several times more
than switching into a greenlet that already exists (docs/performance.md).
So finished greenlets wait in a small per-thread pool (a greenlet can only be
switched to from the thread that made it) for the next call.

The protocol is SQLAlchemy's own: ``await_`` works in any greenlet marked
``__sqlalchemy_greenlet_provider__``, by switching to its parent with the
awaitable and waiting to be switched back with its result or error. It is not
public, so :func:`follows_await_protocol` tries it once, without an event
loop; where SQLAlchemy does not follow it (releases before the marker, or a
future change), every call goes through the public ``greenlet_spawn``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from greenlet import GreenletExit, getcurrent, greenlet

from langgraph.checkpoint.sqlalchemy.runtime.private_api import PRIVATE_API_ALLOWED
from sqlalchemy.util import greenlet_spawn

__all__ = ["follows_await_protocol", "run_in_greenlet"]

T = TypeVar("T")

# Enough for the concurrency of a busy loop; beyond it, greenlets are dropped.
MAX_IDLE = 64

_local = threading.local()
# What a worker switches to its parent when the call is over (its outcome is
# on the worker): anything else it switches is an awaitable from ``await_``.
_FINISHED = object()


class _Worker(greenlet):
    __sqlalchemy_greenlet_provider__ = True

    def __init__(self) -> None:
        super().__init__(self._serve)
        self.returned: Any = None
        self.raised: BaseException | None = None

    def _serve(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        while True:
            try:
                self.returned = fn(*args)
            except GreenletExit:
                raise  # being collected: let the greenlet end
            except BaseException as exc:
                self.raised = exc
            # Idle, hold on to nothing of the call that just ended.
            del fn, args
            # The parent is the caller, set by run_in_greenlet at each call.
            fn, args = cast(greenlet, self.parent).switch(_FINISHED)


def _idle() -> list[_Worker]:
    try:
        return cast(list[_Worker], _local.idle)
    except AttributeError:
        _local.idle = []
        return cast(list[_Worker], _local.idle)


def follows_await_protocol() -> bool:
    """Whether SQLAlchemy's ``await_only`` runs in a greenlet of ours: hands
    its awaitable to our parent and returns what the parent sends back.

    Tried on a real worker and a coroutine that is never run, so no event
    loop is needed."""
    from sqlalchemy.util import await_only

    async def never_run() -> None:
        return None

    awaitable = never_run()
    worker = _Worker()
    worker.parent = getcurrent()
    sent_back = object()
    try:
        step = worker.switch(await_only, (awaitable,))
        if step is not awaitable:  # refused: MissingGreenlet, on the worker
            return False
        step = worker.switch(sent_back)
        return step is _FINISHED and worker.returned is sent_back
    except Exception:
        return False
    finally:
        awaitable.close()
        if not worker.dead:
            worker.throw(GreenletExit)


#: Reused greenlets, or the public ``greenlet_spawn`` for every call.
REUSES_GREENLETS = PRIVATE_API_ALLOWED and follows_await_protocol()


async def run_in_greenlet(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a greenlet where SQLAlchemy's ``await_`` works: what
    ``sqlalchemy.util.greenlet_spawn`` does, with a reused greenlet (or
    ``greenlet_spawn`` itself, where :data:`REUSES_GREENLETS` is false)."""
    if not REUSES_GREENLETS:
        return cast(T, await greenlet_spawn(fn, *args))
    idle = _idle()
    worker = idle.pop() if idle else _Worker()
    caller = getcurrent()
    worker.parent = caller
    # Context variables inside are the calling task's, as with greenlet_spawn.
    worker.gr_context = caller.gr_context
    step = worker.switch(fn, args)
    while step is not _FINISHED:
        try:
            value = await step
        except BaseException:
            # The awaitable failed or this task was cancelled: raise it where
            # the driver awaited, so that the sync code can clean up.
            step = worker.throw(*sys.exc_info())
        else:
            step = worker.switch(value)
    value, error = worker.returned, worker.raised
    worker.returned = worker.raised = None
    worker.gr_context = None
    if len(idle) < MAX_IDLE:
        idle.append(worker)
    if error is not None:
        try:
            raise error
        finally:
            del error
    return cast(T, value)
