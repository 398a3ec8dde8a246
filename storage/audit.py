"""The audit stream: who did what to whose data, and when, as pseudonyms (an export also says why)."""

from __future__ import annotations

import secrets

from storage.connection import Pipeline, RedisClient
from storage.keys import Keys
from storage.vault import Vault


def pseudonym(vault: Vault, openid: str) -> str:
    """Audit entries name an account by a keyed pseudonym, never by openid."""
    return vault.index("openid", openid)[:32]


def _fields(action: str, who: str, subject: str, at: str, entry_id: str, reason: str, other: str) -> dict[str, str]:
    fields = {"action": action, "who": who, "relative": subject, "at": at, "id": entry_id or secrets.token_hex(8)}
    if reason:
        fields["reason"] = reason
    if other:
        fields["other"] = other
    return fields


class AuditLog:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    async def append(self, action: str, who: str, subject: str, at: str, entry_id: str = "", reason: str = "",
                     other: str = "") -> None:
        """One entry. `entry_id` makes a retried move from an outbox recognisable as the same entry; `other` is
        a second account's pseudonym (a takeover's old holder)."""
        await self.redis.xadd(self.keys.audit(), _fields(action, who, subject, at, entry_id, reason, other))

    def queue(self, pipe: Pipeline, action: str, who: str, subject: str, at: str, entry_id: str = "",
              reason: str = "") -> None:
        """One entry, on a batch's pipeline."""
        pipe.xadd(self.keys.audit(), _fields(action, who, subject, at, entry_id, reason, ""))

    async def about(self, subject: str, page: int = 5000) -> list[dict[str, str]]:
        """Every entry about one subject (a document index's first 24 characters), oldest first: the stream
        read in pages, so it works after the person deregistered and on a long stream."""
        found, start = [], "-"
        while entries := await self.redis.xrange(self.keys.audit(), min=start, count=page):
            for sid, fields in entries:
                if fields.get(b"relative") == subject.encode():
                    found.append({"stream_id": sid.decode(), **{k.decode(): v.decode() for k, v in fields.items()}})
            if len(entries) < page:
                break
            start = "(" + entries[-1][0].decode()
        return found

    async def latest(self, count: int) -> list[dict[str, str]]:
        """The newest `count` entries, oldest first."""
        entries = await self.redis.xrevrange(self.keys.audit(), count=count)
        return [{"stream_id": sid.decode(), **{k.decode(): v.decode() for k, v in fields.items()}}
                for sid, fields in reversed(entries)]
