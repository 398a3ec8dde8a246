"""Faults survived: SIGTERM drains, a SIGKILLed worker's retry is answered by the other, Redis restarts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.devkit.simulator import Simulator, parse_reply
from bot.devkit.standin import Fault, StandInState
from tests.conftest import APP_ID, METRICS_AUTH, REDIS_URL, TOKEN, BotFactory, describe
from tests.helpers import Worker, free_port, write_config
from tests.journeys import ID, NAME, PHONE, adult
from tests.local_redis import start_redis

CODE = "<the SMS code>"  # a claim's step that is answered with the code the stand-in gateway received
CLAIM = ["防疫健康信息码", "同意", NAME, ID, PHONE, CODE]


def claim(phone: str, id_number: str = ID) -> list[str]:
    """The claim's answers for a citizen with their own phone (the SMS limits are per number) and document
    (a document has one holder account: a second would be a takeover)."""
    return [phone if text == PHONE else id_number if text == ID else text for text in CLAIM]


def answer(text: str, state: StandInState, phone: str = PHONE) -> str:
    """`text`, or for CODE the code the stand-in gateway received last for `phone`."""
    if text != CODE:
        return text
    return [m["text"] for m in state.sms if m["phone"] == phone][-1].split("验证码为 ")[1][:6]


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


async def test_sigterm_finishes_in_flight_requests_and_drains_late_sends(
        tmp_path: Path, prefix: str, standin: tuple[str, StandInState], workers: list[Worker]) -> None:
    base, state = standin
    worker = Worker(write_config(tmp_path, prefix, base, reply_deadline=0.5), tmp_path / "a.log")
    workers.append(worker)
    await worker.ready()
    async with aiohttp.ClientSession() as http:
        for user, id_number in (("oTerm_0001", ID), ("oTerm_0002", adult(2))):
            for text in claim(PHONE, id_number):
                await worker.push(http, worker.sim.text(user, answer(text, state)))
        state.faults["media/upload"].append(Fault(delay=1.5))
        status, reply = await worker.push(http, worker.sim.text("oTerm_0001", "确认"))
        assert (status, describe(reply)) == (200, "正在生成，请稍候……")  # the image follows later
        state.faults["media/upload"].append(Fault(delay=0.4))
        in_flight = asyncio.ensure_future(worker.push(http, worker.sim.text("oTerm_0002", "确认")))
        await asyncio.sleep(0.15)
        worker.process.send_signal(signal.SIGTERM)
        status, reply = await in_flight
        assert (status, describe(reply)) == (200, "[image]")
        for _ in range(100):
            if worker.process.poll() is not None:
                break
            await asyncio.sleep(0.1)
    assert worker.process.returncode == 0, worker.log.read_text()
    late = [m for m in state.messages if m["touser"] == "oTerm_0001" and m["msgtype"] == "image"]
    assert len(late) == 1  # the background send was drained before exit


async def test_a_killed_workers_push_is_answered_once_by_the_other(
        tmp_path: Path, prefix: str, standin: tuple[str, StandInState], workers: list[Worker]) -> None:
    base, state = standin
    config = write_config(tmp_path, prefix, base, inflight_lease=1.5, user_lock_ttl=2.5)
    a, b = Worker(config, tmp_path / "a.log"), Worker(config, tmp_path / "b.log")
    workers += [a, b]
    await asyncio.gather(a.ready(), b.ready())
    user = "oKill_0001"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=8)) as http:
        for i, text in enumerate(CLAIM):
            await (a, b)[i % 2].push(http, a.sim.text(user, answer(text, state)))
        state.faults["media/upload"].append(Fault(delay=6))
        push = a.sim.text(user, "确认")
        first = asyncio.ensure_future(a.push(http, push))
        await asyncio.sleep(0.5)
        a.process.send_signal(signal.SIGKILL)
        with pytest.raises(aiohttp.ClientError):
            await first
        started = time.monotonic()
        status, reply = await b.push(http, push)  # WeChat's retry reaches the other worker
        assert status == 200 and describe(reply) == "[image]"
        assert time.monotonic() - started < 5
        status, again = await b.push(http, push)  # and any further retry gets the same answer
        assert again == reply
    redis = aioredis.from_url(REDIS_URL)
    try:
        assert await redis.exists(f"{prefix}:u:{{{user}}}:profile")
    finally:
        await redis.aclose()


async def test_redis_killed_and_restarted_under_load_loses_no_acknowledged_claim(
        make_bot: BotFactory, own_redis: tuple[str, Path, int]) -> None:
    url, data, port = own_redis
    redis_process = start_redis(data, port)
    await asyncio.sleep(0.3)
    bot = await make_bot(redis={"url": url}, limits={"messages_burst": 500})
    users = [f"oRestart_{i:03d}" for i in range(30)]
    acknowledged: set[str] = set()
    busy_seen, slowest = 0, 0.0

    async def journey(user: str) -> None:
        nonlocal busy_seen, slowest
        phone, id_number = f"138{int(user[-3:]):08d}", adult(int(user[-3:]))
        steps = [*claim(phone, id_number), "确认"]
        while steps:
            started = time.monotonic()
            reply = await bot.say(user, answer(steps[0], bot.standin, phone))
            slowest = max(slowest, time.monotonic() - started)
            if reply in ("服务繁忙，请稍后再试。", "您的上一条消息还在处理中，请稍候再发送。"):
                busy_seen += reply.startswith("服务繁忙")
                await asyncio.sleep(0.2)  # the citizen tries again a moment later
                continue
            if "已超时" in reply or ("回复「同意」" in reply and steps[0] != CLAIM[0]):
                steps = [*claim(phone, id_number), "确认"]  # told to start again
                continue
            if reply == "[image]":
                acknowledged.add(user)
            steps.pop(0)
            await asyncio.sleep(0.05)

    async def restart() -> None:
        # While every citizen is mid-claim (six steps take them ~0.35 s): a 确认 whose turn the kill cut short
        # is answered 「正在生成」 and its code sent later by message, which this test does not wait for.
        await asyncio.sleep(0.2)
        redis_process.send_signal(signal.SIGKILL)
        redis_process.wait()
        await asyncio.sleep(1.5)
        start_redis(data, port)

    await asyncio.gather(restart(), *(journey(u) for u in users))
    assert busy_seen > 0, "the outage was not noticed: restart earlier"
    assert slowest < 5
    assert acknowledged == set(users)
    check = aioredis.from_url(url)
    try:
        for user in acknowledged:
            assert await check.exists(bot.services.keys.profile(user)), user
    finally:
        await check.aclose()
    assert os.path.exists(data / "appendonlydir") or any(data.glob("*.aof"))


async def test_workers_share_one_port_and_one_users_dialog(tmp_path: Path, prefix: str,
                                                           standin: tuple[str, StandInState]) -> None:
    base, state = standin
    config = write_config(tmp_path, prefix, base, log_format='"json"')
    port = free_port()
    parent = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--config", str(config), "--port",
                               str(port), "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    sim = Simulator(TOKEN, "", APP_ID)
    try:
        url = f"http://127.0.0.1:{port}"
        pids: set[int] = set()
        # Each worker is a process of its own: on a loaded machine the second may bind seconds after the first
        # answers, so wait by the clock, not by a count of probes the first one can answer all by itself.
        deadline = time.monotonic() + 30
        while len(pids) < 2 and time.monotonic() < deadline:
            try:
                async with aiohttp.ClientSession() as http, \
                        http.get(url + "/healthz", headers=METRICS_AUTH) as response:
                    pids.add((await response.json())["worker"])  # a new connection each time
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        assert len(pids) == 2
        async with aiohttp.ClientSession() as http:
            async def say(text: str) -> str:
                push = sim.sign(sim.text("oWorkers_0001", text))
                async with aiohttp.ClientSession() as fresh, \
                        fresh.post(url + "/wechat", params=push.params, data=push.body) as response:
                    return describe(parse_reply(await response.text()))

            replies = [await say(answer(text, state)) for text in [*CLAIM, "确认"]]
            assert replies[-1] == "[image]"
            retry = sim.text("oWorkers_0001", "防疫健康信息码")
            pushes = [sim.sign(retry) for _ in range(4)]
            answers = await asyncio.gather(*(http.post(url + "/wechat", params=p.params, data=p.body) for p in pushes))
            bodies = {describe(parse_reply(await a.text())) for a in answers}
            assert bodies == {"[image]"}
    finally:
        parent.send_signal(signal.SIGTERM)
        out, _ = parent.communicate(timeout=20)
    assert parent.returncode == 0
    assert '"level": "info"' in out  # JSON logs from the workers
    records = [json.loads(line) for line in out.splitlines() if line.strip()]  # the banner too: every line
    messages = [r["message"] for r in records]
    assert any(m.startswith(f"healthbot listening on 127.0.0.1:{port};") for m in messages)
    assert messages.count("stopped") == 2  # each worker says it stopped, after draining
