"""The lean hot-path client (storage/resp.py) against the real Redis, and against servers that misbehave."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from storage.resp import RespClient
from tests.conftest import REDIS_URL


@pytest.fixture
async def lean() -> AsyncIterator[RespClient]:
    client = RespClient(REDIS_URL)
    yield client
    await client.aclose()


async def test_commands_and_scripts_answer_like_redis_py(lean: RespClient, redis: aioredis.Redis,
                                                         prefix: str) -> None:
    key = f"{prefix}:a"
    assert await lean.set(key, "1", nx=True, ex=60) is True
    assert await lean.set(key, "2", nx=True, ex=60) is None
    assert await lean.set(key, "3", get=True) == b"1"
    assert await lean.get(key) == await redis.get(key) == b"3"
    await redis.hset(f"{prefix}:h", mapping={"x": "1", "y": b"\x00\xff"})
    assert await lean.hgetall(f"{prefix}:h") == await redis.hgetall(f"{prefix}:h")
    # A script the server has never seen (a fresh comment): EVALSHA fails with NOSCRIPT, EVAL runs it.
    script = lean.register_script(f"-- {secrets.token_hex(8)}\nreturn {{KEYS[1], ARGV[1], tonumber(ARGV[2]) * 2}}")
    assert await script(keys=[key], args=["v", 1.5]) == [key.encode(), b"v", 3]
    assert await script(keys=[key], args=["w", 2]) == [key.encode(), b"w", 4]  # now by EVALSHA


async def test_a_thousand_concurrent_calls_each_get_their_own_reply(lean: RespClient, redis: aioredis.Redis,
                                                                    prefix: str) -> None:
    await asyncio.gather(*(redis.set(f"{prefix}:n{i}", i) for i in range(1000)))
    replies = await asyncio.gather(*(lean.get(f"{prefix}:n{i}") for i in range(1000)))
    assert replies == [str(i).encode() for i in range(1000)]


async def test_an_error_reply_raises_and_the_connection_goes_on(lean: RespClient, prefix: str) -> None:
    await lean.set(f"{prefix}:s", "text")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await lean.hgetall(f"{prefix}:s")
    assert await lean.get(f"{prefix}:s") == b"text"


async def test_a_dropped_connection_fails_its_calls_and_the_next_call_reconnects(lean: RespClient,
                                                                                 redis: aioredis.Redis,
                                                                                 prefix: str) -> None:
    mine = await lean.execute("CLIENT", "ID")
    waiting = asyncio.ensure_future(lean.execute("BLPOP", f"{prefix}:never", 5))
    await asyncio.sleep(0.1)
    await redis.execute_command("CLIENT", "KILL", "ID", mine)
    with pytest.raises(RedisConnectionError):
        await waiting
    assert await lean.ping() is True
    assert await lean.execute("CLIENT", "ID") != mine


async def test_a_database_in_the_url_is_selected(redis: aioredis.Redis, prefix: str) -> None:
    other = RespClient(REDIS_URL.rsplit("/", 1)[0] + "/3")
    check = aioredis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/3")
    try:
        await other.set(f"{prefix}:db3", "here", ex=60)
        assert await check.get(f"{prefix}:db3") == b"here"
        assert await redis.get(f"{prefix}:db3") is None
    finally:
        await check.delete(f"{prefix}:db3")
        await check.aclose()
        await other.aclose()


async def test_no_redis_fails_fast() -> None:
    client = RespClient("redis://127.0.0.1:1/0")
    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        await client.ping()
    assert time.monotonic() - started < 1.0


async def test_a_redis_that_stops_answering_fails_every_waiting_call_after_the_timeout() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads everything, answers nothing

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RespClient(f"redis://127.0.0.1:{port}/0", timeout=0.3)
    try:
        started = time.monotonic()
        outcomes = await asyncio.gather(*(client.get(f"k{i}") for i in range(5)), return_exceptions=True)
        waited = time.monotonic() - started
        assert all(isinstance(o, RedisTimeoutError) for o in outcomes), outcomes
        assert 0.3 <= waited < 1.0
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
