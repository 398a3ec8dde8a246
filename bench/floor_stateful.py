"""The stateful floor: the honest floor (bench/floor.py) plus the one Redis round trip a stateful bot cannot
avoid, a retry guard `SET <prefix>:<MsgId> 1 NX EX 60`, sent on one pipelined connection with hiredis's parser as
an asyncio Protocol. Like the floor it shares no code with healthbot: stdlib, aiohttp, hiredis. A retry (the
guard already set) is answered with an empty body.

    python bench/floor_stateful.py --port 8301 [--redis 127.0.0.1:6379] [--prefix hbbench:floor] [--aes-key KEY]
"""

from __future__ import annotations

import asyncio
from collections import deque

import hiredis
from aiohttp import web

try:
    from bench.floor import arguments, make_app, use_uvloop
except ImportError:  # run as a script: bench/ is the path
    from floor import arguments, make_app, use_uvloop  # type: ignore[no-redef]


class Pipelined(asyncio.Protocol):
    """One connection; every command is written at once and its answer matched in order (RESP is in order)."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[object]] = deque()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(ConnectionError("Redis went away"))

    def command(self, *args: bytes) -> asyncio.Future[object]:
        assert self.transport is not None  # noqa: S101 - connected before the server starts
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.waiting.append(future)
        self.transport.write(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        return future


async def serve(args: object) -> None:
    host, _, port = args.redis.partition(":")  # type: ignore[attr-defined]
    _, redis = await asyncio.get_running_loop().create_connection(Pipelined, host, int(port or 6379))
    prefix = args.prefix.encode()  # type: ignore[attr-defined]

    async def guard(dedup_id: str) -> bool:
        return await redis.command(b"SET", prefix + b":" + dedup_id.encode(), b"1", b"NX", b"EX", b"60") is not None

    app = make_app(args.token, args.aes_key, args.app_id, guard)  # type: ignore[attr-defined]
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()  # type: ignore[attr-defined]
    await asyncio.Event().wait()


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--redis", default="127.0.0.1:6379")
    parser.add_argument("--prefix", default="hbbench:floor")
    use_uvloop()
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
