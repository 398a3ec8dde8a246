"""The local health-status registry: a colour per document index, set by operators. Never flagged = green."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio.client import Pipeline

from storage.connection import HotClient, RedisClient
from storage.keys import Keys

Reader = Callable[[str], Awaitable[dict[bytes, bytes]]]


@dataclass(frozen=True, slots=True)
class StatusRecord:
    colour: str
    reason: str = ""
    updated_at: float = 0.0


class StatusRegistry:
    def __init__(self, redis: RedisClient, keys: Keys, reads: HotClient | None = None) -> None:
        self.redis = redis
        self.reads = reads or redis
        self.keys = keys

    async def get(self, doc_index: str, read: Reader | None = None) -> StatusRecord:
        """The colour of a document; `read` may serve the hash from a copy the turn script already read."""
        stored = await (read or self.reads.hgetall)(self.keys.status(doc_index))
        if not stored:
            return StatusRecord("green")
        return StatusRecord(stored[b"colour"].decode(), stored.get(b"reason", b"").decode(),
                            float(stored.get(b"updated_at", b"0")))

    async def set(self, doc_index: str, colour: str, reason: str, at: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            self.queue_set(pipe, doc_index, colour, reason, at)
            await pipe.execute()

    def queue_set(self, pipe: Pipeline, doc_index: str, colour: str, reason: str, at: float) -> None:
        """Queue the write on a pipeline; a plain green (the default) is stored as no record at all.
        The caller has checked the colour (bot.domain.colours)."""
        key = self.keys.status(doc_index)
        pipe.delete(key)
        if colour != "green" or reason:
            pipe.hset(key, mapping={"colour": colour, "reason": reason, "updated_at": str(at)})
