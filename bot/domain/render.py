"""Code images: a QR coloured by status, the status word, masked identity and the generation time.

Pure CPU, no I/O: `Painter` draws from a font file it is given. bot/ops/rendering.py finds the font and runs
the drawing in worker threads, so the event loop keeps answering WeChat.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass

import qrcode
from PIL import Image, ImageDraw, ImageFont

from bot.domain.colours import INKS, NEAR_BLACK, ON_INKS, QR_INKS, SHAPES

INK = NEAR_BLACK
GREY = (105, 105, 105)  # 5.5 : 1 on white (a lighter grey fell under WCAG's 4.5)
WIDTH = 600


@dataclass(frozen=True, slots=True)
class CodeCard:
    """Every text on the card comes from templates/cards/ and the code/ guidance; this module only draws."""

    title: str
    status_word: str
    colour: str
    name: str
    document: str
    generated: str
    guidance: str
    qr_payload: str
    subtitle: str = ""
    stamp: str = ""  # 扫码登记 at a venue: its name and the time of entry
    facts: tuple[str, ...] = ()  # 四码一屏: 采样距今, vaccination, travel card, one a line
    reason: str = ""  # why it is not green and what clears it: for its holder, never on the guard's page
    elder: bool = False  # 长辈模式: the colour word, the QR, the name and the time, large; nothing else


REASON_LINES = 4
# 长辈模式: 30 pt at a phone's width (a 600 px card shown ~375 pt wide) is 48 px; the colour word as large as
# the eye needs at a glance, fitted to the card's width.
ELDER_TEXT = 48
ELDER_WORD = 150


@dataclass(frozen=True, slots=True)
class OfflineCard:
    title: str
    name: str
    subtitle: str
    colour: str
    stamp: str
    colour_line: str
    generated_line: str
    note: str
    qr_payload: str
    elder: bool = False  # 长辈模式 (set by a guardian): the name, colour and time in 30 pt print; no note


@dataclass(frozen=True, slots=True)
class TravelImage:
    title: str
    owner: str
    updated: str
    verdict: str
    heading: str
    colour: str
    cities: tuple[str, ...]  # names, with 「*」 on cities that now have medium- or high-risk areas
    footnote: str
    notice: str


NO_LINE_START = frozenset("。，、；：？！）」』")
NO_LINE_END = frozenset("（「『")
ADVANCES_KEPT = 20_000  # glyph widths kept (~2 MB): every CJK character seen, at each size
A6_300DPI = (1240, 1748)
STAMP_BAND = 56
STAMP_FILL = (255, 244, 214)


class Painter:
    """Draws each image synchronously, in the calling thread."""

    def __init__(self, font_path: str, fallbacks: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()) -> None:
        self.font_path = font_path
        # Fonts for characters the main one lacks (CJK Extension B: 「𠮷」), or how to find them: found when a
        # character first needs one, so that start-up (every worker, every admin command) does not look.
        self._fallbacks = fallbacks
        self._advances: dict[tuple[int, str], float] = {}
        self._owners: dict[str, int] = {}

    @property
    def fallbacks(self) -> tuple[str, ...]:
        if callable(self._fallbacks):
            self._fallbacks = self._fallbacks()
        return self._fallbacks

    @functools.lru_cache(maxsize=32)  # noqa: B019 - one Renderer per process; fonts are worth keeping
    def font(self, size: int, which: int = 0) -> ImageFont.FreeTypeFont:
        """The main font (0), or fallback `which - 1`, at `size`."""
        return ImageFont.truetype(self.font_path if which == 0 else self.fallbacks[which - 1], size)

    def owner(self, ch: str) -> int:
        """Which font draws `ch`: the main one when it has the glyph, else the first fallback that has it."""
        if ch.isascii():
            return 0
        found = self._owners.get(ch)
        if found is None:
            if len(self._owners) >= ADVANCES_KEPT:
                self._owners.clear()
            found = 0 if has_glyph(self.font(20), ch) else next(
                (i for i in range(1, 1 + len(self.fallbacks)) if has_glyph(self.font(20, i), ch)), 0)
            self._owners[ch] = found
        return found

    def runs(self, text: str) -> list[tuple[str, int]]:
        """`text` cut where the drawing font changes: (part, font) pairs; one pair for most texts."""
        parts: list[tuple[str, int]] = []
        for ch in text:
            which = self.owner(ch)
            if parts and parts[-1][1] == which:
                parts[-1] = (parts[-1][0] + ch, which)
            else:
                parts.append((ch, which))
        return parts

    def _length(self, text: str, size: int) -> float:
        return sum(self.font(size, which).getlength(part) for part, which in self.runs(text))

    def render_sync(self, card: CodeCard) -> bytes:
        return encode(self.code_image(card), card.colour)

    def render_travel_sync(self, card: TravelImage) -> bytes:
        return encode(self.travel_image(card), card.colour)

    def render_combined_sync(self, code: CodeCard, travel: TravelImage) -> bytes:
        """二码合一: the health code above the travel card, each with its own time stamp."""
        top, bottom = self.code_image(code), self.travel_image(travel)
        page = Image.new("RGB", (WIDTH, top.height + bottom.height + 12), (230, 230, 230))
        page.paste(top, (0, 0))
        page.paste(bottom, (0, top.height + 12))
        return encode(page, code.colour, travel.colour)

    def travel_image(self, card: TravelImage) -> Image.Image:
        colour = INKS[card.colour]
        image = Image.new("RGB", (WIDTH, 2000), "white")
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, WIDTH, 84), fill=colour)
        self._centered(draw, 20, card.title, 40, "white")
        self._centered(draw, 104, card.owner, 28, INK)
        self._centered(draw, 146, card.updated, 24, GREY)
        draw.ellipse((WIDTH // 2 - 70, 190, WIDTH // 2 + 70, 330), fill=colour)
        self._centered(draw, 342, card.verdict, 36, colour)
        self._centered(draw, 410, card.heading, 28, INK)
        y = self._wrapped(draw, 450, "，".join(card.cities), 28, INK, lines=8)
        if card.footnote:
            y = self._wrapped(draw, y + 12, card.footnote, 20, GREY, lines=4)
        y = self._wrapped(draw, y + 12, card.notice, 20, GREY, lines=4)
        return image.crop((0, 0, WIDTH, y + 24))

    def code_image(self, card: CodeCard) -> Image.Image:
        if card.elder:
            return self.elder_image(card)
        qr = qr_mask(card.qr_payload)
        reason_lines = min(len(self.wrap(card.reason, 24)), REASON_LINES) if card.reason else 0
        tail = len(card.facts) * 34 + (reason_lines * 32 + 8 if reason_lines else 0)
        image = self._base(card.colour, card.title, card.status_word, bool(card.subtitle), qr.height,
                           bool(card.stamp), tail).copy()
        draw = ImageDraw.Draw(image)
        y = 104
        if card.stamp:  # 扫码登记: the venue and the time, where the guard looks first
            draw.rectangle((0, 84, WIDTH, 84 + STAMP_BAND), fill=STAMP_FILL)
            self._centered(draw, 96, card.stamp, 28, INK)
            y += STAMP_BAND
        if card.subtitle:
            self._centered(draw, y, card.subtitle, 26, INK)
            y += 40
        self._centered(draw, y, card.name, 34, INK)
        self._centered(draw, y + 48, card.document, 26, GREY)
        y += 100
        _framed_qr(image, draw, qr, y, card.colour)
        y += qr.height + 12
        self._centered(draw, y + 86, card.generated, 28, INK)
        y += 130
        for line in card.facts:
            self._centered(draw, y, line, 24, INK)
            y += 34
        if reason_lines:
            y = self._wrapped(draw, y, card.reason, 24, INK, lines=REASON_LINES) + 8
        self._wrapped(draw, y, card.guidance, 24, GREY)
        return image

    def elder_image(self, card: CodeCard) -> Image.Image:
        """长辈模式's card: the colour word with its shape, as large as the card allows, over the QR; the name
        and the time each on its own line in 30 pt; nothing else."""
        qr = qr_mask(card.qr_payload)
        word = self._fitted(card.status_word, ELDER_WORD, WIDTH - 60, shape=True)
        height = 40 + word + 40 + qr.height + 40 + 2 * (ELDER_TEXT + 24) + 30
        image = Image.new("RGB", (WIDTH, height), "white")
        draw = ImageDraw.Draw(image)
        self._colour_word(draw, card.colour, card.status_word, word, 40)
        y = 40 + word + 40
        _framed_qr(image, draw, qr, y, card.colour)
        y += qr.height + 40
        self._centered(draw, y, card.name, ELDER_TEXT, INK)
        self._centered(draw, y + ELDER_TEXT + 24, card.generated, ELDER_TEXT, INK)
        return image

    def _fitted(self, text: str, size: int, width: int, shape: bool = False) -> int:
        """The largest size up to `size` at which `text` (and a shape beside it) fits `width`."""
        while size > 24 and self._length(text, size) + (size * 1.2 if shape else 0) > width:
            size -= 6
        return size

    def render_offline_sync(self, card: OfflineCard) -> bytes:
        """A6 at 300 dpi, for printing or the album: the expiry stamp is the largest thing on the page."""
        width, height = A6_300DPI
        colour = INKS[card.colour]
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, width, 150), fill=colour)
        self._centered(draw, 35, card.title, 80, ON_INKS[card.colour], width)
        if card.elder:  # 30 pt at 300 dpi is 125 px
            self._centered(draw, 180, card.name, self._fitted(card.name, 125, width - 120), INK, width)
        else:
            self._centered(draw, 190, card.name, 72, INK, width)
            self._centered(draw, 290, card.subtitle, 44, GREY, width)
        draw.rounded_rectangle((90, 370, width - 90, 560), radius=24, outline=QR_INKS["red"], width=10)
        self._centered(draw, 410, card.stamp, 84, QR_INKS["red"], width)
        qr = qr_mask(card.qr_payload, box=10 if card.elder else 12)
        image.paste(QR_INKS[card.colour], ((width - qr.width) // 2, 600), qr)
        y = 600 + qr.height + 20
        if card.elder:
            word = self._fitted(card.colour_line, 150, width - 120, shape=True)
            self._colour_word(draw, card.colour, card.colour_line, word, y, width)
            self._centered(draw, y + word + 30, card.generated_line,
                           self._fitted(card.generated_line, 125, width - 120), INK, width)
        else:
            self._colour_word(draw, card.colour, card.colour_line, 64, y, width)
            self._centered(draw, y + 100, card.generated_line, 44, INK, width)
            self._centered(draw, y + 170, card.note, 44, GREY, width)
        buffer = io.BytesIO()
        palette = card_palette(card.colour)
        image.quantize(palette=palette, dither=Image.Dither.NONE).save(buffer, format="PNG", dpi=(300, 300))
        return buffer.getvalue()

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one Renderer per process
    def _base(self, colour_name: str, title: str, status_word: str, subtitled: bool, qr_height: int,
              stamped: bool = False, tail: int = 0) -> Image.Image:
        """What every card of this colour and layout shares: the title bar and the status word. `tail`: the
        height the facts and the reason take under the time."""
        colour = INKS[colour_name]
        extra = (40 if subtitled else 0) + (STAMP_BAND if stamped else 0)
        height = 250 + qr_height + 230 + extra + tail
        image = Image.new("RGB", (WIDTH, height), "white")
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, WIDTH, 84), fill=colour)
        self._centered(draw, 20, title, 40, ON_INKS[colour_name])
        y = 104 + extra + 100 + qr_height + 12
        self._colour_word(draw, colour_name, status_word, 64, y)
        return image

    def _colour_word(self, draw: ImageDraw.ImageDraw, colour_name: str, word: str, size: int, y: int,
                     width: int = WIDTH) -> None:
        """The colour's word, centred, in its deep ink, and its shape (✓, !, ✕: SHAPES) left of it, as tall as the
        word: what tells the colours apart in greyscale, besides the word itself."""
        self._centered(draw, y, word, size, QR_INKS[colour_name], width)
        right = (width - self._length(word, size)) / 2 - size * 0.3
        box = (right - size * 0.9, y + size * 0.1, right, y + size)
        draw_shape(draw, SHAPES[colour_name], box, QR_INKS[colour_name])

    def wrap(self, text: str, size: int, width: int = WIDTH - 60) -> list[str]:
        """Lines of `text` no wider than `width`, breaking between any two characters (Chinese has no spaces),
        by the Chinese rules of 避头尾: a closing mark (。，、；：？！）」』) never starts a line, it hangs at the
        end of the one before; an opening mark (（「『) never ends a line, it moves down with what it opens.
        Widths add up each glyph's advance, measured once: measuring every growing line was a third of a card."""
        lines, line, used = [], "", 0.0
        for ch in text:
            step = self._advances.get((size, ch))
            if step is None:
                if len(self._advances) >= ADVANCES_KEPT:  # names and cities bring new characters: stay bounded
                    self._advances.clear()
                step = self._advances[size, ch] = self.font(size, self.owner(ch)).getlength(ch)
            if used + step > width and line and ch not in NO_LINE_START:
                carried = ""
                if ch.isascii() and ch.isalnum() and line[-1].isascii() and line[-1].isalnum() \
                        and (space := line.rfind(" ")) > 0:
                    carried, line = line[space + 1:], line[:space]  # a word of Latin letters is not broken
                while line and line[-1] in NO_LINE_END:
                    carried, line = line[-1] + carried, line[:-1]
                lines.append(line)
                line, used = carried, self._length(carried, size)
                if ch == " " and not line:
                    continue
            line += ch
            used += step
        lines.append(line)
        return [part for part in lines if part]

    def _centered(self, draw: ImageDraw.ImageDraw, y: int, text: str, size: int, fill: object,
                  width: int = WIDTH) -> None:
        parts = self.runs(text)
        if len(parts) == 1 and parts[0][1] == 0:  # the main font draws it all: one call, as it always was
            font = self.font(size)
            draw.text(((width - draw.textlength(text, font=font)) / 2, y), text, font=font, fill=fill)
            return
        x = (width - self._length(text, size)) / 2
        for part, which in parts:
            font = self.font(size, which)
            draw.text((x, y), part, font=font, fill=fill)
            x += font.getlength(part)

    def _wrapped(self, draw: ImageDraw.ImageDraw, y: int, text: str, size: int, fill: object,
                 lines: int = 3) -> int:
        """Centred lines wrapped to the card's width; returns the y below the last."""
        wrapped = self.wrap(text, size)
        for i, part in enumerate(wrapped[:lines]):
            self._centered(draw, y + i * (size + 8), part, size, fill)
        return y + min(len(wrapped), lines) * (size + 8)


_MISSING = "\U0010fffd"  # a private-use character no font draws: what a font's missing-glyph box looks like


def has_glyph(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    """Whether `font` draws `ch` itself, rather than its missing-glyph box."""
    drawn = font.getmask(ch)
    size, box = _missing_box(font)
    return drawn.size != size or bytes(drawn) != box


@functools.lru_cache(maxsize=16)
def _missing_box(font: ImageFont.FreeTypeFont) -> tuple[tuple[int, int], bytes]:
    """The size and pixels of `font`'s missing-glyph box, drawn once per font."""
    missing = font.getmask(_MISSING)
    return missing.size, bytes(missing)


def _framed_qr(image: Image.Image, draw: ImageDraw.ImageDraw, qr: Image.Image, y: int, colour_name: str) -> None:
    """The QR centred at `y`, painted in the colour's deep ink inside a rounded frame of its bright ink."""
    left = (WIDTH - qr.width) // 2
    draw.rounded_rectangle((left - 10, y - 10, left + qr.width + 9, y + qr.height + 9), radius=12,
                           outline=INKS[colour_name], width=8)
    image.paste(QR_INKS[colour_name], (left, y), qr)


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, float, float, float],
               ink: tuple[int, int, int]) -> None:
    """A check, an exclamation mark or a cross, drawn with lines (no font has to carry the glyph)."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    stroke = max(3, round(min(w, h) / 7))
    if shape == "check":
        points = [(left + w * 0.1, top + h * 0.55), (left + w * 0.4, top + h * 0.85), (left + w * 0.95, top + h * 0.15)]
        draw.line(points, fill=ink, width=stroke, joint="curve")
    elif shape == "bang":
        middle = left + w / 2
        draw.rounded_rectangle((middle - stroke / 2, top + h * 0.05, middle + stroke / 2, top + h * 0.62),
                               radius=stroke / 2, fill=ink)
        draw.ellipse((middle - stroke * 0.7, top + h * 0.78, middle + stroke * 0.7, top + h * 0.78 + stroke * 1.4),
                     fill=ink)
    else:
        draw.line([(left + w * 0.15, top + h * 0.15), (left + w * 0.85, top + h * 0.85)], fill=ink, width=stroke)
        draw.line([(left + w * 0.85, top + h * 0.15), (left + w * 0.15, top + h * 0.85)], fill=ink, width=stroke)


def encode(image: Image.Image, *colours: str) -> bytes:
    """Palette PNG at zlib level 1: a third of the CPU of the default level, ~20 KB, far under WeChat's 2 MB."""
    buffer = io.BytesIO()
    image.quantize(palette=card_palette(*colours), dither=Image.Dither.NONE).save(buffer, format="PNG",
                                                                                  compress_level=1)
    return buffer.getvalue()


@functools.lru_cache(maxsize=32)
def card_palette(*colours: str) -> Image.Image:
    """White plus five anti-aliasing shades of each ink: mapping to it is 10× faster than adaptive quantizing."""
    entries = [(255, 255, 255), (230, 230, 230), STAMP_FILL]
    qr_inks = [QR_INKS[c] for c in colours if c in QR_INKS]
    for ink in (*(INKS[c] for c in colours), *qr_inks, INK, GREY, QR_INKS["red"]):
        entries += [tuple(round(255 + (c - 255) * step / 5) for c in ink) for step in range(1, 6)]
    for c in colours:  # the title bar's text on its ink, anti-aliased
        bar, text = INKS[c], ON_INKS[c]
        entries += [tuple(round(b + (t - b) * step / 4) for b, t in zip(bar, text, strict=True))
                    for step in range(1, 4)]
    palette = Image.new("P", (1, 1))
    flat = [value for rgb in entries for value in rgb]
    palette.putpalette(flat + [0] * (768 - len(flat)))
    return palette


def qr_mask(payload: str, box: int = 8) -> Image.Image:
    """The code's dark modules as a mask, quiet zone included: the card paints its colour through it, which
    costs a fraction of converting a coloured QR image to RGB and pasting that."""
    # A fixed mask is valid QR (ISO 18004 lets the encoder choose); searching all eight costs 4× the encode.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box, border=3, mask_pattern=0)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    small = Image.new("L", (size, size), 0)
    small.putdata([255 if cell else 0 for row in matrix for cell in row])
    return small.resize((size * box, size * box), Image.Resampling.NEAREST)


A4_150DPI = (1240, 1754)


@dataclass(frozen=True, slots=True)
class Poster:
    """A venue's printable 场所码: every text comes from templates/venues/poster_*.txt."""

    title: str
    venue: str
    address: str
    instruction: str
    footer: str
    venue_id: str = ""  # printed small at the bottom: what the manager quotes to 流调 (`admin venue list`)


def render_poster(font_path: str, poster: Poster, qr_png: bytes) -> bytes:
    """A4 at 150 dpi: the venue's name, WeChat's QR for it, and how to scan. The QR is scaled by whole
    pixels per module so that a printed copy stays sharp."""
    width, height = A4_150DPI
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    def centered(y: int, text: str, size: int, fill: object) -> None:
        font = ImageFont.truetype(font_path, size)
        draw.text(((width - draw.textlength(text, font=font)) / 2, y), text, font=font, fill=fill)

    draw.rectangle((0, 0, width, 200), fill=INKS["green"])
    centered(55, poster.title, 84, "white")
    centered(260, poster.venue[:20], 72, INK)
    if poster.address:
        centered(360, poster.address[:34], 36, GREY)
    qr = Image.open(io.BytesIO(qr_png)).convert("L")
    scale = max(1, 820 // qr.width)
    qr = qr.resize((qr.width * scale, qr.height * scale), Image.Resampling.NEAREST)
    image.paste(qr, ((width - qr.width) // 2, 440))
    y = 440 + qr.height + 60
    centered(y, poster.instruction, 56, INK)
    centered(height - 140, poster.footer, 32, GREY)
    if poster.venue_id:
        centered(height - 80, poster.venue_id, 28, GREY)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(150, 150))
    return buffer.getvalue()
