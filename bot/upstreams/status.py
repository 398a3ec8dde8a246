"""What colour a citizen's code is now: the local registry, or the health authority's service."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Protocol

from cachetools import TTLCache

from bot.domain.clock import Clock, parse_local
from bot.domain.colours import HEALTH_COLOURS
from bot.upstreams.http import JsonUpstream, ProviderUnavailable, SharedSession
from bot.upstreams.identity import person_payload
from storage.profiles import PersonOf
from storage.status import Reader, StatusRegistry

CACHE_ENTRIES = 10_000  # ~300 bytes each: 3 MB a worker, whatever the number of citizens


@dataclass(frozen=True, slots=True)
class HealthStatus:
    colour: str
    reason: str  # the operator's or the provider's own words, if any
    checked_at: float
    code: str = ""  # the reason's code in the catalogue (bot.features.status.Reasons)
    until: float = 0.0  # when it is expected to turn green; 0: unknown, or until cleared
    fresh: bool = False  # a provider's new answer (not its cache): compared with its last


class StatusProvider(Protocol):
    async def status(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> HealthStatus:
        """The colour now. `person` is called only by a provider that must name the person (an HTTP one, on a
        cache miss). `read` (the turn's `ctx.read_hash`) lets a local registry use what the turn script already
        read; an HTTP provider asks its upstream regardless."""
        ...


class LocalStatus:
    def __init__(self, registry: StatusRegistry, clock: Clock) -> None:
        self.registry = registry
        self.clock = clock

    async def status(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> HealthStatus:
        now = self.clock.time()
        record = await self.registry.get(doc_index, now, read)
        return HealthStatus(record.colour, record.text, now, record.code, record.until)


class HttpStatus(JsonUpstream):
    """Asks the upstream, reusing an answer for `cache_seconds` from a bounded cache on the injected clock.
    A failure is never replaced by a guess, nor by an answer older than that."""

    provider = "status"

    def __init__(self, http: SharedSession, url: str, timeout: float, token: str, cache_seconds: float,
                 clock: Clock, codes: Collection[str], entries: int = CACHE_ENTRIES) -> None:
        super().__init__(http, url, timeout, token)
        self.clock = clock
        self.codes = codes
        self.cache: TTLCache[str, HealthStatus] = TTLCache(maxsize=entries, ttl=cache_seconds, timer=clock.time)

    async def status(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> HealthStatus:
        if (cached := self.cache.get(doc_index)) is not None:
            return cached
        data = await self.post(person_payload(person()))
        colour = data.get("colour")
        if colour not in HEALTH_COLOURS:
            raise ProviderUnavailable(f"status answer has no valid colour: {colour!r}")
        code = str(data.get("reason_code") or "")
        if colour != "green" and code not in self.codes:
            raise ProviderUnavailable(f"status answer {colour} has no reason code of the catalogue: {code[:40]!r}")
        result = HealthStatus(str(colour), str(data.get("reason", ""))[:100], self.clock.time(), code,
                              until=_date_end(data.get("until")), fresh=True)
        self.cache[doc_index] = replace(result, fresh=False)
        return result


def _date_end(value: object) -> float:
    """A provider's expected date (YYYY-MM-DD, Shanghai) as the start of that day; 0 when absent or not one."""
    if not isinstance(value, str):
        return 0.0
    try:
        return parse_local(value[:10])
    except ValueError:
        return 0.0
