"""Venues (场所码) and the entries recorded when a citizen scans one (行动轨迹, for 流调).

Keys, each under one hash tag so every write is slot-local on a cluster:
- `{p}:v:{scene}:info`: the venue (name, address, ticket, status);
- `{p}:venues`: the set of scenes;
- `{p}:v:{scene}:in:YYYYMMDD`: that day's entries (Shanghai date), a sorted set scored by time: a window query
  reads only this venue's days, never the keyspace. A holder's own entry is `HOLDER openid|visit|doc12`
  (`holder_entry`), short enough for Redis's compact encoding; their person, as their profile holds it (sealed
  under the openid), is kept once per person and document in `{p}:u:{openid}:traced:doc12` for as long as
  their newest entry (`identity_write`), and survives 注销 as the entries do. A relative's entry is a record
  sealed for the venue (`sealed_entry`). Either way, names and documents are ciphertext;
- `{p}:v:{scene}:out:YYYYMMDD`: 离场, visit id -> when it ended;
- `{p}:d:{doc_index}:visits`: a document's entries as `scene|visit` (no personal data), one sorted set for all
  its days, for a person trace and 时空伴随.

The sorted sets are scored by the whole second, as a trace shows the time. Small ones stay listpacks, which
Redis walks on every insert, and an integer score there is read without parsing a float's text at each step;
a float's repr is costly on our side too. Entries of one second are ordered by member, not by arrival.

On one node the scan's turn writes an entry in the script that ends it; on a cluster, one script per slot,
sent together. A venue's day keys expire `retention` after that day ends; a document's visits drop what is
older than that at each write, and expire with its newest; so nothing outlives the retention by more than a
day, and reads never list what is older than the retention.

Measured at a city's scale by `bench/trace_city.py` (docs/capacity.md).
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from cachetools import LRUCache

from storage.connection import HotClient, RedisClient
from storage.keys import Keys
from storage.profiles import open_person
from storage.unique import unique_token
from storage.vault import VERSION, Vault
from storage.writes import Write, Writer

SCENE_PREFIX = "venue:"
ROTATED = "~"  # a rotating venue's scene: its own, then this, then the day's token
DEFAULT_STAY = 7200  # seconds a visit lasts when nobody replies 离场
DAY = 86400
SHANGHAI_OFFSET = 8 * 3600
# A venue is read on every scan at its door and changes almost never: each worker keeps what it read this long.
# So a venue disabled by `admin venue disable` is refused by every worker within these seconds.
VENUE_CACHE_SECONDS = 10
VENUE_CACHE_ENTRIES = 10_000  # ~1 KB each
_SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLDER = b"\x02"  # first byte of a holder's own entry; a sealed record starts with vault.VERSION
SEALED = VERSION
IDENTITY_TAG = 12  # characters of the document index a holder's entry names its identity by


@dataclass(frozen=True, slots=True)
class Venue:
    scene: str
    name: str
    address: str
    ticket: str
    url: str
    active: bool
    created_at: float
    stay: int = DEFAULT_STAY
    rotate: str = ""  # "daily": a temporary QR a day (scene `venue:<id>~<token>`), shown at a stable URL
    code_token: str = ""  # the current day's token, for a rotating venue
    code_day: str = ""  # the Shanghai date (YYYYMMDD) that token is for
    code_ticket: str = ""  # WeChat's ticket of that day's QR (showqrcode)

    def scene_for(self, token: str) -> str:
        return f"{self.scene}{ROTATED}{token}"



@dataclass(frozen=True, slots=True)
class Entry:
    scene: str
    at: float
    record: dict[str, str]  # openid, name, doc_type, doc_number, phone, relationship (sealed at rest), visit id
    until: float = 0.0  # when the visit ended: 离场, or the venue's default stay after `at`
    left: bool = False  # whether 离场 was replied (else `until` is the default end)


@dataclass(frozen=True, slots=True)
class LastVenue:
    state: str  # "pending" (a claim the scan started is under way) or "in"
    scene: str
    visit: str = ""
    entered_at: float = 0.0


def _holder_parts(entry: bytes) -> tuple[bytes, bytes, bytes]:
    """(openid, visit, tag) of a holder's entry; an older entry's tag is its sealed person itself."""
    openid, _, rest = entry[1:].partition(b"|")
    visit, _, tag = rest.partition(b"|")
    return openid, visit, tag


def split_scene(scene: str) -> tuple[str, str]:
    """(the venue's scene, the day's token or "") of a scanned scene."""
    base, _, token = scene.partition(ROTATED)
    return base, token


def new_scene() -> str:
    return SCENE_PREFIX + secrets.token_urlsafe(9)  # 12 characters: well inside scene_str's 64


def _day(ts: float) -> str:
    return _day_of_hour(int(ts // 3600))


def _day_end(second: int) -> int:
    """The end of a moment's Shanghai day, as a timestamp (the zone has kept UTC+8 without summer time)."""
    return ((second + SHANGHAI_OFFSET) // DAY + 1) * DAY - SHANGHAI_OFFSET


@functools.lru_cache(maxsize=64)
def _day_of_hour(hour: int) -> str:
    """Shanghai's date for an hour since the epoch: an hour never spans two dates there (a whole-hour offset),
    and a zone-aware conversion per scan cost more than the rest of recording it."""
    return datetime.fromtimestamp(hour * 3600, _SHANGHAI).strftime("%Y%m%d")


class VenueRegistry:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault, retention_days: int,
                 hot: HotClient | None = None, writer: Writer | None = None) -> None:
        self.redis, self.keys, self.vault = redis, keys, vault
        self.hot = hot or redis
        self.retention = retention_days * DAY
        # An LRU of (venue, when read), freshness checked here: a TTLCache expires entries on every get.
        self._cache: LRUCache[str, tuple[Venue, float]] = LRUCache(maxsize=VENUE_CACHE_ENTRIES)
        self._writer = writer or Writer(self.hot)

    # -- venues ----------------------------------------------------------------------------------------

    async def add(self, scene: str, name: str, address: str, ticket: str, url: str, now: float,
                  stay: int = DEFAULT_STAY, rotate: str = "") -> Venue:
        await self.redis.hset(self.keys.venue(scene), mapping={
            "name": name, "address": address, "ticket": ticket, "url": url, "active": "1", "created_at": repr(now),
            "stay": str(stay), "rotate": rotate})
        await self.redis.sadd(self.keys.venues(), scene)
        return Venue(scene, name, address, ticket, url, True, now, stay, rotate)

    async def renewing(self, scene: str) -> bool:
        """This worker, alone for 30 s, makes a rotating venue's next code."""
        return bool(await self.redis.set(self.keys.of_service("venue-codes", f"renewing:{scene}"), b"1", nx=True,
                                         ex=30))

    async def set_code(self, scene: str, token: str, day: str, ticket: str) -> None:
        """The day's code of a rotating venue; the one before is retired at once."""
        await self.redis.hset(self.keys.venue(scene), mapping={"code_token": token, "code_day": day,
                                                              "code_ticket": ticket})
        await self.redis.delete(self.keys.of_service("venue-codes", f"renewing:{scene}"))
        self._cache.pop(scene, None)

    async def get(self, scene: str, cached: bool = True) -> Venue | None:
        """The venue, as read at most VENUE_CACHE_SECONDS ago (cached=False: as it is now)."""
        if not scene.startswith(SCENE_PREFIX) or len(scene) > 64:
            return None
        if cached and (kept := self._cache.get(scene)) is not None and time.monotonic() - kept[1] < VENUE_CACHE_SECONDS:
            return kept[0]
        read_at = time.monotonic()
        stored = await self.hot.hgetall(self.keys.venue(scene))
        if not stored:
            return None
        text = {k.decode(): v.decode() for k, v in stored.items()}
        venue = Venue(scene, text["name"], text.get("address", ""), text.get("ticket", ""), text.get("url", ""),
                      text.get("active") == "1", float(text.get("created_at", "0")),
                      int(text.get("stay", DEFAULT_STAY)), text.get("rotate", ""), text.get("code_token", ""),
                      text.get("code_day", ""), text.get("code_ticket", ""))
        self._cache[scene] = (venue, read_at)
        return venue

    async def all(self) -> list[Venue]:
        scenes = sorted(s.decode() for s in await self.redis.smembers(self.keys.venues()))
        venues = [await self.get(scene, cached=False) for scene in scenes]
        return sorted((v for v in venues if v), key=lambda v: v.created_at)

    async def disable(self, scene: str) -> bool:
        if await self.get(scene, cached=False) is None:
            return False
        await self.redis.hset(self.keys.venue(scene), "active", "0")
        self._cache.pop(scene, None)
        return True

    # -- entries ---------------------------------------------------------------------------------------

    def holder_entry(self, openid: str, doc_index: str, visit: str) -> bytes:
        """A holder's own entry: who (the openid, in the clear as in the holder's key names and holder sets),
        which visit (a second visit is a second member; 离场 names it) and which of their identities
        (`identity_write`). Under 64 bytes, so a venue's quieter days stay in Redis's compact encoding."""
        return HOLDER + f"{openid}|{visit}|{doc_index[:IDENTITY_TAG]}".encode()

    def identity_write(self, openid: str, doc_index: str, sealed_person: bytes, at: float) -> Write:
        """The person a holder's entries name, as their profile holds it (storage.profiles.seal_person: a scan
        neither opens nor seals it), kept while their newest entry is: one copy per person, not per entry."""
        return Write("SET", self.keys.traced(openid, doc_index[:IDENTITY_TAG]),
                     (sealed_person, "EXAT", _day_end(int(at)) + self.retention))

    @staticmethod
    def new_visit() -> str:
        return unique_token()

    def exit_writes(self, scene: str, visit: str, entered_at: float, left_at: float) -> list[Write]:
        """离场: when visit `visit` (entered at `entered_at`) ended, beside that day's entries, expiring with them."""
        second, day = int(entered_at), _day(int(entered_at))
        exits = self.keys.venue_exits(scene, day)
        return [Write("HSET", exits, (visit, int(left_at))),
                Write("EXPIREAT", exits, (_day_end(second) + self.retention,))]

    def sealed_entry(self, scene: str, record: dict[str, str]) -> bytes:
        """An entry of any person (a relative registered by their guardian): `record` as Entry.record has it."""
        return self.vault.seal_json(record, context=f"entry:{scene}")

    def entry_writes(self, scene: str, doc_index: str, entry: bytes, at: float, visit: str = "") -> list[Write]:
        """An entry as writes (storage.writes), for the turn's end to carry: the entry in the venue's day and
        the visit (`scene|visit id`) in the document's day, each day's key expiring `retention` after that day
        ends, so nothing is kept more than a day past the retention."""
        second, day = int(at), _day(int(at))
        entries, visits = self.keys.venue_entries(scene, day), self.keys.visits(doc_index)
        gone = _day_end(second) + self.retention
        return [Write("ZADD", entries, (second, entry)),
                Write("EXPIREAT", entries, (gone,)),
                Write("ZADD", visits, (second, f"{scene}|{visit or unique_token()}")),
                Write("ZREMRANGEBYSCORE", visits, ("-inf", f"({second - self.retention - DAY}")),
                Write("EXPIREAT", visits, (gone,))]

    async def exit_of(self, scene: str, visit: str, entered_at: float) -> float | None:
        """When visit `visit` ended by 离场, or None (it lasts the venue's stay)."""
        left = await self.redis.hget(self.keys.venue_exits(scene, _day(int(entered_at))), visit)
        return float(left) if left is not None else None

    def last_venue_write(self, openid: str, state: str, scene: str, seconds: int, visit: str = "",
                         entered_at: float = 0.0) -> Write:
        """That `openid` scanned `scene` last, in `state` ("pending": their claim is under way; "in": checked
        in, on visit `visit` since `entered_at`), for `seconds`: a write of the user's own key, for the turn's
        end to carry."""
        return Write("SET", self.keys.last_venue(openid),
                     (f"{state}|{scene}|{visit}|{int(entered_at)}", "EX", max(1, int(seconds))))

    def forget_last_venue(self, openid: str) -> Write:
        return Write("DEL", self.keys.last_venue(openid), ())

    async def last_venue(self, openid: str) -> LastVenue | None:
        """The venue `openid` scanned last, while it is remembered."""
        stored = await self.hot.get(self.keys.last_venue(openid))
        if stored is None:
            return None
        state, scene, visit, entered = [*stored.decode().split("|"), "", "", ""][:4]
        return LastVenue(state, scene, visit, float(entered or 0))

    async def record(self, scene: str, doc_index: str, entry: bytes, at: float, visit: str = "") -> None:
        """An entry written now (a scan's turn carries `entry_writes` instead)."""
        await self._writer.apply(self.entry_writes(scene, doc_index, entry, at, visit))

    async def record_holder(self, scene: str, openid: str, doc_index: str, sealed_person: bytes, visit: str,
                            at: float) -> None:
        """A holder's own entry written now, with the identity it names."""
        await self._writer.apply([*self.entry_writes(scene, doc_index, self.holder_entry(openid, doc_index, visit),
                                                     at, visit),
                                  self.identity_write(openid, doc_index, sealed_person, at)])

    async def entries(self, scene: str, start: float, end: float, now: float, stay: int = DEFAULT_STAY
                      ) -> list[Entry]:
        """The venue's entries from `start` to `end`, oldest first, each with when it ended (离场, or `stay`
        after it): one sorted-set range and one hash of exits per day. Only the days that can still hold entries
        at `now` are read, so a window of centuries is a month's reads."""
        found: list[Entry] = []
        for key, low, high in self._days(lambda day: self.keys.venue_entries(scene, day), start, end, now):
            members = await self.redis.zrangebyscore(key, low, high, withscores=True)
            exits = await self.redis.hgetall(key.replace(":in:", ":out:", 1)) if members else {}
            identities = await self._identities([m for m, _ in members if m[:1] == HOLDER])
            for member, at in members:
                record = self._record(scene, member, identities)
                left = exits.get(record.get("v", "").encode())
                found.append(Entry(scene, at, record, float(left) if left else at + stay, left is not None))
        return found

    def _days(self, key: Callable[[str], str], start: float, end: float, now: float
              ) -> Iterator[tuple[str, float, float]]:
        """(day's key, start, end) for each day of the window that the retention still covers at `now`: nothing
        older than the retention is read, whatever its key still holds until it expires."""
        start, end = max(start, now - self.retention), min(end, now + DAY)
        day = datetime.fromtimestamp(start, _SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
        while day.timestamp() <= end:
            yield key(day.strftime("%Y%m%d")), start, end
            day += timedelta(days=1)

    async def _identities(self, members: list[bytes]) -> dict[tuple[bytes, bytes], bytes]:
        """The sealed persons holder entries name, by (openid, tag), read together (a pipeline: their keys are
        on users' slots)."""
        wanted = sorted({(openid, tag) for openid, _, tag in map(_holder_parts, members) if tag[:1] != SEALED})
        if not wanted:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for openid, tag in wanted:
                pipe.get(self.keys.traced(openid.decode(), tag.decode()))
            found = await pipe.execute()
        return {who: sealed for who, sealed in zip(wanted, found, strict=True) if sealed is not None}

    def _record(self, scene: str, entry: bytes, identities: dict[tuple[bytes, bytes], bytes]) -> dict[str, str]:
        if entry[:1] != HOLDER:
            return self.vault.open_json(entry, context=f"entry:{scene}")  # type: ignore[no-any-return]
        raw_openid, visit, tag = _holder_parts(entry)
        openid = raw_openid.decode()
        # An entry written before identities were kept apart carries the sealed person itself.
        sealed = tag if tag[:1] == SEALED else identities.get((raw_openid, tag))
        if sealed is None:  # its identity has expired with the retention: nothing to show
            return {"o": openid, "n": "", "t": "", "d": "", "p": "", "r": "", "v": visit.decode()}
        person = open_person(self.vault, openid, sealed)
        return {"o": openid, "n": person.name, "t": person.doc_type, "d": person.doc_number, "p": person.phone,
                "r": "", "v": visit.decode()}

    async def visits(self, doc_index: str, start: float, end: float, now: float) -> list[tuple[str, float, str]]:
        """(scene, time, visit id) of a document's entries in the window and the retention, oldest first."""
        start, end = max(start, now - self.retention), min(end, now + DAY)
        found: list[tuple[str, float, str]] = []
        for member, at in await self.redis.zrangebyscore(self.keys.visits(doc_index), start, end, withscores=True):
            scene, _, visit = member.decode().partition("|")
            found.append((scene, at, visit))
        return found
