"""Token buckets in Redis. The Lua function is shared with the turn script, which takes a message token in
the same round trip as the dedup claim and the lock."""

from __future__ import annotations

from storage.connection import RedisClient

TAKE = """
local function take(key, capacity, per_second, now)
  local bucket = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(bucket[1]), tonumber(bucket[2])
  if not tokens then tokens, at = capacity, now end
  tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
  local allowed = tokens >= 1
  if allowed then tokens = tokens - 1 end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('EXPIRE', key, math.ceil(capacity / per_second) + 1)
  return allowed
end
"""

ALLOW = TAKE + """
if take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])) then return 1 end
return 0
"""


class RateLimiter:
    def __init__(self, redis: RedisClient) -> None:
        self._allow = redis.register_script(ALLOW)

    async def allow(self, key: str, capacity: int, per_second: float, now: float) -> bool:
        return bool(await self._allow(keys=[key], args=[capacity, per_second, repr(now)]))
