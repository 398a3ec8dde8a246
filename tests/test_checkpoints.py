"""The guard's side: a code's QR opens a page whose headline is the colour now; offline codes at /verify."""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import zxingcpp
from PIL import Image

from bot.domain.clock import SHANGHAI, SettableClock
from bot.domain.render import CodeCard
from bot.rendering import Renderer, find_cjk_font
from storage.travel import Visit
from tests.conftest import Bot, BotFactory, Upstream
from tests.helpers import CHROMIUM, config_for, headless, healthbot, screenshot
from tests.journeys import AGE_6, ID, PHONE, bind, claim_until, full_claim

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=SHANGHAI)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


@pytest.fixture
async def bot(make_bot: BotFactory, clock: SettableClock) -> Bot:
    return await make_bot(clock=clock)


def scan_path(bot: Bot, reply: dict[str, object]) -> str:
    """What a guard's phone opens: the QR in the image the citizen was sent."""
    png = bot.standin.media[reply["Image"]["MediaId"]]  # type: ignore[index]
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(found) == 1, "the image must carry exactly one readable QR"
    url = urlsplit(found[0].text)
    assert url.path.startswith("/c/") and not url.query
    return url.path


async def scan(bot: Bot, path: str) -> tuple[int, str]:
    response = await bot.client.get(path)
    assert response.headers["Cache-Control"] == "no-store"
    return response.status, await response.text()


def headline(page: str) -> str:
    """The big word at the top of the page."""
    return page.split('id="colour"', 1)[1].split(">", 1)[1].split("<", 1)[0]


async def set_colour(bot: Bot, doc_index: str, colour: str) -> None:
    await bot.services.status.change(doc_index, colour, "" if colour == "green" else "manual", "operator",
                                     "operator:test")


async def test_a_claimed_code_scans_to_its_colour_now(bot: Bot) -> None:
    path = scan_path(bot, await full_claim(bot, "oGuard_0001"))
    status, page = await scan(bot, path)
    assert status == 200 and headline(page) == "绿码" and "可通行" in page
    assert "张*三" in page and "110***********002X" in page and "本人" in page
    for secret in (ID, PHONE, "张小三"):
        assert secret not in page and secret not in path

    await set_colour(bot, bot.services.codes.profiles.doc_index("resident_id", ID), "red")
    status, page = await scan(bot, path)  # the same image, scanned again
    assert status == 200 and headline(page) == "红码" and "禁止通行" in page
    above = page[:page.index('id="colour"')]
    assert "通过" not in page and "绿码" not in above


async def test_a_yellow_code_tells_the_guard_what_to_do(bot: Bot) -> None:
    await set_colour(bot, bot.services.codes.profiles.doc_index("resident_id", ID), "yellow")
    status, page = await scan(bot, scan_path(bot, await full_claim(bot, "oGuard_0002")))
    assert status == 200 and headline(page) == "黄码" and "暂缓通行" in page and "核酸检测" in page


async def test_an_expired_unknown_or_withdrawn_token_gets_the_expired_page(bot: Bot, clock: SettableClock) -> None:
    user = "oGuard_0003"
    path = scan_path(bot, await full_claim(bot, user))
    status, page = await scan(bot, "/c/not-a-token-of-ours")
    assert status == 410 and "二维码已失效，请对方重新打开健康码" in page and 'id="colour"' not in page
    clock.advance(bot.services.settings.render.qr_token_ttl + 1)
    status, page = await scan(bot, path)
    assert status == 410 and "二维码已失效" in page
    fresh = scan_path(bot, await bot.push(bot.sim.text(user, "防疫健康信息码")))
    assert fresh != path and (await scan(bot, fresh))[0] == 200  # a new image carries a new token
    await claim_until(bot, user, ["注销健康码", "确认注销"])
    assert (await scan(bot, fresh))[0] == 410  # deregistered: the token resolves to nobody


async def test_a_status_provider_that_is_down_shows_no_colour(make_bot: BotFactory, clock: SettableClock,
                                                              upstream: tuple[Upstream, str]) -> None:
    state, url = upstream
    bot = await make_bot(clock=clock, status={"url": url, "cache_seconds": 0})
    state.answer = {"colour": "green"}
    path = scan_path(bot, await full_claim(bot, "oGuard_0004"))
    state.status = 503
    status, page = await scan(bot, path)
    assert status == 200 and headline(page) == "暂时无法确认码色"
    for word in ("绿码", "黄码", "红码", "可通行"):
        assert word not in page


async def test_a_relatives_code_names_its_guardian(bot: Bot) -> None:
    user = "oGuard_0005"
    await full_claim(bot, user)
    await bind(bot, user, AGE_6, "李小宝")
    status, page = await scan(bot, scan_path(bot, await bot.push(bot.sim.text(user, "查看亲属码 1"))))
    assert status == 200 and headline(page) == "绿码"
    assert "李*宝" in page and "亲属码 · " in page and "由 张*三 代领" in page and "本人" not in page


async def test_the_combined_code_shows_the_travel_card_of_the_claimed_phone(bot: Bot) -> None:
    services, user = bot.services, "oGuard_0006"
    phone_index = services.vault.index("phone", PHONE)
    async with services.redis.pipeline(transaction=False) as pipe:
        visit = Visit("浙江省杭州市", services.clock.time() - 86400, False)
        services.travel.registry.queue_visit(pipe, phone_index, visit)
        await pipe.execute()
    await services.travel.registry.set_risk_cities(["浙江省杭州市"])
    await full_claim(bot, user)
    await claim_until(bot, user, ["核验行程卡", "1"])
    combined = await bot.push(bot.sim.text(user, "同意并授权"))  # the claim proved the phone: no second code
    status, page = await scan(bot, scan_path(bot, combined))
    assert status == 200 and headline(page) == "绿码"
    assert "通信大数据行程卡" in page and "绿色行程卡" in page and "含 * 标记城市" in page and "更新于" in page


async def test_scans_from_one_address_are_limited_politely(make_bot: BotFactory, clock: SettableClock) -> None:
    bot = await make_bot(clock=clock, limits={"scans_per_minute": 3})
    path = scan_path(bot, await full_claim(bot, "oGuard_0007"))
    statuses = [(await scan(bot, path))[0] for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    assert "查验过于频繁" in (await scan(bot, path))[1]


@pytest.mark.parametrize("colour", ["green", "yellow", "red"])
def test_every_colours_qr_decodes_on_a_cheap_scanner(colour: str) -> None:
    """A fixed 50 % grey threshold, and a third of the size: what a cheap gate scanner sees."""
    renderer = Renderer(find_cjk_font())
    payload = "https://bot.example.gov.cn/c/AbCdEfGhIjKlMnOpQrStUv"
    card = CodeCard(title="防疫健康信息码", status_word="码", colour=colour, name="张*三",
                    document="110***********002X", generated="2026-11-20 09:30:00", guidance="", qr_payload=payload)
    image = Image.open(io.BytesIO(renderer.render_sync(card))).convert("L")
    threshold = image.point(lambda v: 255 if v >= 128 else 0)
    small = image.resize((image.width // 3, image.height // 3), Image.Resampling.BILINEAR)
    for seen in (threshold, small):
        assert [found.text for found in zxingcpp.read_barcodes(seen)] == [payload], colour
    renderer.close()


SHOTS = os.environ.get("HEALTHBOT_SCREENSHOTS")  # a folder: also write the README's screenshots there


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
async def test_in_chromium_the_guard_sees_green_then_red_and_an_expired_code_says_so(
        bot: Bot, clock: SettableClock, tmp_path: Path) -> None:
    user = "oGuard_0100"
    await full_claim(bot, user)
    url = str(bot.client.make_url(scan_path(bot, await bot.push(bot.sim.text(user, "防疫健康信息码")))))
    dom = await headless(url, tmp_path)
    assert 'id="colour">绿码' in dom and 'class="verdict bg-green"' in dom and "可通行" in dom
    assert int(dom.split('data-ticks="')[1].split('"')[0]) >= 3  # the scan time ticks: a screenshot does not
    if SHOTS:
        await screenshot(url, tmp_path, Path(SHOTS) / "guard-green.png")
    await set_colour(bot, bot.services.codes.profiles.doc_index("resident_id", ID), "red")
    dom = await headless(url, tmp_path, budget_ms=500)
    assert 'id="colour">红码' in dom and 'class="verdict bg-red"' in dom and "通过" not in dom
    if SHOTS:
        await screenshot(url, tmp_path, Path(SHOTS) / "guard-red.png")
    clock.advance(bot.services.settings.render.qr_token_ttl + 1)
    dom = await headless(url, tmp_path, budget_ms=500)
    assert "二维码已失效，请对方重新打开健康码" in dom and 'id="colour"' not in dom
    if SHOTS:
        await screenshot(url, tmp_path, Path(SHOTS) / "guard-expired.png", size="430,300")


async def test_an_offline_code_issued_green_then_set_red_reads_red_and_a_tampered_one_forged(
        make_bot: BotFactory, tmp_path: Path) -> None:
    bot = await make_bot(clock=SettableClock(datetime.now(SHANGHAI)))  # `healthbot verify` reads the real clock
    user = "oGuard_0200"
    await full_claim(bot, user)
    await bind(bot, user, AGE_6, "李小宝")
    png = bot.standin.media[(await bot.push(bot.sim.text(user, "下载离线码 1")))["Image"]["MediaId"]]
    url = urlsplit(zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))[0].text)
    token = parse_qs(url.query)["t"][0]
    await set_colour(bot, bot.services.relatives.index(AGE_6), "red")
    page = await (await bot.client.get("/verify", params={"t": token})).text()
    assert headline(page) == "红码" and "禁止通行" in page and "通过" not in page
    assert page.index('id="colour"') < page.index("签名有效")  # the signature is a secondary line
    config = str(config_for(bot, tmp_path))
    image = tmp_path / "offline.png"
    image.write_bytes(png)
    red = await healthbot("verify", "--config", config, str(image))
    assert red.returncode == 11 and red.stdout.splitlines()[0].startswith("RED 红码")
    forged = await healthbot("verify", "--config", config, token[:-4] + "AAAA")
    assert forged.returncode == 13 and forged.stdout.splitlines()[0].startswith("FORGED")


def tiny_png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width`×`height` pixels in a few bytes: a decompression bomb, as its header shows it."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00"))
            + chunk(b"IEND", b""))


async def test_verify_says_what_it_was_given_and_never_calls_a_genuine_code_forged(
        make_bot: BotFactory, tmp_path: Path) -> None:
    """`healthbot verify` as a checkpoint uses it: a photo of a citizen's online code reads its colour now (not
    FORGED); a long tampered token is checked as a token (13, not a file-name error); what is not a code, not an
    image, or too large an image is one line and 2; Redis down is 15, as docs/operations.md says."""
    bot = await make_bot(clock=SettableClock(datetime.now(SHANGHAI)))
    user = "oGuard_0300"
    reply = await full_claim(bot, user)
    config = str(config_for(bot, tmp_path))
    online = tmp_path / "online.png"
    online.write_bytes(bot.standin.media[reply["Image"]["MediaId"]])  # type: ignore[index]
    green = await healthbot("verify", "--config", config, str(online))
    assert green.returncode == 0 and green.stdout.splitlines()[0].startswith("GREEN 绿码"), green.stdout + green.stderr
    assert "online code" in green.stdout and "张*三" in green.stdout
    await set_colour(bot, bot.services.codes.profiles.doc_index("resident_id", ID), "red")
    red = await healthbot("verify", "--config", config, str(online))
    assert red.returncode == 11 and red.stdout.splitlines()[0].startswith("RED 红码")

    long_token = "v1.k1." + "A" * 300 + ".AAAA"
    forged = await healthbot("verify", "--config", config, long_token)
    assert forged.returncode == 13 and forged.stdout.splitlines()[0].startswith("FORGED"), forged.stderr

    text_file, bomb = tmp_path / "notes.txt", tmp_path / "huge.png"
    text_file.write_text("not an image", encoding="utf-8")
    bomb.write_bytes(tiny_png_header(20000, 20000))
    for given, said in ((str(text_file), "is not an image"), (str(bomb), "larger than a photo"),
                        (str(tmp_path / "missing.png"), "neither a file nor a code")):
        done = await healthbot("verify", "--config", config, given)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "FORGED" not in done.stdout

    down = config_for(bot, tmp_path, redis_url="redis://127.0.0.1:1/0")
    unavailable = await healthbot("verify", "--config", str(down), str(online))
    assert unavailable.returncode == 15 and "cannot be confirmed" in unavailable.stderr
