"""What the WeChat API client keeps in Redis: the shared access_token (sealed), the lock one worker holds while
it refreshes the token, and uploaded images' media ids by content hash."""

from __future__ import annotations

from storage.connection import RedisClient
from storage.keys import Keys

COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ApiCache:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self._compare_and_delete = redis.register_script(COMPARE_AND_DELETE)

    async def sealed_token(self) -> bytes | None:
        return await self.redis.get(self.keys.token())

    async def keep_token(self, sealed: bytes, seconds: int) -> None:
        await self.redis.set(self.keys.token(), sealed, ex=seconds)

    async def drop_token(self, sealed: bytes) -> None:
        """Only if Redis still holds this value: another worker may have stored a newer one."""
        await self._compare_and_delete(keys=[self.keys.token()], args=[sealed])

    async def lock_refresh(self, holder: str, milliseconds: int) -> bool:
        return bool(await self.redis.set(self.keys.token_lock(), holder, nx=True, px=milliseconds))

    async def unlock_refresh(self, holder: str) -> None:
        await self._compare_and_delete(keys=[self.keys.token_lock()], args=[holder])

    async def media_id(self, digest: str) -> str:
        cached = await self.redis.get(self.keys.media(digest))
        return cached.decode() if cached else ""

    async def keep_media_id(self, digest: str, media_id: str, seconds: int) -> None:
        await self.redis.set(self.keys.media(digest), media_id, ex=seconds)
