"""A citizen's claimed code: the document as an HMAC index plus AES-GCM ciphertext, never in plain text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from storage.connection import HotClient, RedisClient
from storage.keys import Keys
from storage.vault import Vault


@dataclass(frozen=True, slots=True)
class Person:
    """The plain fields, held only in memory while a reply is built."""

    name: str
    doc_type: str
    doc_number: str
    phone: str = ""
    nationality: str = ""


PersonOf = Callable[[], Person]  # the person, asked for only where it is needed (a render, an upstream call)


class Profile:
    """A claimed code. Its person is decrypted when first asked for: showing an image that is still cached
    needs only the document's index, and skipping the cipher and the JSON there was ~2 % of such a push.
    `sealed` is the person as stored: a 场所码 entry carries it as it is (storage.venues)."""

    __slots__ = ("_open", "_person", "claimed_at", "doc_index", "phone_proven_at", "sealed")

    def __init__(self, person: Person | PersonOf, doc_index: str, claimed_at: float, sealed: bytes,
                 phone_proven_at: float = 0.0) -> None:
        self._person, self._open = (person, None) if isinstance(person, Person) else (None, person)
        self.doc_index = doc_index
        self.claimed_at = claimed_at
        self.sealed = sealed
        self.phone_proven_at = phone_proven_at  # when the phone took an SMS code typed back (0: never)

    @property
    def person(self) -> Person:
        if self._person is None:
            self._person = self._open()  # type: ignore[misc]
        return self._person

    def person_of(self) -> Person:
        """The person, as a PersonOf: `code_image(ctx, profile.person_of, …)` decrypts only if it renders."""
        return self.person


def seal_person(vault: Vault, openid: str, person: Person) -> bytes:
    """The person under the holder's openid, in one-letter fields: every 场所码 entry of theirs carries it too."""
    return vault.seal_json({"n": person.name, "t": person.doc_type, "d": person.doc_number, "p": person.phone,
                            "c": person.nationality}, context=openid)


def open_person(vault: Vault, openid: str, sealed: bytes) -> Person:
    """What `seal_person` sealed; also the spelt-out fields that profiles claimed before 2026-12 hold."""
    plain = vault.open_json(sealed, context=openid)
    if "n" in plain:
        return Person(plain["n"], plain["t"], plain["d"], plain["p"], plain["c"])
    return Person(plain["name"], plain["doc_type"], plain["doc_number"], plain.get("phone", ""),
                  plain.get("nationality", ""))


# A notice for the account, in its profile hash: "<state>|<template>". queued: in the notice stream, not yet
# sent; sending: a sender took it; held: it could not be sent (outside the 48 h window): the account's next
# message shows it; showing: a message of the account's is showing it. Sent or shown, the field is gone.
NOTICE = "notice"

_SAVE = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
"""

# A document has one holder account: the key holds its openid, a string (184 bytes with the key; a set of one
# member, as it was when several could claim a document, takes 280 on Redis 7.0; one is still read and
# replaced alike).
# Members named in ARGV[3..] no longer hold it (their profile says another document) and are passed over.
# Others refuse the claim unless ARGV[2] is 1: then they are moved to the displaced set, for `move_out`.
_HOLDERS = """
local function holders(key)
  if redis.call('TYPE', key).ok == 'set' then return redis.call('SMEMBERS', key) end
  local one = redis.call('GET', key)
  return one and {one} or {}
end
"""
_TAKE = _HOLDERS + """
local me, allow, stale = ARGV[1], ARGV[2], {}
for i = 3, #ARGV do stale[ARGV[i]] = true end
local others = {}
for _, member in ipairs(holders(KEYS[1])) do
  if member ~= me and not stale[member] then others[#others + 1] = member end
end
if #others > 0 then
  if allow ~= '1' then return others end
  redis.call('SADD', KEYS[2], unpack(others))
end
redis.call('SET', KEYS[1], me)
return {}
"""

_READ_HOLDERS = _HOLDERS + "return holders(KEYS[1])"

# 注销: the account no longer holds the document (if it still did).
_LET_GO = """
if redis.call('TYPE', KEYS[1]).ok == 'set' then return redis.call('SREM', KEYS[1], ARGV[1]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# The old account of a document that moved: its profile becomes the note of where its code went.
_MOVE_OUT = """
if redis.call('HGET', KEYS[1], 'doc_index') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'moved_at', ARGV[2], 'moved_doc', ARGV[1], 'notice', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


@dataclass(frozen=True, slots=True)
class Moved:
    """An account whose code another account took over: when, and which document (its HMAC index)."""

    at: float
    doc_index: str


def moved_of(stored: dict[bytes, bytes] | None) -> Moved | None:
    if not stored or b"moved_at" not in stored:
        return None
    return Moved(float(stored[b"moved_at"]), stored.get(b"moved_doc", b"").decode())


def held_notice(stored: dict[bytes, bytes] | None) -> str:
    """The template of a notice the account has not been sent (queued, held, or shown by a message whose turn
    did not finish), else ""."""
    value = stored.get(NOTICE.encode(), b"") if stored else b""
    state, _, template = value.decode().partition("|")
    return template if state in ("queued", "held", "showing") else ""


class ProfileStore:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault, reads: HotClient | None = None) -> None:
        """`reads`: the lean client, for the reads a claim's document step makes (storage/resp.py)."""
        self.redis = redis
        self.keys = keys
        self.vault = vault
        self.reads = reads or redis
        self._save = redis.register_script(_SAVE)
        self._take = redis.register_script(_TAKE)
        self._let_go = redis.register_script(_LET_GO)
        self._holders = self.reads.register_script(_READ_HOLDERS)
        self._move_out = redis.register_script(_MOVE_OUT)

    def doc_index(self, doc_type: str, doc_number: str) -> str:
        return self.vault.index("doc", f"{doc_type}:{doc_number}")

    async def save(self, openid: str, person: Person, claimed_at: float, phone_proven_at: float = 0.0) -> Profile:
        index = self.doc_index(person.doc_type, person.doc_number)
        sealed = seal_person(self.vault, openid, person)
        # No phone index: nothing looks a profile up by phone (it was 64 bytes of the profile's 488).
        fields = {"doc_index": index, "doc_type": person.doc_type, "sealed": sealed, "claimed_at": str(claimed_at)}
        if phone_proven_at:
            fields["phone_proven_at"] = str(phone_proven_at)
        # The holder set was written first (`take`); a note that the code had moved away goes with the claim.
        await self._save(keys=[self.keys.profile(openid)], args=[x for pair in fields.items() for x in pair])
        return Profile(person, index, claimed_at, sealed, phone_proven_at)

    async def others_holding(self, index: str, openid: str) -> tuple[list[str], list[str]]:
        """(accounts other than `openid` whose code this document is, members that no longer hold it)."""
        others, stale = [], []
        for member in await self.holders(index):
            if member != openid:
                held = await self.reads.hget(self.keys.profile(member), "doc_index")
                (others if held is not None and held.decode() == index else stale).append(member)
        return others, stale

    async def take(self, index: str, openid: str, *, takeover: bool) -> list[str]:
        """Make `openid` the document's one holder. Without `takeover`, another holder refuses it: their
        openids are returned and nothing changes. With it, they are moved to the displaced set, which
        `displaced` lists until `move_out` has run for each (a claim retried after a crash finishes it)."""
        _, stale = await self.others_holding(index, openid)
        refused = await self._take(keys=[self.keys.holders(index), self.keys.displaced(index)],
                                   args=[openid, "1" if takeover else "0", *stale])
        return [member.decode() for member in refused]

    async def displaced(self, index: str) -> list[str]:
        return [o.decode() for o in await self.redis.smembers(self.keys.displaced(index))]

    async def move_out(self, old: str, index: str, now: float, notice: str, keep_seconds: int) -> bool:
        """The old holder's code is gone (profile and cached images); what stays, for `keep_seconds`, is when
        and which document moved, and `notice` queued for it. False if it no longer held the document."""
        k = self.keys
        moved = await self._move_out(keys=[k.profile(old), k.image_cache(old, "self"),
                                           k.image_cache(old, "self:combined")],
                                     args=[index, repr(now), f"queued|{notice}", keep_seconds])
        return bool(moved)

    async def settled(self, old: str, index: str) -> None:
        await self.redis.srem(self.keys.displaced(index), old)

    async def load(self, openid: str) -> Profile | None:
        return self.decode(openid, await self.redis.hgetall(self.keys.profile(openid)))

    def decode(self, openid: str, stored: dict[bytes, bytes]) -> Profile | None:
        """A profile from its stored hash (read by the turn script, or by load)."""
        sealed = stored.get(b"sealed") if stored else None
        if sealed is None:  # nothing claimed, or a note that the code moved to another account
            return None
        return Profile(lambda: open_person(self.vault, openid, sealed), stored[b"doc_index"].decode(),
                       float(stored[b"claimed_at"]), sealed, float(stored.get(b"phone_proven_at", 0)))

    async def delete(self, openid: str) -> None:
        """注销: the profile and its cached image go together."""
        index = await self.redis.hget(self.keys.profile(openid), "doc_index")
        await self.redis.delete(self.keys.profile(openid))
        if index:
            await self._let_go(keys=[self.keys.holders(index.decode())], args=[openid])
        await self.forget_code(openid, "self")

    async def forget_everything(self, openid: str, subjects: list[str]) -> None:
        """After 注销: the user's personal data, named key by key (no keyspace scan, whatever its size):
        cached images of the code and of each relative (`subjects`), the 二码合一 mark (a sealed phone), the
        last venue. Counters and limits stay until they expire: they hold no personal data (counts under HMAC
        indexes), and deleting them would make 注销 a way around the SMS and message limits."""
        k = self.keys
        doomed = [k.travel_verified(openid), k.last_venue(openid)]
        for subject in ("self", *subjects):
            doomed += [k.image_cache(openid, subject), k.image_cache(openid, f"{subject}:combined")]
        await self.redis.delete(*doomed)

    async def holders(self, doc_index: str) -> list[str]:
        return [o.decode() for o in await self._holders(keys=[self.keys.holders(doc_index)])]

    async def forget_code(self, openid: str, subject: str) -> None:
        """Drop a code's cached image. Its QR tokens stop resolving by themselves: the scan page finds no
        holder once the profile or the binding is gone."""
        await self.redis.delete(self.keys.image_cache(openid, subject))
