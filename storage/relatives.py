"""Relatives bound by a user (亲属码), with limits that hold under any concurrency and on Redis Cluster.

- at most `max_per_user` relatives per user, at most `max_guardians` users per relative, no duplicates;
- unbinding only `unbind_after` seconds after binding (exactly then is allowed);
- every bind and unbind reaches the audit stream, as pseudonyms only.

A user's bindings live in the user's slot ({openid}); a relative's guardians in the relative's slot ({index}).
No script may touch both on a cluster, so a bind is three slot-local steps (docs/cluster.md has the proof):

1. RESERVE on the relative's slot: count the other users' entries (bound, or holding a place, even one whose
   lease has lapsed, until it is reconciled) and, if there is room, hold a place with a lease of LEASE
   seconds of that node's clock;
2. COMMIT on the user's slot: the binding itself, refused once the lease is within MARGIN of its end, so a
   commit can never land after a lease has been seen as expired;
3. SETTLE on the relative's slot: turn the reservation into what the user's side now holds (compare-and-set).

A process that dies between steps leaves an entry that still counts until it is reconciled against the
user's side, so a relative can never have more than `max_guardians` bindings; at worst a place stays taken
until its lease lapses and the next binder reconciles it.
The audit entry is queued in the user's slot by the same COMMIT and then moved to the stream (at least once).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace

from storage.audit import AuditLog, pseudonym
from storage.connection import RedisClient
from storage.keys import Keys
from storage.vault import VERSION, Vault

ANY_AGE = -1e12  # an unbind_after every binding meets: removals that ignore the 24 h rule (deregistration)
LEASE = 30  # seconds a reservation holds a relative's place
MARGIN = 10  # a commit needs this much lease left: covers clock skew between cluster nodes

RESERVE = """
local now = tonumber(redis.call('TIME')[1])
local function expired(state)
  local deadline = string.match(state, '^p:(%d+):')
  return deadline and tonumber(deadline) < now, deadline ~= nil
end
local held = 'held:' .. ARGV[5]
redis.call('HDEL', KEYS[1], held)  -- a place held after this user's 注销: theirs again
local mine = redis.call('HGET', KEYS[1], ARGV[1])
if mine then
  local lapsed, pending = expired(mine)
  if lapsed then return {'stale', {ARGV[1], mine}} end
  if pending and not string.find(mine, ':held$') then return {'busy'} end  -- held after 注销: theirs again
end
local others, suspects = 0, {}
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  if string.sub(entries[i], 1, 5) == 'held:' then
    if expired(entries[i + 1]) then redis.call('HDEL', KEYS[1], entries[i]) else others = others + 1 end
  elseif entries[i] ~= ARGV[1] then
    others = others + 1
    local lapsed, pending = expired(entries[i + 1])
    if lapsed or not pending then
      table.insert(suspects, entries[i]); table.insert(suspects, entries[i + 1])
    end
  end
end
if others >= tonumber(ARGV[3]) then return {'full', suspects} end
local state = 'p:' .. (now + tonumber(ARGV[4])) .. ':' .. ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], state)
return {'ok', state}
"""

# A binding is one field of the user's relatives hash: "<bound at>|<sealed record>", the record's fields one
# letter each, so that the value stays under deploy/redis.conf's hash-max-listpack-value (128) and the hash a
# listpack. Bindings made before the time moved there are a sealed record alone (it starts with the vault's
# version byte, \1), their time in the relatives-at hash (KEYS[2]); both are read, and removing one removes
# both.
BOUND_AT = """
local function bound_at(value, index)
  if string.byte(value, 1) ~= 1 then return string.match(value, '^([^|]*)|') end
  return redis.call('HGET', KEYS[2], index) or '0'
end
"""

COMMIT = BOUND_AT + """
local deadline = tonumber(ARGV[4])
if deadline > 0 and tonumber(redis.call('TIME')[1]) > deadline - tonumber(ARGV[5]) then return {'late'} end
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then return {'duplicate', bound_at(held, ARGV[1])} end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[6]) then return {'user_full'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. '|' .. ARGV[2])
redis.call('RPUSH', KEYS[3], ARGV[7])
return {'ok', ARGV[3]}
"""

REMOVE = BOUND_AT + """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if not held then return {'missing'} end
local at = bound_at(held, ARGV[1])
if tonumber(ARGV[2]) - tonumber(at) < tonumber(ARGV[3]) then return {'early', at} end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[4])
return {'ok', at}
"""

# After 注销 inside the 24 h window: the place stays taken, as a lease that lapses when the window ends, under
# the user's pseudonym (`held:` + RelativeStore.who), never their openid. The next reservation of the relative
# deletes it once lapsed, and the same user binding again takes it back (RESERVE).
HOLD = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local deadline = tonumber(redis.call('TIME')[1]) + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'held:' .. ARGV[4], 'p:' .. deadline .. ':held')
return 1
"""

SETTLE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
"""

@dataclass(frozen=True, slots=True)
class Relative:
    index: str
    name: str
    doc_number: str
    relationship: str
    bound_at: float
    number: int = 0  # what the user types (查看亲属码 2): fixed for the binding's life


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str  # ok, duplicate, user_full, relative_full, busy, missing, early
    bound_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Place:
    """A held place among a relative's guardians (step 1), until settled (step 3)."""

    openid: str
    index: str
    state: str

    @property
    def deadline(self) -> int:
        return int(self.state.split(":")[1])


def _split(value: bytes) -> tuple[bytes, bytes]:
    """A binding's (time, sealed record); a record stored alone, as before, is (b"", the record itself)."""
    if value[:1] == VERSION:
        return b"", value
    at, _, sealed = value.partition(b"|")
    return at, sealed


def _bound(at: bytes | str) -> str:
    return "b:" + (at.decode() if isinstance(at, bytes) else at)


class RelativeStore:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault, *, max_per_user: int,
                 max_guardians: int, unbind_after: float, lease: int = LEASE, margin: int = MARGIN) -> None:
        self.redis = redis
        self.keys = keys
        self.vault = vault
        self.max_per_user = max_per_user
        self.max_guardians = max_guardians
        self.unbind_after = unbind_after
        self.lease = lease
        self.margin = margin
        self._reserve = redis.register_script(RESERVE)
        self._commit = redis.register_script(COMMIT)
        self._remove = redis.register_script(REMOVE)
        self._settle = redis.register_script(SETTLE)
        self._hold = redis.register_script(HOLD)

    def index(self, doc_number: str) -> str:
        return self.vault.index("doc", f"resident_id:{doc_number}")

    def key(self, openid: str) -> str:
        """The user's relatives (one hash): a turn may have read it already (TurnKeys.reads)."""
        return self.keys.relatives(openid)

    def who(self, openid: str) -> str:
        return pseudonym(self.vault, openid)

    async def bind(self, openid: str, name: str, doc_number: str, relationship: str, now: float,
                   number: int = 0) -> Outcome:
        index = self.index(doc_number)
        place = await self.hold_place(openid, index)
        if isinstance(place, str):
            return await self._precedence(openid, index, Outcome(place))
        outcome = await self.commit(place, name, doc_number, relationship, now, number)
        await self.settle(place, outcome)
        await self.publish_audit(openid)
        return outcome

    async def hold_place(self, openid: str, index: str) -> Place | str:
        """Step 1: a place among the relative's guardians, or "busy" or "relative_full".

        When the relative looks full, the entries that can no longer change behind our back (lapsed
        reservations, bindings) are checked against their users' side once, and the place asked for again."""
        key = self.keys.guardians(index)
        for _ in range(2):
            result = await self._reserve(keys=[key], args=[openid, secrets.token_hex(8), self.max_guardians,
                                                           self.lease, self.who(openid)])
            verdict = result[0].decode()
            if verdict == "ok":
                return Place(openid, index, result[1].decode())
            if verdict == "busy" or not await self._reconcile(index, result[1]):
                return "busy" if verdict == "busy" else "relative_full"
        return "relative_full"

    async def commit(self, place: Place, name: str, doc_number: str, relationship: str, now: float,
                     number: int = 0) -> Outcome:
        """Step 2: the binding on the user's side, with its audit entry queued beside it."""
        openid, index = place.openid, place.index
        sealed = self.vault.seal_json({"a": name, "d": doc_number, "r": relationship, "n": number},
                                      context=f"{openid}:{index}")
        result = await self._commit(
            keys=self._user_keys(openid),
            args=[index, sealed, repr(now), place.deadline, self.margin, self.max_per_user,
                  self._entry("bind", openid, index, now)],
        )
        verdict = result[0].decode()
        if verdict == "late":  # a stalled process: its lease ran out, so nothing was bound; the user may retry
            return Outcome("busy")
        return Outcome(verdict, float(result[1]) if verdict in ("ok", "duplicate") else 0.0)

    async def settle(self, place: Place, outcome: Outcome) -> None:
        """Step 3: the place becomes a binding if the user's side holds one, and is given back if not."""
        held = _bound(repr(outcome.bound_at)) if outcome.result in ("ok", "duplicate") else ""
        await self._settle(keys=[self.keys.guardians(place.index)], args=[place.openid, place.state, held])

    async def _reconcile(self, index: str, suspects: list[bytes]) -> bool:
        """Make each suspect entry match the user's side, which is the truth. True if any changed."""
        changed = False
        for i in range(0, len(suspects), 2):
            openid, state = suspects[i].decode(), suspects[i + 1].decode()
            at = await self._bound_at(openid, index)
            truth = _bound(at) if at else ""
            if truth != state:
                changed |= bool(await self._settle(keys=[self.keys.guardians(index)], args=[openid, state, truth]))
        return changed

    async def _precedence(self, openid: str, index: str, outcome: Outcome) -> Outcome:
        """A refusal names the user's own limits first: a duplicate, then a full list, then a full relative."""
        at = await self._bound_at(openid, index)
        if at:
            return Outcome("duplicate", float(at))
        if await self.redis.hlen(self.keys.relatives(openid)) >= self.max_per_user:
            return Outcome("user_full")
        return outcome

    async def _bound_at(self, openid: str, index: str) -> bytes | None:
        """When the user bound this relative (as Redis stores it), or None if they have not."""
        held = await self.redis.hget(self.keys.relatives(openid), index)
        if held is None:
            return None
        at, _ = _split(held)
        return at or await self.redis.hget(self.keys.relatives_bound_at(openid), index)

    async def unbind(self, openid: str, index: str, now: float, *, unbind_after: float | None = None) -> Outcome:
        outcome = await self.remove(openid, index, now, unbind_after=unbind_after)
        if outcome.result == "ok":
            await self.give_back_place(openid, index, outcome.bound_at)
            await self.publish_audit(openid)
        return outcome

    async def remove(self, openid: str, index: str, now: float, *, unbind_after: float | None = None) -> Outcome:
        """Unbinding, step 1: on the user's side, after the 24 h rule."""
        after = self.unbind_after if unbind_after is None else unbind_after
        result = await self._remove(keys=self._user_keys(openid),
                                    args=[index, repr(now), after, self._entry("unbind", openid, index, now)])
        return Outcome(result[0].decode(), float(result[1]) if len(result) > 1 else 0.0)

    async def give_back_place(self, openid: str, index: str, bound_at: float) -> None:
        """Unbinding, step 2: the relative's place goes, unless it has changed since (a new binding)."""
        await self._settle(keys=[self.keys.guardians(index)], args=[openid, _bound(repr(bound_at)), ""])

    def _user_keys(self, openid: str) -> list[str]:
        k = self.keys
        return [k.relatives(openid), k.relatives_bound_at(openid), k.audit_outbox(openid)]

    def _entry(self, action: str, openid: str, index: str, at: float) -> str:
        return "\x1f".join((action, self.who(openid), index, repr(at), secrets.token_hex(8)))

    async def publish_audit(self, openid: str) -> None:
        """Move queued entries from the user's slot to the audit stream, oldest first (at least once)."""
        outbox = self.keys.audit_outbox(openid)
        while entry := await self.redis.lindex(outbox, 0):
            await self._append_audit(*entry.decode().split("\x1f"))
            await self.redis.lpop(outbox)

    async def list(self, openid: str) -> list[Relative]:
        """Bound relatives by their number. A number stays with its binding: unbinding 1 leaves 2 as 2, so an
        old notice's 「核酸 2」 never reaches someone else. Bindings made before numbers were stored take the
        free numbers in the order they were bound."""
        held = await self.redis.hgetall(self.keys.relatives(openid))
        earlier: dict[bytes, bytes] = {}  # the times of bindings made before they moved into the value
        if any(value[:1] == VERSION for value in held.values()):
            earlier = await self.redis.hgetall(self.keys.relatives_bound_at(openid))
        relatives = []
        for raw_index, value in held.items():
            index = raw_index.decode()
            at, blob = _split(value)
            plain = self.vault.open_json(blob, context=f"{openid}:{index}")
            if "a" not in plain:  # sealed before the fields had one letter each
                plain = {"a": plain["name"], "d": plain["doc_number"], "r": plain["relationship"], "n": plain.get("n")}
            relatives.append(Relative(index, plain["a"], plain["d"], plain["r"],
                                      float(at or earlier.get(raw_index, b"0")), int(plain.get("n") or 0)))
        relatives.sort(key=lambda r: (r.bound_at, r.index))
        taken = {r.number for r in relatives if r.number}
        free = (n for n in range(1, len(relatives) + len(taken) + 1) if n not in taken)
        relatives = [r if r.number else replace(r, number=next(free)) for r in relatives]
        return sorted(relatives, key=lambda r: r.number)

    @staticmethod
    def next_number(relatives: list[Relative]) -> int:
        """The smallest number no current binding has: what a new binding is called."""
        taken = {r.number for r in relatives}
        return next(n for n in range(1, len(taken) + 2) if n not in taken)

    async def guardian_openids(self, index: str) -> list[str]:
        """Users holding a binding of this relative (reservations in flight are not bindings)."""
        entries = await self.redis.hgetall(self.keys.guardians(index))
        return [who.decode() for who, state in entries.items() if state.startswith(b"b:")]

    async def guardians(self, doc_number: str) -> int:
        """The relative's bindings."""
        return len(await self.guardian_openids(self.index(doc_number)))

    async def places_taken(self, doc_number: str) -> int:
        """The relative's places taken: bindings, and places held after a guardian's 注销 that have not lapsed."""
        now = time.time()
        taken = 0
        for who, state in (await self.redis.hgetall(self.keys.guardians(self.index(doc_number)))).items():
            if state.startswith(b"b:") or (who.startswith(b"held:") and float(state.split(b":")[1]) > now):
                taken += 1
        return taken

    async def audit(self, openid: str, action: str, index: str, now: float) -> None:
        await self._append_audit(action, self.who(openid), index, repr(now), secrets.token_hex(8))

    async def _append_audit(self, action: str, who: str, relative: str, at: str, entry_id: str) -> None:
        """One audit stream entry; `_entry` queues the same fields in a user's outbox."""
        await AuditLog(self.redis, self.keys, self.vault).append(action, who, relative, at, entry_id)

    async def forget_user(self, openid: str, now: float) -> None:
        """注销: every binding of this user goes, each leaving an audit entry with pseudonyms only. A place
        bound less than `unbind_after` ago stays taken among the relative's guardians until that time: 注销
        is not a way around the rule that 解绑 would apply."""
        await self.publish_audit(openid)
        for relative in await self.list(openid):
            outcome = await self.remove(openid, relative.index, now, unbind_after=ANY_AGE)
            if outcome.result != "ok":
                continue
            left = relative.bound_at + self.unbind_after - now
            if left > 0:
                await self._hold(keys=[self.keys.guardians(relative.index)],
                                 args=[openid, _bound(repr(outcome.bound_at)), int(left) + 1, self.who(openid)])
            else:
                await self.give_back_place(openid, relative.index, outcome.bound_at)
        await self.publish_audit(openid)
