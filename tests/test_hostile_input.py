"""Attacks a hostile test of the running servers found to work, each reproduced and grouped by what it protects."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import signal
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestServer

from bot.cli.serve import banner
from bot.domain.clock import SHANGHAI, SettableClock
from bot.upstreams.http import SharedSession
from bot.upstreams.status import HttpStatus
from handlers.relatives import RELATIONSHIPS
from storage.profiles import Person
from tests.conftest import Bot, BotFactory, Upstream, describe
from tests.helpers import RedisHolder, free_port
from tests.journeys import (
    ELDER,
    ID,
    NAME,
    PHONE,
    claim_until,
    full_claim,
    guardian,
    link_in,
    prove_phone,
    up_to_agreement,
)
from tests.local_redis import start_redis

HUGE = "1" * 5000


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    leaked = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not leaked, [f"{r.name}: {r.getMessage()[:80]}" for r in leaked]


# Huge numbers and odd shapes get 400 or their step's reply, never a traceback --------------------------------------

async def test_an_unsigned_push_with_a_huge_timestamp_is_403_without_a_traceback(
        bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    response = await bot.client.post(f"/wechat?timestamp={HUGE}&nonce=1&signature=x", data=b"<xml/>")
    assert response.status == 403
    no_tracebacks(caplog)


@pytest.mark.parametrize("aes", [False, True])
@pytest.mark.parametrize("field", ["MsgId", "CreateTime"])
async def test_a_signed_push_with_a_huge_number_is_400(make_bot: BotFactory, aes: bool, field: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    bot = await make_bot(aes=aes)
    xml = re.sub(rf"<{field}>\d+</{field}>", f"<{field}>{HUGE}</{field}>", bot.sim.text("oHuge_0001", "帮助"))
    assert HUGE in xml
    status, _ = await bot.post(xml)
    assert status == 400
    no_tracebacks(caplog)


async def test_huge_numbers_at_numbered_steps_get_that_steps_reply(bot: Bot,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    assert "请回复证件类型的序号" in (await claim_until(bot, "oHuge_0002", ["港澳台", "同意", HUGE]))[-1]
    await guardian(bot, "oHuge_0003")
    relationship = (await claim_until(bot, "oHuge_0003", ["添加亲属", "王大明", ELDER, HUGE]))[-1]
    assert relationship == bot.services.templates.render("relatives/bad_relationship.txt", relationships=RELATIONSHIPS)
    no_tracebacks(caplog)


@pytest.mark.parametrize("body", ["[1]", '"x"', "1", "null", '{"t": 1, "result": "pass"}'])
async def test_a_face_callback_that_is_not_an_object_is_400(bot: Bot, body: str,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    response = await bot.client.post("/face/callback", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    no_tracebacks(caplog)


async def test_a_huge_query_string_is_400_without_a_traceback(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    server = bot.client.server
    assert isinstance(server, TestServer)
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"POST /wechat?timestamp=" + b"1" * 20_000 + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    answer = await reader.read(100)
    writer.close()
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer
    await asyncio.sleep(0.1)
    no_tracebacks(caplog)


# Replays and internal events ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("aes", [False, True])
async def test_a_push_replayed_after_its_reply_expired_is_not_run_again(make_bot: BotFactory, aes: bool) -> None:
    bot = await make_bot(aes=aes, server={"dedup_ttl": 1, "replay_window": 300})
    user = "oReplay_0006"
    await claim_until(bot, user, ["行程码", "13912345600"])
    push = bot.sim.sign(bot.sim.text(user, "同意并授权"))  # sends an SMS
    first = await bot.client.post("/wechat", params=push.params, data=push.body)
    assert first.status == 200 and len(bot.standin.sms) == 1
    await asyncio.sleep(1.5)  # the kept reply has expired; the push is still inside the replay window
    again = await bot.client.post("/wechat", params=push.params, data=push.body)
    assert again.status == 200 and await again.text() == "success"
    assert len(bot.standin.sms) == 1  # the handler did not run a second time


async def test_an_internal_event_cannot_arrive_through_the_webhook(bot: Bot) -> None:
    user = "oHostile_0011"
    await guardian(bot, user)
    await up_to_agreement(bot, user, ELDER)
    token = parse_qs(urlsplit(link_in(await bot.say(user, "同意协议并认证"))).query)["t"][0]
    nonce = json.loads(base64.urlsafe_b64decode(token.split(".")[2] + "=="))["n"]  # readable by the holder
    await bot.push(bot.sim.event(user, "healthbot_face", f"pass:{nonce}"))
    assert await bot.services.relatives.list(user) == []
    assert "正在等待人脸识别认证结果" in await bot.say(user, "好了吗")  # still at the face step


# Limits: face links, news pictures, metrics ------------------------------------------------------------------------

async def test_going_back_and_forth_at_the_face_step_issues_no_links_past_the_limit(make_bot: BotFactory) -> None:
    bot = await make_bot(limits={"face_links_per_hour": 3, "messages_burst": 500})
    user = "oHostile_0005"
    await guardian(bot, user)
    await up_to_agreement(bot, user, ELDER)
    links = set()
    for _ in range(10):
        reply = await bot.say(user, "同意协议并认证")
        if "http" in reply:
            links.add(link_in(reply))
        await bot.say(user, "返回")
    assert len(links) == 3
    nonces = [k async for k in bot.services.redis.scan_iter(match=f"{bot.services.keys.prefix}:face:*")]
    assert len(nonces) == 3  # each link is a provider call and a nonce: no more than the limit


async def test_a_news_links_picture_is_rendered_once_and_limited(make_bot: BotFactory) -> None:
    bot = await make_bot(render={"reply_as": "news"}, limits={"live_per_link_per_minute": 20})
    article = (await full_claim(bot, "oHostile_0012"))["Articles"]["item"]
    parts = urlsplit(article["PicUrl"])
    path = f"{parts.path}?{parts.query}"
    bodies, statuses = set(), []
    for _ in range(25):
        response = await bot.client.get(path)
        statuses.append(response.status)
        if response.status == 200:
            bodies.add(await response.read())
    assert statuses[:20] == [200] * 20 and set(statuses[20:]) == {429}
    assert len(bodies) == 1  # one picture: a fresh render would carry a fresh QR token


async def test_metrics_need_the_token_or_live_on_their_own_address(make_bot: BotFactory) -> None:
    bot = await make_bot(server={"metrics_token": "s3cret-metrics"})
    assert (await bot.client.get("/metrics")).status == 401
    ok = await bot.client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert ok.status == 200 and "healthbot_" in await ok.text()
    port = free_port()
    local = await make_bot(server={"metrics_address": f"127.0.0.1:{port}", "metrics_token": ""})
    assert (await local.client.get("/metrics")).status == 404
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
    answer = await reader.read()
    writer.close()
    assert answer.split(b"\r\n", 1)[0].endswith(b" 200 OK") and b"healthbot_" in answer
    bare = await make_bot(server={"metrics_token": ""})  # neither a token nor an address: not on this port at all
    assert (await bare.client.get("/metrics")).status == 404  # the test client is loopback, as a proxy would be
    assert "metrics: not served; set [server] metrics_token or metrics_address" in banner(bare.services.settings)


async def test_unknown_types_and_events_do_not_grow_the_metrics(bot: Bot) -> None:
    async def series() -> int:
        text = await bot.scrape()
        return len([line for line in text.splitlines() if line.startswith("healthbot_requests_total{")])

    await bot.say("oMetric_0010", "帮助")
    before = await series()
    for n in range(60):
        await bot.push(bot.sim.event("oMetric_0010", f"made_up_{n}", create_time=1795400000 + n))
        await bot.push(bot.sim.xml("oMetric_0010", f"kind{n}", {"MsgId": bot.sim.next_msg_id()}))
    assert await series() <= before + 2  # "other" for events and messages, whatever their names


# Bounded caches and the keys 注销 touches ----------------------------------------------------------------------------

async def test_the_status_cache_is_bounded_and_runs_on_the_injected_clock(upstream: tuple[Upstream, str]) -> None:
    state, url = upstream
    state.answer = {"colour": "green"}
    clock, http = SettableClock(datetime(2026, 1, 1, tzinfo=SHANGHAI)), SharedSession()
    provider = HttpStatus(http, url, 2.0, "", cache_seconds=30, clock=clock, codes=(), entries=100)
    person = Person("张三", "resident_id", ID)
    try:
        for n in range(250):
            await provider.status(lambda: person, f"doc-{n}")
        assert len(provider.cache) == 100 and len(state.requests) == 250
        await provider.status(lambda: person, "doc-249")
        assert len(state.requests) == 250  # still cached
        clock.advance(31)
        await provider.status(lambda: person, "doc-249")
        assert len(state.requests) == 251  # stale by the service's clock, not the wall clock
    finally:
        await http.close()


async def test_deregistering_touches_only_the_users_keys_whatever_else_is_in_redis(bot: Bot) -> None:
    redis, user = bot.services.redis, "oHostile_0008"
    junk = f"hbjunk-{os.getpid()}"
    fill = "for i = 1, tonumber(ARGV[2]) do redis.call('SET', ARGV[1] .. i, 'x', 'EX', 120) end return 1"
    for start in range(10):  # a million keys that are not the user's (they expire by themselves)
        await redis.eval(fill, 0, f"{junk}:{start}:", 100_000)
    assert await redis.dbsize() >= 1_000_000
    await full_claim(bot, user)

    async def scans() -> int:
        return int((await redis.info("commandstats")).get("cmdstat_scan", {}).get("calls", 0))

    before, started = await scans(), time.perf_counter()
    assert "已注销" in (await claim_until(bot, user, ["注销健康码", "确认注销"]))[-1]
    took = time.perf_counter() - started
    assert await scans() == before  # not one SCAN: the keys to delete are named, not searched for
    assert not await redis.exists(bot.services.keys.profile(user))
    print(f"\n注销 with {await redis.dbsize():,} keys in Redis: {took * 1000:.0f} ms")


# Redis paused: the next message at once, and a late turn end writes nothing ----------------------------------------

async def test_after_a_paused_redis_resumes_the_next_message_is_handled_at_once(
        make_bot: BotFactory, own_redis: tuple[str, Path, int]) -> None:
    url, data, port = own_redis
    process = start_redis(data, port)
    await asyncio.sleep(0.3)
    bot = await make_bot(redis={"url": url})
    user = "oPause_0009"
    assert "回复以下关键词" in await bot.say(user, "帮助")
    process.send_signal(signal.SIGSTOP)
    try:
        assert "服务繁忙" in await bot.say(user, "帮助")  # a turn meets the paused Redis
        await asyncio.sleep(3)
    finally:
        process.send_signal(signal.SIGCONT)
    await asyncio.sleep(0.5)
    reply = await bot.say(user, "帮助")
    assert "回复以下关键词" in reply, reply  # not 「您的上一条消息还在处理中」 for the lock's 15 s
    process.terminate()
    process.wait(10)


async def test_a_dialog_step_told_busy_has_not_moved_when_its_write_reaches_redis_late(
        make_bot: BotFactory) -> None:
    async with RedisHolder(b"\r\nstep\r\n", seconds=2.5) as paused:  # the first step's turn end, held
        bot = await make_bot(redis={"url": paused.url})
        user, other = "oLate_0015", "oLate_0015b"
        await bot.say(user, "防疫健康信息码")
        assert "服务繁忙" in await bot.say(user, "同意")
        assert paused.held.is_set()
        await asyncio.sleep(2.0)  # the held write has reached Redis now, after the user was told busy
        await bot.say(other, "防疫健康信息码")
        asks_name = await bot.say(other, "同意")
        assert await bot.say(user, "同意") == asks_name  # still at the consent step, and not kept waiting


async def test_a_glance_told_busy_at_its_end_has_written_nothing_when_its_write_reaches_redis_late(
        make_bot: BotFactory) -> None:
    """A new user's first 防疫健康信息码 is a glance that writes (the claim's first step): its last script takes
    the lock; held past the server's patience, it finds the push's mark too old and writes nothing."""
    async with RedisHolder(b"\r\nset\r\n", seconds=2.5) as paused:  # the glance's turn end, held
        bot = await make_bot(redis={"url": paused.url})
        user, redis, keys = "oLate_0015d", bot.services.redis, bot.services.keys
        push = bot.sim.text(user, "防疫健康信息码")
        assert "服务繁忙" in describe(await bot.push(push))
        assert paused.held.is_set()
        await asyncio.sleep(2.0)  # the held script has run now, after the user was told busy
        assert not await redis.exists(keys.dialog(user)) and not await redis.exists(keys.lock(user))
        again = describe(await bot.push(push))  # WeChat's retry, or the user asking again: not "busy", not lost
        assert "同意" in again
        assert await redis.get(keys.dialog_marker(user)) == b"claim"


async def test_a_claim_told_busy_at_its_end_is_confirmed_again_and_kept_once(make_bot: BotFactory) -> None:
    async with RedisHolder(b"\r\nclear\r\n", seconds=2.5) as paused:  # the claim's turn end, held
        bot = await make_bot(redis={"url": paused.url})
        user = "oLate_0015c"
        await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, ID, PHONE])
        await prove_phone(bot, user)
        assert "服务繁忙" in await bot.say(user, "确认")
        await asyncio.sleep(2.0)
        again = await bot.push(bot.sim.text(user, "确认"))
        assert again["MsgType"] == "image", again
        assert (await bot.push(bot.sim.text(user, "防疫健康信息码")))["MsgType"] == "image"
        redis, keys = bot.services.redis, bot.services.keys
        index = (await redis.hget(keys.profile(user), "doc_index")).decode()
        assert await redis.get(keys.holders(index)) == user.encode()  # one claim, one holder
