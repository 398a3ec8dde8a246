"""Open a Redis client: redis://… (one server), redis+cluster://…, redis+sentinel://… or memory:// (embedded)."""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from storage.resp import RespClient

RedisClient: TypeAlias = aioredis.Redis | RedisCluster
# What one webhook request needs: scripts, GET, SET and HGETALL (storage/resp.py).
HotClient: TypeAlias = RespClient | RedisClient

_embedded: dict[str, aioredis.Redis] = {}

# Short timeouts: a Redis that is down must fail fast, inside WeChat's 5 s. redis-py's default is 10 retries
# with exponential backoff; one immediate retry covers a dropped connection, the rest is 「服务繁忙」.
REPLY_TIMEOUT = 1.0  # seconds a call waits for Redis's answer before the user is told 「服务繁忙」
_TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 0.5, "socket_timeout": REPLY_TIMEOUT}


def connect(url: str, max_connections: int = 256) -> RedisClient:
    if url.startswith("memory://"):
        # One embedded server per URL and process, so every client of one app sees the same data.
        if url not in _embedded:
            import fakeredis

            _embedded[url] = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=False)
        return _embedded[url]
    scheme = urlsplit(url).scheme
    if scheme in ("redis+cluster", "rediss+cluster"):
        return connect_cluster(url, max_connections)
    if scheme == "redis+sentinel":
        return connect_sentinel(url, max_connections)
    # A blocking pool: under a burst a call waits briefly for a free connection, where redis-py's default
    # pool (100) raises "Too many connections" at once.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=2.0, health_check_interval=10, retry=Retry(NoBackoff(), 1),
        **_TIMEOUTS,
    )
    return aioredis.Redis(connection_pool=pool, decode_responses=False)


class _Cluster(RedisCluster):
    """redis-py 8.1 picks a command's node before it has learnt the slot map: the first commands of a fresh
    client, sent at once, go to the seed node, come back MOVED, and the re-learning that follows drops the
    connections the others are using. Learning the map first (once, under redis-py's own lock) avoids it."""

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._initialize:
            await self.initialize()
        return await super().execute_command(*args, **kwargs)


def write_batch(client: RedisClient) -> Pipeline:
    """A pipeline without MULTI, for an import's batch of writes: `async with write_batch(r) as pipe`."""
    return client.pipeline(transaction=False)


async def reachable(client: RedisClient, timeout: float = 1.0) -> bool:
    """Whether Redis answers a PING within `timeout`."""
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout=timeout))
    except (RedisError, OSError, TimeoutError):
        return False


def serve_embedded() -> str:
    """An in-memory Redis (fakeredis) on a free loopback port, in a thread of this process: its redis:// URL.
    For dev mode, whose commands in other processes open the same store."""
    import threading

    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0))
    threading.Thread(target=server.serve_forever, name="dev-store", daemon=True).start()
    return f"redis://127.0.0.1:{server.server_address[1]}/0"


def connect_hot(url: str, client: RedisClient) -> HotClient:
    """The per-request client: the lean one on a single Redis, else the full client (cluster, memory://)."""
    if urlsplit(url).scheme in ("redis", "rediss", "unix"):
        return RespClient(url, connect_timeout=_TIMEOUTS["socket_connect_timeout"],
                          timeout=_TIMEOUTS["socket_timeout"])
    return client


def connect_sentinel(url: str, max_connections: int = 256) -> aioredis.Redis:
    """redis+sentinel://[:password@]sentinel1:26379,sentinel2:26379/SERVICE[/DB]: the master Sentinel names.

    Connections ask the Sentinels for the current master, so after a failover new connections reach the
    promoted replica; calls on the old master fail once (「服务繁忙」) and WeChat's retry finds the new one."""
    parts = urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    sentinels = [(host, int(port)) for host, port in (seed.rsplit(":", 1) for seed in hosts.split(",") if seed)]
    service, _, db = parts.path.strip("/").partition("/")
    password = credentials.partition(":")[2] or None
    sentinel = Sentinel(sentinels, sentinel_kwargs=dict(_TIMEOUTS), **_TIMEOUTS)
    return sentinel.master_for(service or "mymaster", db=int(db or 0), password=password, decode_responses=False,
                               max_connections=max_connections, retry=Retry(NoBackoff(), 1))


def connect_cluster(url: str, max_connections: int = 256) -> RedisCluster:
    """redis+cluster://[user:password@]host:port[,host:port…]: any reachable node finds the rest.

    Every multi-key script of healthbot names keys of one hash tag, so each runs on one node."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    seeds = [seed.rsplit(":", 1) for seed in netloc[2].split(",") if seed]
    first = f"{netloc[0]}{netloc[1]}{seeds[0][0]}:{seeds[0][1]}"
    plain = urlunsplit((parts.scheme.removesuffix("+cluster"), first, parts.path, parts.query, ""))
    return _Cluster.from_url(
        plain, startup_nodes=[ClusterNode(host, int(port)) for host, port in seeds],
        max_connections=max_connections, retry=Retry(NoBackoff(), 1), decode_responses=False, **_TIMEOUTS,
    )
