"""The travel card (行程卡) of a phone number: the local registry, or the carriers' service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.clock import Clock
from bot.domain.colours import TRAVEL_COLOURS
from bot.upstreams.http import JsonUpstream, ProviderUnavailable, SharedSession
from storage.travel import TravelRegistry


@dataclass(frozen=True, slots=True)
class TravelCard:
    colour: str  # green, yellow, orange, red
    cities: tuple[tuple[str, bool], ...]  # (name, currently has medium/high-risk areas)
    updated_at: float


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


class HttpTravel(JsonUpstream):
    provider = "travel"

    def __init__(self, http: SharedSession, url: str, timeout: float, token: str, clock: Clock) -> None:
        super().__init__(http, url, timeout, token)
        self.clock = clock

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
        updated = data.get("updated_at")
        if not isinstance(updated, int | float) or isinstance(updated, bool):
            updated = self.clock.time()
        return TravelCard(str(data["colour"]), parsed, float(updated))
