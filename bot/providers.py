"""Pluggable upstreams: who a citizen is (identity) and what colour their code is (status).

Each has a local default and an HTTP implementation with the JSON contract documented in docs/providers.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from bot.context import Clock
from storage.profiles import Person
from storage.results import ResultRegistry, TestResult
from storage.status import COLOURS, StatusRegistry
from storage.travel import TravelRegistry


class ProviderUnavailable(Exception):
    """The upstream did not answer in time, or answered nonsense: say so, never guess."""


@dataclass(frozen=True, slots=True)
class IdentityVerdict:
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class HealthStatus:
    colour: str
    reason: str
    checked_at: float


class IdentityProvider(Protocol):
    async def verify(self, person: Person) -> IdentityVerdict: ...


class StatusProvider(Protocol):
    async def status(self, person: Person, doc_index: str) -> HealthStatus: ...


class LocalIdentity:
    """Accepts every well-formed name and document: the dialog has already validated both."""

    async def verify(self, person: Person) -> IdentityVerdict:
        return IdentityVerdict(True)


class LocalStatus:
    def __init__(self, registry: StatusRegistry, clock: Clock) -> None:
        self.registry = registry
        self.clock = clock

    async def status(self, person: Person, doc_index: str) -> HealthStatus:
        record = await self.registry.get(doc_index)
        return HealthStatus(record.colour, record.reason, self.clock.time())


class _JsonUpstream:
    def __init__(self, url: str, timeout: float, token: str = "") -> None:
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session: aiohttp.ClientSession | None = None

    async def post(self, payload: dict[str, str]) -> dict[str, object]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(self.url, json=payload, headers=self.headers) as response:
                if response.status != 200:
                    raise ProviderUnavailable(f"HTTP {response.status}")
                data = json.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderUnavailable(type(exc).__name__) from None
        if not isinstance(data, dict):
            raise ProviderUnavailable("not a JSON object")
        return data

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _person_payload(person: Person) -> dict[str, str]:
    return {"name": person.name, "doc_type": person.doc_type, "doc_number": person.doc_number,
            "nationality": person.nationality}


class HttpIdentity(_JsonUpstream):
    async def verify(self, person: Person) -> IdentityVerdict:
        data = await self.post(_person_payload(person))
        if not isinstance(data.get("match"), bool):
            raise ProviderUnavailable("identity answer has no boolean 'match'")
        return IdentityVerdict(bool(data["match"]), str(data.get("reason", ""))[:100])


class HttpStatus(_JsonUpstream):
    """Asks the upstream, caching an answer for a few seconds; a failure is never replaced by a guess."""

    def __init__(self, url: str, timeout: float, token: str = "", cache_seconds: float = 30.0) -> None:
        super().__init__(url, timeout, token)
        self.cache_seconds = cache_seconds
        self._cache: dict[str, HealthStatus] = {}

    async def status(self, person: Person, doc_index: str) -> HealthStatus:
        cached = self._cache.get(doc_index)
        if cached and time.time() - cached.checked_at < self.cache_seconds:
            return cached
        data = await self.post(_person_payload(person))
        colour = data.get("colour")
        if colour not in COLOURS:
            raise ProviderUnavailable(f"status answer has no valid colour: {colour!r}")
        result = HealthStatus(str(colour), str(data.get("reason", ""))[:100], time.time())
        self._cache[doc_index] = result
        return result


@dataclass(frozen=True, slots=True)
class TravelCard:
    colour: str  # green, yellow, orange, red
    cities: tuple[tuple[str, bool], ...]  # (name, currently has medium/high-risk areas)
    updated_at: float


TRAVEL_COLOURS = ("green", "yellow", "orange", "red")


class TravelProvider(Protocol):
    async def card(self, phone: str, phone_index: str) -> TravelCard | None:
        """The card, or None when there is no data for the number yet."""
        ...


class LocalTravel:
    """Yellow for overseas travel in 14 days, green otherwise, unless operators set a colour (orange/red)."""

    def __init__(self, registry: TravelRegistry, clock: Clock) -> None:
        self.registry = registry
        self.clock = clock

    async def card(self, phone: str, phone_index: str) -> TravelCard | None:
        now = self.clock.time()
        visits = await self.registry.visits(phone_index, now)
        if not visits:
            return None
        risky = await self.registry.risk_cities()
        colour = await self.registry.colour(phone_index) or ("yellow" if any(v.overseas for v in visits) else "green")
        return TravelCard(colour, tuple((v.city, v.city in risky) for v in visits), now)


class HttpTravel(_JsonUpstream):
    async def card(self, phone: str, phone_index: str) -> TravelCard | None:
        data = await self.post({"phone": phone})
        cities = data.get("cities")
        if not isinstance(cities, list):
            raise ProviderUnavailable("travel answer has no list 'cities'")
        if not cities:
            return None
        if data.get("colour") not in TRAVEL_COLOURS:
            raise ProviderUnavailable("travel answer has no valid colour")
        parsed = tuple((str(c["name"]), bool(c.get("risk"))) for c in cities if isinstance(c, dict) and c.get("name"))
        return TravelCard(str(data["colour"]), parsed, float(data.get("updated_at") or time.time()))


class ResultProvider(Protocol):
    async def results(self, person: Person, doc_index: str) -> list[TestResult]: ...


class LocalResults:
    def __init__(self, registry: ResultRegistry) -> None:
        self.registry = registry

    async def results(self, person: Person, doc_index: str) -> list[TestResult]:
        return await self.registry.latest(doc_index)


class HttpResults(_JsonUpstream):
    async def results(self, person: Person, doc_index: str) -> list[TestResult]:
        data = await self.post(_person_payload(person))
        rows = data.get("results")
        if not isinstance(rows, list):
            raise ProviderUnavailable("results answer has no list 'results'")
        try:
            parsed = [TestResult(str(r["result"]), float(r["sampled_at"]), float(r["reported_at"]),
                                 str(r["institution"])) for r in rows]
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable("a result lacks result, sampled_at, reported_at or institution") from None
        return sorted(parsed, key=lambda r: r.sampled_at, reverse=True)[:3]
