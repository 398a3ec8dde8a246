"""The audit stream: who did what to whose data, and when, as pseudonyms. Why (an export's reason, a colour
change's reason and colours, an appeal's ticket) is health data or may be: it is sealed, and opened to print."""

from __future__ import annotations

import secrets

from storage.connection import Pipeline, RedisClient
from storage.keys import Keys
from storage.vault import SealError, Vault


def pseudonym(vault: Vault, openid: str) -> str:
    """Audit entries name an account by a keyed pseudonym, never by openid."""
    return vault.index("openid", openid)[:32]


class AuditLog:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault) -> None:
        self.redis, self.keys, self.vault = redis, keys, vault

    def _fields(self, action: str, who: str, subject: str, at: str, entry_id: str, reason: str,
                other: str) -> dict[str, str | bytes]:
        entry_id = entry_id or secrets.token_hex(8)
        fields: dict[str, str | bytes] = {"action": action, "who": who, "relative": subject, "at": at, "id": entry_id}
        if reason:
            fields["reason"] = self.vault.seal(reason.encode(), f"audit:{entry_id}")
        if other:
            fields["other"] = other
        return fields

    def _read(self, sid: bytes, fields: dict[bytes, bytes]) -> dict[str, str]:
        entry = {"stream_id": sid.decode()}
        for key, value in fields.items():
            if key == b"reason" and value[:1] == b"\x01":
                try:
                    value = self.vault.open(value, f"audit:{fields.get(b'id', b'').decode()}")
                except SealError:
                    value = b"(sealed with another key)"
            entry[key.decode()] = value.decode(errors="replace")
        return entry

    async def append(self, action: str, who: str, subject: str, at: str, entry_id: str = "", reason: str = "",
                     other: str = "") -> None:
        """One entry. `entry_id` makes a retried move from an outbox recognisable as the same entry; `other` is
        a second account's pseudonym (a takeover's old holder)."""
        await self.redis.xadd(self.keys.audit(), self._fields(action, who, subject, at, entry_id, reason, other))

    def queue(self, pipe: Pipeline, action: str, who: str, subject: str, at: str, entry_id: str = "",
              reason: str = "") -> None:
        """One entry, on a batch's pipeline."""
        pipe.xadd(self.keys.audit(), self._fields(action, who, subject, at, entry_id, reason, ""))

    async def about(self, subject: str, page: int = 5000) -> list[dict[str, str]]:
        """Every entry about one subject (a document index's first 24 characters), oldest first: the stream
        read in pages, so it works after the person deregistered and on a long stream."""
        found, start = [], "-"
        while entries := await self.redis.xrange(self.keys.audit(), min=start, count=page):
            for sid, fields in entries:
                if fields.get(b"relative") == subject.encode():
                    found.append(self._read(sid, fields))
            if len(entries) < page:
                break
            start = "(" + entries[-1][0].decode()
        return found

    async def latest(self, count: int) -> list[dict[str, str]]:
        """The newest `count` entries, oldest first."""
        entries = await self.redis.xrevrange(self.keys.audit(), count=count)
        return [self._read(sid, fields) for sid, fields in reversed(entries)]
