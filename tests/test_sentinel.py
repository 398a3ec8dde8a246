"""Behind Sentinel: redis+sentinel:// finds the master, and a failover in the middle of a dialog loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from storage.connection import RedisClient
from tests.conftest import Bot
from tests.journeys import (
    ID,
    NAME,
    PHONE,
    claim_until,
    last_code,
)
from tests.local_redis import LocalSentinel

BUSY = "服务繁忙，请稍后再试。"


@pytest.fixture(scope="module")
def local_sentinel() -> Iterator[LocalSentinel]:
    deployment = LocalSentinel().start()
    yield deployment
    deployment.stop()


@pytest.fixture
def redis_url(local_sentinel: LocalSentinel) -> str:
    return local_sentinel.url


async def say_through(bot: Bot, user: str, text: str) -> str:
    """What a citizen does when told the service is busy: send it again a moment later (a new message)."""
    for _ in range(20):
        reply = await bot.say(user, text)
        if reply != BUSY:
            return reply
        await asyncio.sleep(0.5)
    return reply


async def test_the_master_dying_mid_dialog_keeps_the_dialog_and_the_claim(bot: Bot, local_sentinel: LocalSentinel,
                                                                    redis: RedisClient) -> None:
    user = "oSentinel_0001"
    first_master = local_sentinel.current_master()
    prompts = await claim_until(bot, user, ["防疫健康信息码", "同意", NAME])
    assert "身份证" in prompts[-1]
    new_master = local_sentinel.kill_master()
    assert new_master != first_master
    assert "手机号" in await say_through(bot, user, ID)  # the dialog state came across with the replica
    assert "验证码已发送" in await say_through(bot, user, PHONE)
    assert "请核对您的信息" in await say_through(bot, user, last_code(bot, PHONE))
    assert await say_through(bot, user, "确认") == "[image]"
    assert await redis.exists(bot.services.keys.profile(user))
    assert local_sentinel.current_master() == new_master
