"""Writes as data: Redis commands a caller asks for now and a script runs later, with the turn's end.

A turn's last script (storage.turns.FINISH) runs them after the handler: no round trip of their own, nothing
written when the turn cannot finish. Keys of another hash tag cannot join that script on a cluster: there
`Writer.apply` runs them now, one script per key (each key its own slot). Both run them the same way: one
script a shape of writes, its calls written out (`ShapeScripts`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from redis.asyncio.cluster import RedisCluster

from storage.connection import HotClient
from storage.resp import Arg

SHAPES_KEPT = 64  # shapes of writes come from the code: a handful


class Write(NamedTuple):  # a tuple: a scan makes five, a tenth of a frozen dataclass's cost each
    command: str  # a write command that names one key first, in capitals: SET, ZADD, EXPIRE...
    key: str
    args: tuple[Arg, ...] = ()


def encode(writes: list[Write]) -> tuple[list[str], list[Arg]]:
    """The keys (each once), then the description of the writes' shape (which script runs them, not sent) and
    their arguments."""
    places: dict[str, int] = {}
    shape: list[tuple[str, int, int]] = []
    argv: list[Arg] = [""]
    for command, key, args in writes:
        shape.append((command, places.setdefault(key, len(places)), len(args)))
        argv += args
    argv[0] = _describe(tuple(shape))
    return list(places), argv


def _straight_calls(description: str, first_key: int, first_arg: int) -> str:
    """The Lua of the writes a description from `encode` spells out (its command names checked there), one
    redis.call each, their keys from K[first_key] on and their arguments from ARGV[first_arg] on."""
    lines, at = [], first_arg
    for part in filter(None, description.split(";")):
        command, place, argc = part.split(" ")
        arguments = "".join(f", ARGV[{at + i}]" for i in range(int(argc)))
        lines.append(f"redis.call('{command}', K[{first_key + int(place)}]{arguments})\n")
        at += int(argc)
    return "".join(lines)


class ShapeScripts:
    """One script a shape of writes, made by `wrap` around the shape's calls the first time it is seen. Read
    from a description at run time, each write cost Redis three Lua strings and a pattern match."""

    def __init__(self, redis: HotClient, wrap: Callable[[str], str], first_key: int, first_arg: int) -> None:
        self._redis, self._wrap, self._first_key, self._first_arg = redis, wrap, first_key, first_arg
        self._scripts: dict[str, Callable[..., Awaitable[Any]]] = {}

    def __call__(self, description: str) -> Callable[..., Awaitable[Any]]:
        script = self._scripts.get(description)
        if script is None:
            script = self._redis.register_script(
                self._wrap(_straight_calls(description, self._first_key, self._first_arg)))
            if len(self._scripts) < SHAPES_KEPT:
                self._scripts[description] = script
        return script


@functools.lru_cache(maxsize=SHAPES_KEPT)
def _describe(shape: tuple[tuple[str, int, int], ...]) -> str:
    """A turn's writes come in a few shapes (a scan's entry, a SET): each is checked and spelt out once."""
    for command, _, _ in shape:
        if not (command.isalpha() and command.isupper()):  # written into a script's text as it is
            raise ValueError(f"not a command name: {command!r}")
    return ";".join(f"{command} {place} {argc}" for command, place, argc in shape)


class Writer:
    """Runs writes now, in as few scripts as the keys' slots allow: one on one node, one per key on a cluster."""

    def __init__(self, redis: HotClient) -> None:
        self.one_node = not isinstance(redis, RedisCluster)
        self._scripts = ShapeScripts(redis, lambda calls: "local K = KEYS\n" + calls, 1, 1)

    async def apply(self, writes: list[Write]) -> None:
        if self.one_node:
            keys, (shape, *argv) = encode(writes)
            await self._scripts(shape)(keys=keys, args=argv)
            return
        by_key: dict[str, list[Write]] = {}
        for write in writes:
            by_key.setdefault(write.key, []).append(write)
        await asyncio.gather(*(self._run(key, group) for key, group in by_key.items()))

    async def _run(self, key: str, writes: list[Write]) -> None:
        _, (shape, *argv) = encode(writes)
        await self._scripts(shape)(keys=[key], args=argv)
