"""Start a coroutine at once and run it up to its first real wait: Python 3.12's eager tasks, for 3.11.

Most turns never wait inside their handler (the turn script already read the dialog and the profile), so a
task for them is pure cost: it is scheduled, runs one loop iteration later, and needs a waiter to report back.
Started eagerly, such a turn is finished before `start_eagerly` returns; one that does wait continues as an
ordinary task from where it stopped. Wait for it with `finished_by`, which also fixes what 3.11 cannot: a
timeout entered before the first wait (aiohttp's, asyncio.timeout) took the caller's task as the one to cancel.

On Python 3.12 and later this is asyncio's own eager_task_factory; the hand-written start below is the 3.11
fallback (Debian 12 ships 3.11). docs/performance.md has the measurement that keeps it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def start_eagerly(coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Future[T]:
    """A future of the coroutine's result: already done when it finished without waiting. `loop`: the running
    one, if the caller has it (asking asyncio is a getpid() system call on 3.11)."""
    if loop is None:
        loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):
        return asyncio.eager_task_factory(loop, coro)
    try:
        waiting_for = coro.send(None)
    except StopIteration as stop:
        finished: asyncio.Future[T] = loop.create_future()
        finished.set_result(stop.value)
        return finished
    except Exception as exc:
        failed: asyncio.Future[T] = loop.create_future()
        failed.set_exception(exc)
        return failed
    return loop.create_task(_carry_on(coro, waiting_for))


async def _carry_on(coro: Coroutine[Any, Any, T], waiting_for: Any) -> T:
    """Drive the rest of `coro` as asyncio's Task would: wait for what it yielded, then resume it.

    The coroutine reads the outcome of what it waited for itself (the future's result or exception), so this
    only waits for it to settle. Cancelling this task cancels that future, so the coroutine sees the
    cancellation there, or has it thrown in when it waits on nothing."""
    while True:
        cancelled: asyncio.CancelledError | None = None
        try:
            if waiting_for is None:  # a bare yield, as in asyncio.sleep(0): one turn of the loop
                await asyncio.sleep(0)
            else:
                waiting_for._asyncio_future_blocking = False  # taken over, as asyncio's Task does
                await waiting_for
        except asyncio.CancelledError as exc:
            if waiting_for is None or not waiting_for.cancelled():
                cancelled = exc  # this task was cancelled, not what the coroutine waits for
        except BaseException:  # noqa: S110 - the coroutine reads the outcome from the future itself
            pass
        try:
            waiting_for = coro.send(None) if cancelled is None else coro.throw(cancelled)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def finished_by(work: asyncio.Future[Any], deadline: float) -> bool:
    """Whether `work` finishes by the loop time `deadline`; it goes on either way. One timer and one future:
    wait_for(shield(…)) costs several times as much on every turn.

    A cancellation of the caller while it waits is passed on to `work`: a timeout the coroutine entered
    before its first wait cancels the caller's task, which was running it then. Once `work` has settled, the
    caller is cancelled too unless the cancellation was taken back, as an expired timeout does."""
    if work.done():
        return True
    loop = asyncio.get_running_loop()
    caller = asyncio.current_task()
    cancels_before = caller.cancelling() if caller is not None else 0
    woken: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not woken.done():
            woken.set_result(None)

    timer = loop.call_at(deadline, wake)
    work.add_done_callback(wake)
    try:
        while True:
            try:
                await woken
                break
            except asyncio.CancelledError:
                if work.done():
                    raise
                work.cancel()
                woken = loop.create_future()
    finally:
        timer.cancel()
        work.remove_done_callback(wake)
    if caller is not None and caller.cancelling() > cancels_before:
        raise asyncio.CancelledError
    return work.done()
