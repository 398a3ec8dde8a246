"""Open a Redis client for redis://… or an embedded in-process one for memory://."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

_embedded: dict[str, aioredis.Redis] = {}


def connect(url: str, max_connections: int = 256) -> aioredis.Redis:
    """A client with short timeouts: a Redis that is down must fail fast, inside WeChat's 5 s."""
    if url.startswith("memory://"):
        # One embedded server per URL and process, so every client of one app sees the same data.
        if url not in _embedded:
            import fakeredis

            _embedded[url] = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=False)
        return _embedded[url]
    # redis-py's default is 10 retries with exponential backoff: a Redis that is down would hang a request
    # far past WeChat's 5 s. One immediate retry covers a dropped connection; the rest is 「服务繁忙」.
    # A blocking pool: under a burst a call waits briefly for a free connection, where redis-py's default
    # pool (100) raises "Too many connections" at once.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=2.0,
        socket_connect_timeout=0.5,
        socket_timeout=1.0,
        health_check_interval=10,
        retry=Retry(NoBackoff(), 1),
    )
    return aioredis.Redis(connection_pool=pool, decode_responses=False)
