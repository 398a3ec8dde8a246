"""A citizen's claimed code: the document as an HMAC index plus AES-GCM ciphertext, never in plain text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from storage.connection import RedisClient
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


class ProfileStore:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault) -> None:
        self.redis = redis
        self.keys = keys
        self.vault = vault

    def doc_index(self, doc_type: str, doc_number: str) -> str:
        return self.vault.index("doc", f"{doc_type}:{doc_number}")

    async def save(self, openid: str, person: Person, claimed_at: float, phone_proven_at: float = 0.0) -> Profile:
        index = self.doc_index(person.doc_type, person.doc_number)
        sealed = seal_person(self.vault, openid, person)
        fields = {"doc_index": index, "doc_type": person.doc_type, "sealed": sealed, "claimed_at": str(claimed_at)}
        if person.phone:
            fields["phone_index"] = self.vault.index("phone", person.phone)
        if phone_proven_at:
            fields["phone_proven_at"] = str(phone_proven_at)
        # Two slots on a cluster, so two writes: a claim that dies between them is retried by WeChat and
        # its retry writes both again; until then the holder only misses result notices.
        await self.redis.hset(self.keys.profile(openid), mapping=fields)
        await self.redis.sadd(self.keys.holders(index), openid)
        return Profile(person, index, claimed_at, sealed, phone_proven_at)

    async def load(self, openid: str) -> Profile | None:
        return self.decode(openid, await self.redis.hgetall(self.keys.profile(openid)))

    def decode(self, openid: str, stored: dict[bytes, bytes]) -> Profile | None:
        """A profile from its stored hash (read by the turn script, or by load)."""
        if not stored:
            return None
        sealed = stored[b"sealed"]
        return Profile(lambda: open_person(self.vault, openid, sealed), stored[b"doc_index"].decode(),
                       float(stored[b"claimed_at"]), sealed, float(stored.get(b"phone_proven_at", 0)))

    async def delete(self, openid: str) -> None:
        """注销: the profile and its cached image go together."""
        index = await self.redis.hget(self.keys.profile(openid), "doc_index")
        await self.redis.delete(self.keys.profile(openid))
        if index:
            await self.redis.srem(self.keys.holders(index.decode()), openid)
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
        return [o.decode() for o in await self.redis.smembers(self.keys.holders(doc_index))]

    async def forget_code(self, openid: str, subject: str) -> None:
        """Drop a code's cached image. Its QR tokens stop resolving by themselves: the scan page finds no
        holder once the profile or the binding is gone."""
        await self.redis.delete(self.keys.image_cache(openid, subject))
