"""The local travel registry (行程): cities per phone for the last 14 days, sealed, keyed by the phone's HMAC.

Operators load it with `healthbot admin travel import FILE.csv` and set the starred cities with
`healthbot admin risk-cities set …`. Older records are ignored on reading, pruned, and the key expires.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.connection import Pipeline, RedisClient
from storage.keys import Keys
from storage.vault import Vault

WINDOW = 14 * 86400
VERIFIED_KEPT = 7 * 86400  # a verification outlives any 二码合一 window an operator sets


@dataclass(frozen=True, slots=True)
class Visit:
    city: str
    at: float
    overseas: bool


class TravelRegistry:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault) -> None:
        self.redis = redis
        self.keys = keys
        self.vault = vault

    def verified_key(self, openid: str) -> str:
        """That `openid` verified their claimed phone's card (核验行程卡), for 二码合一: one hash on the user's slot,
        which the turn script may read with the turn (TurnKeys.reads)."""
        return self.keys.travel_verified(openid)

    async def mark_verified(self, openid: str, phone: str, at: float) -> None:
        key = self.verified_key(openid)
        sealed = self.vault.seal_json({"phone": phone}, context=openid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"phone": sealed, "at": repr(at)})
            pipe.expire(key, VERIFIED_KEPT)
            await pipe.execute()

    def verified(self, openid: str, stored: dict[bytes, bytes]) -> tuple[str, float] | None:
        """(phone, when) from the verification hash as read, or None when there is none."""
        if not stored:
            return None
        return self.vault.open_json(stored[b"phone"], context=openid)["phone"], float(stored[b"at"])

    def queue_visit(self, pipe: Pipeline, phone_index: str, visit: Visit) -> None:
        field = f"{self.vault.index('city', visit.city)[:16]}:{int(visit.at // 86400)}"
        sealed = self.vault.seal_json({"city": visit.city, "at": visit.at, "overseas": visit.overseas},
                                      context=phone_index)
        pipe.hset(self.keys.travel(phone_index), field, sealed)
        pipe.expire(self.keys.travel(phone_index), WINDOW + 86400)

    def queue_colour(self, pipe: Pipeline, phone_index: str, colour: str) -> None:
        pipe.set(self.keys.travel_colour(phone_index), colour, ex=WINDOW)

    async def visits(self, phone_index: str, now: float) -> list[Visit]:
        """The last 14 days, oldest first, one entry per city (its latest visit)."""
        key = self.keys.travel(phone_index)
        latest: dict[str, Visit] = {}
        stale = []
        for field, sealed in (await self.redis.hgetall(key)).items():
            record = self.vault.open_json(sealed, context=phone_index)
            if now - record["at"] > WINDOW:
                stale.append(field)
                continue
            visit = Visit(record["city"], float(record["at"]), bool(record["overseas"]))
            if visit.city not in latest or latest[visit.city].at < visit.at:
                latest[visit.city] = visit
        if stale:
            await self.redis.hdel(key, *stale)
        return sorted(latest.values(), key=lambda v: v.at)

    async def colour(self, phone_index: str) -> str:
        value = await self.redis.get(self.keys.travel_colour(phone_index))
        return value.decode() if value else ""

    async def set_risk_cities(self, cities: list[str]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.risk_cities())
            if cities:
                pipe.sadd(self.keys.risk_cities(), *cities)
            await pipe.execute()

    async def risk_cities(self) -> set[str]:
        return {c.decode() for c in await self.redis.smembers(self.keys.risk_cities())}
