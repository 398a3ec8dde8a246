"""申诉: appeals against a colour, each a ticket (SS-20261205-0001) sealed at rest and kept for the retention.

One open appeal per document: its ticket is the document's `appeal-open` key, set only if absent. A ticket's
state moves once, from open to accepted or rejected, in one script. The lists (all, open, an account's) are
sorted sets of ticket numbers, trimmed to the retention as they are read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from storage.connection import RedisClient
from storage.keys import Keys
from storage.vault import Vault

OPEN, ACCEPTED, REJECTED = "open", "accepted", "rejected"

# KEYS: the ticket. ARGV: the state it becomes, resolved_at, the sealed answer.
# Returns 1 when it was open (and now is not); 0 otherwise.
_RESOLVE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'resolved_at', ARGV[2], 'answer', ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class Appeal:
    ticket: str
    doc_index: str
    by: str  # the account that appealed
    state: str
    opened_at: float
    due_at: float
    resolved_at: float
    reason: int  # the number picked from the list of reasons (templates/appeals/reasons.txt)
    text: str
    media_id: str
    name: str  # the person the code is of
    doc_type: str
    doc_number: str
    relationship: str  # "" for one's own code
    number: int  # the relative's number in the appellant's list, 0 for one's own
    colour: str  # the colour when appealed
    note: str = ""  # the operator's answer
    set_colour: str = ""  # the colour the answer set, if any


class AppealStore:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault, retention: int) -> None:
        self.redis, self.keys, self.vault, self.retention = redis, keys, vault, retention
        self._resolve = redis.register_script(_RESOLVE)

    def _key(self, ticket: str) -> str:
        return self.keys.of_service("appeals", f"ticket:{ticket}")

    def _open_key(self, doc_index: str) -> str:
        return self.keys.of_document(doc_index, "appeal-open")

    def _user_key(self, openid: str) -> str:
        return self.keys.of_user(openid, "appeals")

    async def open_ticket(self, doc_index: str) -> str | None:
        """The document's open appeal, if any (a ticket that is gone or answered does not count)."""
        ticket = await self.redis.get(self._open_key(doc_index))
        if ticket is None:
            return None
        state = await self.redis.hget(self._key(ticket.decode()), "state")
        return ticket.decode() if state == OPEN.encode() else None

    async def next_ticket(self, day: str) -> str:
        """SS-YYYYMMDD-NNNN: the day's next number (Shanghai date)."""
        key = self.keys.of_service("appeals", f"seq:{day}")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, 2 * 86400)
            number, _ = await pipe.execute()
        return f"SS-{day}-{number:04d}"

    async def open(self, appeal: Appeal) -> str | None:
        """Store a new appeal: None, or the ticket already open for the same document (nothing stored)."""
        if not await self.redis.set(self._open_key(appeal.doc_index), appeal.ticket, nx=True, ex=self.retention):
            if (held := await self.open_ticket(appeal.doc_index)) is not None:
                return held
            await self.redis.set(self._open_key(appeal.doc_index), appeal.ticket, ex=self.retention)  # a stale one
        sealed = self.vault.seal_json({
            "reason": appeal.reason, "text": appeal.text, "media": appeal.media_id, "name": appeal.name,
            "doc_type": appeal.doc_type, "doc_number": appeal.doc_number, "relationship": appeal.relationship,
            "number": appeal.number}, f"appeal:{appeal.ticket}")
        key = self._key(appeal.ticket)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={"doc": appeal.doc_index, "by": appeal.by, "state": OPEN,
                                    "opened_at": repr(appeal.opened_at), "due_at": repr(appeal.due_at),
                                    "colour": appeal.colour, "sealed": sealed})
            pipe.expire(key, self.retention)
            pipe.zadd(self.keys.of_service("appeals", "all"), {appeal.ticket: appeal.opened_at})
            pipe.zadd(self.keys.of_service("appeals", "open"), {appeal.ticket: appeal.opened_at})
            pipe.zadd(self._user_key(appeal.by), {appeal.ticket: appeal.opened_at})
            pipe.expire(self._user_key(appeal.by), self.retention)
            await pipe.execute()
        return None

    async def get(self, ticket: str) -> Appeal | None:
        stored = await self.redis.hgetall(self._key(ticket))
        if not stored or b"sealed" not in stored:
            return None
        detail = self.vault.open_json(stored[b"sealed"], f"appeal:{ticket}")
        answer = self.vault.open_json(stored[b"answer"], f"appeal-answer:{ticket}") if stored.get(b"answer") else {}
        text = {k.decode(): v.decode() for k, v in stored.items() if k not in (b"sealed", b"answer")}
        return Appeal(ticket, text["doc"], text["by"], text["state"], float(text["opened_at"]),
                      float(text["due_at"]), float(text.get("resolved_at", "0")), int(detail["reason"]),
                      str(detail["text"]), str(detail["media"]), str(detail["name"]), str(detail["doc_type"]),
                      str(detail["doc_number"]), str(detail["relationship"]), int(detail["number"]),
                      text.get("colour", ""),
                      str(answer.get("note", "")), str(answer.get("colour", "")))

    async def resolve(self, appeal: Appeal, state: str, note: str, colour: str, at: float) -> Appeal | None:
        """Answer an open appeal (as `get` read it): the appeal answered, or None when it is not open any more
        (answered meanwhile, or gone)."""
        ticket = appeal.ticket
        answer = self.vault.seal_json({"note": note, "colour": colour}, f"appeal-answer:{ticket}")
        if not await self._resolve(keys=[self._key(ticket)], args=[state, repr(at), answer]):
            return None
        await self.redis.zrem(self.keys.of_service("appeals", "open"), ticket)
        if await self.redis.get(self._open_key(appeal.doc_index)) == ticket.encode():
            await self.redis.delete(self._open_key(appeal.doc_index))
        return replace(appeal, state=state, resolved_at=at, note=note, set_colour=colour)

    async def tickets(self, now: float, *, open_only: bool = False, openid: str = "") -> list[str]:
        """Ticket numbers, oldest first, within the retention: all, the open ones, or one account's."""
        key = self._user_key(openid) if openid else self.keys.of_service("appeals", "open" if open_only else "all")
        await self.redis.zremrangebyscore(key, "-inf", f"({now - self.retention!r}")
        return [t.decode() for t in await self.redis.zrange(key, 0, -1)]
