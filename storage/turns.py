"""A turn is one push handled for one user: claim the push, lock the user, read the dialog; then finish it.

Both ends are single Lua scripts, so a turn costs two round trips and never leaves half its writes behind.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from redis.asyncio.cluster import RedisCluster

from storage.connection import REPLY_TIMEOUT, HotClient
from storage.keys import Keys, TurnKeys
from storage.ratelimit import TAKE, bucket_ttl_ms
from storage.resp import pairs
from storage.unique import unique_token
from storage.writes import ShapeScripts, Write, encode

PENDING = b"P"
REPLIED = b"R"
DONE = b"D"  # answered, and the reply no longer kept: a replay inside the replay window is answered empty
FINISHED, LATE, RACED = "finished", "late", "raced"  # what TurnStore.finish did

# A push's done mark (TurnKeys.done) is its claim: "P" while its first attempt runs (a lease: a worker that
# dies lets a retry take over), "D" once answered, for the whole replay window; one SET NX GET both claims it
# and tells a retry what became of it. The reply itself is kept apart (TurnKeys.seen) for WeChat's retries only.
# A glance (a route that usually only looks: one's code, help) marks its push "O" and takes no lock when the
# user is in no dialog and no other turn: it writes nothing, so a retry simply looks again, and the turn needs
# no FINISH. One that writes after all (a new user's first 防疫健康信息码 starts the claim) takes the lock in
# FINISH (GLANCE_FINISH), if nothing began meanwhile; else the dispatcher runs the push again as a whole turn.
# The settings a turn script uses are written into its text (`_settings`), not sent with every call: each
# argument costs hiredis a packing on every turn. A change of settings is a new script.
BEGIN = TAKE + """
local glance = ARGV[4] == 'g'
if ARGV[3] ~= '' then
  local first = redis.call('SET', K[7], ARGV[3], 'NX', 'GET', 'EX', FIRST_BODY_TTL)
  if first and first ~= ARGV[3] then return {'replayed'} end
end
local was = redis.call('SET', K[1], glance and 'O' or 'P', 'NX', 'GET', 'PX', glance and DONE_MS or LEASE_MS)
if was == 'O' then  -- a push that was only looked at (a glance) is looked at again: no second token
  if not glance then redis.call('SET', K[1], 'P', 'PX', LEASE_MS) end
elseif was == 'D' then return {'dup', redis.call('GET', seen()) or 'D'}
elseif was then return {'dup', was}
elseif ARGV[2] ~= '' and not take(K[5], BURST, PER_SECOND, tonumber(ARGV[2]) / 1000, BUCKET_PX) then
  redis.call('DEL', K[1])
  return {'limited'}
end
-- the state, the name of one that timed out, and the user's language and 长辈模式
local dialog = redis.call('MGET', K[3], K[4], K[8])
local outcome = 'ok'
if glance and not dialog[1] and not dialog[2] and redis.call('EXISTS', K[2]) == 0 then
  outcome = was == 'O' and 'glance-again' or 'glance'  -- no lock: FINISH takes it only if the turn writes
else
  if glance then redis.call('SET', K[1], 'P', 'PX', LEASE_MS) end
  if not redis.call('SET', K[2], ARGV[1], 'NX', 'PX', LOCK_TTL_MS) then
    redis.call('DEL', K[1])  -- not claimed after all: the push comes back when the user is free
    return {'busy'}
  end
end
local profile = redis.call('HGETALL', K[6])
local turn = {outcome, dialog[1] or '', dialog[2] or '', profile, dialog[3] or ''}
if #profile > 0 then  -- one's own code can be shown: what showing it reads
  for _, key in ipairs(reads()) do turn[#turn + 1] = redis.call('HGETALL', key) end
  if #DOC_KEYS > 0 then  -- one node only: the document's hashes (its colour, its facts) live in other slots
    for i = 1, #profile, 2 do
      if profile[i] == 'doc_index' then
        for _, part in ipairs(DOC_KEYS) do
          turn[#turn + 1] = redis.call('HGETALL', part[1] .. profile[i + 1] .. part[2])
        end
      end
    end
  end
end
return turn
"""

FINISH = """
local mine = redis.call('GET', K[2]) == ARGV[2]
local clock = K[2]  -- set with the lock's TTL by BEGIN: what is left of it tells how long the turn took
"""
# A glance's end, when it writes: the lock now, if no turn holds it, no dialog began since BEGIN read none, and
# the push is still only looked at (a retry that wrote meanwhile marked it "D"; `_deliver_later`'s call, with
# ARGV[6] empty, comes after its own "D"). Else nothing is written: "raced".
GLANCE_FINISH = """
local mine = (ARGV[6] == '' or redis.call('GET', K[5]) == 'O') and redis.call('EXISTS', K[3], K[4]) == 0
  and redis.call('SET', K[2], ARGV[2], 'NX', 'PX', LOCK_TTL_MS) ~= false
if not mine then return 'raced' end
local clock = K[5]  -- set with the replay window's TTL by BEGIN
"""
FINISH_REST = """
-- A passive reply waits on this: written while the server still waits for it, or not at all.
if ARGV[6] ~= '' and (not mine or redis.call('PTTL', clock) < tonumber(ARGV[6])) then
  if mine then  -- let the user and the push go: it was answered 「服务繁忙」 and may come again
    redis.call('DEL', K[2], K[5])
  elseif redis.call('GET', K[5]) == 'D' then
    return 'done'  -- this very call ran before (a client's retry)
  end  -- else the lock, and the push's claim, may be another attempt's now
  return 'late'
end
if ARGV[1] ~= '' then redis.call('SET', K[1], ARGV[1], 'PX', DEDUP_TTL_MS) end
redis.call('SET', K[5], 'D', 'PX', DONE_MS)
local op = ARGV[3]
if op == 'clear' then
  redis.call('DEL', K[3], K[4])
elseif op == 'set' then
  redis.call('SET', K[3], ARGV[5], 'EX', DIALOG_TTL)
  redis.call('SET', K[4], ARGV[4], 'EX', NOTICE_TTL)
elseif op == 'step' then  -- the same dialog: its name is in the marker already
  redis.call('SET', K[3], ARGV[5], 'EX', DIALOG_TTL)
elseif op == 'forget-expired' then
  redis.call('DEL', K[4])
end
"""
# Then what the handler asked to write with the turn (storage.writes.ShapeScripts), then:
RELEASE_LOCK = """
if mine then redis.call('DEL', K[2]) end
return 1
"""


def _settings(*, text: dict[str, int | str] | None = None, **values: int | float) -> str:
    """Lua locals from numbers (int() and float() of them: nothing else can reach the script's text); those in
    `text` as Lua strings, each byte a decimal escape (a number as text: redis.call formats a Lua number on
    every call)."""
    numbers = "".join(f"local {name} = {value!r}\n" for name, value in
                      ((name, int(v) if isinstance(v, int) else float(v)) for name, v in values.items()))
    return numbers + "".join(f"local {name} = '{_lua_bytes(str(int(v) if isinstance(v, int) else v))}'\n"
                             for name, v in (text or {}).items())


def _lua_bytes(text: str) -> str:
    return "".join(f"\\{byte}" for byte in text.encode())


def first_body_ttl(replay_window: int) -> int:
    """Seconds a signed query's first body is remembered: a timestamp is accepted this far either side of now."""
    return 2 * replay_window


def _begin_keys(user: TurnKeys, dedup_id: str, first_body_key: str | None) -> list[str]:
    """BEGIN's KEYS in the order its text reads them: eight it always uses (seventh the replay check's key, or
    the done mark again; eighth the preferences), then the kept reply (read for a push answered before only); on
    a cluster the reads (TurnKeys.reads) follow."""
    done = user.done(dedup_id)
    return [done, user.lock, user.dialog, user.marker, user.bucket, user.profile, first_body_key or done,
            user.prefs, user.seen(dedup_id)]


def _finish_keys(user: TurnKeys, dedup_id: str) -> list[str]:
    """FINISH's first five KEYS; the writes' keys follow."""
    return [user.seen(dedup_id), user.lock, user.dialog, user.marker, user.done(dedup_id)]


_DEDUP, _FIRST = "\x00", "\x01"  # stand-ins for a dedup id and the replay check's key in `_named`


def _named(keys: Keys, reads: tuple[str, ...]) -> tuple[str, str]:
    """Lua that names a user's turn keys itself, from the user's prefix and the push's dedup id: BEGIN's (ARGV[5],
    ARGV[6]; the replay check's key, if any, in KEYS[1]) and FINISH's (the last two ARGV; the writes' keys in
    KEYS). On one Redis node a script may name keys it was not given (BEGIN's status read always did), and each
    name sent costs hiredis a packing: eleven fewer a turn. Each name built costs Redis a Lua string
    (bench/redis_instructions.sh): the reads are built only for a claimed user. A
    cluster sends every key. The lists come from `_begin_keys`, TurnKeys.reads and `_finish_keys`, so the two
    modes name the same keys in the same order."""
    sample = keys.turn("-", reads)
    done = sample.done(_DEDUP)

    def lua(name: str) -> str:
        leaf, dedup, _ = name[len(sample.prefix):].partition(_DEDUP)
        if not re.fullmatch(r"[a-z:-]+", leaf):  # written into the script's text
            raise ValueError(f"unexpected key leaf {leaf!r}")
        return f"u .. '{leaf}' .. d" if dedup else f"u .. '{leaf}'"

    *begin, seen = _begin_keys(sample, _DEDUP, _FIRST)
    first, done_at = begin.index(_FIRST) + 1, begin.index(done) + 1
    reads, finish = ", ".join(map(lua, sample.reads)), ", ".join(map(lua, _finish_keys(sample, _DEDUP)))
    return (f"local u, d = ARGV[5], ARGV[6]\n"
            f"local K = {{{', '.join('false' if n == _FIRST else lua(n) for n in begin)}}}\n"
            f"K[{first}] = KEYS[1] or K[{done_at}]\n"
            f"local function seen() return {lua(seen)} end\n"
            f"local function reads() return {{{reads}}} end\n",
            f"local u, d = ARGV[#ARGV - 1], ARGV[#ARGV]\nlocal K = {{{finish}}}\n"
            "for i = 1, #KEYS do K[5 + i] = KEYS[i] end\n")


# A cluster's scripts are given every key they touch: BEGIN's kept reply is its ninth, the reads follow.
DECLARED = "local K = KEYS\n"
DECLARED_BEGIN = (DECLARED + "local function seen() return KEYS[9] end\n"
                  "local function reads() return {unpack(KEYS, 10)} end\n")

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class FirstBody:
    """A signed query's (timestamp, nonce) key and the digest of the first body it came with."""

    key: str
    digest: str
    ttl: int


USERS_KEPT = 10_000  # ~1.5 KB of key names each


@dataclass(slots=True)
class Begun:
    # "ok" (locked), "glance" (not locked: TurnStore.begin), "dup" (seen before), "busy" (another push holds the
    # lock), "limited", "replayed"
    outcome: str
    dialog: bytes = b""  # the dialog state as one value (bot.engine.state), empty outside a dialog
    expired_dialog: str = ""
    seen_value: bytes = b""
    profile: dict[bytes, bytes] = field(default_factory=dict)  # read with the turn: saves a round trip
    read_with_turn: dict[str, dict[bytes, bytes]] = field(default_factory=dict)  # TurnKeys.reads, if claimed
    prefs: bytes = b""  # the user's language and 长辈模式 (bot/engine/prefs.py)
    looked_before: bool = False  # a glance's retry: the push was looked at before, and is again


@dataclass(frozen=True, slots=True)
class DialogWrite:
    op: str  # "keep", "set", "step" (set, the dialog's name unchanged), "clear" or "forget-expired"
    value: bytes = b""  # for "set": the whole state, written with one SET
    name: str = ""


class TurnStore:
    def __init__(self, redis: HotClient, keys: Keys, *, dedup_ttl: int, lease: float,
                 lock_ttl: float, dialog_ttl: int, notice_ttl: int, burst: int = 0, per_minute: int = 0,
                 replay_window: int = 300, prefetch: tuple[str, ...] = (),
                 document_reads: tuple[Callable[[str], str], ...] = ()) -> None:
        """`prefetch`: the UserHash leaves BEGIN reads for a claimed user, as the routes declared them.
        `document_reads`: the keys of the user's document (by its index) that a code view reads, its colour
        first: on one node BEGIN reads them too; a cluster reads them apart (other slots)."""
        self.redis = redis
        self.keys = keys
        # FINISH refuses to run once the client has given up on it: then the lock (a glance: the push's
        # mark) has less than this left.
        self._late_ms = (lock_ttl - REPLY_TIMEOUT) * 1000
        # One Redis node holds every key, so a script may name keys of different hash tags.
        self.one_node = not isinstance(redis, RedisCluster)
        self.document_reads = document_reads if self.one_node else ()
        self.dedup_ttl_ms = dedup_ttl * 1000
        # A push's done mark lasts as long as a signed push can be accepted (the replay window).
        self.done_ms = max(dedup_ttl, replay_window) * 1000
        self._glance_late_ms = self.done_ms - REPLY_TIMEOUT * 1000
        self.burst = burst
        # A user's key names, built once while the user is among the recent ones: a turn names ten of them.
        # functools' LRU (in C): cachetools' cost a new user more than building the names.
        self._user_keys = functools.lru_cache(maxsize=USERS_KEPT)(functools.partial(keys.turn, reads=prefetch))
        named_begin, named_finish = _named(keys, prefetch) if self.one_node else (DECLARED_BEGIN, DECLARED)
        bucket_px = bucket_ttl_ms(burst, per_minute / 60) if burst > 0 and per_minute > 0 else 0
        self._begin = redis.register_script(_settings(BURST=burst, PER_SECOND=per_minute / 60, text={
            "LEASE_MS": int(lease * 1000), "LOCK_TTL_MS": int(lock_ttl * 1000), "BUCKET_PX": bucket_px,
            "DONE_MS": self.done_ms,
            "FIRST_BODY_TTL": first_body_ttl(replay_window)}) + self._document_keys_lua() + named_begin + BEGIN)
        head = _settings(text={
            "DEDUP_TTL_MS": self.dedup_ttl_ms, "DONE_MS": self.done_ms, "LOCK_TTL_MS": int(lock_ttl * 1000),
            "DIALOG_TTL": dialog_ttl, "NOTICE_TTL": notice_ttl}) + named_finish
        # One FINISH a shape of the handler's writes (none, a scan's entry, a SET...), and one a glance's.
        self._finish = ShapeScripts(redis, lambda calls: head + FINISH + FINISH_REST + calls + RELEASE_LOCK, 6, 7)
        self._glance_finish = ShapeScripts(
            redis, lambda calls: head + GLANCE_FINISH + FINISH_REST + calls + RELEASE_LOCK, 6, 7)
        self._release = redis.register_script(RELEASE)

    @staticmethod
    def new_lock_token() -> str:
        return unique_token()

    async def begin(self, openid: str, dedup_id: str, lock_token: str, now: float | None = None,
                    first_body: FirstBody | None = None, glance: bool = False) -> Begun:
        """Claim the push and lock the user; `now` also takes a message token (None: no rate limit).

        With `first_body` (one Redis node only: its key has no hash tag), the signed query's replay check
        runs in the same script: a query seen before with another body is refused as "replayed".
        With `glance`, a user in no dialog and no other turn is not locked: outcome "glance" (see GLANCE_FINISH)."""
        millis = str(int(now * 1000)) if now is not None and self.burst > 0 else ""  # "": no rate limit
        user = self._user_keys(openid)
        extra = user.reads
        # The time in integer milliseconds: repr() of a float costs several times more.
        args: list[str | int] = [lock_token, millis, first_body.digest if first_body else "", "g" if glance else ""]
        if self.one_node:  # the script names the user's keys (`_named`)
            args += (user.prefix, dedup_id)
            result = await self._begin(keys=(first_body.key,) if first_body else (), args=args)
        else:
            result = await self._begin(keys=[*_begin_keys(user, dedup_id, first_body.key if first_body else None),
                                             *extra], args=args)
        outcome = result[0].decode()
        if outcome == "dup":
            return Begun("dup", seen_value=result[1])
        if outcome in ("busy", "limited", "replayed"):
            return Begun(outcome)
        profile = pairs(result[3])
        read: dict[str, dict[bytes, bytes]] = {}
        if len(result) > 5:  # claimed: what showing one's own code reads came with the turn
            n = len(extra)
            read = dict(zip(extra, map(pairs, result[5:5 + n]), strict=True))
            if len(result) > 5 + n:  # and, on one node, the hashes of the user's own document
                index = profile[b"doc_index"].decode()
                for key_of, found in zip(self.document_reads, result[5 + n:], strict=True):
                    read[key_of(index)] = pairs(found)
        return Begun("glance" if outcome == "glance-again" else outcome, dialog=result[1],
                     expired_dialog=result[2].decode(), profile=profile, read_with_turn=read, prefs=result[4],
                     looked_before=outcome == "glance-again")

    def _document_keys_lua(self) -> str:
        """The document keys BEGIN reads, as Lua (prefix, suffix) pairs around the document's index."""
        parts = []
        for key_of in self.document_reads:
            prefix, marker, suffix = key_of(_DEDUP).partition(_DEDUP)
            if not marker:
                raise ValueError("a document key must contain the document's index")
            parts.append(f"{{'{_lua_bytes(prefix)}', '{_lua_bytes(suffix)}'}}")
        return f"local DOC_KEYS = {{{', '.join(parts)}}}\n"

    async def read_hash(self, key: str) -> dict[bytes, bytes]:
        """A hash of the user's that the turn script did not read (or that this turn wrote since)."""
        return await self.redis.hgetall(key)

    async def seen(self, openid: str, dedup_id: str) -> bytes | None:
        """What became of a push: PENDING, its kept reply (REPLIED + reply), DONE, or None (never claimed, or
        its first attempt's lease ran out)."""
        mark, reply = await self.redis.mget(self.keys.done(openid, dedup_id), self.keys.seen(openid, dedup_id))
        return (reply or DONE) if mark == DONE else mark

    async def finish(self, openid: str, dedup_id: str, lock_token: str, reply: bytes | None,
                     write: DialogWrite, writes: list[Write] | None = None, held_for: float | None = None,
                     glance: bool = False) -> str:
        """Store the reply for retries (None: leave what is stored), write the dialog, run `writes` (on a
        cluster, keys of the user's own slot only), release the lock; FINISHED.

        With `held_for` (seconds since BEGIN answered), a passive reply waits on this call: if Redis runs it
        only after the client gave up (a paused Redis), or the lock is no longer ours, nothing is written, the
        lock and the push's claim are let go if still ours, and LATE comes back. The user was told 「服务繁忙」:
        so it is. A `glance` (begun unlocked) takes the lock here; RACED, and nothing written, if it could not
        (GLANCE_FINISH)."""
        stored = REPLIED + reply if reply is not None else b""
        keys, (shape, *argv) = encode(writes or [])
        user = self._user_keys(openid)
        late_ms = self._glance_late_ms if glance else self._late_ms
        by: str | int = "" if held_for is None else int(late_ms - held_for * 1000)
        args = [stored, lock_token, write.op, write.name, write.value, by, *argv]
        finish = (self._glance_finish if glance else self._finish)(shape)
        if self.one_node:  # the script names the user's keys (`_named`)
            args += (user.prefix, dedup_id)
            result = await finish(keys=keys, args=args)
        else:
            result = await finish(keys=[*_finish_keys(user, dedup_id), *keys], args=args)
        return RACED if result == b"raced" else LATE if result == b"late" else FINISHED

    async def store_reply(self, openid: str, dedup_id: str, reply: bytes) -> None:
        """Answer the push before its turn ends (the turn goes on; its result follows by message)."""
        await self.redis.set(self.keys.seen(openid, dedup_id), REPLIED + reply, px=self.dedup_ttl_ms)
        await self.redis.set(self.keys.done(openid, dedup_id), DONE, px=self.done_ms)

    async def release(self, openid: str, lock_token: str) -> bool:
        """Whether the lock was ours and is now released."""
        return bool(await self._release(keys=[self.keys.lock(openid)], args=[lock_token]))
