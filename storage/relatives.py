"""Relatives bound by a user (亲属码). The limits hold under any concurrency: each change is one Lua script.

- at most `max_per_user` relatives per user, at most `max_guardians` users per relative, no duplicates;
- unbinding only `unbind_after` seconds after binding (exactly then is allowed);
- every bind, unbind and offline-code issue is appended to the audit stream in the same script.

A relative is known by the HMAC index of their ID number; name and number are AES-GCM sealed per user.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.pii import Vault
from storage.keys import Keys

FAR_FUTURE = 1e12  # "now" for removals that ignore the 24 h rule (deregistration)

BIND = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'duplicate'} end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return {'user_full'} end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[6]) then return {'relative_full'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('XADD', KEYS[4], '*', 'action', 'bind', 'who', ARGV[7], 'relative', ARGV[1], 'at', ARGV[3])
return {'ok'}
"""

UNBIND = """
local at = redis.call('HGET', KEYS[2], ARGV[1])
if not at then return {'missing'} end
if tonumber(ARGV[3]) - tonumber(at) < tonumber(ARGV[4]) then return {'early', at} end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[2])
redis.call('XADD', KEYS[4], '*', 'action', 'unbind', 'who', ARGV[5], 'relative', ARGV[1], 'at', ARGV[3])
return {'ok'}
"""


@dataclass(frozen=True, slots=True)
class Relative:
    index: str
    name: str
    doc_number: str
    relationship: str
    bound_at: float


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str  # ok, duplicate, user_full, relative_full, missing, early
    bound_at: float = 0.0


class RelativeStore:
    def __init__(self, redis: aioredis.Redis, keys: Keys, vault: Vault, *, max_per_user: int,
                 max_guardians: int, unbind_after: float) -> None:
        self.redis = redis
        self.keys = keys
        self.vault = vault
        self.max_per_user = max_per_user
        self.max_guardians = max_guardians
        self.unbind_after = unbind_after
        self._bind = redis.register_script(BIND)
        self._unbind = redis.register_script(UNBIND)

    def index(self, doc_number: str) -> str:
        return self.vault.index("doc", f"resident_id:{doc_number}")

    def who(self, openid: str) -> str:
        """Audit entries name the user by a keyed pseudonym, never by openid."""
        return self.vault.index("openid", openid)[:32]

    async def bind(self, openid: str, name: str, doc_number: str, relationship: str, now: float) -> Outcome:
        index = self.index(doc_number)
        sealed = self.vault.seal_json({"name": name, "doc_number": doc_number, "relationship": relationship},
                                      context=f"{openid}:{index}")
        k = self.keys
        result = await self._bind(
            keys=[k.relatives(openid), k.relatives_bound_at(openid), k.guardians(index), k.audit()],
            args=[index, sealed, repr(now), openid, self.max_per_user, self.max_guardians, self.who(openid)],
        )
        return Outcome(result[0].decode(), now)

    async def unbind(self, openid: str, index: str, now: float) -> Outcome:
        k = self.keys
        result = await self._unbind(
            keys=[k.relatives(openid), k.relatives_bound_at(openid), k.guardians(index), k.audit()],
            args=[index, openid, repr(now), self.unbind_after, self.who(openid)],
        )
        return Outcome(result[0].decode(), float(result[1]) if len(result) > 1 else 0.0)

    async def list(self, openid: str) -> list[Relative]:
        """Bound relatives, oldest first: the numbers users type (查看亲属码 2) follow this order."""
        sealed = await self.redis.hgetall(self.keys.relatives(openid))
        bound_at = await self.redis.hgetall(self.keys.relatives_bound_at(openid))
        relatives = []
        for raw_index, blob in sealed.items():
            index = raw_index.decode()
            plain = self.vault.open_json(blob, context=f"{openid}:{index}")
            relatives.append(Relative(index, plain["name"], plain["doc_number"], plain["relationship"],
                                      float(bound_at.get(raw_index, b"0"))))
        return sorted(relatives, key=lambda r: (r.bound_at, r.index))

    async def guardians(self, doc_number: str) -> int:
        return int(await self.redis.scard(self.keys.guardians(self.index(doc_number))))

    async def audit(self, openid: str, action: str, index: str, now: float) -> None:
        await self.redis.xadd(self.keys.audit(),
                              {"action": action, "who": self.who(openid), "relative": index, "at": repr(now)})

    async def forget_user(self, openid: str) -> None:
        """注销: every binding of this user goes, each leaving an audit entry with pseudonyms only."""
        for relative in await self.list(openid):
            await self._unbind(
                keys=[self.keys.relatives(openid), self.keys.relatives_bound_at(openid),
                      self.keys.guardians(relative.index), self.keys.audit()],
                args=[relative.index, openid, repr(FAR_FUTURE), 0, self.who(openid)],
            )
