"""行程卡: the local travel registry and the provider that answers for a phone."""

from __future__ import annotations

from dataclasses import dataclass

from bot.upstreams.travel import TravelCard, TravelProvider
from storage.travel import TravelRegistry


@dataclass
class Travel:
    registry: TravelRegistry
    provider: TravelProvider
    combined_window_hours: int  # how long after 核验行程卡 the card shows beside the code (二码合一)

    async def card(self, phone: str, phone_index: str) -> TravelCard | None:
        return await self.provider.card(phone, phone_index)
