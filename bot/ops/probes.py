"""Readiness probes that cost the same whatever the call rate: each probe runs at most once an interval, and
callers in between get its last answer. A caller with no answer yet waits for the one probe under way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

INTERVAL = 5.0  # seconds an answer is used for: a load balancer probes every few seconds


class CachedProbes:
    def __init__(self, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval, self.clock = interval, clock
        self._answers: dict[str, tuple[bool, float]] = {}
        self._running: dict[str, asyncio.Future[bool]] = {}

    async def check(self, name: str, probe: Callable[[], Awaitable[bool]]) -> bool:
        answer = self._answers.get(name)
        if answer is not None and self.clock() - answer[1] < self.interval:
            return answer[0]
        running = self._running.get(name)
        if running is None or running.done():
            running = self._running[name] = asyncio.ensure_future(self._run(name, probe))
        if answer is not None:
            return answer[0]  # the last answer while the next probe runs
        return await asyncio.shield(running)

    async def _run(self, name: str, probe: Callable[[], Awaitable[bool]]) -> bool:
        ok = await probe()
        self._answers[name] = (ok, self.clock())
        return ok

    async def close(self) -> None:
        for running in self._running.values():
            running.cancel()
