"""SMS verification codes for the travel card, with the limits of domain.md §4.4 enforced in Lua.

- 6 random digits, stored only as an HMAC bound to the phone and the requesting openid;
- valid 5 minutes, single use, void after 5 wrong tries;
- a new code no sooner than 60 s after the last, at most 5 an hour and 10 a day, per phone and per openid.

Windows are sorted sets scored by the caller's clock, so the rules are exact and testable with a set clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis

from storage.keys import Keys

VALID_FOR = 300
RESEND_AFTER = 60
MAX_TRIES = 5
PER_HOUR = 5
PER_DAY = 10

SEND = """
local now = tonumber(ARGV[1])
local earliest = 0
local reason = ''
for i = 2, 3 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - 86400)
  local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
  if last[2] and now - tonumber(last[2]) < tonumber(ARGV[5]) then
    reason = 'resend'; earliest = math.max(earliest, tonumber(last[2]) + tonumber(ARGV[5]))
  end
  local hour = redis.call('ZRANGEBYSCORE', KEYS[i], now - 3600, '+inf', 'WITHSCORES')
  if #hour / 2 >= tonumber(ARGV[6]) then
    reason = 'hour'; earliest = math.max(earliest, tonumber(hour[2]) + 3600)
  end
  local day = redis.call('ZRANGE', KEYS[i], 0, -1, 'WITHSCORES')
  if #day / 2 >= tonumber(ARGV[7]) then
    reason = 'day'; earliest = math.max(earliest, tonumber(day[2]) + 86400)
  end
end
if reason ~= '' then return {reason, tostring(earliest)} end
for i = 2, 3 do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('EXPIRE', KEYS[i], 86400)
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'mac', ARGV[3], 'openid', ARGV[4], 'tries', 0, 'expires', now + tonumber(ARGV[8]))
redis.call('EXPIRE', KEYS[1], ARGV[8])
return {'sent', tostring(now)}
"""

CHECK = """
local code = redis.call('HGETALL', KEYS[1])
if #code == 0 then return {'expired'} end
local f = {}
for i = 1, #code, 2 do f[code[i]] = code[i + 1] end
if f['openid'] ~= ARGV[1] or tonumber(ARGV[3]) > tonumber(f['expires']) then return {'expired'} end
if f['mac'] == ARGV[2] then redis.call('DEL', KEYS[1]); return {'ok'} end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries >= tonumber(ARGV[4]) then redis.call('DEL', KEYS[1]); return {'void'} end
return {'wrong', tostring(tonumber(ARGV[4]) - tries)}
"""


@dataclass(frozen=True, slots=True)
class SendOutcome:
    result: str  # sent, resend, hour, day
    code: str = ""
    retry_at: float = 0.0


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    result: str  # ok, wrong, void, expired
    tries_left: int = 0


class SmsCodes:
    def __init__(self, redis: aioredis.Redis, keys: Keys, key: bytes) -> None:
        self.redis = redis
        self.keys = keys
        self._key = key
        self._send = redis.register_script(SEND)
        self._check = redis.register_script(CHECK)

    def _mac(self, phone_index: str, openid: str, code: str) -> str:
        return hmac.new(self._key, f"sms\x00{phone_index}\x00{openid}\x00{code}".encode(), hashlib.sha256).hexdigest()

    async def issue(self, phone_index: str, openid: str, now: float) -> SendOutcome:
        code = f"{secrets.randbelow(10**6):06d}"
        k = self.keys
        result = await self._send(
            keys=[k.sms_code(phone_index), k.sms_sent_phone(phone_index), k.sms_sent_user(openid)],
            args=[repr(now), secrets.token_hex(6), self._mac(phone_index, openid, code), openid, RESEND_AFTER,
                  PER_HOUR, PER_DAY, VALID_FOR],
        )
        outcome = result[0].decode()
        if outcome != "sent":
            return SendOutcome(outcome, retry_at=float(result[1]))
        return SendOutcome("sent", code=code)

    async def check(self, phone_index: str, openid: str, code: str, now: float) -> CheckOutcome:
        result = await self._check(keys=[self.keys.sms_code(phone_index)],
                                   args=[openid, self._mac(phone_index, openid, code), repr(now), MAX_TRIES])
        return CheckOutcome(result[0].decode(), int(result[1]) if len(result) > 1 else 0)
