"""The audit stream: who did what to whose data, and when, as pseudonyms (an export also says why)."""

from __future__ import annotations

import secrets

from storage.connection import RedisClient
from storage.keys import Keys
from storage.vault import Vault


def pseudonym(vault: Vault, openid: str) -> str:
    """Audit entries name an account by a keyed pseudonym, never by openid."""
    return vault.index("openid", openid)[:32]


class AuditLog:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    async def append(self, action: str, who: str, subject: str, at: str, entry_id: str = "", reason: str = "",
                     other: str = "") -> None:
        """One entry. `entry_id` makes a retried move from an outbox recognisable as the same entry; `other` is
        a second account's pseudonym (a takeover's old holder)."""
        fields = {"action": action, "who": who, "relative": subject, "at": at, "id": entry_id or secrets.token_hex(8)}
        if reason:
            fields["reason"] = reason
        if other:
            fields["other"] = other
        await self.redis.xadd(self.keys.audit(), fields)

    async def latest(self, count: int) -> list[dict[str, str]]:
        """The newest `count` entries, oldest first."""
        entries = await self.redis.xrevrange(self.keys.audit(), count=count)
        return [{"stream_id": sid.decode(), **{k.decode(): v.decode() for k, v in fields.items()}}
                for sid, fields in reversed(entries)]
