"""Colour is never the only signal, and text can be read: every code image and guard page carries the colour's
word and shape (✓ ! ✕), told apart in greyscale, and every text has at least 4.5 : 1 contrast (WCAG 2, as
WeChat's 适老化 standard asks)."""

from __future__ import annotations

import io
import re
from itertools import combinations
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from bot.domain.colours import HEALTH_COLOURS, INKS, ON_INKS, QR_INKS, SHAPES, WHITE, contrast
from bot.domain.render import GREY, INK, STAMP_FILL, CodeCard, draw_shape, has_glyph, qr_mask
from bot.rendering import Renderer, find_cjk_font
from tests.conftest import Bot
from tests.journeys import ID, full_claim
from tests.test_checkpoints import scan, scan_path

WORDS = {"green": "绿码", "yellow": "黄码", "red": "红码"}
PAYLOAD = "https://bot.example.gov.cn/c/AbCdEfGhIjKlMnOpQrStUv"
BASE = Path(__file__).resolve().parent.parent / "templates" / "common" / "pages" / "_layout.html"


def card(colour: str) -> CodeCard:
    return CodeCard(title="防疫健康信息码", status_word=WORDS[colour], colour=colour, name="张*三",
                    document="110***********002X", generated="2026-12-06 09:00:00", guidance="请配合查验。",
                    qr_payload=PAYLOAD)


def hex_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def test_every_ink_the_images_draw_text_in_has_enough_contrast() -> None:
    pairs = [(INK, WHITE, "text"), (GREY, WHITE, "secondary text"), (INK, STAMP_FILL, "the venue stamp"),
             (QR_INKS["red"], WHITE, "the offline code's expiry stamp")]
    for colour in HEALTH_COLOURS:
        pairs += [(ON_INKS[colour], INKS[colour], f"the title on the {colour} bar"),
                  (QR_INKS[colour], WHITE, f"the {colour} word and shape")]
    assert pairs
    for text, background, what in pairs:
        assert contrast(text, background) >= 4.5, (what, round(contrast(text, background), 2))


def test_every_page_text_has_enough_contrast() -> None:
    css = BASE.read_text(encoding="utf-8").split("<style>")[1].split("</style>")[0]
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        props = dict(re.findall(r"([a-z-]+)\s*:\s*(#[0-9a-fA-F]{3,6})", body))
        for selector in selectors.split(","):
            rules.setdefault(selector.strip(), {}).update(props)
    body_text, card_bg = hex_rgb(rules["body"]["color"]), hex_rgb(rules[".card"]["background"])
    pairs = [(body_text, card_bg, "body text")]
    for selector in (".muted", ".green", ".yellow", ".red", "dt"):
        pairs.append((hex_rgb(rules[selector]["color"]), card_bg, selector))
    verdict_text = hex_rgb(rules[".verdict"]["color"])
    for selector in (".bg-green", ".bg-yellow", ".bg-red", ".bg-none"):
        own = rules[selector]
        pairs.append((hex_rgb(own.get("color", "")) if "color" in own else verdict_text,
                      hex_rgb(own["background"]), selector))
    button_text = hex_rgb(rules["button"]["color"])
    pairs += [(button_text, hex_rgb(rules[s]["background"]), s) for s in (".pass", ".fail")]
    assert len(pairs) == 12
    for text, background, what in pairs:
        assert contrast(text, background) >= 4.5, (what, round(contrast(text, background), 2))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(find_cjk_font())


def greyscale(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("L")


def shape_alone(renderer: Renderer, colour: str) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The shape as the card draws it, alone on white, and the box it takes on the card."""
    y = 104 + 100 + qr_mask(PAYLOAD).height + 12
    right = (600 - renderer._length(WORDS[colour], 64)) / 2 - 64 * 0.3
    box = (right - 64 * 0.9, y + 64 * 0.1, right, y + 64)
    image = Image.new("RGB", (600, y + 100), "white")
    draw_shape(ImageDraw.Draw(image), SHAPES[colour], box, QR_INKS[colour])
    whole = (int(box[0]) - 4, int(box[1]) - 4, int(box[2]) + 4, int(box[3]) + 4)
    return image.convert("L"), whole


def dark(image: Image.Image, box: tuple[int, int, int, int]) -> set[tuple[int, int]]:
    region = image.crop(box)
    return {(x, y) for x in range(region.width) for y in range(region.height) if region.getpixel((x, y)) < 160}


async def test_in_greyscale_each_colours_card_shows_its_own_word_and_shape(renderer: Renderer) -> None:
    cards = {colour: greyscale(await renderer.render(card(colour))) for colour in HEALTH_COLOURS}
    shapes = {colour: shape_alone(renderer, colour) for colour in HEALTH_COLOURS}
    for colour in HEALTH_COLOURS:
        reference, box = shapes[colour]
        wanted, drawn = dark(reference, box), dark(cards[colour], box)
        assert wanted and len(wanted & drawn) >= 0.9 * len(wanted), colour  # the shape is there, dark enough
    for a, b in combinations(HEALTH_COLOURS, 2):
        box = shapes[a][1]
        assert len(dark(cards[a], box) ^ dark(cards[b], box)) > 0.3 * len(dark(cards[a], box)), (a, b)
        word_band = (box[2], box[1], 600, box[3])  # right of the shape: the word
        assert dark(cards[a], word_band) != dark(cards[b], word_band), (a, b)


async def test_the_offline_code_carries_the_shape_beside_its_colour_word(renderer: Renderer) -> None:
    from bot.domain.render import OfflineCard

    def offline(colour: str) -> OfflineCard:
        return OfflineCard(title="离线码", name="王*明", subtitle="父亲 · 由 张*三 代领", colour=colour,
                           stamp="有效期至 12-13 09:00", colour_line=f"签发时{WORDS[colour]}",
                           generated_line="生成于 2026-12-06 09:00", note="请配合查验", qr_payload=PAYLOAD)

    images = {c: greyscale(await renderer.render_offline(offline(c))) for c in HEALTH_COLOURS}
    band = images["green"].height // 2, images["green"].height * 3 // 4  # under the QR: the colour line
    regions = {c: images[c].crop((0, band[0], images[c].width, band[1])).tobytes() for c in HEALTH_COLOURS}
    assert len(set(regions.values())) == 3


async def test_the_guards_page_shows_the_shape_beside_the_word(bot: Bot) -> None:
    reply = await full_claim(bot, "oAccess_0001")
    path = scan_path(bot, reply)
    shown = {}
    for colour in HEALTH_COLOURS:
        index = bot.services.codes.profiles.doc_index("resident_id", ID)
        await bot.services.status.change(index, colour, "" if colour == "green" else "manual", "operator", "t")
        _, page = await scan(bot, path)
        shape = page.split('id="shape"', 1)[1].split(">", 1)[1].split("<", 1)[0]
        word = page.split('id="colour"', 1)[1].split(">", 1)[1].split("<", 1)[0]
        shown[colour] = (shape, word)
    assert shown == {"green": ("✓", "绿码"), "yellow": ("!", "黄码"), "red": ("✕", "红码")}


async def test_a_name_with_the_middle_dot_masks_part_by_part_renders_and_binds_as_a_relative(
        bot: Bot, renderer: Renderer) -> None:
    from tests.journeys import bind, elder

    user, name = "oAccess_0002", "阿依古丽·买买提"
    await full_claim(bot, user)
    await bind(bot, user, elder(21), name)
    listed = await bot.say(user, "亲属码")
    assert "阿**丽·买*提" in listed and name not in listed
    relative = (await bot.services.relatives.list(user))[0]
    assert relative.name == name
    for ch in name:  # every character has a glyph in the font that draws it: nothing is drawn as □
        assert has_glyph(renderer.font(20, renderer.owner(ch)), ch), ch
    reply = await bot.push(bot.sim.text(user, "查看亲属码 1"))
    _, page = await scan(bot, scan_path(bot, reply))
    assert "阿**丽·买*提" in page and name not in page
