"""亲属码 through the real webhook and real Redis, the face-verification page and its callback included."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from PIL import Image

from bot.domain.clock import SHANGHAI, SettableClock, to_minute, to_second
from bot.domain.colours import INKS
from bot.ops.config import new_key
from tests.conftest import Bot, BotFactory
from tests.helpers import config_for, healthbot
from tests.journeys import (
    AGE_6,
    AGE_7,
    AGE_16,
    AGE_17,
    AGE_59,
    AGE_60,
    ELDER,
    LEAP_DAY,
    RELATIVE_NAME,
    TODAY,
    assert_nothing_plain,
    bind,
    callback,
    claim_until,
    elder,
    full_claim,
    guardian,
    link_in,
    sent_to,
    up_to_agreement,
)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(TODAY)


@pytest.fixture
async def bot(make_bot: BotFactory, clock: SettableClock) -> Bot:
    return await make_bot(clock=clock)


async def test_only_users_with_a_claimed_code_may_bind(bot: Bot) -> None:
    for text in ("亲属码", "添加亲属", "查看亲属码 1"):
        assert "请先回复「防疫健康信息码」" in await bot.say("oRel_0001", text)


async def test_binding_an_elderly_father_with_face_verification(bot: Bot) -> None:
    user = "oRel_0002"
    await guardian(bot, user)
    assert "您还没有绑定亲属" in await bot.say(user, "亲属码")
    prompts = await claim_until(bot, user, ["添加亲属", RELATIVE_NAME, ELDER])
    assert "1. 父亲" in prompts[-1] and "9. 其他" in prompts[-1]
    summary = await bot.say(user, "1")
    assert "王*明" in summary and "110***********002X" in summary and "父亲" in summary
    agreement = await bot.say(user, "确认绑定")
    assert "授权" in agreement and "依法承担法律责任" in agreement
    reply = await bot.say(user, "同意协议并认证")
    first_link = link_in(reply)
    page = await bot.client.get(urlsplit(first_link).path + "?" + urlsplit(first_link).query)
    assert page.status == 200 and "人脸识别认证" in await page.text()
    assert "正在等待人脸识别认证结果" in await bot.say(user, "好了吗")
    assert await callback(bot, first_link, "fail") == 200
    failed = sent_to(bot, user)[-1]
    assert "人脸识别认证失败" in failed and "重新认证" in (await bot.say(user, "？"))
    assert await callback(bot, first_link, "pass") == 403  # the used link changes nothing
    assert await callback(bot, link_in(failed), "pass") == 200
    assert "信息认证承诺" in sent_to(bot, user)[-1]
    assert await bot.say(user, "确认承诺") == "[image]"
    page_text = await bot.say(user, "亲属码")
    assert "1. 王*明（父亲，1949 年生）绿码 · 绑定于 2025-06-15 12:00" in page_text
    for action in ("查看亲属码 N", "下载离线码 N", "核酸 N", "解绑 N", "添加亲属"):
        assert action in page_text


async def test_children_up_to_six_skip_face_verification(bot: Bot) -> None:
    user = "oRel_0003"
    await guardian(bot, user)
    await up_to_agreement(bot, user, AGE_6, "李小宝")
    assert "信息认证承诺" in await bot.say(user, "同意协议并认证")
    assert await bot.say(user, "确认承诺") == "[image]"
    await up_to_agreement(bot, user, AGE_7, "李小贝")
    assert "人脸识别" in await bot.say(user, "同意协议并认证")


@pytest.mark.parametrize(("number", "allowed"), [
    (AGE_16, True), (AGE_17, False), (AGE_60, True), (AGE_59, False), (LEAP_DAY, True)])
async def test_age_limits_on_the_shanghai_date(bot: Bot, number: str, allowed: bool) -> None:
    user = f"oRel_age_{number[6:14]}"
    await guardian(bot, user)
    reply = (await claim_until(bot, user, ["添加亲属", RELATIVE_NAME, number]))[-1]
    if allowed:
        assert "请选择您与" in reply
    else:
        assert reply == "暂时只支持绑定16岁以下及60岁以上的亲属"


@pytest.mark.parametrize(("day", "allowed"), [
    (datetime(2028, 2, 28, 9, tzinfo=SHANGHAI), True),   # 15
    (datetime(2029, 2, 28, 9, tzinfo=SHANGHAI), True),   # 16: no 29th, still 16
    (datetime(2029, 3, 1, 9, tzinfo=SHANGHAI), False),   # 17
])
async def test_leap_day_birthday(bot: Bot, clock: SettableClock, day: datetime, allowed: bool) -> None:
    user = f"oRel_leap_{day:%Y%m%d}"
    await guardian(bot, user)
    clock.set(day)
    reply = (await claim_until(bot, user, ["添加亲属", RELATIVE_NAME, LEAP_DAY]))[-1]
    assert ("请选择您与" in reply) is allowed


async def test_wrong_number_gets_the_exact_seed_error_and_ones_own_number_is_refused(bot: Bot) -> None:
    user = "oRel_0004"
    await full_claim(bot, user, ELDER)
    reply = (await claim_until(bot, user, ["添加亲属", RELATIVE_NAME, "110105194912310021"]))[-1]
    assert reply == "请输入正确的身份证"
    assert "不能为本人绑定亲属码" in await bot.say(user, ELDER)


async def test_eight_relatives_then_a_clear_refusal_and_no_duplicates(make_bot: BotFactory,
                                                                      clock: SettableClock) -> None:
    bot = await make_bot(clock=clock, limits={"messages_burst": 500})  # 60 messages in a second: no person
    user = "oRel_0005"
    await guardian(bot, user)
    await bind(bot, user, elder(0))
    dup = (await claim_until(bot, user, ["添加亲属", RELATIVE_NAME, elder(0)]))[-1]
    assert "已绑定过这位亲属" in dup
    await bot.say(user, "取消")
    for n in range(1, 8):
        assert await bind(bot, user, elder(n)) == "[image]"
    assert "最多可为 8 名家人申领亲属码" in await bot.say(user, "添加亲属")


async def test_twenty_concurrent_binds_by_one_user_end_with_exactly_eight(bot: Bot) -> None:
    store, now = bot.services.relatives, bot.services.clock.time()
    outcomes = await asyncio.gather(*(store.bind("oRel_race_1", "王大明", elder(n), "父亲", now) for n in range(20)))
    assert sorted(o.result for o in outcomes).count("ok") == 8
    assert {o.result for o in outcomes} == {"ok", "user_full"}
    assert len(await store.list("oRel_race_1")) == 8


async def test_ten_users_confirming_the_same_relative_at_once_end_with_exactly_three(bot: Bot) -> None:
    users = [f"oRel_parent_{i:02d}" for i in range(10)]
    for i, user in enumerate(users):
        await guardian(bot, user, f"11010519800101{i:03d}")
        await up_to_agreement(bot, user, AGE_6, "李小宝")
        await bot.say(user, "同意协议并认证")
    replies = await asyncio.gather(*(bot.say(user, "确认承诺") for user in users))
    assert replies.count("[image]") == 3
    assert sum("已被 3 位用户绑定" in r for r in replies) == 7
    assert await bot.services.relatives.guardians(AGE_6) == 3


async def test_unbinding_only_after_24_hours_and_with_confirmation(bot: Bot, clock: SettableClock) -> None:
    user = "oRel_0006"
    await guardian(bot, user)
    await bind(bot, user, ELDER)
    assert "还需等待 24 小时 0 分钟" in await bot.say(user, "解绑 1")
    clock.advance(23 * 3600 + 59 * 60 + 30)
    assert "还需等待 0 小时 1 分钟" in await bot.say(user, "解绑 1")
    clock.advance(30)  # exactly 24 h
    assert "确认请回复「确认解绑」" in await bot.say(user, "解绑 1")
    assert "已解除与 王*明 的绑定" in await bot.say(user, "确认解绑")
    assert "您还没有绑定亲属" in await bot.say(user, "亲属码")
    actions = [fields[b"action"] for _, fields in await bot.services.redis.xrange(bot.services.keys.audit())]
    assert actions[-2:] == [b"bind", b"unbind"]


async def test_a_binding_stored_in_the_earlier_form_keeps_its_time_and_its_rules(bot: Bot,
                                                                                   clock: SettableClock) -> None:
    """Bindings once kept their time in a hash of their own (relatives-at), and their record's fields spelt
    out: such a binding is listed, counts as bound, and keeps the 24 h rule; unbinding removes both halves."""
    user, redis, keys = "oRel_0016", bot.services.redis, bot.services.keys
    await guardian(bot, user)
    await bind(bot, user, ELDER)
    [(index, value)] = (await redis.hgetall(keys.relatives(user))).items()
    at, _, sealed = value.partition(b"|")
    assert float(at) == clock.time()  # the time, then the sealed record, in one field
    assert len(value) <= 128  # a listpack under deploy/redis.conf
    earlier = {"name": RELATIVE_NAME, "doc_number": ELDER, "relationship": "父亲", "n": 1}  # as once stored
    sealed = bot.services.vault.seal_json(earlier, context=f"{user}:{index.decode()}")
    await redis.hset(keys.relatives(user), index, sealed)
    await redis.hset(keys.relatives_bound_at(user), index, at)
    assert "王*明" in await bot.say(user, "亲属码")
    clock.advance(3600)
    assert "还需等待 23 小时 0 分钟" in await bot.say(user, "解绑 1")
    clock.advance(23 * 3600)
    assert "确认请回复「确认解绑」" in await bot.say(user, "解绑 1")
    assert "已解除与 王*明 的绑定" in await bot.say(user, "确认解绑")
    assert not await redis.exists(keys.relatives(user)) and not await redis.exists(keys.relatives_bound_at(user))


async def test_forged_and_expired_callbacks_change_nothing(bot: Bot, clock: SettableClock) -> None:
    user = "oRel_0007"
    await guardian(bot, user)
    await up_to_agreement(bot, user, ELDER)
    link = link_in(await bot.say(user, "同意协议并认证"))
    token = parse_qs(urlsplit(link).query)["t"][0]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = await bot.client.post("/face/callback", json={"t": forged, "result": "pass"})
    assert response.status == 403 and (await response.json())["error"] == "forged"
    clock.advance(11 * 60)
    assert await callback(bot, link, "pass") == 403
    assert (await bot.client.get(f"/face?t={token}")).status == 403
    assert sent_to(bot, user) == []
    assert "正在等待人脸识别认证结果" in await bot.say(user, "好了")
    assert await bot.services.relatives.guardians(ELDER) == 0


async def test_the_relatives_code_is_a_different_card(bot: Bot) -> None:
    user = "oRel_0008"
    await guardian(bot, user)
    await bind(bot, user, ELDER)
    own = await bot.push(bot.sim.text(user, "防疫健康信息码"))
    theirs = await bot.push(bot.sim.text(user, "查看亲属码 1"))
    own_png = Image.open(io.BytesIO(bot.standin.media[own["Image"]["MediaId"]]))
    their_png = Image.open(io.BytesIO(bot.standin.media[theirs["Image"]["MediaId"]]))
    assert their_png.height == own_png.height + 40  # the 「父亲 · 由 张*三 代领」 line
    index = bot.services.relatives.index(ELDER)
    await bot.services.status.change(index, "red", "manual", "operator", "operator:test")
    red = await bot.push(bot.sim.text(user, "查看亲属码 1"))
    assert Image.open(io.BytesIO(bot.standin.media[red["Image"]["MediaId"]])).convert("RGB").getpixel((5, 5)) == \
        INKS["red"]
    assert "没有这个编号的亲属" in await bot.say(user, "查看亲属码 5")


async def test_offline_code_verifies_expires_and_survives_key_rotation(make_bot: BotFactory, bot: Bot,
                                                                       clock: SettableClock, prefix: str,
                                                                       tmp_path: Path) -> None:
    user = "oRel_0009"
    clock.set(datetime.now(SHANGHAI).replace(microsecond=0))  # `healthbot verify` checks against real time
    issued_at = clock.time()
    await guardian(bot, user)
    await bind(bot, user, ELDER)
    reply = await bot.push(bot.sim.text(user, "下载离线码 1"))
    png = bot.standin.media[reply["Image"]["MediaId"]]
    image = Image.open(io.BytesIO(png))
    assert image.size == (1240, 1748)
    url = zxingcpp.read_barcodes(image)[0].text
    for secret in (ELDER, RELATIVE_NAME, "002X"):
        assert secret not in url
    token = parse_qs(urlsplit(url).query)["t"][0]

    async def check(app: Bot, t: str) -> tuple[int, dict[str, str]]:
        response = await app.client.get("/verify", params={"t": t, "format": "json"})
        assert response.headers["Cache-Control"] == "no-store"  # it carries a colour, as the page does
        return response.status, await response.json()

    status, verdict = await check(bot, token)
    assert status == 200 and verdict == {"state": "valid", "name": "王*明", "colour_at_issue": "green",
                                         "issued": to_second(issued_at),
                                         "expires": to_minute(issued_at + 7 * 86400),
                                         "current_colour": "green", "outcome": "green", "exit_status": 0,
                                         "facts": ["采样距今：无记录", "疫苗接种：无记录", "行程卡：无记录"]}
    image.save(tmp_path / "offline.png")
    done = await healthbot("verify", "--config", str(config_for(bot, tmp_path)), str(tmp_path / "offline.png"))
    assert done.returncode == 0 and "VALID" in done.stdout and "王*明" in done.stdout
    assert "current colour: green" in done.stdout
    assert (await check(bot, token[:-3] + "abc"))[0] == 403

    settings = bot.services.settings
    old = settings.security.signing_keys
    rotated = await make_bot(clock=clock, security={
        "index_key": settings.security.index_key, "data_key": settings.security.data_key,
        "signing_keys": f"k2:{new_key()},{old}", "active_key_id": "k2"})
    assert (await check(rotated, token))[1]["state"] == "valid"  # k1 is retired but still listed
    dropped = await make_bot(clock=clock, security={
        "index_key": settings.security.index_key, "data_key": settings.security.data_key,
        "signing_keys": f"k2:{new_key()}", "active_key_id": "k2"})
    assert (await check(dropped, token))[1]["state"] == "forged"  # once unlisted, k1's codes stop verifying
    clock.advance(7 * 86400 + 60)
    status, verdict = await check(rotated, token)
    assert status == 410 and verdict["state"] == "expired"
    audit = await healthbot("admin", "audit", "--config", str(config_for(bot, tmp_path)))
    assert [line.split()[2] for line in audit.stdout.splitlines()] == ["bind", "offline"]
    await assert_nothing_plain(bot.services.redis, prefix, [ELDER, RELATIVE_NAME])


async def test_deregistering_removes_the_bindings(bot: Bot) -> None:
    user = "oRel_0010"
    await guardian(bot, user)
    await bind(bot, user, ELDER)
    await claim_until(bot, user, ["注销健康码", "确认注销"])
    assert await bot.services.relatives.guardians(ELDER) == 0
    assert await bot.services.relatives.list(user) == []


async def test_an_http_face_provider_gets_the_token_and_posts_the_result(make_bot: BotFactory,
                                                                         clock: SettableClock) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    sessions: list[dict[str, str]] = []

    async def start(request: web.Request) -> web.Response:
        sessions.append(await request.json())
        return web.json_response({"url": f"https://face.provider.example/s/{len(sessions)}"})

    provider = web.Application()
    provider.router.add_post("/sessions", start)
    server = TestServer(provider)
    await server.start_server()
    try:
        bot = await make_bot(clock=clock, face={"url": str(server.make_url("/sessions"))})
        user = "oRel_0011"
        await guardian(bot, user)
        await up_to_agreement(bot, user, ELDER)
        reply = await bot.say(user, "同意协议并认证")
        assert "https://face.provider.example/s/1" in reply and "/face?t=" not in reply
        assert sessions[0]["callback_url"].endswith("/face/callback")
        response = await bot.client.post("/face/callback", json={"t": sessions[0]["token"], "result": "pass"})
        assert response.status == 200
        await bot.dispatcher.drain()
        assert "信息认证承诺" in sent_to(bot, user)[-1]
        assert await bot.say(user, "确认承诺") == "[image]"
    finally:
        await server.close()


async def test_a_face_result_that_meets_a_busy_turn_can_be_sent_again(bot: Bot) -> None:
    user = "oRel_0012"
    await guardian(bot, user)
    await up_to_agreement(bot, user, ELDER)
    link = link_in(await bot.say(user, "同意协议并认证"))
    # Another message of the user's holds the lock past the 4 s deadline (a short one is simply waited for).
    await bot.services.redis.set(bot.services.keys.lock(user), "another-turn", px=10_000)
    assert await callback(bot, link, "pass") == 503
    await bot.services.redis.delete(bot.services.keys.lock(user))
    assert await callback(bot, link, "pass") == 200  # the same link works once the turn is free
    assert "信息认证承诺" in sent_to(bot, user)[-1]
