"""Token buckets in Redis. The Lua function is shared with the turn script, which takes a message token in
the same round trip as the dedup claim and the lock.

A bucket is one string of two packed doubles (tokens, last time) with a TTL: one GET and one SET a take,
where a hash took HMGET, HSET and EXPIRE and Lua formatted both numbers as text, which cost Redis more than
the commands (perf on redis-server: float formatting ~5% of its CPU in a dialog turn; docs/performance.md).
"""

from __future__ import annotations

import math

from storage.connection import RedisClient

# px: the bucket's TTL in milliseconds, as a string (a Lua number given to redis.call is formatted each call).
# The embedded dev store (fakeredis, on lupa) has no struct library: there the two numbers are text.
TAKE = """
local function take(key, capacity, per_second, now, px)
  local bucket = redis.call('GET', key)
  local tokens, at = capacity, now
  if bucket and struct then
    tokens, at = struct.unpack('dd', bucket)
  elseif bucket then
    local t, a = string.match(bucket, '^(%S+) (%S+)$')
    tokens, at = tonumber(t), tonumber(a)
  end
  tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
  local allowed = tokens >= 1
  if allowed then tokens = tokens - 1 end
  redis.call('SET', key, struct and struct.pack('dd', tokens, now) or (tokens .. ' ' .. now), 'PX', px)
  return allowed
end
"""

ALLOW = TAKE + """
if take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]) then return 1 end
return 0
"""


def bucket_ttl_ms(capacity: int, per_second: float) -> int:
    """Long enough for an empty bucket to fill again, and a second more."""
    return (math.ceil(capacity / per_second) + 1) * 1000


class RateLimiter:
    def __init__(self, redis: RedisClient) -> None:
        self._allow = redis.register_script(ALLOW)

    async def allow(self, key: str, capacity: int, per_second: float, now: float) -> bool:
        return bool(await self._allow(keys=[key], args=[capacity, per_second, repr(now),
                                                        bucket_ttl_ms(capacity, per_second)]))
