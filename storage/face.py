"""Face-check nonces: each link a verifier is given carries one, which maps to the user until it is used once
or expires."""

from __future__ import annotations

from storage.connection import RedisClient
from storage.keys import Keys


class FaceNonces:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    async def put(self, nonce: str, openid: str, seconds: int) -> None:
        await self.redis.set(self.keys.face_nonce(nonce), openid, ex=seconds)

    async def take(self, nonce: str) -> str | None:
        """The user of a nonce, once: a second take of the same nonce finds nothing."""
        openid = await self.redis.getdel(self.keys.face_nonce(nonce))
        return openid.decode() if openid is not None else None
