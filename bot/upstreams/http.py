"""JSON over HTTP for every upstream: one shared session, a bearer token, a timeout, and one rule for failure.

An upstream that does not answer in time, answers another status, or answers nonsense is *unavailable*:
the caller says so to the citizen and never guesses (docs/providers.md).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bot.ops.metrics import Metrics


class ProviderUnavailable(Exception):
    """The upstream did not answer in time, or answered nonsense: say so, never guess."""


class SharedSession:
    """One aiohttp session (one connection pool) for all upstreams of a process, opened on first use."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self._session: aiohttp.ClientSession | None = None
        self.metrics = metrics

    def failed(self, provider: str) -> None:
        if self.metrics is not None:
            self.metrics.inc("healthbot_upstream_failures_total", provider=provider)

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class JsonUpstream:
    provider = "upstream"  # the metric label: each upstream's class names itself

    def __init__(self, http: SharedSession, url: str, timeout: float, token: str = "") -> None:
        self.http = http
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def post(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The upstream's JSON object answer to `payload`."""
        body = await self._post(payload)
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self.http.failed(self.provider)
            raise ProviderUnavailable("not a JSON object")
        return data

    async def deliver(self, payload: dict[str, Any]) -> None:
        """Hand `payload` over; any 200 answer is success, whatever its body."""
        await self._post(payload)

    async def _post(self, payload: dict[str, Any]) -> bytes:
        try:
            async with self.http.get().post(self.url, json=payload, headers=self.headers,
                                            timeout=self.timeout) as response:
                if response.status == 200:
                    return await response.read()
                problem = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            problem = type(exc).__name__
        self.http.failed(self.provider)
        raise ProviderUnavailable(problem)
