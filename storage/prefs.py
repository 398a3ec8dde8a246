"""Each user's preferences (language, 长辈模式) as one short string (Keys.prefs): a turn reads its own with the
dialog; notices to many people read theirs here."""

from __future__ import annotations

from collections.abc import Iterable

from storage.connection import RedisClient
from storage.keys import Keys


class PrefsStore:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    async def get_many(self, openids: Iterable[str]) -> dict[str, bytes]:
        """Each user's stored value, b"" for one who never chose; one pipelined round trip."""
        wanted = list(dict.fromkeys(openids))
        if not wanted:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for openid in wanted:
                pipe.get(self.keys.prefs(openid))
            values = await pipe.execute()
        return {openid: value or b"" for openid, value in zip(wanted, values, strict=True)}
