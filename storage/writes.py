"""Writes as data: Redis commands a caller asks for now and a script runs later, with the turn's end.

A turn's last script (storage.turns.FINISH) runs them after the handler: no round trip of their own, nothing
written when the turn cannot finish. Keys of another hash tag cannot join that script on a cluster: there
`Writer.apply` runs them now, one script per key (each key its own slot). One Lua runner serves both.
"""

from __future__ import annotations

import asyncio
import functools
from typing import NamedTuple

from redis.asyncio.cluster import RedisCluster

from storage.connection import HotClient
from storage.resp import Arg


class Write(NamedTuple):  # a tuple: a scan makes five, a tenth of a frozen dataclass's cost each
    command: str  # a write command that names one key first, in capitals: SET, ZADD, EXPIRE...
    key: str
    args: tuple[Arg, ...] = ()


# run_writes(K, k, a): the commands described by ARGV[a] ("NAME place argc" each, ";" between), their keys from
# K[k] on by place (K: KEYS, or a script's own list of its key names), their arguments from ARGV[a + 1] on.
RUN_WRITES = """
local function run_writes(K, first_key, at)
  local i = at + 1
  for name, place, argc in string.gmatch(ARGV[at], '(%u+) (%d+) (%d+)') do
    argc = tonumber(argc)
    redis.call(name, K[first_key + tonumber(place)], unpack(ARGV, i, i + argc - 1))
    i = i + argc
  end
end
"""


def encode(writes: list[Write]) -> tuple[list[str], list[Arg]]:
    """The keys (each once) and the ARGV run_writes reads: one description of every command, then their
    arguments. One argument describes them all: hiredis packs each argument at ~1.1 k instructions."""
    places: dict[str, int] = {}
    shape: list[tuple[str, int, int]] = []
    argv: list[Arg] = [""]
    for command, key, args in writes:
        shape.append((command, places.setdefault(key, len(places)), len(args)))
        argv += args
    argv[0] = _describe(tuple(shape))
    return list(places), argv


def straight_calls(description: str, first_key: int, first_arg: int) -> str:
    """The Lua of the writes `description` spells out (as `encode` makes it), one redis.call each, their keys
    from K[first_key] on and their arguments from ARGV[first_arg] on: what run_writes does, with no parsing
    of the description at run time (a turn's script per shape; storage.turns)."""
    lines, at = [], first_arg
    for part in filter(None, description.split(";")):
        command, place, argc = part.split(" ")
        if not (command.isalpha() and command.isupper()):  # written into the script's text
            raise ValueError(f"not a command name: {command!r}")
        arguments = "".join(f", ARGV[{at + i}]" for i in range(int(argc)))
        lines.append(f"redis.call('{command}', K[{first_key + int(place)}]{arguments})\n")
        at += int(argc)
    return "".join(lines)


@functools.lru_cache(maxsize=64)
def _describe(shape: tuple[tuple[str, int, int], ...]) -> str:
    """A turn's writes come in a few shapes (a scan's entry, a SET): each is checked and spelt out once."""
    for command, _, _ in shape:
        if not (command.isalpha() and command.isupper()):  # the runner reads capitals only
            raise ValueError(f"not a command name: {command!r}")
    return ";".join(f"{command} {place} {argc}" for command, place, argc in shape)


class Writer:
    """Runs writes now, in as few scripts as the keys' slots allow: one on one node, one per key on a cluster."""

    def __init__(self, redis: HotClient) -> None:
        self.one_node = not isinstance(redis, RedisCluster)
        self._run = redis.register_script(RUN_WRITES + "run_writes(KEYS, 1, 1)")

    async def apply(self, writes: list[Write]) -> None:
        if self.one_node:
            keys, argv = encode(writes)
            await self._run(keys=keys, args=argv)
            return
        by_key: dict[str, list[Write]] = {}
        for write in writes:
            by_key.setdefault(write.key, []).append(write)
        await asyncio.gather(*(self._run(keys=[key], args=encode(group)[1]) for key, group in by_key.items()))
