"""核酸采样点: the testing sites operators import, in a Redis GEO set (position) beside a hash (what to show).
Sites are public places, not personal data: stored plain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from storage.connection import Pipeline, RedisClient
from storage.keys import Keys

SERVICE = "sites"


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    address: str
    lng: float
    lat: float
    hours: str
    notes: str = ""

    @property
    def id(self) -> str:
        """One id per name and address: importing the same site again replaces it."""
        return hashlib.sha256(f"{self.name}\x1f{self.address}".encode()).hexdigest()[:16]


class SiteRegistry:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis = redis
        self.geo, self.info = keys.of_service(SERVICE, "geo"), keys.of_service(SERVICE, "info")

    def queue_add(self, pipe: Pipeline, site: Site) -> None:
        pipe.geoadd(self.geo, (site.lng, site.lat, site.id))
        pipe.hset(self.info, site.id, json.dumps(asdict(site), ensure_ascii=False))

    async def count(self) -> int:
        return int(await self.redis.hlen(self.info))

    async def nearest(self, lng: float, lat: float, count: int, radius_km: float) -> list[tuple[Site, float]]:
        """Up to `count` sites within `radius_km`, nearest first, each with its distance in km."""
        found = await self.redis.geosearch(self.geo, longitude=lng, latitude=lat, radius=radius_km, unit="km",
                                           sort="ASC", count=count, withdist=True)
        if not found:
            return []
        shown = await self.redis.hmget(self.info, [member for member, _ in found])
        return [(Site(**json.loads(raw)), float(distance)) for (_, distance), raw in zip(found, shown, strict=True)
                if raw is not None]

    async def matching(self, words: str, limit: int) -> list[Site]:
        """Sites whose address or name holds `words` (a district, a street), by name."""
        sites = [Site(**json.loads(raw)) for raw in (await self.redis.hgetall(self.info)).values()]
        return sorted((s for s in sites if words in s.address or words in s.name), key=lambda s: s.name)[:limit]
