"""The async WeChat client against the stand-in API over real HTTP, with its token shared through Redis."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import pytest
import redis.asyncio as aioredis

from bot.devkit.standin import Fault, StandInState
from bot.ops.config import WeChatSettings
from bot.wechat.api import WeChatAPI, WeChatAPIError
from storage.keys import Keys
from storage.vault import Vault
from storage.wechat import ApiCache
from tests.conftest import AES_KEY, APP_ID, APP_SECRET, Bot, BotFactory
from tests.helpers import tiny_png
from tests.journeys import (
    ID,
    NAME,
    PHONE,
    claim_until,
    full_claim,
    prove_phone,
)

VAULT = Vault(b"i" * 32, b"d" * 32)


def client(base: str, redis: aioredis.Redis, prefix: str) -> WeChatAPI:
    settings = WeChatSettings(token="t", app_id=APP_ID, app_secret=APP_SECRET, api_base=base, api_timeout=3)
    return WeChatAPI(settings, ApiCache(redis, Keys(prefix)), VAULT)


async def test_many_workers_share_one_token_refresh(standin: tuple[str, StandInState], redis: aioredis.Redis,
                                                    prefix: str) -> None:
    base, state = standin
    workers = [client(base, redis, prefix) for _ in range(4)]  # four processes' clients, one Redis
    try:
        await asyncio.gather(*(w.send_text("oToken_0001", f"hi {i}") for i, w in enumerate(workers * 5)))
    finally:
        for w in workers:
            await w.close()
    assert state.calls["stable_token"] == 1
    assert len(state.messages) == 20


async def test_a_rejected_token_is_dropped_once_and_the_call_retried(standin: tuple[str, StandInState],
                                                                     redis: aioredis.Redis, prefix: str) -> None:
    base, state = standin
    api = client(base, redis, prefix)
    try:
        await api.send_text("oToken_0002", "first")
        state.faults["message/custom/send"].append(Fault(errcode=40001))
        await api.send_text("oToken_0002", "second")
    finally:
        await api.close()
    assert [m["text"]["content"] for m in state.messages] == ["first", "second"]
    assert state.calls["stable_token"] == 2


async def test_a_newer_token_is_not_dropped_by_a_late_failure(standin: tuple[str, StandInState],
                                                              redis: aioredis.Redis, prefix: str) -> None:
    base, _ = standin
    api = client(base, redis, prefix)
    try:
        token = await api.access_token()
        newer = VAULT.seal(b"a-newer-token", context="access_token")
        await redis.set(Keys(prefix).token(), newer)
        await api._drop_token(token)  # the failure of the old token must not delete the newer one
        assert await redis.get(Keys(prefix).token()) == newer
        assert await api.access_token() == "a-newer-token"
    finally:
        await api.close()


async def test_the_same_image_is_uploaded_once(standin: tuple[str, StandInState], redis: aioredis.Redis,
                                               prefix: str) -> None:
    base, state = standin
    api = client(base, redis, prefix)
    try:
        first = await api.upload_image(tiny_png())
        second = await api.upload_image(tiny_png())
    finally:
        await api.close()
    assert first == second and state.calls["media/upload"] == 1
    assert 0 < await redis.ttl(Keys(prefix).media(hashlib.sha256(tiny_png()).hexdigest())) < 3 * 86400


async def test_quota_and_server_errors_are_retried_with_a_bound(standin: tuple[str, StandInState],
                                                                redis: aioredis.Redis, prefix: str) -> None:
    base, state = standin
    api = client(base, redis, prefix)
    try:
        state.faults["message/custom/send"].append(Fault(status=502, times=2))
        await api.send_text("oToken_0003", "after two 502s")
        state.faults["message/custom/send"].append(Fault(errcode=45009, times=1))
        with pytest.raises(WeChatAPIError) as refused:
            await api.send_text("oToken_0003", "daily quota")
        assert refused.value.errcode == 45009
    finally:
        await api.close()
    assert [m["text"]["content"] for m in state.messages] == ["after two 502s"]


async def test_a_slow_upload_answers_at_once_and_the_image_follows(make_bot: BotFactory) -> None:

    bot = await make_bot(server={"reply_deadline": 0.5})
    user = "oSlowUpload_0001"
    await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, ID, PHONE])
    await prove_phone(bot, user)
    bot.standin.faults["media/upload"].append(Fault(delay=1.2))
    push = bot.sim.text(user, "确认")
    assert await bot.say_xml(push) == "正在生成，请稍候……"
    assert await bot.say_xml(push) == "正在生成，请稍候……"  # a retry gets the same, never a second image
    await bot.dispatcher.drain()
    images = [m for m in bot.standin.messages if m["touser"] == user and m["msgtype"] == "image"]
    assert len(images) == 1
    assert (await bot.push(bot.sim.text(user, "防疫健康信息码")))["MsgType"] == "image"


async def test_api_errors_are_logged_with_errcode_and_no_secret(make_bot: BotFactory,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bot: Bot = await make_bot(aes=True)
    bot.standin.faults["media/upload"].append(Fault(errcode=40001))
    bot.standin.faults["media/upload"].append(Fault(errcode=45009, times=3))

    await full_claim(bot, "oSecrets_0001")
    ours = [r for r in caplog.records if "/cgi-bin/" not in r.getMessage() or r.name != "aiohttp.access"]
    text = "\n".join(r.getMessage() for r in ours)  # the stand-in's own access lines are WeChat's logs
    assert "errcode=45009" in text
    for secret in (APP_SECRET, AES_KEY, bot.standin.token, "healthbot-test-token"):
        assert secret and secret not in text


async def test_a_timed_out_call_is_retried_and_then_succeeds(standin: tuple[str, StandInState],
                                                             redis: aioredis.Redis, prefix: str) -> None:
    base, state = standin
    settings = WeChatSettings(token="t", app_id=APP_ID, app_secret=APP_SECRET, api_base=base, api_timeout=0.3)
    api = WeChatAPI(settings, ApiCache(redis, Keys(prefix)), VAULT)
    try:
        await api.access_token()
        state.faults["message/custom/send"].append(Fault(delay=1.0))
        await api.send_text("oTimeout_0001", "after a timeout")
        state.faults["message/custom/send"].append(Fault(delay=1.0, times=3))
        with pytest.raises(WeChatAPIError) as gave_up:
            await api.send_text("oTimeout_0001", "three timeouts")
        assert gave_up.value.errcode == -1
    finally:
        await api.close()
    assert [m["text"]["content"] for m in state.messages] == ["after a timeout"]
