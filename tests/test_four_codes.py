"""四码一屏: the holder's card, a relative's, the guard's page and `healthbot verify` show, under the colour, the
days since sampling (with the 24/48/72 h mark), the vaccination state and the verified travel card; an
unknown fact reads 无记录."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot.domain.clock import SHANGHAI, SettableClock
from bot.usecases.cards import build_card
from bot.usecases.holders import find_holder, holder_facts
from tests.conftest import Bot, BotFactory
from tests.helpers import config_for, healthbot
from tests.journeys import bind, elder, full_claim
from tests.test_checkpoints import headline, scan, scan_path
from tests.test_vaccination import day, import_doses

USER, ELDER_ID = "oFour_0001", elder(5)


@pytest.fixture
async def bot(make_bot: BotFactory) -> Bot:
    return await make_bot(clock=SettableClock(datetime.now(SHANGHAI)))  # the card's time: one second for both


def below_the_qr(png: bytes) -> bytes:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.crop((0, image.height * 3 // 5, image.width, image.height)).tobytes()


async def test_a_relatives_card_and_the_guards_page_show_the_three_facts(bot: Bot, tmp_path: Path) -> None:
    await full_claim(bot, USER)
    await bind(bot, USER, ELDER_ID, "王大明")
    status, _, err = await import_doses(bot, tmp_path, (
        f"resident_id,{ELDER_ID},1,国药北京生物,{day(90)},社区卫生服务中心\n"
        f"resident_id,{ELDER_ID},2,国药北京生物,{day(60)},社区卫生服务中心\n"))
    assert status == 0, err
    now = datetime.now(SHANGHAI)
    sampled = now - timedelta(hours=30)
    results = tmp_path / "results.csv"
    results.write_text("doc_type,doc_no,result,sampled_at,reported_at,institution\n"
                       f"resident_id,{ELDER_ID},阴性,{sampled:%Y-%m-%d %H:%M},{now:%Y-%m-%d %H:%M},市疾控中心\n",
                       encoding="utf-8")
    done = await healthbot("admin", "results", "import", "--config", str(config_for(bot, tmp_path)), str(results))
    assert done.returncode == 0, done.stderr
    days = (now.date() - sampled.date()).days
    expected = (f"采样距今：{days} 天（48 小时内）", "疫苗接种：已完成全程（2 针）", "行程卡：无记录")

    listed = await bot.say(USER, "接种记录 1")
    assert "已完成全程（2 针）" in listed and "第 2 针｜" + day(60) in listed
    reply = await bot.push(bot.sim.text(USER, "查看亲属码 1"))
    assert reply["MsgType"] == "image"
    services = bot.services
    index = services.relatives.index(ELDER_ID)
    holder = await find_holder(services, USER, index)
    assert holder is not None
    status_now = await services.status.status(lambda: holder.person, index)
    card = await build_card(services, services.templates, USER, holder.person, index, status_now,
                            title=services.templates.render("cards/relative_title.txt"),
                            subtitle=(await _subtitle(bot)), whose="王*明",
                            facts=await holder_facts(services, services.templates, holder))
    assert card.facts == expected
    sent = bot.standin.media[reply["Image"]["MediaId"]]
    assert below_the_qr(sent) == below_the_qr(await services.renderer.render(card))  # drawn on the card

    path = scan_path(bot, reply)
    code, page = await scan(bot, path)
    assert code == 200 and headline(page) == "绿码"
    for line in expected:
        assert line in page
    verified = await healthbot("verify", "--config", str(config_for(bot, tmp_path)),
                               f"{services.settings.public_url}{path}")
    for line in expected:
        assert line in verified.stdout, verified.stdout


async def _subtitle(bot: Bot) -> str:
    from bot.usecases.cards import proxy_line

    services = bot.services
    relative = (await services.relatives.list(USER))[0]
    return proxy_line(services.templates, await services.codes.profiles.load(USER), relative)


async def test_an_unknown_fact_reads_no_record_never_left_out(bot: Bot) -> None:
    reply = await full_claim(bot, "oFour_0002")
    _, page = await scan(bot, scan_path(bot, reply))
    for line in ("采样距今：无记录", "疫苗接种：无记录", "行程卡：无记录"):
        assert line in page
