"""HTTP identity and status providers against real upstream servers; a failure is said, never guessed."""

from __future__ import annotations

import pytest

from bot.rendering import FontMissing, find_cjk_font
from tests.conftest import BotFactory, Upstream
from tests.journeys import (
    ID,
    NAME,
    PHONE,
    claim_until,
    full_claim,
    prove_phone,
)


async def test_identity_mismatch_says_why_and_lets_the_user_retry(make_bot: BotFactory,
                                                                  upstream: tuple[Upstream, str]) -> None:
    state, url = upstream
    bot = await make_bot(identity={"url": url, "token": "s3cret"})
    user = "oIdentity_0001"
    state.answer = {"match": False, "reason": "姓名与证件号码不匹配"}
    await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, ID, PHONE])
    await prove_phone(bot, user)
    reply = await bot.say(user, "确认")
    assert "实名核验未通过：姓名与证件号码不匹配" in reply
    assert state.requests[0]["body"]["doc_number"] == ID and state.requests[0]["auth"] == "Bearer s3cret"
    state.answer = {"match": True}
    assert "身份证" in await bot.say(user, NAME)
    await claim_until(bot, user, [ID, PHONE])
    assert await bot.say(user, "确认") == "[image]"


async def test_identity_service_down_keeps_the_answers_for_a_retry(make_bot: BotFactory,
                                                                   upstream: tuple[Upstream, str]) -> None:
    state, url = upstream
    bot = await make_bot(identity={"url": url, "timeout": 0.3})
    user = "oIdentity_0002"
    await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, ID, PHONE])
    await prove_phone(bot, user)
    state.status = 503
    assert "暂时无法连接" in await bot.say(user, "确认")
    assert not await bot.services.redis.exists(bot.services.keys.profile(user))
    state.status, state.answer = 200, {"match": True}
    assert await bot.say(user, "确认") == "[image]"


async def test_status_from_http_upstream_and_plain_words_when_it_is_down(make_bot: BotFactory,
                                                                          upstream: tuple[Upstream, str]) -> None:
    state, url = upstream
    bot = await make_bot(status={"url": url, "timeout": 0.3, "cache_seconds": 0})
    user = "oStatus_0001"
    state.answer = {"colour": "yellow", "reason_code": "manual", "reason": "测温异常"}
    assert (await full_claim(bot, user))["MsgType"] == "image"
    state.delay = 1.0
    reply = await bot.say(user, "防疫健康信息码")
    assert "暂时无法确认您的健康码状态" in reply and "码" in reply
    state.delay, state.answer = 0.0, {"colour": "blue"}
    assert "暂时无法确认" in await bot.say(user, "防疫健康信息码")
    state.answer = {"colour": "red", "reason": "确诊"}  # no reason code of the catalogue: not a colour to show
    assert "暂时无法确认" in await bot.say(user, "防疫健康信息码")


def test_a_missing_font_is_named_clearly() -> None:
    with pytest.raises(FontMissing, match=r"render\.font: /nope\.ttf does not exist"):
        find_cjk_font("/nope.ttf")
    assert find_cjk_font()  # CI installs one; the app refuses to start without


async def test_http_travel_and_results_providers(make_bot: BotFactory, upstream: tuple[Upstream, str]) -> None:
    state, url = upstream
    bot = await make_bot(travel={"url": url}, results={"url": url})
    user = "oUpstream_0001"
    await full_claim(bot, user)
    state.answer = {"results": [{"result": "阴性", "sampled_at": 1795400000, "reported_at": 1795410000,
                                 "institution": "第三方检测机构"}]}
    assert "第三方检测机构" in await bot.say(user, "核酸")
    assert state.requests[-1]["body"]["doc_number"] == ID
    state.answer = {"colour": "orange", "cities": [{"name": "广州市", "risk": True}], "updated_at": 1795400000}
    await claim_until(bot, user, ["行程码", "1"])
    reply = await bot.push(bot.sim.text(user, "同意并授权"))  # the claim proved the phone: no second code
    assert reply["MsgType"] == "image" and state.requests[-1]["body"] == {"phone": PHONE}
    state.answer = {"cities": "nonsense"}
    assert "暂时无法连接" in await bot.say(user, "核酸")


async def test_http_sms_gateway_gets_phone_and_text(make_bot: BotFactory, upstream: tuple[Upstream, str]) -> None:
    state, url = upstream
    bot = await make_bot(sms={"url": url, "token": "gw"})
    user = "oUpstream_0002"
    await claim_until(bot, user, ["行程码", "13912345678", "同意并授权"])
    sent = state.requests[-1]
    assert sent["auth"] == "Bearer gw" and sent["body"]["phone"] == "13912345678"
    assert "您的验证码为" in sent["body"]["text"] and bot.standin.sms == []
    state.status = 502
    reply = (await claim_until(bot, "oUpstream_0003", ["行程码", "13700000000", "同意并授权"]))[-1]
    assert "短信服务暂时不可用" in reply
