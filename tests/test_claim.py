"""Claiming one's own code through the webhook: the dialog, its validation, and the image it ends with."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
import zxingcpp
from PIL import Image

from bot.domain.colours import INKS
from tests.conftest import Bot, BotFactory
from tests.journeys import (
    ID,
    NAME,
    PHONE,
    assert_nothing_plain,
    claim_until,
    full_claim,
    prove_phone,
)


def decode(png: bytes) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


async def test_claim_dialog_ends_with_the_code_image(bot: Bot) -> None:
    user = "oClaim_0001"
    prompts = await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, ID, PHONE])
    assert "回复「同意」" in prompts[0]
    assert prompts[1].startswith("请输入您的真实姓名")
    assert "身份证号码" in prompts[2]
    assert "手机号码" in prompts[3]
    assert prompts[4].startswith("验证码已发送至 138****1234")  # the phone is proved: a code goes to it
    assert [m["phone"] for m in bot.standin.sms] == [PHONE]
    assert "确认" not in await bot.say(user, "确认")  # no code, no claim: the step asks for the code again
    summary = await prove_phone(bot, user)
    assert "张*三" in summary and "110***********002X" in summary and "138****1234" in summary
    assert ID not in summary and PHONE not in summary
    reply = await bot.push(bot.sim.text(user, "确认"))
    assert reply["MsgType"] == "image"
    png = bot.standin.media[reply["Image"]["MediaId"]]
    payloads = decode(png)
    assert len(payloads) == 1 and "/c/" in payloads[0]
    for secret in (ID, PHONE, NAME, "002X", "1234"):
        assert secret not in payloads[0]
    again = await bot.push(bot.sim.text(user, "我的健康码"))
    assert again["MsgType"] == "image"


async def test_a_second_view_resends_the_cached_image_without_a_new_upload(bot: Bot) -> None:
    first = await full_claim(bot, "oClaim_0030")
    uploads = len(bot.standin.media)
    again = await bot.push(bot.sim.text("oClaim_0030", "防疫健康信息码"))
    assert again["Image"]["MediaId"] == first["Image"]["MediaId"]
    assert len(bot.standin.media) == uploads


async def test_wrong_id_gets_the_exact_seed_error_and_the_same_step(bot: Bot) -> None:
    user = "oClaim_0002"
    await claim_until(bot, user, ["健康码", "同意", NAME])
    for wrong in ("110105194912310021", "11010519491231002", "11010519491231002Y", "510107201002290007",
                  "110101199013010012", "110101209912310015", "990000200001010012"):
        assert await bot.say(user, wrong) == "请输入正确的身份证", wrong
    assert "手机号码" in await bot.say(user, "1101051949123100２x")  # full-width digit and lower-case x


async def test_digits_of_other_scripts_get_the_seed_errors_not_a_crash(bot: Bot) -> None:
    # str.isdigit and re's \d take more than 0-9: "፩" has no int() value, and Arabic-Indic digits would index
    # a phone number apart from the same number typed in 0-9, escaping its SMS limits.
    user = "oClaim_0031"
    await claim_until(bot, user, ["健康码", "同意", NAME, ID])
    assert "1 开头的 11 位数字" in await bot.say(user, "13٨٠٠٠٠١٢٣٤")
    assert "验证码已发送" in await bot.say(user, PHONE)
    assert "张*三" in await prove_phone(bot, user)
    hmt = "oClaim_0032"
    await claim_until(bot, hmt, ["港澳台", "同意"])
    assert "序号" in await bot.say(hmt, "፩")
    assert "台湾居民来往大陆通行证号码" in await bot.say(hmt, "2")
    assert "请输入正确的" in await bot.say(hmt, "١٢٣٤٥٦٧٨")


async def test_hmt_numbers_in_the_mainland_dialog_are_pointed_to_the_other_entry(bot: Bot) -> None:
    user = "oClaim_0003"
    await claim_until(bot, user, ["健康码", "同意", NAME])
    for number in ("810000199408230021", "830000199201300022", "H12345678"):
        assert "港澳台入境人员申领入口" in await bot.say(user, number)


async def test_other_wrong_answers_name_what_is_expected(bot: Bot) -> None:
    user = "oClaim_0004"
    assert "回复「同意」" in (await claim_until(bot, user, ["健康码", "好的"]))[1]
    await bot.say(user, "同意")
    assert "2 至 40 个汉字" in await bot.say(user, "1")
    await claim_until(bot, user, [NAME, ID])
    assert "1 开头的 11 位数字" in await bot.say(user, "12345")


async def test_back_and_cancel_at_any_step(bot: Bot) -> None:
    user = "oClaim_0005"
    await claim_until(bot, user, ["健康码", "同意", NAME])
    assert await bot.say(user, "返回") == "请输入您的真实姓名（与证件一致）："
    assert "身份证" in await bot.say(user, "李四")
    await claim_until(bot, user, [ID, PHONE])
    summary = await prove_phone(bot, user)
    assert "李*" in summary
    assert "手机号码" in await bot.say(user, "返回")  # the proved phone's code step is passed over
    assert "已取消" in await bot.say(user, "取消")
    assert not await bot.services.redis.exists(bot.services.keys.dialog(user))
    assert "未找到与" in await bot.say(user, ID)  # out of the dialog, the number is just text


async def test_a_dialog_that_expires_says_so_and_how_to_restart(make_bot: BotFactory) -> None:
    bot = await make_bot(dialog={"ttl": 1})
    user = "oClaim_0006"
    await claim_until(bot, user, ["健康码", "同意"])
    await asyncio.sleep(1.3)
    reply = await bot.say(user, NAME)
    assert "已超时" in reply and "「防疫健康信息码」" in reply
    assert "未找到与" in await bot.say(user, NAME)  # the notice is given once


async def test_dialog_state_survives_an_app_restart(make_bot: BotFactory, bot: Bot) -> None:
    user = "oClaim_0007"
    await claim_until(bot, user, ["健康码", "同意", NAME])
    await bot.client.close()
    restarted = await make_bot(settings=bot.services.settings)
    assert "手机号码" in await restarted.say(user, ID)


async def test_no_plain_id_phone_or_name_at_rest_or_in_logs(bot: Bot, prefix: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user = "oClaim_0008"
    await claim_until(bot, user, ["健康码", "同意", NAME, ID])  # mid-dialog: state holds the ID
    redis = bot.services.redis
    await assert_nothing_plain(redis, prefix, [ID, NAME])
    await bot.say(user, PHONE)
    await prove_phone(bot, user)
    await bot.say(user, "确认")
    await assert_nothing_plain(redis, prefix, [ID, PHONE, NAME])
    assert await redis.exists(bot.services.keys.profile(user))
    assert caplog.records
    for record in caplog.records:
        for secret in (ID, PHONE, NAME):
            assert secret not in record.getMessage()


async def test_operator_colour_shows_on_the_next_image(bot: Bot) -> None:
    user = "oClaim_0009"
    first = await full_claim(bot, user)
    index = bot.services.codes.profiles.doc_index("resident_id", ID)
    await bot.services.status.change(index, "red", "manual", "operator", "operator:test")
    reply = await bot.push(bot.sim.text(user, "防疫健康信息码"))
    assert reply["Image"]["MediaId"] != first["Image"]["MediaId"]
    image = Image.open(io.BytesIO(bot.standin.media[reply["Image"]["MediaId"]])).convert("RGB")
    assert image.getpixel((5, 5)) == INKS["red"]  # the red title bar


async def test_hmt_entry_passport_with_nationality(bot: Bot) -> None:
    user = "oClaim_0010"
    prompts = await claim_until(bot, user, ["港澳台", "同意"])
    assert "5. 护照" in prompts[1]
    assert "序号" in await bot.say(user, "9")
    assert "护照号码" in await bot.say(user, "5")
    assert "请输入正确的护照号码" in await bot.say(user, "AB")
    assert "国籍" in await bot.say(user, "E12345678")
    assert "真实姓名" in await bot.say(user, "新加坡")
    await claim_until(bot, user, ["Tan Ah Kow", PHONE])
    summary = await prove_phone(bot, user)
    assert "护照：E1*****78" in summary and "国籍：新加坡" in summary
    assert (await bot.push(bot.sim.text(user, "确认")))["MsgType"] == "image"


@pytest.mark.parametrize(("choice", "good", "bad"), [
    ("1", "H1234567800", "X12345678"),
    ("2", "12345678", "1234567"),
    ("3", "810000199408230021", "810000199408230022"),
    ("4", "KAZ110090123105", "KAZ110090123104"),
    ("4", "911398199012310021", "911398199012310022"),
])
async def test_each_document_type_has_its_own_rule(bot: Bot, choice: str, good: str, bad: str) -> None:
    user = f"oClaim_doc_{choice}_{good[:4]}"
    await claim_until(bot, user, ["港澳台", "同意", choice])
    assert "请输入正确的" in await bot.say(user, bad)
    assert "真实姓名" in await bot.say(user, good)


async def test_deregister_deletes_the_code_after_confirmation(bot: Bot) -> None:
    user = "oClaim_0011"
    await full_claim(bot, user)
    assert "确认注销" in await bot.say(user, "注销健康码")
    assert await bot.services.redis.exists(bot.services.keys.profile(user))
    assert "已注销" in await bot.say(user, "确认注销")
    assert not await bot.services.redis.exists(bot.services.keys.profile(user))
    assert "回复「同意」" in await bot.say(user, "防疫健康信息码")


async def test_every_menu_key_reaches_its_service(bot: Bot) -> None:
    expected = {"EPIDEMIC": "回复以下关键词", "TRAVEL_CARD": "通信大数据行程卡", "TEST_RESULTS": "需要先领取本人",
                "FAQ": "【常见问题】", "RELATIVES": "请先回复「防疫健康信息码」",
                "OFFLINE_CODE": "请先回复「防疫健康信息码」", "HMT_ENTRY": "港澳台", "HEALTH_CODE": "回复「同意」"}
    for key, words in expected.items():
        user = f"oMenu_{key.lower()}"
        assert words in await bot.click(user, key), key


async def test_two_workers_share_one_users_dialog_and_retries(make_bot: BotFactory, bot: Bot) -> None:
    other = await make_bot(settings=bot.services.settings)  # a second process on the same Redis
    user = "oClaim_0012"
    workers = [bot, other]
    for i, text in enumerate(["防疫健康信息码", "同意", NAME, ID, PHONE]):
        await workers[i % 2].say(user, text)
    await prove_phone(other, user)
    push = bot.sim.text(user, "确认")
    replies = await asyncio.gather(bot.push(push), other.push(push), bot.push(push))
    assert {r["Image"]["MediaId"] for r in replies} == {replies[0]["Image"]["MediaId"]}
    runs = [w.services.metrics.value("healthbot_handler_runs_total") for w in workers]
    assert sum(runs) == 7
