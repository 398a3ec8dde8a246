"""Customer-service notices to send: a Redis stream read by a consumer group, one entry per notice.

An entry names the account; what to say is the `notice` field of the account's profile hash
(storage.profiles.NOTICE), which also says how far it got. A sender moves it from queued to sending before it
sends, so an entry delivered twice (a sender died, its entry was claimed by another) is never sent twice: a
notice found already sending may or may not have gone out, and becomes held, which the account's next message
shows. Sent, the field is dropped; outside the 48 h window it is held too. The account's next message takes
a queued or held notice as showing, so no sender sends what that message shows.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

from redis.exceptions import ResponseError

from storage.connection import Pipeline, RedisClient
from storage.keys import Keys
from storage.profiles import NOTICE
from storage.writes import Write

GROUP = "senders"
STREAM_LENGTH = 100_000  # trimmed approximately: entries are deleted once handled, this only bounds a backlog

# ARGV[1]: the states it may be in, as ",a,b,"; ARGV[2]: the state it becomes ("" drops it). Returns the
# template it held when it was in one of them; with ARGV[3] = "hold-sending", a notice found sending becomes
# held and nil returns.
_MOVE = """
local value = redis.call('HGET', KEYS[1], ARGV[4])
if not value then return nil end
local bar = string.find(value, '|', 1, true)
if not bar then return nil end
local state, template = string.sub(value, 1, bar - 1), string.sub(value, bar + 1)
if string.find(ARGV[1], ',' .. state .. ',', 1, true) then
  if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[4])
  else redis.call('HSET', KEYS[1], ARGV[4], ARGV[2] .. '|' .. template) end
  return template
end
if state == 'sending' and ARGV[3] == 'hold-sending' then
  redis.call('HSET', KEYS[1], ARGV[4], 'held|' .. template)
end
return nil
"""


Entry = tuple[str, dict[str, str]]


def _decoded(entries: Iterable[tuple[bytes, dict[bytes, bytes]]]) -> list[Entry]:
    """Stream entries as text; one deleted under a pending claim comes back without fields and is dropped."""
    return [(eid.decode(), {k.decode(): v.decode() for k, v in fields.items()}) for eid, fields in entries if fields]


class NoticeQueue:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self._move = redis.register_script(_MOVE)

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.keys.notices(), GROUP, id="0", mkstream=True)
        except ResponseError as exc:  # BUSYGROUP: another worker made it
            if "BUSYGROUP" not in str(exc):
                raise

    async def add(self, openid: str, kind: str) -> None:
        await self.redis.xadd(self.keys.notices(), {"to": openid, "kind": kind}, maxlen=STREAM_LENGTH,
                              approximate=True)

    def queue_change(self, pipe: Pipeline, doc_index: str, change_id: str) -> None:
        """A change of colour about to be applied (bot.features.status): its holder and guardians are told once
        the sender finds it applied."""
        pipe.xadd(self.keys.notices(), {"kind": "colour", "doc": doc_index, "change": change_id},
                  maxlen=STREAM_LENGTH, approximate=True)

    async def add_fields(self, fields: dict[str, str]) -> None:
        await self.redis.xadd(self.keys.notices(), fields, maxlen=STREAM_LENGTH, approximate=True)

    async def read(self, count: int, block_ms: int) -> list[Entry]:
        """New entries for this consumer, waiting up to `block_ms` for one (0: not at all)."""
        answer = await self.redis.xreadgroup(GROUP, self.consumer, {self.keys.notices(): ">"}, count=count,
                                             block=block_ms or None)  # 0 would be BLOCK 0: for ever
        return _decoded(entry for _, entries in answer or [] for entry in entries)

    async def reclaim(self, idle_ms: int, count: int) -> list[Entry]:
        """Entries another consumer took and did not finish within `idle_ms` (it died)."""
        _, entries, *_ = await self.redis.xautoclaim(self.keys.notices(), GROUP, self.consumer, idle_ms,
                                                     start_id="0", count=count)
        return _decoded(entries)

    async def done(self, *entry_ids: str) -> None:
        """Entries handled: acknowledged and deleted, in one round trip."""
        if entry_ids:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.xack(self.keys.notices(), GROUP, *entry_ids)
                pipe.xdel(self.keys.notices(), *entry_ids)
                await pipe.execute()

    async def begin(self, openid: str) -> str | None:
        """The template of the account's queued notice, now marked sending; None when there is nothing to send
        (sent, shown, or found sending: then it is held for the next message)."""
        return await self._step(openid, ("queued",), "sending", "hold-sending")

    async def sent(self, openid: str) -> None:
        await self._step(openid, ("sending",), "")

    async def hold(self, openid: str) -> None:
        """Not delivered (outside the 48 h window, unfollowed): the account's next message shows it."""
        await self._step(openid, ("sending",), "held")

    async def show(self, openid: str) -> str | None:
        """The template of a notice the account's message is to show, now marked showing (no sender takes it
        then); None when a sender has it. The turn's end drops it (`drop_write`); a turn that cannot finish
        leaves it showing, for the next message."""
        return await self._step(openid, ("queued", "held", "showing"), "showing")

    def drop_write(self, openid: str) -> Write:
        """The write that drops the account's notice once its next message has shown it (with the turn's end)."""
        return Write("HDEL", self.keys.profile(openid), (NOTICE,))

    async def claim(self, openid: str, change: str, keep_seconds: int = 7 * 86400) -> bool:
        """This sender, alone, tells `openid` of `change`: False when one already did or is doing it (a
        sender that died mid-send leaves it in doubt, and a second message is worse than none)."""
        return bool(await self.redis.set(self.keys.told(openid, change), b"1", nx=True, ex=keep_seconds))

    async def backlog(self) -> int:
        return int(await self.redis.xlen(self.keys.notices()))

    async def _step(self, openid: str, states: tuple[str, ...], then: str, also: str = "") -> str | None:
        template = await self._move(keys=[self.keys.profile(openid)], args=[f",{','.join(states)},", then, also,
                                                                             NOTICE])
        return template.decode() if template is not None else None
