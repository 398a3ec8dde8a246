"""Beyond the media quota: a news reply whose picture and live page healthbot serves, tested in Chromium."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image

from bot.domain.clock import SHANGHAI, SettableClock
from tests.conftest import Bot, BotFactory
from tests.helpers import CHROMIUM, headless
from tests.journeys import (
    AGE_6,
    ID,
    bind,
    full_claim,
)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime.now(SHANGHAI))


@pytest.fixture
async def bot(make_bot: BotFactory, clock: SettableClock) -> Bot:
    return await make_bot(clock=clock, render={"reply_as": "news"})


def local(bot: Bot, url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_news_reply_needs_no_upload_and_its_links_serve_the_code(bot: Bot) -> None:
    reply = await full_claim(bot, "oNews_0001")
    assert reply["MsgType"] == "news" and reply["ArticleCount"] == "1"
    article = reply["Articles"]["item"]
    assert article["Title"] == "防疫健康信息码 · 绿码"
    assert bot.standin.media == {}  # nothing was uploaded
    picture = await bot.client.get(local(bot, article["PicUrl"]))
    assert picture.status == 200 and picture.content_type == "image/png"
    payload = zxingcpp.read_barcodes(Image.open(io.BytesIO(await picture.read())))[0].text
    assert "/c/" in payload and ID not in payload
    page = await bot.client.get(local(bot, article["Url"]))
    assert page.status == 200 and "绿码" in await page.text() and "张*三" in await page.text()


async def test_the_page_checks_the_colour_again_on_every_load(bot: Bot) -> None:
    article = (await full_claim(bot, "oNews_0002"))["Articles"]["item"]
    await bot.services.status.change(bot.services.codes.profiles.doc_index("resident_id", ID), "red", "manual",
                                     "operator", "operator:test")
    page = await (await bot.client.get(local(bot, article["Url"]))).text()
    assert 'id="colour">红码' in page


async def test_a_relatives_code_as_news(bot: Bot) -> None:
    user = "oNews_0003"
    await full_claim(bot, user)
    await bind(bot, user, AGE_6, "李小宝")
    reply = await bot.push(bot.sim.text(user, "查看亲属码 1"))
    article = reply["Articles"]["item"]
    assert article["Title"] == "亲属码 · 绿码"
    page = await (await bot.client.get(local(bot, article["Url"]))).text()
    assert "李*宝" in page and "由 张*三 代领" in page


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
async def test_in_chromium_the_page_renders_the_clock_ticks_and_an_expired_link_is_refused(
        bot: Bot, clock: SettableClock, tmp_path: Path) -> None:
    article = (await full_claim(bot, "oNews_0004"))["Articles"]["item"]
    url = str(bot.client.make_url(local(bot, article["Url"])))
    dom = await headless(url, tmp_path)
    assert 'id="colour">绿码' in dom
    ticks = int(dom.split('data-ticks="')[1].split('"')[0])
    assert ticks >= 3  # the clock ticked once a second for the 3.5 s the page was given
    assert "<img" in dom and "/img?t=" in dom
    clock.advance(11 * 60)
    assert "链接已过期" in await headless(url, tmp_path, budget_ms=500)
