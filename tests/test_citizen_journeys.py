"""What citizens hit when they used every service, through the webhook, grouped by the journey each protects."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.admin.notify import notify_results
from bot.devkit.standin import Fault
from bot.domain.clock import SHANGHAI, SettableClock
from bot.domain.documents import check_char
from storage.results import TestResult
from storage.travel import Visit
from tests.conftest import Bot, BotFactory, Upstream
from tests.helpers import config_for, healthbot
from tests.journeys import ID, NAME, PHONE, adult, claim_until, full_claim, last_code, prove_phone, sent_to

OTHER_PHONE = "13712342222"


def child(n: int) -> str:
    """A checksum-valid ID of a child born 2022-03-01 (4 years old now, under 7 until 2029: no face check)."""
    first17 = f"11010120220301{n:03d}"
    return first17 + check_char(first17)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime.now(SHANGHAI).replace(microsecond=0))  # the CLI imports on real time


@pytest.fixture
async def bot(make_bot: BotFactory, clock: SettableClock) -> Bot:
    return await make_bot(clock=clock, limits={"messages_burst": 1000, "messages_per_minute": 1000})


async def bind_child(bot: Bot, user: str, n: int, name: str) -> None:
    steps = ["添加亲属", name, child(n), "7", "确认绑定", "同意协议并认证", "确认承诺"]
    assert (await claim_until(bot, user, steps[:-1]))[-1].startswith("【信息认证承诺】")
    assert (await bot.push(bot.sim.text(user, steps[-1])))["MsgType"] == "image"


async def visit(bot: Bot, phone: str, city: str) -> None:
    services = bot.services
    async with services.redis.pipeline(transaction=False) as pipe:
        services.travel.registry.queue_visit(pipe, services.vault.index("phone", phone),
                                             Visit(city, services.clock.time() - 86400, False))
        await pipe.execute()


def height(bot: Bot, reply: dict[str, object]) -> int:
    return Image.open(io.BytesIO(bot.standin.media[reply["Image"]["MediaId"]])).height  # type: ignore[index]


# Claiming, and the Hong Kong, Macao and Taiwan entry ---------------------------------------------------------------

async def test_hong_kong_macao_and_taiwan_phones_are_accepted_in_the_hmt_entry(bot: Bot) -> None:
    user = "oCitizen_0601"
    prompts = await claim_until(bot, user, ["港澳台", "同意", "1", "H1234567800", "陈大文"])
    assert "+852" in prompts[-1] and "行程卡只能查询中国大陆手机号" in prompts[-1]
    sent = await bot.say(user, "+852 9123 4567")
    assert "验证码已发送至 +852 *****567" in sent and "91234567" not in sent
    assert bot.standin.sms[-1]["phone"] == "+85291234567"  # the code goes to the Hong Kong number
    summary = await prove_phone(bot, user, "")
    assert "+852 *****567" in summary and "91234567" not in summary
    assert (await bot.push(bot.sim.text(user, "确认")))["MsgType"] == "image"
    assert "只能查询中国大陆手机号" in (await claim_until(bot, user, ["行程码", "1"]))[-1]
    other = "oCitizen_0602"
    await claim_until(bot, other, ["港澳台", "同意", "2", "12345678", "林小美"])
    taiwan = await bot.say(other, "+886 0912 345 678")
    assert "+886 ******678" in taiwan and "912345678" not in taiwan


async def test_latin_names_are_masked_word_by_word(bot: Bot) -> None:
    user = "oCitizen_1201"
    await claim_until(bot, user, ["港澳台", "同意", "5", "E12345678", "英国", "John Smith", PHONE])
    summary = await prove_phone(bot, user)
    assert "J**n S***h" in summary and "John" not in summary and "Smith" not in summary


def test_lines_break_by_the_chinese_rules(bot: Bot) -> None:
    renderer, templates = bot.services.renderer, bot.services.templates
    guidance = templates.render("code/guidance_green.txt", whose="")
    closing = "一二三四五六七八九十一二三四五六七八九十一二。三"  # the break falls on 。
    opening = "一二三四五六七八九十一二三四五六七八九十一二（三）"  # the break falls after （
    for text in (guidance, closing, opening):
        lines = renderer.wrap(text, 24)
        assert "".join(lines) == text
        assert not any(line[0] in "。，、；：？！）」』" for line in lines[1:]), lines
        assert not any(line[-1] in "（「『" for line in lines[:-1]), lines


# The travel card and its SMS codes ---------------------------------------------------------------------------------

async def test_the_combined_view_shows_only_the_claimed_phones_card(bot: Bot, clock: SettableClock) -> None:
    user = "oCitizen_0101"
    await visit(bot, OTHER_PHONE, "北京市")
    plain = height(bot, await full_claim(bot, user))
    refused = (await claim_until(bot, user, ["核验行程卡", OTHER_PHONE]))[-1]
    assert "二码合一只能核验您申领健康码时登记的手机号 138****1234" in refused
    await bot.say(user, "取消")
    clock.advance(61)  # a minute after the claim's own code
    await claim_until(bot, user, ["行程码", OTHER_PHONE, "同意并授权"])
    card = await bot.push(bot.sim.text(user, last_code(bot, OTHER_PHONE)))
    assert card["MsgType"] == "image"  # another phone's card is still shown, alone
    again = await bot.push(bot.sim.text(user, "防疫健康信息码"))
    assert height(bot, again) == plain  # and never beside the health code


async def test_a_strangers_request_neither_voids_nor_blocks_your_code(bot: Bot, clock: SettableClock) -> None:
    owner, stranger = "oCitizen_0401", "oCitizen_0402"
    await visit(bot, OTHER_PHONE, "北京市")
    await claim_until(bot, owner, ["行程码", OTHER_PHONE, "同意并授权"])
    code = last_code(bot, OTHER_PHONE)
    clock.advance(61)
    assert "验证码已发送" in (await claim_until(bot, stranger, ["行程码", OTHER_PHONE, "同意并授权"]))[-1]
    reply = await bot.push(bot.sim.text(owner, code))
    assert reply["MsgType"] == "image"  # the owner's code still works


async def test_bombing_a_phone_is_capped_across_accounts(bot: Bot) -> None:
    replies = [(await claim_until(bot, f"oCitizen_04{n:02d}", ["行程码", OTHER_PHONE, "同意并授权"]))[-1]
               for n in range(10, 21)]
    assert all("验证码已发送" in r for r in replies[:10])
    assert "该手机号近1 小时内收到的验证码已达上限" in replies[10]
    assert len([m for m in bot.standin.sms if m["phone"] == OTHER_PHONE]) == 10


async def test_strangers_cannot_use_up_the_owners_allowance(bot: Bot, clock: SettableClock) -> None:
    """Ten strangers asking for a number fill its hour's cap; the account that claimed its code with that number
    still gets a code, on its own account's limits."""
    owner = "oCitizen_0441"
    await full_claim(bot, owner)  # claimed with PHONE
    clock.advance(25 * 3600)  # the claim's proof has aged: the travel card asks for a code again
    for n in range(30, 40):
        assert "验证码已发送" in (await claim_until(bot, f"oCitizen_04{n:02d}", ["行程码", PHONE, "同意并授权"]))[-1]
    assert "已达上限" in (await claim_until(bot, "oCitizen_0440", ["行程码", PHONE, "同意并授权"]))[-1]
    assert "验证码已发送" in (await claim_until(bot, owner, ["行程码", "1", "同意并授权"]))[-1]
    assert len([m for m in bot.standin.sms if m["phone"] == PHONE]) == 12


async def test_concurrent_requests_for_one_phone_each_get_the_true_answer(bot: Bot) -> None:
    """Twenty accounts at once: each is sent a code or told which limit and when to retry; none is told that
    the SMS service is down, and the phone's cap holds."""
    users = [f"oCitizen_05{n:02d}" for n in range(20)]
    await asyncio.gather(*(claim_until(bot, user, ["行程码", OTHER_PHONE]) for user in users))
    replies = await asyncio.gather(*(bot.say(user, "同意并授权") for user in users))
    assert replies and not [r for r in replies if "短信服务暂时不可用" in r]
    assert all("验证码已发送" in r or ("已达上限" in r and "后回复「重新发送」" in r) for r in replies), replies
    assert len([m for m in bot.standin.sms if m["phone"] == OTHER_PHONE]) == 10


# Relatives: numbers, bare commands, names in texts -----------------------------------------------------------------

async def test_a_relatives_number_stays_put_after_an_unbind(bot: Bot, clock: SettableClock) -> None:
    user = "oCitizen_0201"
    await full_claim(bot, user)
    for n, name in ((1, "李大宝"), (2, "李二宝"), (3, "李三宝")):
        await bind_child(bot, user, n, name)
    services = bot.services
    second = services.relatives.index(child(2))
    async with services.redis.pipeline(transaction=False) as pipe:
        result = TestResult("阴性", clock.time() - 3600, clock.time(), "妇幼保健院")
        services.results.registry.queue_add(pipe, second, result)
        await pipe.execute()
    await notify_results(services, {second})
    notice = sent_to(bot, user)[-1]
    assert "李*宝" in notice and "「核酸 2」" in notice
    clock.advance(25 * 3600)
    await claim_until(bot, user, ["解绑 1", "确认解绑"])
    answer = await bot.say(user, "核酸 2")  # the old notice, answered after the unbind
    assert "李*宝的核酸检测结果" in answer and "妇幼保健院" in answer
    page = await bot.say(user, "亲属码")
    assert "2. 李*宝" in page and "3. 李*宝" in page and "1. " not in page.split("【亲属码】", 1)[1].split("\n", 1)[1]


async def test_bare_commands_act_on_the_only_relative_or_ask_which(bot: Bot) -> None:
    user = "oCitizen_0701"
    await full_claim(bot, user)
    await bind_child(bot, user, 71, "赵小宝")
    assert (await bot.push(bot.sim.text(user, "查看亲属码")))["MsgType"] == "image"
    assert (await bot.push(bot.sim.text(user, "下载离线码")))["MsgType"] == "image"
    assert "赵*宝" in await bot.say(user, "解绑")  # too early, but about the only relative, named
    await bind_child(bot, user, 72, "钱小宝")
    which = await bot.say(user, "查看亲属码")
    assert "您绑定了 2 位亲属，请回复「查看亲属码 编号」" in which and "1. 赵*宝" in which and "2. 钱*宝" in which
    assert "请回复「下载离线码 编号」" in await bot.say(user, "下载离线码")
    assert await bot.say(user, "取消") == "当前没有正在办理的事项。回复「帮助」查看全部服务。"


async def test_a_relatives_texts_name_the_relative(bot: Bot, make_bot: BotFactory, clock: SettableClock,
                                                     upstream: tuple[Upstream, str]) -> None:
    user = "oCitizen_0901"
    await full_claim(bot, user)
    await bind_child(bot, user, 91, "孙小宝")
    clock.advance(bot.services.settings.render.image_cache_seconds + 1)  # a new image, whose upload fails
    bot.standin.faults["media/upload"].append(Fault(errcode=45009))
    fallback = await bot.say(user, "查看亲属码 1")
    assert "孙*宝 的当前码色为：绿码" in fallback and "您当前" not in fallback
    state, url = upstream
    state.answer = {"colour": "green"}
    remote = await make_bot(clock=clock, status={"url": url, "cache_seconds": 0})
    await full_claim(remote, "oCitizen_0902")
    await bind_child(remote, "oCitizen_0902", 92, "周小宝")
    state.status = 503
    unconfirmed = await remote.say("oCitizen_0902", "查看亲属码 1")
    assert "暂时无法确认 周*宝 的健康码状态" in unconfirmed and "您的" not in unconfirmed


async def test_the_still_usable_note_only_when_a_code_is_still_usable(bot: Bot, clock: SettableClock) -> None:
    user = "oCitizen_1001"
    await visit(bot, OTHER_PHONE, "北京市")
    assert "验证码已发送至 137****2222" in (await claim_until(bot, user, ["行程码", OTHER_PHONE, "同意并授权"]))[-1]
    refusal = await bot.say(user, "重新发送")
    assert "发送过于频繁" in refusal and "已发送至 137****2222 的验证码仍可使用" in refusal
    assert (await bot.push(bot.sim.text(user, last_code(bot, OTHER_PHONE))))["MsgType"] == "image"  # used
    refusal = (await claim_until(bot, user, ["行程码", OTHER_PHONE, "同意并授权"]))[-1]
    assert "发送过于频繁" in refusal and "仍可使用" not in refusal
    refusal = (await claim_until(bot, user, ["取消", "行程码", "13912340000", "同意并授权"]))[-1]
    assert "发送过于频繁" in refusal and "仍可使用" not in refusal  # the last code went to another phone


# Deregistering -----------------------------------------------------------------------------------------------------

async def test_deregistering_keeps_a_young_bindings_place_taken_until_24_hours(bot: Bot,
                                                                                    clock: SettableClock) -> None:
    guardians = [f"oCitizen_03{n:02d}" for n in range(4)]
    for n, user in enumerate(guardians):
        await full_claim(bot, user, adult(n))
    for user in guardians[:3]:
        await bind_child(bot, user, 31, "王小宝")
    clock.advance(24 * 3600 - 1)  # the bindings are a second short of 24 hours
    assert "将同时解除您绑定的 1 位亲属" in await bot.say(guardians[2], "注销健康码")
    await bot.say(guardians[2], "确认注销")
    key = bot.services.keys.guardians(bot.services.relatives.index(child(31)))
    fields = [f.decode() for f in await bot.services.redis.hkeys(key)]
    assert guardians[2] not in fields and len([f for f in fields if f.startswith("held:")]) == 1  # no openid kept
    refused = (await claim_until(bot, guardians[3], ["添加亲属", "王小宝", child(31)]))[-1]
    assert "已被 3 位用户绑定" in refused and "请输入亲属的 18 位居民身份证号码" not in refused  # at the ID step
    await bot.say(guardians[3], "取消")
    await asyncio.sleep(4)  # held on Redis's clock (whole seconds) until the 24 hours are up, then deleted
    await bind_child(bot, guardians[3], 31, "王小宝")
    assert not [f for f in await bot.services.redis.hkeys(key) if f.startswith(b"held:")]


async def test_deregistering_does_not_reset_the_message_limit(make_bot: BotFactory, clock: SettableClock) -> None:
    bot = await make_bot(clock=clock, limits={"messages_burst": 16, "messages_per_minute": 1})
    user = "oCitizen_0310"
    await full_claim(bot, user)  # 6 messages
    await claim_until(bot, user, ["注销健康码", "确认注销"])  # 8
    replies = await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, ID, PHONE, "确认", "取消", "帮助", "帮助"])
    assert replies[:8] != ["您发送得太快了，请稍等片刻再发。"] * 8 and replies[-1] == "您发送得太快了，请稍等片刻再发。"


async def test_deregistering_does_not_reset_the_sms_history(bot: Bot, clock: SettableClock) -> None:
    user = "oCitizen_0311"
    await full_claim(bot, user)
    clock.advance(61)
    assert "验证码已发送" in (await claim_until(bot, user, ["行程码", OTHER_PHONE, "同意并授权"]))[-1]
    await claim_until(bot, user, ["取消", "注销健康码", "确认注销"])
    # Claiming again, with another phone: only this account's own history can refuse the code.
    again = await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, ID, "13912340001"])
    assert "验证码发送过于频繁" in again[-1]


# Dialogs, voice and the FAQ ----------------------------------------------------------------------------------------

async def test_a_service_keyword_that_is_no_answer_leaves_the_dialog_for_that_service(bot: Bot) -> None:
    user = "oCitizen_0501"
    reply = (await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, "港澳台"]))[-1]
    assert "已退出「申领健康码」" in reply and "【港澳台入境人员申领入口 · 个人信息使用说明】" in reply
    consent = (await claim_until(bot, user, ["取消", "防疫健康信息码", "注销健康码"]))[-1]
    assert "已退出「申领健康码」" in consent and "没有" in consent  # nothing to deregister yet, but it ran
    await full_claim(bot, "oCitizen_0502")
    binding = (await claim_until(bot, "oCitizen_0502", ["添加亲属", "王小宝", "亲属码"]))[-1]
    assert "已退出「绑定亲属」" in binding and "【亲属码】" in binding


async def test_a_keyword_that_is_a_valid_answer_stays_an_answer(bot: Bot) -> None:
    user = "oCitizen_0503"
    replies = await claim_until(bot, user, ["防疫健康信息码", "同意", "家人"])  # 家人 is a name here
    assert "身份证号码" in replies[-1] and "已退出" not in replies[-1]
    assert "请输入" in await bot.say(user, "？")  # help words never take a citizen out of a dialog


async def test_voice_is_answered_like_text_when_recognised(bot: Bot) -> None:
    user = "oCitizen_0801"
    voice = bot.sim.xml(user, "voice", {"MediaId": "m1", "Format": "amr", "Recognition": "防疫健康信息码。",
                                        "MsgId": bot.sim.next_msg_id()})
    assert "如同意，请回复「同意」" in await bot.say_xml(voice)
    unheard = bot.sim.xml("oCitizen_0802", "voice", {"MediaId": "m2", "Format": "amr", "MsgId": bot.sim.next_msg_id()})
    assert "暂时只能处理文字消息，这段语音未能识别" in await bot.say_xml(unheard)


async def test_the_faq_says_where_relatives_codes_do_not_apply(bot: Bot) -> None:
    rules = await bot.say("oCitizen_1401", "亲属码规则")
    assert "「一场两站」" in rules and "亲属码现阶段不适用" in rules


# Nucleic-acid results ----------------------------------------------------------------------------------------------

async def test_a_positive_result_comes_with_guidance_and_the_policy_sets_the_colour(bot: Bot,
                                                                                      tmp_path: Path) -> None:
    user = "oCitizen_1101"
    await full_claim(bot, user)
    now = datetime.now(SHANGHAI)
    rows = f"resident_id,{ID},阳性,{(now - timedelta(hours=5)):%Y-%m-%d %H:%M},{now:%Y-%m-%d %H:%M},市疾控中心\n"
    csv_file = tmp_path / "results.csv"
    csv_file.write_text("doc_type,doc_no,result,sampled_at,reported_at,institution\n" + rows, encoding="utf-8")
    config = config_for(bot, tmp_path)
    done = await healthbot("admin", "results", "import", "--config", str(config), str(csv_file))
    assert done.returncode == 0 and "set 0" not in done.stdout
    shown = await bot.say(user, "核酸")
    assert "1. 阳性" in shown and "【重要提示】检测结果为阳性" in shown
    index = bot.services.codes.profiles.doc_index("resident_id", ID)
    assert (await bot.services.status.registry.get(index, time.time())).colour == "green"  # off by default
    config.write_text(config.read_text("utf-8") + "\n[results]\npositive_sets_colour = \"red\"\n", "utf-8")
    done = await healthbot("admin", "results", "import", "--config", str(config), str(csv_file))
    assert "set 1 codes red for positive results" in done.stdout
    assert (await bot.services.status.registry.get(index, time.time())).colour == "red"
    audit = await healthbot("admin", "audit", "--config", str(config))
    assert "colour" in audit.stdout and "user results:results.csv" in audit.stdout
    assert "reason: green -> red, reason positive, via rule" in audit.stdout
    assert "核酸检测阳性" in await bot.say(user, "赋码记录")
