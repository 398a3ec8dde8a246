"""The colour registry: a colour per document index, its sealed reason, and the document's 赋码记录 (history).

Never flagged = green. A change of colour is one script over the document's two keys (the record and its
history, on one slot), so the history never misses or doubles a change, and repeating a colour changes
nothing. A reason and each history entry are sealed (the reason is health data); the colours are plain, as
the guard's page needs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from storage.connection import HotClient, Pipeline, RedisClient
from storage.keys import Keys
from storage.vault import Vault

Reader = Callable[[str], Awaitable[dict[bytes, bytes]]]

HISTORY_CAP = 200  # entries kept per document, whatever the retention: ten are shown

# KEYS: the record, the history. ARGV: 1 colour, 2 sealed reason, 3 at, 4 until ("0": until cleared),
# 5 change id, 6 sealed history detail, 7 oldest `at` kept, 8 history TTL, 9 now, 10 lapse: "" or the `until`
# the record must still have (the rule that turns a lapsed colour green).
# Returns the colour it was when this changed it; false when the colour was already this one (a reason or
# an `until` is then brought up to date, quietly).
_CHANGE = """
local stored = redis.call('HGET', KEYS[1], 'colour') or 'green'
local untilv = redis.call('HGET', KEYS[1], 'until') or '0'
local old = stored
if ARGV[10] ~= '' then
  if untilv ~= ARGV[10] or stored == 'green' then return false end
elseif tonumber(untilv) > 0 and tonumber(untilv) <= tonumber(ARGV[9]) then
  old = 'green'
end
if old == ARGV[1] then
  if ARGV[1] ~= 'green' then
    redis.call('HSET', KEYS[1], 'reason', ARGV[2], 'until', ARGV[4], 'updated_at', ARGV[3])
  end
  return false
end
redis.call('DEL', KEYS[1])
if ARGV[1] ~= 'green' then
  redis.call('HSET', KEYS[1], 'colour', ARGV[1], 'reason', ARGV[2], 'until', ARGV[4], 'change', ARGV[5],
             'updated_at', ARGV[3])
end
redis.call('LPUSH', KEYS[2], ARGV[3] .. '|' .. ARGV[5] .. '|' .. old .. '|' .. ARGV[1] .. '|' .. ARGV[6])
while true do
  local last = redis.call('LINDEX', KEYS[2], -1)
  if not last then break end
  if tonumber(string.sub(last, 1, string.find(last, '|', 1, true) - 1)) >= tonumber(ARGV[7]) then break end
  redis.call('RPOP', KEYS[2])
end
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[11]) - 1)
redis.call('EXPIRE', KEYS[2], ARGV[8])
return old
"""

_UNSCHEDULE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end
"""


@dataclass(frozen=True, slots=True)
class StatusRecord:
    colour: str
    code: str = ""  # the reason's code in the catalogue
    text: str = ""  # the operator's own words, if any
    until: float = 0.0  # when the colour lapses to green; 0: until cleared


GREEN = StatusRecord("green")


@dataclass(frozen=True, slots=True)
class Change:
    """One change of colour as asked: by whom and why. `channel`: operator, import, rule, provider or appeal."""

    colour: str
    code: str
    channel: str
    actor: str
    at: float
    until: float = 0.0
    text: str = ""
    ticket: str = ""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: float
    change: str
    old: str
    new: str
    code: str
    channel: str
    actor: str
    text: str
    ticket: str


class StatusRegistry:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault, *, retention: int,
                 reads: HotClient | None = None) -> None:
        self.redis = redis
        self.reads = reads or redis
        self.keys = keys
        self.vault = vault
        self.retention = retention
        self._change = redis.register_script(_CHANGE)
        self._unschedule = redis.register_script(_UNSCHEDULE)

    async def get(self, doc_index: str, now: float, read: Reader | None = None) -> StatusRecord:
        """The colour of a document now (a lapsed one is green); `read` may serve the hash from a copy the
        turn script already read."""
        stored = await (read or self.reads.hgetall)(self.keys.status(doc_index))
        if not stored or stored.get(b"colour", b"green") == b"green":
            return GREEN
        until = float(stored.get(b"until", b"0"))
        if 0 < until <= now:
            return GREEN
        code, text = "", ""
        if sealed := stored.get(b"reason"):
            if sealed[:1] == b"\x01":
                reason = self.vault.open_json(sealed, f"reason:{doc_index}")
                code, text = str(reason.get("code", "")), str(reason.get("text", ""))
            else:  # written before reasons were sealed and coded
                text = sealed.decode(errors="replace")
        return StatusRecord(stored[b"colour"].decode(), code, text, until)

    async def ready(self) -> None:
        """The change script known to every server, before a pipeline of them (a cluster's pipeline does not load
        scripts itself)."""
        await self.redis.script_load(_CHANGE)

    async def queue_change(self, pipe: Pipeline, doc_index: str, change: Change, change_id: str, now: float,
                           lapse: str = "") -> None:
        """Queue `change`; its answer is the colour it was, or nil when it already was this colour (nothing to
        tell). `lapse`: only if the record still lapses at this `until` (repr)."""
        await self._change(keys=[self.keys.status(doc_index), self.keys.colour_history(doc_index)],
                           args=self._change_args(doc_index, change, change_id, now, lapse), client=pipe)

    def queue_lapse(self, pipe: Pipeline, doc_index: str, until: float) -> None:
        """Name the document for the rule that turns it green at `until`, before the change is applied (the rule
        checks that the record still lapses then)."""
        pipe.zadd(self.keys.status_lapses(), {doc_index: until})

    def _change_args(self, doc_index: str, change: Change, change_id: str, now: float, lapse: str) -> list[object]:
        reason = self.vault.seal_json({"code": change.code, "text": change.text}, f"reason:{doc_index}") \
            if change.colour != "green" else b""
        detail = self.vault.seal_json({"code": change.code, "channel": change.channel, "actor": change.actor,
                                       "text": change.text, "ticket": change.ticket}, f"history:{doc_index}")
        return [change.colour, reason, repr(change.at), repr(change.until), change_id, detail,
                repr(now - self.retention), self.retention, repr(now), lapse, HISTORY_CAP]

    async def history(self, doc_index: str, now: float, count: int) -> list[HistoryEntry]:
        """The newest `count` changes within the retention, newest first."""
        raw = await self.redis.lrange(self.keys.colour_history(doc_index), 0, HISTORY_CAP - 1)
        kept = [item for item in raw if float(item.partition(b"|")[0]) >= now - self.retention]  # `at` is plain
        return [self._entry(doc_index, item) for item in kept[:count]]  # only what is shown is unsealed

    async def find(self, doc_index: str, change_id: str) -> HistoryEntry | None:
        """The history entry of one change, if it was applied (a notice is sent only for a change that was)."""
        for item in await self.redis.lrange(self.keys.colour_history(doc_index), 0, HISTORY_CAP - 1):
            if item.split(b"|", 2)[1].decode() == change_id:
                return self._entry(doc_index, item)
        return None

    def _entry(self, doc_index: str, item: bytes) -> HistoryEntry:
        at, change, old, new, sealed = item.split(b"|", 4)
        detail = self.vault.open_json(sealed, f"history:{doc_index}")
        return HistoryEntry(float(at), change.decode(), old.decode(), new.decode(), str(detail.get("code", "")),
                            str(detail.get("channel", "")), str(detail.get("actor", "")),
                            str(detail.get("text", "")), str(detail.get("ticket", "")))

    async def lapsing(self, now: float, count: int) -> list[tuple[str, float]]:
        found = await self.redis.zrangebyscore(self.keys.status_lapses(), "-inf", repr(now), start=0, num=count,
                                               withscores=True)
        return [(member.decode(), float(score)) for member, score in found]

    async def lapsed(self, doc_index: str, until: float) -> None:
        """The rule has handled this document's lapse at `until` (a later one, scheduled since, stays)."""
        await self._unschedule(keys=[self.keys.status_lapses()], args=[doc_index, repr(until)])
