"""SMS verification codes (a claim's phone, the travel card), with the limits of docs/domain.md §4.4 in Lua.

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

from storage.connection import RedisClient
from storage.keys import Keys

VALID_FOR = 300
RESEND_AFTER = 60
MAX_TRIES = 5
PER_HOUR = 5
PER_DAY = 10
# Across every account asking for one phone: a cap that stops bombing a number, wider than one account's so
# that strangers asking for your number cannot use up yours, and with no resend gap they could hold open.
PHONE_PER_HOUR = 10
PHONE_PER_DAY = 20

# Sorted sets of sends scored by time: a send is refused within RESEND_AFTER of the last, or past the hour's
# or the day's count; the reply names the earliest time a send would be accepted.
WINDOW = """
local function refusal(key, now, resend, per_hour, per_day)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - 86400)
  local reason, earliest = '', 0
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if resend > 0 and last[2] and now - tonumber(last[2]) < resend then
    reason = 'resend'; earliest = tonumber(last[2]) + resend
  end
  local hour = redis.call('ZRANGEBYSCORE', key, now - 3600, '+inf', 'WITHSCORES')
  if #hour / 2 >= per_hour then reason = 'hour'; earliest = math.max(earliest, tonumber(hour[2]) + 3600) end
  local day = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  if #day / 2 >= per_day then reason = 'day'; earliest = math.max(earliest, tonumber(day[2]) + 86400) end
  return reason, earliest
end
local function count(key, now, member)
  redis.call('ZADD', key, now, member)
  redis.call('EXPIRE', key, 86400)
end
"""

# A user's and a phone's windows live on different slots (a cluster runs each script on one node), so a send
# takes the user's place first and gives it back if the phone refuses. A process dying in between leaves one
# send counted that was never made: the limits can only be stricter for it, never looser.
TAKE_USER_PLACE = WINDOW + """
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return {'again'} end  -- this push's send, begun before
local now = tonumber(ARGV[1])
local reason, earliest = refusal(KEYS[1], now, tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
if reason ~= '' then return {reason, tostring(earliest)} end
count(KEYS[1], now, ARGV[2])
return {'ok'}
"""

# The phone's owner (the account that claimed its code with this phone, ARGV[9] = '1') is held to its own
# account's limits only: its sends count against the phone's cap, which strangers then share what is left of.
# One script decides each send, so concurrent requests for one phone each get the true answer.
SEND_TO_PHONE = WINDOW + """
local now = tonumber(ARGV[1])
local reason, earliest = '', 0
if ARGV[9] ~= '1' then
  reason, earliest = refusal(KEYS[2], now, tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
else
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 86400)
end
if reason ~= '' or ARGV[3] == '' then
  local live = redis.call('HGET', KEYS[1], 'expires')
  return {reason, tostring(earliest), (live and tonumber(live) > now) and '1' or ''}
end
count(KEYS[2], now, ARGV[2])
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
    result: str  # sent; this account's resend, hour, day; the phone's phone_hour, phone_day
    code: str = ""
    retry_at: float = 0.0
    live: bool = False  # when refused: a code sent earlier to this phone for this account can still be used


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    result: str  # ok, wrong, void, expired
    tries_left: int = 0


class SmsCodes:
    def __init__(self, redis: RedisClient, keys: Keys, key: bytes) -> None:
        self.redis = redis
        self.keys = keys
        self._key = key
        self._take_user_place = redis.register_script(TAKE_USER_PLACE)
        self._send_to_phone = redis.register_script(SEND_TO_PHONE)
        self._check = redis.register_script(CHECK)

    def _mac(self, phone_index: str, openid: str, code: str) -> str:
        return hmac.new(self._key, f"sms\x00{phone_index}\x00{openid}\x00{code}".encode(), hashlib.sha256).hexdigest()

    async def issue(self, phone_index: str, openid: str, now: float, owner: bool = False,
                    send_id: str = "") -> SendOutcome:
        """A code for this account and phone, within the limits. `owner`: the account claimed its code with
        this phone, and keeps its own allowance however many strangers ask for the number. `send_id`: the
        push that asks; the same push asking again (WeChat's retry after a worker died mid-turn) is told
        "sent" with no code, as its first attempt was, and nothing is sent or counted twice."""
        code = f"{secrets.randbelow(10**6):06d}"
        send_id, limits = send_id or secrets.token_hex(6), [RESEND_AFTER, PER_HOUR, PER_DAY]
        user_window = self.keys.sms_sent_user(openid)
        user = await self._take_user_place(keys=[user_window], args=[repr(now), send_id, *limits])
        if user[0] == b"again":
            return SendOutcome("sent")
        if user[0] != b"ok":  # say the later of the two times when the phone is refused too
            phone = await self._phone(phone_index, now, send_id, "", openid, owner)
            return SendOutcome(user[0].decode(), retry_at=max(float(user[1]), float(phone[1] or 0)),
                               live=phone[2] == b"1")
        phone = await self._phone(phone_index, now, send_id, self._mac(phone_index, openid, code), openid, owner)
        if phone[0] != b"sent":  # the phone's own cap, across every account that asked for it
            await self.redis.zrem(user_window, send_id)
            return SendOutcome(f"phone_{phone[0].decode()}", retry_at=float(phone[1]), live=phone[2] == b"1")
        return SendOutcome("sent", code=code)

    async def _phone(self, phone_index: str, now: float, send_id: str, mac: str, openid: str,
                     owner: bool) -> list[bytes]:
        """Send on the phone's window; with no mac, only ask when the phone could next be sent to and whether
        this account's code for it is still live. The code is this account's alone: another account asking
        for the same phone neither replaces nor voids it."""
        k = self.keys
        return await self._send_to_phone(
            keys=[k.sms_code(phone_index, openid), k.sms_sent_phone(phone_index)],
            args=[repr(now), send_id, mac, openid, 0, PHONE_PER_HOUR, PHONE_PER_DAY, VALID_FOR, "1" if owner else ""])

    async def check(self, phone_index: str, openid: str, code: str, now: float) -> CheckOutcome:
        result = await self._check(keys=[self.keys.sms_code(phone_index, openid)],
                                   args=[openid, self._mac(phone_index, openid, code), repr(now), MAX_TRIES])
        return CheckOutcome(result[0].decode(), int(result[1]) if len(result) > 1 else 0)
