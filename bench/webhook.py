"""Signed text-message throughput and latency against a running healthbot.

    python bench/webhook.py --url http://127.0.0.1:8080/wechat --token TOKEN [--aes-key KEY --app-id ID]
           [--text 帮助] [--concurrency 32] [--duration 10]

Every request carries a fresh MsgId and a fresh user, signed (and encrypted) exactly like WeChat.
Prints requests/s, p50/p99/max latency, and the status codes seen. A figure-printing script, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter

import aiohttp

from bot.devkit.simulator import Simulator
from bot.domain.documents import check_char


def fixture_id(n: int) -> str:
    """A checksum-valid resident ID per bench user (Beijing 东城区, born 1980), so no two users share one."""
    first17 = f"11010119800101{n % 1000:03d}"
    return first17 + check_char(first17)


async def post(http: aiohttp.ClientSession, sim: Simulator, url: str, openid: str, text: str) -> str:
    push = sim.sign(sim.text(openid, text))
    async with http.post(url, params=push.params, data=push.body) as response:
        return sim.open_reply(await response.text())


async def claim_users(http: aiohttp.ClientSession, sim: Simulator, url: str, users: list[str]) -> None:
    """Walk each user through the claim dialog once, then view the code once, so its image is cached."""
    async def one(n: int, openid: str) -> None:
        for text in ("防疫健康信息码", "同意", "张小三", fixture_id(n), f"138{n:08d}", "确认", "防疫健康信息码"):
            await post(http, sim, url, openid, text)

    for start in range(0, len(users), 32):
        await asyncio.gather(*(one(start + i, u) for i, u in enumerate(users[start:start + 32])))


async def worker(http: aiohttp.ClientSession, sim: Simulator, url: str, text: str, worker_id: int,
                 stop_at: float, latencies: list[float], statuses: Counter[int], claimed: list[str]) -> None:
    n = 0
    while time.perf_counter() < stop_at:
        n += 1
        openid = claimed[n % len(claimed)] if claimed else f"oBench_{worker_id:03d}_{n:07d}"
        push = sim.sign(sim.text(openid, text))
        started = time.perf_counter()
        async with http.post(url, params=push.params, data=push.body) as response:
            await response.read()
            statuses[response.status] += 1
        latencies.append(time.perf_counter() - started)


async def run(args: argparse.Namespace) -> None:
    sim = Simulator(args.token, args.aes_key, args.app_id)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        claimed: list[str] = []
        if args.claimed:
            tag = int(time.time())
            claimed = [f"oBenchClaimed_{tag}_{i:05d}" for i in range(args.claimed)]
            await claim_users(http, sim, args.url, claimed)
        pools = [claimed[i::args.concurrency] for i in range(args.concurrency)] if claimed else [[]] * args.concurrency
        warmup_stop = time.perf_counter() + min(2.0, args.duration / 5)
        await asyncio.gather(*(worker(http, sim, args.url, args.text, -i - 1, warmup_stop, [], Counter(), pools[i])
                               for i in range(args.concurrency)))
        started = time.perf_counter()
        stop_at = started + args.duration
        await asyncio.gather(*(worker(http, sim, args.url, args.text, i, stop_at, latencies, statuses, pools[i])
                               for i in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    p = statistics.quantiles(ms, n=100)
    print(f"text={args.text!r} mode={'aes' if args.aes_key else 'plaintext'} concurrency={args.concurrency} "
          f"claimed_users={args.claimed} "
          f"duration={elapsed:.1f}s")
    print(f"requests={len(ms)}  req/s={len(ms) / elapsed:.0f}  p50={p[49]:.1f}ms  p99={p[98]:.1f}ms  "
          f"max={ms[-1]:.1f}ms  statuses={dict(statuses)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8080/wechat")
    parser.add_argument("--token", default="healthbot-dev")
    parser.add_argument("--aes-key", default="")
    parser.add_argument("--app-id", default="")
    parser.add_argument("--text", default="帮助")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--claimed", type=int, default=0,
                        help="first claim this many users, then send --text as them (the cached-image path)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
