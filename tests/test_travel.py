"""行程码 and 二码合一 through the webhook: the SMS rules with a set clock, the card, the combined view."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from bot.domain.clock import SHANGHAI, SettableClock
from bot.wechat.inbound import parse_inbound
from tests.conftest import Bot, BotFactory
from tests.helpers import config_for, healthbot
from tests.journeys import (
    PHONE,
    claim_until,
    full_claim,
    last_code,
)

OTHER_PHONE = "13912345678"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime.now(SHANGHAI).replace(microsecond=0))  # the CLI imports on real time


@pytest.fixture
async def bot(make_bot: BotFactory, clock: SettableClock) -> Bot:
    return await make_bot(clock=clock)


def day(days_ago: float) -> str:
    return (datetime.now(SHANGHAI) - timedelta(days=days_ago)).strftime("%Y-%m-%d %H:%M")


async def import_travel(bot: Bot, tmp_path: Path) -> str:
    csv_file = tmp_path / "travel.csv"
    csv_file.write_text(
        "phone,city,date,overseas,colour\n"
        f"{PHONE},浙江省杭州市,{day(2)},0,\n"
        f"{PHONE},北京市,{day(5)},0,\n"
        f"{PHONE},重庆市,{day(1)},0,\n"
        f"{PHONE},四川省成都市,{day(20)},0,\n"
        f"12345,上海市,{day(1)},0,\n"
        f"{OTHER_PHONE},新加坡,{day(3)},1,\n", encoding="utf-8")
    config = str(config_for(bot, tmp_path))
    done = await healthbot("admin", "travel", "import", "--config", config, str(csv_file))
    assert done.returncode == 0, done.stderr
    risk = await healthbot("admin", "risk-cities", "set", "--config", config, "浙江省杭州市", "重庆市")
    assert risk.returncode == 0 and "2 cities" in risk.stdout
    return done.stdout + done.stderr


async def to_code_step(bot: Bot, user: str, phone: str = "1") -> str:
    return (await claim_until(bot, user, ["行程码", phone, "同意并授权"]))[-1]


async def test_travel_card_from_the_local_registry(bot: Bot, clock: SettableClock, tmp_path: Path) -> None:
    report = await import_travel(bot, tmp_path)
    assert "imported 4 travel records, 1 bad rows" in report and "1 older than 14 days skipped" in report
    assert "line 6: phone is not an 11-digit mobile number" in report
    user = "oTravel_0001"
    await full_claim(bot, user)
    clock.advance(25 * 3600)  # the claim's proof of the phone has aged past the window: a code again
    prompts = await claim_until(bot, user, ["行程码", "1"])
    assert "回复「1」使用您申领健康码时的手机号 138****1234" in prompts[0]
    assert "138****1234" in prompts[1] and "同意并授权" in prompts[1]
    assert "验证码已发送至 138****1234" in await bot.say(user, "同意并授权")
    code = last_code(bot, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    assert await bot.say(user, wrong) == "验证码错误，还可尝试 4 次。"
    reply = await bot.push(bot.sim.text(user, code))
    assert reply["MsgType"] == "image", reply
    card = await bot.services.travel.card(PHONE, bot.services.vault.index("phone", PHONE))
    assert card is not None and card.colour == "green"
    assert card.cities == (("北京市", False), ("浙江省杭州市", True), ("重庆市", True))
    image = Image.open(io.BytesIO(bot.standin.media[reply["Image"]["MediaId"]])).convert("RGB")
    assert image.getpixel((5, 5)) == (26, 173, 25)
    overseas = await bot.services.travel.card(OTHER_PHONE, bot.services.vault.index("phone", OTHER_PHONE))
    assert overseas is not None and overseas.colour == "yellow"


async def test_a_number_with_no_records_gets_the_polite_advice(bot: Bot) -> None:
    user = "oTravel_0002"
    await to_code_step(bot, user, OTHER_PHONE)
    assert "暂无行程数据" in await bot.say(user, last_code(bot, OTHER_PHONE))


async def test_resend_waits_60_seconds_and_says_until_when(bot: Bot, clock: SettableClock) -> None:
    user = "oTravel_0003"
    await to_code_step(bot, user, OTHER_PHONE)
    first = last_code(bot, OTHER_PHONE)
    clock.advance(30)
    refusal = await bot.say(user, "重新发送")
    until = (clock.now() + timedelta(seconds=30)).strftime("%H:%M:%S")
    assert f"请于 {until} 后回复「重新发送」" in refusal
    clock.advance(31)
    assert "验证码已发送" in await bot.say(user, "重新发送")
    assert len(bot.standin.sms) == 2
    if first != last_code(bot, OTHER_PHONE):
        assert "验证码错误" in await bot.say(user, first)  # the new code replaced it


async def test_five_codes_an_hour_and_ten_a_day(bot: Bot, clock: SettableClock) -> None:
    user = "oTravel_0004"
    await to_code_step(bot, user, OTHER_PHONE)
    for _ in range(4):
        clock.advance(61)
        assert "验证码已发送" in await bot.say(user, "重新发送")
    clock.advance(61)
    assert "1 小时内最多获取 5 次" in await bot.say(user, "重新发送")
    for _ in range(5):
        clock.advance(3600)
        assert "验证码已发送" in await bot.say(user, "重新发送")
    clock.advance(3600)
    refusal = await bot.say(user, "重新发送")
    assert "24 小时内最多获取 10 次" in refusal
    assert len([m for m in bot.standin.sms if m["phone"] == OTHER_PHONE]) == 10


async def test_the_limits_also_hold_per_user_across_phones(make_bot: BotFactory, clock: SettableClock) -> None:
    bot = await make_bot(clock=clock, limits={"messages_burst": 500})
    user = "oTravel_0005"
    for n in range(5):
        await to_code_step(bot, user, f"1370000000{n}")
        await bot.say(user, "取消")
        clock.advance(61)
    assert "1 小时内最多获取 5 次" in await to_code_step(bot, user, "13700000009")


async def test_five_wrong_tries_void_the_code_and_it_expires_after_five_minutes(bot: Bot,
                                                                                clock: SettableClock) -> None:
    user = "oTravel_0006"
    await to_code_step(bot, user, OTHER_PHONE)
    code = last_code(bot, OTHER_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        assert f"还可尝试 {left} 次" in await bot.say(user, wrong)
    assert "错误次数过多，已失效" in await bot.say(user, wrong)
    assert "已过期或已使用" in await bot.say(user, code)
    clock.advance(61)
    await bot.say(user, "重新发送")
    clock.advance(301)
    assert "已过期或已使用" in await bot.say(user, last_code(bot, OTHER_PHONE))


async def test_a_code_works_only_for_the_user_who_asked_for_it(bot: Bot) -> None:
    """A stranger asking for your phone's code gets one sent to your phone, not to them; it neither replaces
    nor voids yours, and your code is no use to them (docs/domain.md §4.4)."""
    await to_code_step(bot, "oTravel_0007", OTHER_PHONE)
    code = last_code(bot, OTHER_PHONE)
    assert "验证码已发送至 139****5678" in await to_code_step(bot, "oTravel_0008", OTHER_PHONE)
    assert len([m for m in bot.standin.sms if m["phone"] == OTHER_PHONE]) == 2  # both went to the phone's owner
    assert "验证码错误" in await bot.say("oTravel_0008", code)  # the owner's code is not the stranger's
    assert "暂无行程数据" in await bot.say("oTravel_0007", code)  # and it still works for the owner


async def test_combined_view_for_a_day_after_one_verification(bot: Bot, clock: SettableClock,
                                                              tmp_path: Path) -> None:
    await import_travel(bot, tmp_path)
    user = "oTravel_0009"
    plain = await full_claim(bot, user)
    plain_height = Image.open(io.BytesIO(bot.standin.media[plain["Image"]["MediaId"]])).height
    claim_sms = len(bot.standin.sms)
    await claim_until(bot, user, ["核验行程卡", "1"])
    # The claim proved the phone with a code: 「减少了用户多次接收行程卡验证码的麻烦」, no second one.
    combined = await bot.push(bot.sim.text(user, "同意并授权"))
    assert len(bot.standin.sms) == claim_sms
    page = Image.open(io.BytesIO(bot.standin.media[combined["Image"]["MediaId"]]))
    assert page.height > plain_height + 500
    assert "/c/" in zxingcpp.read_barcodes(page)[0].text
    sms_sent = len(bot.standin.sms)
    clock.advance(23 * 3600)
    again = await bot.push(bot.sim.text(user, "防疫健康信息码"))
    assert Image.open(io.BytesIO(bot.standin.media[again["Image"]["MediaId"]])).height > plain_height + 500
    assert len(bot.standin.sms) == sms_sent  # no new SMS code for the combined view
    clock.advance(2 * 3600)
    after = await bot.push(bot.sim.text(user, "防疫健康信息码"))
    assert Image.open(io.BytesIO(bot.standin.media[after["Image"]["MediaId"]])).height == plain_height
    assert after["Image"]["MediaId"] != plain["Image"]["MediaId"]  # it now carries the reminder to verify


async def test_the_sms_gateway_down_is_said_and_resend_works_later(bot: Bot) -> None:
    from bot.devkit.standin import Fault

    bot.standin.faults["sms"].append(Fault(status=503, times=3))
    user = "oTravel_0010"
    assert "短信服务暂时不可用" in await to_code_step(bot, user, OTHER_PHONE)


async def test_a_send_decided_after_a_later_one_gets_the_true_answer(bot: Bot) -> None:
    """Two accounts ask for one phone at once: the second to reach Redis may carry the earlier clock reading.
    It is sent, or told a real limit; never a refusal no template knows (which read 「短信服务暂时不可用」)."""
    sms, index = bot.services.sms, bot.services.vault.index("phone", OTHER_PHONE)
    later = await sms.issue(index, "oTravelRace_1", 1_000_000.6)
    earlier = await sms.issue(index, "oTravelRace_2", 1_000_000.5)
    assert (later.result, earlier.result) == ("sent", "sent")


async def test_a_retried_push_whose_first_attempt_sent_the_code_is_told_sent_not_too_frequent(bot: Bot) -> None:
    """A worker killed mid-turn: WeChat's retry runs the step again once the lease has passed. The first attempt
    had sent the code; the retry is told so, as the first would have been, and nothing is sent twice."""
    user = "oTravelRetry_1"
    await claim_until(bot, user, ["行程码", OTHER_PHONE])
    push = bot.sim.text(user, "同意并授权")
    index = bot.services.vault.index("phone", OTHER_PHONE)
    parsed = parse_inbound(push.encode())
    first = await bot.services.sms.issue(index, user, bot.services.clock.time(), send_id=parsed.dedup_id())
    assert first.result == "sent"  # the first attempt's send, as it stood when the worker died
    reply = await bot.say_xml(push)
    assert "验证码已发送" in reply and "过于频繁" not in reply
    assert [m for m in bot.standin.sms if m["phone"] == OTHER_PHONE] == []  # the retry sends none of its own
