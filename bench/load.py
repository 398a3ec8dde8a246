"""Many citizens through whole journeys at once, against a running healthbot, then every invariant checked.

    python bench/load.py --config healthbot.toml --url http://127.0.0.1:8080/wechat --users 1000 \
        [--concurrency 100] [--retry-ratio 0.1] [--log server.log]

Each user: subscribe, claim a code, view it, bind a child (four users share each child, so the 3-guardian
limit is exercised), query the travel card with the SMS code, and ask for test results. With --takeovers, a
second account then claims the same document with another phone, passes face verification (the callback
posted as a provider would) and takes the code over; the first account's next code request must say where it
went. A share of the pushes is sent twice, concurrently or after the answer, as WeChat retries. The server's
[wechat] api_base must be a stand-in API (`healthbot standin`), which holds the SMS codes. Signed (and
encrypted) like WeChat.

Checked at the end, from Redis and /metrics: every completed claim and binding stored once; no user over 8
relatives and no relative over 3 guardians; handler runs equal distinct pushes (no push ran twice, but for a
glance's retry, which looks again); no 5xx; every answer within 5 s; no document held by two accounts; and
no plain ID number, name, phone, SMS code or secret in Redis or the log.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.devkit.simulator import Simulator, parse_reply
from bot.domain.documents import check_char
from bot.ops.config import Settings, load_settings
from storage.connection import connect

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


def fixture_id(first14: str, n: int) -> str:
    first17 = f"{first14}{n % 1000:03d}"
    return first17 + check_char(first17)


@dataclass
class Citizen:
    n: int
    run: str

    @property
    def openid(self) -> str:
        return f"oLoad{self.run}_{self.n:05d}"

    @property
    def name(self) -> str:
        return SURNAMES[self.n % 20] + GIVEN[self.n // 20 % 20] + GIVEN[self.n // 400 % 20]

    @property
    def id_number(self) -> str:
        return fixture_id(f"1101011980{1 + self.n // 1000 % 12:02d}{1 + self.n // 12000 % 28:02d}", self.n)

    @property
    def phone(self) -> str:
        return f"138{self.n:08d}"

    @property
    def taker(self) -> str:
        """The second account that takes this citizen's code over (--takeovers)."""
        return f"oTake{self.run}_{self.n:05d}"

    @property
    def taker_phone(self) -> str:
        return f"139{self.n:08d}"

    @property
    def child(self) -> tuple[str, str]:
        """Four users bind each child: the fourth must be refused."""
        k = self.n // 4
        return "小" + GIVEN[k % 20] + GIVEN[k // 20 % 20], fixture_id(f"110101202201{1 + k // 1000 % 28:02d}", k)


@dataclass
class Report:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    pushes: set[str] = field(default_factory=set)
    retries: int = 0
    retry_mismatches: int = 0
    claimed: set[str] = field(default_factory=set)
    bound: Counter[str] = field(default_factory=Counter)
    refused_full: int = 0
    travel_cards: int = 0
    results_answers: int = 0
    taken_over: dict[str, str] = field(default_factory=dict)  # the taker's openid -> the first account's
    moved_told: int = 0
    failures: list[str] = field(default_factory=list)


class Load:
    def __init__(self, settings: Settings, url: str, retry_ratio: float, seed: int = 7,
                 takeovers: bool = False) -> None:
        wechat = settings.wechat
        self.sim = Simulator(wechat.token, wechat.encoding_aes_key, wechat.app_id)
        self.url = url
        self.api_base = wechat.api_base.rstrip("/")
        self.retry_ratio = retry_ratio
        self.takeovers = takeovers
        self.random = random.Random(seed)
        self.report = Report()
        self.http: aiohttp.ClientSession

    async def post(self, xml: str) -> str:
        push = self.sim.sign(xml)
        started = time.perf_counter()
        async with self.http.post(self.url, params=push.params, data=push.body) as response:
            body = await response.text()
            self.report.statuses[response.status] += 1
        self.report.latencies.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        reply = parse_reply(self.sim.open_reply(body))
        if not reply:
            return ""
        return reply["Content"] if reply["MsgType"] == "text" else f"[{reply['MsgType']}]"

    async def send(self, xml: str) -> str:
        """One push; sometimes retried as WeChat does. The retry's answer must equal the first's."""
        found = re.search(r"<MsgId>(\d+)</MsgId>", xml)
        self.report.pushes.add(found.group(1) if found else xml)  # an event is known by its whole push
        roll = self.random.random()
        if roll < self.retry_ratio / 2:
            first, again = await asyncio.gather(self.post(xml), self.post(xml))
        elif roll < self.retry_ratio:
            first = await self.post(xml)
            again = await self.post(xml)
        else:
            return await self.post(xml)
        self.report.retries += 1
        if again != first:
            self.report.retry_mismatches += 1
        return first

    async def say(self, openid: str, text: str) -> str:
        return await self.send(self.sim.text(openid, text))

    async def sms_code(self, phone: str) -> str:
        async with self.http.get(f"{self.api_base}/_standin/sms") as response:
            texts = [m["text"] for m in (await response.json())["sms"] if m["phone"] == phone]
        found = re.search(r"\d{6}", texts[-1]) if texts else None
        return found.group(0) if found else "000000"

    async def journey(self, c: Citizen) -> None:
        r, o = self.report, c.openid
        await self.send(self.sim.event(o, "subscribe", create_time=int(time.time()) - c.n))
        for text in ("防疫健康信息码", "同意", c.name, c.id_number, c.phone):
            await self.say(o, text)
        await self.say(o, await self.sms_code(c.phone))  # the claim proves the phone
        if (outcome := await self.say(o, "确认")) != "[image]":
            r.failures.append(f"{o}: claim ended with {outcome[:40]!r}")
            return
        r.claimed.add(o)
        if await self.say(o, "防疫健康信息码") != "[image]":
            r.failures.append(f"{o}: the claimed code was not shown")
        child_name, child_id = c.child
        await self.say(o, "添加亲属")
        await self.say(o, child_name)
        if "已被 3 位用户绑定" in await self.say(o, child_id):  # the others were quicker: refused early
            r.refused_full += 1
            await self.say(o, "取消")
        else:
            for text in ("3", "确认绑定", "同意协议并认证"):
                await self.say(o, text)
            outcome = await self.say(o, "确认承诺")
            if outcome == "[image]":
                r.bound[o] += 1
            elif "已被 3 位用户绑定" in outcome:  # refused atomically at the last step
                r.refused_full += 1
            else:
                r.failures.append(f"{o}: binding ended with {outcome[:40]!r}")
        await self.say(o, "行程码")
        await self.say(o, "1")
        card = await self.say(o, "同意并授权")  # the claim proved this phone within the window: no second code
        r.travel_cards += card == "[image]" or "暂无行程数据" in card
        if "核酸" in await self.say(o, "核酸"):
            r.results_answers += 1
        if self.takeovers:
            await self.take_over(c)

    async def take_over(self, c: Citizen) -> None:
        """A second account claims c's document: face verification, then the code is its; c is told."""
        r, t = self.report, c.taker
        for text in ("防疫健康信息码", "同意", c.name, c.id_number, c.taker_phone):
            await self.say(t, text)
        await self.say(t, await self.sms_code(c.taker_phone))
        prompt = await self.say(t, "确认")
        found = re.search(r"/face\?t=(\S+)", prompt)
        if "已在其他微信号申领" not in prompt or not found:
            r.failures.append(f"{t}: the takeover was not sent to face verification: {prompt[:40]!r}")
            return
        r.pushes.add(f"face:{found.group(1)}")  # the callback runs a turn of its own
        async with self.http.post(self.url.rsplit("/", 1)[0] + "/face/callback",
                                  json={"t": found.group(1), "result": "pass"}) as response:
            r.statuses[response.status] += 1
            if response.status != 200:
                r.failures.append(f"{t}: face callback answered {response.status}")
                return
        r.taken_over[t] = c.openid
        if "您的健康码已在其他微信号申领" in await self.say(c.openid, "防疫健康信息码"):
            r.moved_told += 1
        else:
            r.failures.append(f"{c.openid}: a code request after the takeover did not say where the code went")

    async def run(self, citizens: list[Citizen], concurrency: int) -> Report:
        gate = asyncio.Semaphore(concurrency)

        async def one(c: Citizen) -> None:
            async with gate:
                try:
                    await self.journey(c)
                except (RuntimeError, aiohttp.ClientError, TimeoutError) as exc:
                    self.report.failures.append(f"{c.openid}: {exc}")

        connector = aiohttp.TCPConnector(limit=concurrency * 2)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as http:
            self.http = http
            await asyncio.gather(*(one(c) for c in citizens))
        return self.report


@dataclass(frozen=True)
class Runs:
    """Counters of the server's handler runs, from /metrics."""

    runs: float = 0.0
    glance_retries: float = 0.0  # a glance keeps no reply: its retry runs the handler again
    glance_races: float = 0.0  # a glance that could not write ran again as a whole turn (or met its own retry)

    def __sub__(self, before: Runs) -> Runs:
        return Runs(self.runs - before.runs, self.glance_retries - before.glance_retries,
                    self.glance_races - before.glance_races)


async def handler_runs(url: str, metrics_token: str = "") -> Runs:
    """The server's handler runs, from /metrics (with the operators' token when the server asks for one)."""
    headers = {"Authorization": f"Bearer {metrics_token}"} if metrics_token else {}
    async with aiohttp.ClientSession() as http, \
            http.get(url.rsplit("/", 1)[0] + "/metrics", headers=headers) as response:
        page = await response.text()

    def counter(name: str) -> float:
        found = re.search(rf"^{name} (\S+)$", page, re.M)
        return float(found.group(1)) if found else 0.0

    return Runs(counter("healthbot_handler_runs_total"), counter("healthbot_glance_retries_total"),
                counter("healthbot_glance_races_total"))


async def check(settings: Settings, report: Report, citizens: list[Citizen], runs: Runs,
                secrets: list[str], log_text: str) -> list[str]:
    """Every invariant, from the stored data; returns the violations (empty when all hold)."""
    problems = list(report.failures)
    leaks = leak_finder(secrets)
    redis = connect(settings.redis.url)  # one Redis or a cluster alike
    prefix = settings.redis.prefix
    try:
        profiles = [k async for k in redis.scan_iter(match=f"{prefix}:u:*:profile", count=1000)]
        mine = {k.decode().split("{")[1].split("}")[0] for k in profiles}
        if not report.claimed <= mine:
            problems.append(f"{len(report.claimed - mine)} acknowledged claims are not stored")
        bound_total = 0
        for c in citizens:
            count = await redis.hlen(f"{prefix}:u:{{{c.openid}}}:relatives")
            bound_total += count
            if count > 8:
                problems.append(f"{c.openid} has {count} relatives")
            if count != report.bound[c.openid]:
                problems.append(f"{c.openid}: {count} stored relatives, {report.bound[c.openid]} acknowledged")
        held_by: Counter[bytes] = Counter()
        for key in profiles:
            if (index := await redis.hget(key, "doc_index")) is not None:
                held_by[index] += 1
        problems += [f"document {i.decode()[:12]}… is held by {n} accounts" for i, n in held_by.items() if n > 1]
        async for key in redis.scan_iter(match=f"{prefix}:d:*:holders", count=1000):
            # the holder's openid (a string); a set, as holders were once kept, must have one member
            if (await redis.type(key)) == b"set" and await redis.scard(key) > 1:
                problems.append(f"{key.decode()} names more than one holder")
        for taker, first in report.taken_over.items():
            if await redis.hget(f"{prefix}:u:{{{first}}}:profile", "doc_index") is not None:
                problems.append(f"{first} still holds the code {taker} took over")
            if await redis.hget(f"{prefix}:u:{{{taker}}}:profile", "doc_index") is None:
                problems.append(f"{taker} took the code over but holds none")
        async for key in redis.scan_iter(match=f"{prefix}:r:*:guardians", count=1000):
            if await redis.hlen(key) > 3:
                problems.append(f"{key.decode()} has more than 3 guardians")
        for key in [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]:
            kind = (await redis.type(key)).decode()
            values: list[bytes] = [key]
            if kind == "string":
                values.append(await redis.get(key) or b"")
            elif kind == "hash":
                values += [v for pair in (await redis.hgetall(key)).items() for v in pair]
            elif kind == "set":
                values += list(await redis.smembers(key))
            elif kind == "list":
                values += await redis.lrange(key, 0, -1)
            elif kind == "stream":
                values += [v for _, fields in await redis.xrange(key) for pair in fields.items() for v in pair]
            blob = b"\x00".join(values).decode("utf-8", "replace")
            problems += [f"plain secret {s[:3]}… found in {key.decode()}" for s in leaks(blob)]
    finally:
        await redis.aclose()
    problems += [f"plain secret {s[:3]}… found in the server log" for s in leaks(log_text)]
    # Every push ran once; only a glance's retry looks again, and a glance that raced runs again (or finds its
    # own retry answered it).
    once = runs.runs - runs.glance_retries
    if not len(report.pushes) <= once <= len(report.pushes) + runs.glance_races:
        problems.append(f"handlers ran {runs.runs:g} times ({runs.glance_retries:g} glances' retries, "
                        f"{runs.glance_races:g} races) for {len(report.pushes)} distinct pushes")
    if report.retry_mismatches:
        problems.append(f"{report.retry_mismatches} retries got another answer than the first attempt")
    server_errors = sum(v for k, v in report.statuses.items() if k >= 500)
    if server_errors:
        problems.append(f"{server_errors} responses were 5xx")
    if report.latencies and max(report.latencies) >= 5:
        problems.append(f"slowest answer took {max(report.latencies):.2f}s")
    return problems


def leak_finder(secrets: list[str]) -> Callable[[str], set[str]]:
    """One pattern for all secrets. A number counts only where it stands alone: a 6-digit code inside a
    timestamp, its fraction or a hex token is a coincidence, not a leak."""
    numbers = sorted({s for s in secrets if s.isdigit()}, key=len, reverse=True)
    words = sorted({s for s in secrets if not s.isdigit()}, key=len, reverse=True)
    parts = []
    if numbers:  # not inside a longer number, a decimal fraction, or a hex token
        parts.append(r"(?<![0-9A-Za-z.])(?:" + "|".join(numbers) + r")(?![0-9A-Za-z.])")
    if words:
        parts.append("|".join(re.escape(w) for w in words))
    pattern = re.compile("|".join(parts)) if parts else None
    return lambda text: set(pattern.findall(text)) if pattern else set()


def secrets_of(settings: Settings, citizens: list[Citizen], sms_codes: list[str]) -> list[str]:
    plain = [s for c in citizens for s in (c.id_number, c.name, c.phone, c.taker_phone, *c.child)]
    keys = [settings.wechat.app_secret, settings.wechat.encoding_aes_key]
    return [s for s in [*plain, *keys, *sms_codes] if s]


def summary(report: Report, elapsed: float, users: int) -> str:
    ms = sorted(x * 1000 for x in report.latencies)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else [ms[0]] * 99
    return (f"users={users} requests={len(ms)} distinct_pushes={len(report.pushes)} retries={report.retries} "
            f"duration={elapsed:.1f}s req/s={len(ms) / elapsed:.0f} errors={len(report.failures)} "
            f"statuses={dict(report.statuses)}\n"
            f"latency p50={q[49]:.1f}ms p99={q[98]:.1f}ms max={ms[-1]:.1f}ms  claimed={len(report.claimed)} "
            f"bound={sum(report.bound.values())} refused_as_full={report.refused_full} "
            f"travel_answers={report.travel_cards} taken_over={len(report.taken_over)} "
            f"old_accounts_told={report.moved_told}")


async def main_async(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    run = f"{int(time.time()) % 100000:05d}"
    citizens = [Citizen(n, run) for n in range(args.users)]
    before = await handler_runs(args.url, settings.server.metrics_token)
    load = Load(settings, args.url, args.retry_ratio, takeovers=args.takeovers)
    started = time.perf_counter()
    report = await load.run(citizens, args.concurrency)
    elapsed = time.perf_counter() - started
    runs = await handler_runs(args.url, settings.server.metrics_token) - before
    async with aiohttp.ClientSession() as http, http.get(f"{load.api_base}/_standin/sms") as response:
        codes = [m for s in (await response.json())["sms"] for m in re.findall(r"\d{6}", s["text"])]
    log_text = Path(args.log).read_text(encoding="utf-8") if args.log else ""
    problems = await check(settings, report, citizens, runs, secrets_of(settings, citizens, codes), log_text)
    print(summary(report, elapsed, args.users))
    print("invariants: all hold" if not problems else "VIOLATIONS:\n  " + "\n  ".join(problems[:20]))
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the server's config (for Redis, keys and the token)")
    parser.add_argument("--url", default="http://127.0.0.1:8080/wechat")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--retry-ratio", type=float, default=0.1)
    parser.add_argument("--takeovers", action="store_true", help="each code is then taken over by a second account")
    parser.add_argument("--log", default="", help="the server's log file, scanned for leaks")
    raise SystemExit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
