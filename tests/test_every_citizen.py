"""Every citizen can use it: a foreigner in English from the first message to the code image, the guard's page in
the guard's own language, 长辈模式's large code and short replies, and colour never the only signal on a page.
Each journey goes through the signed webhook (safe mode where it says so), the stand-in WeChat API and Redis."""

from __future__ import annotations

import asyncio
import io
import re
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from bot.domain.clock import SHANGHAI, SettableClock
from bot.domain.colours import HEALTH_COLOURS
from bot.usecases.cards import build_card
from bot.usecases.holders import find_holder, holder_facts
from tests.conftest import Bot, BotFactory
from tests.helpers import CHROMIUM, headless, screenshot
from tests.journeys import ID, adult, bind, elder, full_claim, guardian
from tests.test_checkpoints import scan_path

CJK = re.compile("[\u3000-\u303f\u3400-\u9fff\uff00-\uffef\U00020000-\U0003ffff]")
NOW = datetime(2026, 12, 6, 10, 0, tzinfo=SHANGHAI)
VISITOR, PASSPORT, NAME = "oEnglish_0001", "E12345678", "John Smith"


@pytest.fixture
async def bot(make_bot: BotFactory) -> Bot:
    return await make_bot(clock=SettableClock(NOW))


def decoded(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1
    return found[0].text


def pixels(png: bytes) -> bytes:
    return Image.open(io.BytesIO(png)).convert("RGB").tobytes()


async def set_colour(bot: Bot, colour: str, doc_type: str = "resident_id", number: str = ID) -> None:
    index = bot.services.codes.profiles.doc_index(doc_type, number)
    await bot.services.status.change(index, colour, "" if colour == "green" else "manual", "operator", "t")


# English, end to end -----------------------------------------------------------------------------------------------

async def test_a_foreigner_claims_in_english_and_every_reply_and_label_is_english(make_bot: BotFactory) -> None:
    bot = await make_bot(aes=True, clock=SettableClock(NOW))  # safe mode: every push and reply encrypted
    replies = [await bot.say_xml(bot.sim.event(VISITOR, "subscribe"))]
    assert CJK.search(replies[0]), "a follower whose WeChat is in Chinese is welcomed in Chinese"
    replies = [await bot.say(VISITOR, "English")]
    assert await bot.services.redis.get(bot.services.keys.prefs(VISITOR)) == b"en"
    for said in ("foreigner", "agree", "5", PASSPORT, "Singapore", NAME, "+852 9123 4567"):
        replies.append(await bot.say(VISITOR, said))
    sms = bot.standin.sms[-1]
    assert sms["phone"] == "+85291234567" and not CJK.search(sms["text"]) and "verification code" in sms["text"]
    replies.append(await bot.say(VISITOR, re.search(r"\d{6}", sms["text"]).group(0)))  # type: ignore[union-attr]
    assert "Passport: E1*****78" in replies[-1] and "Nationality: Singapore" in replies[-1]
    reply = await bot.push(bot.sim.text(VISITOR, "confirm"))
    assert reply["MsgType"] == "image"
    replies += [await bot.say(VISITOR, said) for said in ("help", "colour history", "appeal", "cancel", "faq 2")]
    assert replies and all(replies), "every step answered"
    for text in replies[1:]:
        assert not CJK.search(text), text

    # The image's every label is English: it is exactly the card drawn from the English texts.
    services = bot.services
    sent = bot.standin.media[reply["Image"]["MediaId"]]
    index = services.codes.profiles.doc_index("passport", PASSPORT)
    holder = await find_holder(services, VISITOR, index)
    assert holder is not None
    status = await services.status.status(lambda: holder.person, index)
    drawn = {}
    for lang in ("en", "zh"):
        texts = services.texts.of(lang)
        card = await build_card(services, texts, VISITOR, holder.person, index, status,
                                title=texts.render("cards/code_title.txt"),
                                facts=await holder_facts(services, texts, holder))
        drawn[lang] = pixels(await services.renderer.render(replace(card, qr_payload=decoded(sent))))
    assert pixels(sent) == drawn["en"] != drawn["zh"]


async def test_a_wrong_id_in_english_gets_the_seeds_meaning_and_chinese_switches_back(bot: Bot) -> None:
    user = "oEnglish_0002"
    await bot.say(user, "EN")
    await bot.say(user, "health code")
    await bot.say(user, "agree")
    await bot.say(user, "张小三")
    assert await bot.say(user, "110105194912310021") == "Please enter a valid ID number"
    switched = await bot.say(user, "中文")  # mid-claim: the step is asked again, in Chinese
    assert switched.startswith("已切换为中文") and switched.endswith("请输入您的 18 位居民身份证号码：")
    assert await bot.say(user, "110105194912310021") == "请输入正确的身份证"
    assert await bot.services.redis.get(bot.services.keys.prefs(user)) == b"zh"


async def test_a_new_follower_whose_wechat_is_english_starts_in_english(bot: Bot) -> None:
    user = "oEnglish_0003"
    bot.standin.languages[user] = "en"
    welcome = await bot.say_xml(bot.sim.event(user, "subscribe"))
    assert welcome.startswith("Welcome") and not CJK.search(welcome)
    assert await bot.services.redis.get(bot.services.keys.prefs(user)) == b"en"
    assert not CJK.search(await bot.say(user, "hello"))
    assert (await bot.click(user, "LANG_ZH")).startswith("已切换为中文")  # the menu's 我的设置 → 中文
    assert (await bot.click(user, "LANG_EN")).startswith("Switched to English")
    await bot.say(user, "中文")  # a choice, Chinese too, outlives unfollowing and following again
    await bot.say_xml(bot.sim.event(user, "unsubscribe"))
    again = bot.sim.event(user, "subscribe", create_time=int(time.time()) + 1)  # not a retry of the first
    assert CJK.search(await bot.say_xml(again))


async def test_a_colour_notice_reaches_each_guardian_in_their_own_language(bot: Bot) -> None:
    relative, guardians = elder(31), {"oEnglish_0010": "English", "oEnglish_0011": "中文"}
    for n, (user, lang) in enumerate(guardians.items()):
        await guardian(bot, user, adult(n + 40))
        await bind(bot, user, relative)
        await bot.say(user, lang)
    await set_colour(bot, "red", number=relative)  # the app's notice sender tells both

    def notices() -> dict[str, str]:
        return {m["touser"]: m["text"]["content"] for m in bot.standin.messages
                if m.get("msgtype") == "text" and m["touser"] in guardians
                and ("[Health code changed]" in m["text"]["content"] or "【健康码变更】" in m["text"]["content"])}

    for _ in range(600):
        if len(notices()) == 2:
            break
        await asyncio.sleep(0.05)
    told = notices()
    assert len(told) == 2
    english, chinese = told["oEnglish_0010"], told["oEnglish_0011"]
    assert "has changed from Green code to Red code" in english and "your relative (father" in english
    assert "lang=en" in english
    assert not CJK.search(english.replace(re.search(r"\(father (\S+)\)", english).group(1), ""))  # type: ignore[union-attr]
    assert "由绿码变为红码" in chinese


# The guard's page follows the viewer -------------------------------------------------------------------------------

@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
async def test_the_guards_page_follows_the_viewers_language(bot: Bot, tmp_path: Path) -> None:
    user = "oEnglish_0020"
    await bot.say(user, "English")  # the holder's language is not the guard's
    await full_claim(bot, user)
    url = str(bot.client.make_url(scan_path(bot, await bot.push(bot.sim.text(user, "防疫健康信息码")))))
    words = {"en": {"green": "Green", "yellow": "Yellow", "red": "Red"},
             "zh-CN": {"green": "绿码", "yellow": "黄码", "red": "红码"}}
    for colour in HEALTH_COLOURS:
        await set_colour(bot, colour)
        for lang, word in words.items():
            dom = await headless(url, tmp_path, budget_ms=300, lang=lang)
            shown = dom.split('id="colour">', 1)[1].split("<", 1)[0]
            assert shown.startswith(word[colour]), (lang, colour, shown)
            assert f'<html lang="{lang[:2]}' in dom


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
async def test_in_greyscale_the_three_guard_pages_differ_in_their_word_and_shape(bot: Bot, tmp_path: Path) -> None:
    user = "oEnglish_0021"
    await full_claim(bot, user)
    url = str(bot.client.make_url(scan_path(bot, await bot.push(bot.sim.text(user, "防疫健康信息码")))))
    seen = {}
    for colour in HEALTH_COLOURS:
        await set_colour(bot, colour)
        shot = tmp_path / f"{colour}.png"
        await screenshot(url, tmp_path, shot, lang="en")
        grey = Image.open(shot).convert("L")
        # the verdict: the shape, then the word, at the top of the card
        seen[colour] = [grey.crop((40, top, 390, top + 60)).point(lambda v: 255 if v > 128 else 0).tobytes()
                        for top in (40, 100)]
    for part in (0, 1):
        assert len({seen[c][part] for c in HEALTH_COLOURS}) == 3, ("shape", "word")[part]


# 长辈模式 ------------------------------------------------------------------------------------------------------------

def word_cap_height(png: bytes) -> tuple[float, Image.Image]:
    """The colour word's ink height over the image's height, measured above the QR (where the word is)."""
    image = Image.open(io.BytesIO(png)).convert("L")
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1
    qr_top = min(found[0].position.top_left.y, found[0].position.top_right.y)
    band = image.crop((0, 0, image.width, max(1, qr_top - 40)))
    rows = [y for y in range(band.height) if any(band.getpixel((x, y)) < 200 for x in range(0, band.width, 2))]
    assert rows, "no word above the QR"
    return (rows[-1] - rows[0]) / image.height, image


def layout(png: bytes) -> str:
    """The standard card opens with its title bar in the colour's ink; 长辈模式's has no title: white."""
    corner = Image.open(io.BytesIO(png)).convert("RGB").getpixel((5, 5))
    return "elder" if corner == (255, 255, 255) else "standard"


async def test_elder_mode_draws_a_big_colour_word_a_qr_that_decodes_at_a_third_and_short_replies(
        bot: Bot) -> None:
    user = "oElder_0001"
    spoken = await bot.say_xml(bot.sim.voice(user, "长辈模式。"))
    assert spoken.splitlines()[0] == "已开启长辈模式。"
    assert all(len(line) <= 40 for line in spoken.splitlines())  # short sentences, one a line
    first = (await bot.say_xml(bot.sim.voice(user, "健康码。"))).splitlines()
    assert first[0] == "请回复「同意」。"  # a reply to a voice leads with the one thing to do
    await bot.say(user, "取消")
    menu = await bot.say(user, "帮助")
    assert menu.splitlines()[:3] == ["请回复数字：", "1 看健康码", "2 亲属码"]
    unheard = await bot.say_xml(bot.sim.voice(user, "那个什么码"))
    assert unheard.splitlines()[0] == "请回复数字：" and "没听清" in unheard
    await full_claim(bot, user)
    reply = await bot.push(bot.sim.text(user, "1"))  # the menu's number: 看健康码
    assert reply["MsgType"] == "image"
    for colour in HEALTH_COLOURS:
        await set_colour(bot, colour)
        png = bot.standin.media[(await bot.push(bot.sim.text(user, "健康码")))["Image"]["MediaId"]]
        height, image = word_cap_height(png)
        assert height >= 0.08, (colour, height)
        print(f"elder {colour}: colour word {height:.1%} of the image's height")
        third = image.resize((image.width // 3, image.height // 3), Image.Resampling.LANCZOS)
        assert [f.text for f in zxingcpp.read_barcodes(third)] == [decoded(png)], colour
    assert "已关闭长辈模式" in await bot.say(user, "关闭长辈模式")
    plain = bot.standin.media[(await bot.push(bot.sim.text(user, "健康码")))["Image"]["MediaId"]]
    assert layout(plain) == "standard" and layout(png) == "elder"


async def test_elder_mode_set_on_a_relative_draws_their_codes_large(bot: Bot) -> None:
    user = "oElder_0002"
    await full_claim(bot, user)
    await bind(bot, user, elder(32))
    before = bot.standin.media[(await bot.push(bot.sim.text(user, "查看亲属码 1")))["Image"]["MediaId"]]
    assert "已为 王*明 开启长辈模式" in await bot.say(user, "为亲属开启长辈模式 1")
    after = bot.standin.media[(await bot.push(bot.sim.text(user, "查看亲属码 1")))["Image"]["MediaId"]]
    assert layout(before) == "standard" and layout(after) == "elder" and word_cap_height(after)[0] >= 0.08
    own = bot.standin.media[(await bot.push(bot.sim.text(user, "健康码")))["Image"]["MediaId"]]
    assert layout(own) == "standard"  # the guardian's own code is as it was
    reply = await bot.push(bot.sim.text(user, "下载离线码 1"))
    offline = Image.open(io.BytesIO(bot.standin.media[reply["Image"]["MediaId"]]))
    assert "/verify?t=" in zxingcpp.read_barcodes(offline.resize((offline.width // 3, offline.height // 3)))[0].text
