"""What people hit when they used it, each fixed through the real webhook or the real CLI."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from PIL import Image

from bot.domain.clock import SettableClock
from bot.domain.documents import check_char
from bot.domain.render import has_glyph
from tests.conftest import Bot, BotFactory
from tests.helpers import config_for, healthbot
from tests.journeys import AGE_6, AGE_16, ELDER, PHONE, TODAY, bind, claim_until, full_claim, guardian, prove_phone
from tests.local_redis import start_redis


async def test_a_step_word_typed_at_the_name_step_is_not_taken_as_a_name(bot: Bot) -> None:
    user = "oTrial_0001"
    await claim_until(bot, user, ["防疫健康信息码", "同意"])
    for word in ("确认", "同意协议并认证", "重新发送"):
        assert "请输入正确的姓名" in await bot.say(user, word)
    assert "身份证" in await bot.say(user, "王 小明")  # the name step passed


async def test_a_chinese_name_with_a_space_is_one_name_and_masks_as_one(bot: Bot) -> None:
    user = "oTrial_0002"
    await claim_until(bot, user, ["防疫健康信息码", "同意", "王 小明", "11010519491231002X", PHONE])
    summary = await prove_phone(bot, user)
    assert "姓名：王*明" in summary and "王**明" not in summary


async def test_a_name_is_not_a_passport_number(bot: Bot) -> None:
    user = "oTrial_0003"
    await claim_until(bot, user, ["港澳台", "同意", "5"])
    assert "请输入正确的护照号码" in await bot.say(user, "John Smith")
    assert "国籍" in await bot.say(user, "E12345678")


async def test_cancelling_deregistration_says_nothing_was_changed(bot: Bot) -> None:
    user = "oTrial_0004"
    await full_claim(bot, user)
    await bot.say(user, "注销健康码")
    reply = await bot.say(user, "取消")
    assert "未做任何更改" in reply and "删除" not in reply
    assert await bot.say(user, "防疫健康信息码") == "[image]"


async def test_leaving_a_dialog_for_a_code_puts_the_notice_first(bot: Bot) -> None:
    user = "oTrial_0005"
    await full_claim(bot, user)
    await claim_until(bot, user, ["行程码"])
    reply = await bot.say(user, "防疫健康信息码")
    assert reply.startswith("（已退出「查询行程卡」")  # the passive reply: the notice
    await bot.dispatcher.drain()
    assert bot.standin.messages[-1]["touser"] == user and bot.standin.messages[-1]["msgtype"] == "image"


async def test_keygen_for_rotation_prints_only_a_signing_key_and_the_full_one_warns() -> None:
    rotation = await healthbot("keygen", "--signing-key")
    lines = [line for line in rotation.stdout.splitlines() if not line.startswith("#")]
    assert rotation.returncode == 0 and len(lines) == 1 and lines[0].startswith("k") and ":" in lines[0]
    assert "index_key" not in "\n".join(lines)
    full = await healthbot("keygen")
    assert "Never paste index_key or data_key over a running one" in full.stdout


async def test_venue_list_with_no_venues_says_so(bot: Bot, tmp_path: Path) -> None:
    listed = await healthbot("admin", "venue", "list", "--config", str(config_for(bot, tmp_path)))
    assert listed.returncode == 0 and "no venues yet" in listed.stdout


async def test_doc_type_help_names_every_type() -> None:
    shown = await healthbot("admin", "status", "set", "--help")
    for code in ("resident_id", "hk_mo_permit", "tw_permit", "hmt_residence", "foreigner_pr", "passport"):
        assert code in shown.stdout
    assert "default: 14" in (await healthbot("admin", "trace", "person", "--help")).stdout  # every default too
    assert "default: 50" in (await healthbot("admin", "audit", "--help")).stdout


async def test_offline_code_typed_or_clicked_means_one_thing(bot: Bot) -> None:
    user = "oTrial_0006"
    await full_claim(bot, user)
    typed, clicked = await bot.say(user, "离线码"), await bot.click(user, "OFFLINE_CODE")
    assert typed == clicked
    assert "您还没有绑定亲属" in typed and "7 天内有效" in typed  # what it is, and how to get one
    assert "7 天内有效" in await bot.say(user, "什么是离线码")  # the FAQ keeps its question


async def test_two_relatives_whose_masked_names_match_are_told_apart(make_bot: BotFactory) -> None:
    bot = await make_bot(clock=SettableClock(TODAY), limits={"messages_burst": 100})  # ages as of TODAY; quick typing
    user = "oTrial_0007"
    await guardian(bot, user)
    same_year = "11010120180101003"
    for name, number in (("张一", AGE_6), ("张二", same_year + check_char(same_year)), ("张三", AGE_16)):
        assert await bind(bot, user, number, name) == "[image]"
    page = await bot.say(user, "亲属码")
    assert "张*（子女，2008 年生）" in page  # the year alone tells this one apart
    tails = {AGE_6[-2:], (same_year + check_char(same_year))[-2:]}
    for tail in tails:
        assert f"张*（子女，2018 年生，证件尾号 {tail}）" in page
    which = await bot.say(user, "查看亲属码")  # the picker shows the same labels
    assert "2008 年生" in which and all(f"证件尾号 {tail}" in which for tail in tails)


async def test_deregistering_says_truthfully_that_venue_entries_stay_sealed_until_the_retention(bot: Bot) -> None:
    user = "oTrial_0008"
    await full_claim(bot, user)
    days = bot.services.settings.venues.retention_days
    confirm = await bot.say(user, "注销健康码")
    done = await bot.say(user, "确认注销")
    for text in (confirm, done):
        assert "扫码登记记录" in text and f"{days} 天" in text


def test_the_docs_agree_with_the_code_on_unsubscribe() -> None:
    domain = (Path(__file__).parent.parent / "docs" / "domain.md").read_text(encoding="utf-8")
    assert "on 注销 and on unsubscribe" not in domain and "Unsubscribing deletes only the" in domain


async def test_every_refused_push_is_one_info_line(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="healthbot.webhook")
    status, _ = await bot.post(bot.sim.text("oTrial_0009", "帮助"), nonce="1", timestamp="1")
    assert status == 403
    push = bot.sim.sign("<xml><nonsense/></xml>")
    response = await bot.client.post("/wechat", params=push.params, data=push.body)
    assert response.status == 400
    lines = [r.getMessage() for r in caplog.records if r.name == "healthbot.webhook"]
    assert [line.split(":")[0] for line in lines] == ["refused push", "refused push"], lines
    assert "403 stale timestamp" in lines[0] and lines[1].startswith("refused push: 400 bad request (")


async def test_the_faq_is_numbered_answers_by_number_and_by_key_terms(bot: Bot) -> None:
    user = "oTrial_0010"
    index = await bot.say(user, "常见问题")
    assert "1. 健康码和行程码的区别" in index and "4. 个人信息安全" in index
    assert "每个用户最多可为 8 名家人申领亲属码" in await bot.say(user, "3")
    assert "每个用户最多可为 8 名家人申领亲属码" in await bot.say(user, "常见问题 3")
    assert "一场两站" in await bot.say(user, "亲属码能在机场用吗")
    assert "一场两站" in await bot.say(user, "一场两站")
    assert "不得将平台信息用于疫情防控之外" in await bot.say(user, "个人信息")
    unknown = await bot.say(user, "天气怎么样")
    assert "暂时无法识别" not in unknown and "1. 健康码和行程码的区别" in unknown


async def test_a_number_inside_a_dialog_stays_the_dialogs_answer(bot: Bot) -> None:
    user = "oTrial_0011"
    await full_claim(bot, user)
    await bot.say(user, "行程码")
    reply = await bot.say(user, "1")  # the travel card's choice, not FAQ 1
    assert "健康码和行程码的区别" not in reply


async def test_an_expired_offline_code_looks_expired_not_red_and_shows_the_colour_now(make_bot: BotFactory) -> None:
    clock = SettableClock(TODAY)
    bot = await make_bot(clock=clock, limits={"messages_burst": 100})
    user = "oTrial_0012"
    await guardian(bot, user)
    assert await bind(bot, user, AGE_6, "李小宝") == "[image]"
    png = bot.standin.media[(await bot.push(bot.sim.text(user, "下载离线码 1")))["Image"]["MediaId"]]
    token = parse_qs(urlsplit(zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))[0].text).query)["t"][0]
    clock.advance(8 * 86400)
    page = await (await bot.client.get("/verify", params={"t": token})).text()
    assert 'class="verdict bg-none"' in page and 'class="verdict bg-red"' not in page and "已过期" in page
    assert "当前码色" in page and "绿码" in page
    answer = await (await bot.client.get("/verify", params={"t": token, "format": "json"})).json()
    assert answer["outcome"] == "expired" and answer["exit_status"] == 12 and answer["current_colour"] == "green"


async def test_the_tests_refuse_a_redis_that_holds_other_data(own_redis: tuple[str, Path, int]) -> None:
    url, data, port = own_redis
    start_redis(data, port)
    for _ in range(50):
        if subprocess.run([shutil.which("redis-cli") or "/usr/bin/redis-cli", "-p", str(port), "set",
                           "citizens:real", "1"], capture_output=True, check=False).stdout.strip() == b"OK":
            break
        await asyncio.sleep(0.1)
    env = {**os.environ, "HEALTHBOT_TEST_REDIS": url}
    env.pop("HEALTHBOT_TEST_REDIS_SHARED", None)
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_vault.py"]
    refused = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env, check=False,
                             cwd=Path(__file__).parent.parent)
    assert refused.returncode == 2 and "holds keys that are not the tests'" in refused.stdout + refused.stderr
    allowed = subprocess.run(run, capture_output=True, text=True, timeout=120, check=False,
                             env={**env, "HEALTHBOT_TEST_REDIS_SHARED": "1"}, cwd=Path(__file__).parent.parent)
    assert allowed.returncode == 0, allowed.stdout[-500:]


async def test_a_relationship_the_ages_rule_out_is_refused_with_a_clear_text(make_bot: BotFactory) -> None:
    bot = await make_bot(clock=SettableClock(TODAY), limits={"messages_burst": 100})
    user = "oTrial_0013"
    await guardian(bot, user)  # born 1980
    await claim_until(bot, user, ["添加亲属", "李小宝", AGE_6])
    refused = await bot.say(user, "2")  # 母亲, aged 6
    assert "6 岁的亲属不可能是您的「母亲」" in refused
    assert "确认绑定" in await bot.say(user, "3")  # 子女 is possible: on to the summary
    await bot.say(user, "取消")
    await claim_until(bot, user, ["添加亲属", "王大明", ELDER])  # born 1949, before the guardian
    assert "不可能是您的「子女」" in await bot.say(user, "3")
    assert "确认绑定" in await bot.say(user, "1")  # 父亲 is possible


async def test_a_rare_character_in_a_name_is_drawn_by_a_font_that_has_it(bot: Bot) -> None:
    user = "oTrial_0014"
    await claim_until(bot, user, ["防疫健康信息码", "同意", "𠮷祥", "11010519491231002X", PHONE])
    summary = await prove_phone(bot, user)
    assert "姓名：𠮷*" in summary
    assert await bot.say(user, "确认") == "[image]"
    renderer = bot.services.renderer
    assert renderer.fallbacks, "no font for CJK Extension B: .ci/run installs fonts-hanazono"
    for ch in "𠮷祥张":  # each drawn by a font whose glyph it is, never by the missing-glyph box
        assert has_glyph(renderer.font(40, renderer.owner(ch)), ch), ch
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "fonts-hanazono" in ci
