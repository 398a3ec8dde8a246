"""核酸检测结果 and 常见问题 through the webhook; results imported with the CLI, for self and a relative."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.domain.clock import SHANGHAI, SettableClock
from tests.conftest import Bot, BotFactory
from tests.helpers import config_for, healthbot
from tests.journeys import (
    AGE_6,
    ID,
    bind,
    full_claim,
    guardian,
)

NOW = datetime.now(SHANGHAI).replace(hour=1, minute=0, second=0, microsecond=0)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


@pytest.fixture
async def bot(make_bot: BotFactory, clock: SettableClock) -> Bot:
    return await make_bot(clock=clock, results={"notify_new_results": True})


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


async def import_results(bot: Bot, tmp_path: Path) -> str:
    yesterday_late = NOW - timedelta(hours=2)  # 23:00 yesterday: 1 calendar day ago at 01:00
    csv_file = tmp_path / "results.csv"
    csv_file.write_text(
        "doc_type,doc_no,result,sampled_at,reported_at,institution\n"
        f"resident_id,{ID},阴性,{at(NOW - timedelta(days=3))},{at(NOW - timedelta(days=2))},市第一人民医院\n"
        f"resident_id,{ID},阴性,{at(yesterday_late)},{at(NOW - timedelta(minutes=30))},金域医学检验所\n"
        f"resident_id,{AGE_6},阴性,{at(NOW - timedelta(days=1))},{at(NOW)},妇幼保健院\n"
        f"resident_id,110105194912310021,阴性,{at(NOW)},{at(NOW)},x\n"
        f"resident_id,{ID},弱阳性,{at(NOW)},{at(NOW)},x\n"
        f"resident_id,{ID},阴性,{at(NOW)},{at(NOW - timedelta(days=1))},x\n", encoding="utf-8")
    config = config_for(bot, tmp_path)
    config.write_text(config.read_text("utf-8") + "\n[results]\nnotify_new_results = true\n", "utf-8")
    done = await healthbot("admin", "results", "import", "--config", str(config), str(csv_file))
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


async def test_results_for_self_and_for_a_relative(bot: Bot, tmp_path: Path) -> None:
    user = "oResults_0001"
    await full_claim(bot, user)
    assert "暂无检测记录" in await bot.say(user, "核酸")
    await bind(bot, user, AGE_6, "李小宝")
    report = await import_results(bot, tmp_path)
    assert "imported 3 results, 3 bad rows" in report
    for line in ("line 5: doc_no is not a valid", "line 6: result must be", "line 7: reported_at is before"):
        assert line in report
    mine = await bot.say(user, "核酸检测结果")
    assert mine.index("金域医学检验所") < mine.index("市第一人民医院")  # newest first
    assert "1. 阴性｜采样距今 1 天" in mine and "2. 阴性｜采样距今 3 天" in mine
    assert f"采样时间：{at(NOW - timedelta(hours=2))}" in mine and "检测机构：金域医学检验所" in mine
    theirs = await bot.say(user, "核酸 1")
    assert "李*宝的核酸检测结果" in theirs and "妇幼保健院" in theirs and "采样距今 1 天" in theirs
    assert "没有这个编号的亲属" in await bot.say(user, "核酸 2")
    notices = [m["text"]["content"] for m in bot.standin.messages if m["touser"] == user]
    assert "您的核酸检测结果已出，回复「核酸」查看。" in notices
    assert "您的亲属 李*宝 的核酸检测结果已出，回复「核酸 1」查看。" in notices


async def test_registration_at_the_testing_site_shows_the_code(bot: Bot) -> None:
    user = "oResults_0002"
    await guardian(bot, user)
    await bind(bot, user, AGE_6, "李小宝")
    assert await bot.say(user, "核酸登记") == "[image]"
    assert await bot.say(user, "核酸登记 1") == "[image]"


async def test_results_need_a_claimed_code(bot: Bot) -> None:
    assert "需要先领取本人的防疫健康信息码" in await bot.say("oResults_0003", "核酸")


@pytest.mark.parametrize(("keyword", "words"), [
    ("常见问题", "健康码和行程码的区别"),
    ("健康码和行程码的区别", "行程码的数据则来源于手机通信大数据"),
    ("什么是离线码", "7 天内有效"),
    ("亲属码规则", "每个用户最多可为 8 名家人申领亲属码"),
    ("个人信息安全", "任何单位和个人不得将平台信息用于疫情防控之外的任何用途"),
])
async def test_faq_answers_from_templates(bot: Bot, keyword: str, words: str) -> None:
    assert words in await bot.say("oFaq_0001", keyword)


async def test_help_lists_the_faq_topics(bot: Bot) -> None:
    help_text = await bot.say("oFaq_0002", "帮助")
    for topic in ("健康码和行程码的区别", "离线码", "亲属码规则", "个人信息安全", "核验行程卡", "核酸登记"):
        assert topic in help_text
