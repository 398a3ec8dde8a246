"""A turn's handler starts at once: one that never waits is answered without a task, one that waits goes on."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.helpers import TimerContext

from bot.engine.eager import finished_by, start_eagerly


async def test_a_handler_that_never_waits_is_done_before_start_returns() -> None:
    ran: list[str] = []

    async def fixed_prompt() -> str:
        ran.append("ran")
        return "请回复「同意」"

    work = start_eagerly(fixed_prompt())
    assert ran == ["ran"] and work.done() and work.result() == "请回复「同意」"


async def test_a_handler_that_waits_goes_on_and_sees_what_it_waited_for() -> None:
    async def lookup() -> str:
        await asyncio.sleep(0)
        value = await asyncio.sleep(0.01, result="status")
        try:
            await asyncio.wait_for(asyncio.Event().wait(), 0.01)
        except TimeoutError:
            return f"{value} (upstream timed out)"
        return value

    work = start_eagerly(lookup())
    assert not work.done()
    assert await work == "status (upstream timed out)"


async def test_an_error_before_or_after_the_first_wait_reaches_the_caller() -> None:
    async def fails_at_once() -> None:
        raise ValueError("bad before waiting")

    async def fails_later() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("bad after waiting")

    for coroutine, text in ((fails_at_once(), "before"), (fails_later(), "after")):
        with pytest.raises(ValueError, match=text):
            await start_eagerly(coroutine)


@pytest.mark.parametrize("waits_on", ["a future", "a bare yield"])
async def test_cancelling_a_waiting_handler_reaches_the_handler(waits_on: str) -> None:
    seen: list[str] = []

    async def handler() -> None:
        await asyncio.sleep(0)
        try:
            if waits_on == "a future":
                await asyncio.sleep(10)
            else:
                while True:
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        seen.append("finished")

    work = start_eagerly(handler())
    await asyncio.sleep(0.01)
    work.cancel()
    with pytest.raises(asyncio.CancelledError):
        await work
    assert seen == ["cancelled"]


@pytest.mark.parametrize("kind", ["asyncio.timeout", "aiohttp's client timeout"])
async def test_a_timeout_entered_before_the_first_wait_still_times_the_handler_out(kind: str) -> None:
    """As an upstream call does when it is the first thing a handler waits for."""
    async def ask_upstream() -> str:
        try:
            if kind == "asyncio.timeout":
                async with asyncio.timeout(0.05):
                    await asyncio.Event().wait()
            else:
                with TimerContext(asyncio.get_running_loop()) as timer:
                    asyncio.get_running_loop().call_later(0.05, timer.timeout)
                    await asyncio.Event().wait()
        except TimeoutError:
            return "upstream timed out"
        return "answered"

    loop = asyncio.get_running_loop()
    work = start_eagerly(ask_upstream())
    assert await finished_by(work, loop.time() + 2)
    assert work.result() == "upstream timed out"
    assert asyncio.current_task().cancelling() == 0  # the caller goes on as if nothing happened


async def test_cancelling_the_waiting_caller_cancels_the_handler_first() -> None:
    seen: list[str] = []

    async def handler() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("handler cancelled")
            raise

    async def caller() -> None:
        work = start_eagerly(handler())
        await finished_by(work, asyncio.get_running_loop().time() + 10)

    waiting = asyncio.create_task(caller())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert seen == ["handler cancelled"]
