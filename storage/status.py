"""The local health-status registry: a colour per document index, set by operators. Never flagged = green."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from storage.keys import Keys

COLOURS = ("green", "yellow", "red")


@dataclass(frozen=True, slots=True)
class StatusRecord:
    colour: str
    reason: str = ""
    updated_at: float = 0.0


class StatusRegistry:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def get(self, doc_index: str) -> StatusRecord:
        stored = await self.redis.hgetall(self.keys.status(doc_index))
        if not stored:
            return StatusRecord("green")
        return StatusRecord(stored[b"colour"].decode(), stored.get(b"reason", b"").decode(),
                            float(stored.get(b"updated_at", b"0")))

    async def set(self, doc_index: str, colour: str, reason: str, at: float) -> None:
        if colour not in COLOURS:
            raise ValueError(f"colour must be one of {', '.join(COLOURS)}")
        if colour == "green" and not reason:
            await self.redis.delete(self.keys.status(doc_index))
            return
        await self.redis.hset(self.keys.status(doc_index),
                              mapping={"colour": colour, "reason": reason, "updated_at": str(at)})
